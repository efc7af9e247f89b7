"""Reading an LLM answer defensively: the JSON, numbers, refusals, the report.

A grammar is not a guarantee (an OpenAI-compatible endpoint may ignore it, an
answer can be cut by ``max_tokens``), so answers are read from any text and
repaired where possible, counting each repair by kind (``Repairs``); what
cannot be repaired raises ``AnswerInvalid`` with the reason, and the
generator retries. The variables and program answers are read field by
field in ``repair.py``.

Answers are data: nothing in them is executed; free-text fields that try to
instruct a model are blanked (they are shown to the LLM in later prompts).
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError


Repairs = Counter  # kind -> count


class AnswerInvalid(ValueError):
    """An LLM answer that cannot be repaired; ``reason`` is a short kind (for retry stats)."""

    def __init__(self, reason: str, detail: str):
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


_REFUSAL = re.compile(
    r"\b(i'?m sorry|i am sorry|i cannot|i can'?t|i'?m unable|i am unable|as an ai\b|i won'?t)", re.I)
_INSTRUCTION = re.compile(
    r"(ignore (all |any )?(the )?(previous|prior|above|earlier) (instructions|prompts?)|disregard (all |the )?"
    r"(previous|prior|above)|system prompt|you are now|new instructions?:|</?(system|assistant)>)", re.I)


def text_problem(text: str) -> str | None:
    """``"refusal"`` / ``"instruction"`` when free text refuses or tries to instruct a model."""
    if _INSTRUCTION.search(text):
        return "instruction"
    if _REFUSAL.search(text):
        return "refusal"
    return None


#: A degenerate loop: the text ends in one unit of at most ``LOOP_MAX_PERIOD`` characters written
#: ``LOOP_MIN_REPEATS`` or more times in a row, ``LOOP_MIN_CHARS`` characters in all. A 135M model
#: wrote ``Mixed_C118_`` 200 times as its vertebra-column report; real prose never does this.
LOOP_MIN_CHARS = 64
LOOP_MAX_PERIOD = 200
LOOP_MIN_REPEATS = 4


def repeated_tail(text: str, min_chars: int = LOOP_MIN_CHARS, max_period: int = LOOP_MAX_PERIOD,
                  min_repeats: int = LOOP_MIN_REPEATS) -> int:
    """Length of the loop ``text`` ends in (see ``LOOP_*``), 0 if it ends in none.

    Checked after every token of free text by the local decoder (which then
    stops: an answer that loops is done) and by :func:`parse_report` (which
    rejects it, so the step is retried with the next draw).
    """
    n = len(text)
    for period in range(1, min(max_period, n // min_repeats) + 1):
        repeats = max(min_repeats, -(-min_chars // period))
        if repeats * period > n:
            continue
        unit = text[n - period:]
        if text.endswith(unit * repeats):
            return repeats * period
    return 0


def parse_report(text: str, words: int, repairs: Repairs) -> str:
    """The report step's answer: plain text of at least 5 words, cut at 1.5 x ``words`` (repair).

    A report that ends in a loop (:func:`repeated_tail`) is rejected: it
    would be shown to the model in every later prompt.
    """
    t = text.strip()
    problem = text_problem(t)
    if problem:
        raise AnswerInvalid(problem, f"report {t[:80]!r}")
    loop = repeated_tail(t)
    if loop:
        raise AnswerInvalid("repetitive_report", f"the report ends in a loop of {loop} characters: {t[-80:]!r}")
    w = t.split()
    if len(w) < 5:
        raise AnswerInvalid("empty_report", f"{len(w)} words")
    limit = int(1.5 * words)
    if len(w) > limit:
        repairs["report_truncated"] += 1
        t = " ".join(w[:limit])
    return t


# ---------------------------------------------------------------- JSON and numbers


def _salvage_truncated(body: str, repairs: Repairs) -> Any:
    """The longest prefix of a cut-off answer that ends after a complete list item, closed; None if none."""
    ends = [m.start() for m in re.finditer(r"\}", body)][::-1][:400]
    for e in ends:
        for tail in ("]}", "]"):
            try:
                data = json.loads(body[: e + 1] + tail)
            except json.JSONDecodeError:
                continue
            repairs["truncated_json"] += 1
            return data
    return None


def _list_under(data: Any, list_key: str, repairs: Repairs) -> list[Any]:
    if isinstance(data, dict):
        items = data.get(list_key)
        if items is None:
            lists = [v for v in data.values() if isinstance(v, list)]
            if len(lists) != 1:
                raise AnswerInvalid("invalid_json", f"no {list_key!r} list in the answer (keys {list(data)[:5]})")
            repairs["shape"] += 1
            items = lists[0]
    elif isinstance(data, list):
        repairs["shape"] += 1
        items = data
    else:
        raise AnswerInvalid("invalid_json", f"expected an object with {list_key!r}, got {type(data).__name__}")
    if not isinstance(items, list):
        raise AnswerInvalid("invalid_json", f"{list_key!r} is not a list")
    return items


def load_json(text: str, list_key: str, repairs: Repairs) -> list[Any]:
    """The list under ``list_key`` of a JSON answer; a bare list is accepted.

    An answer cut off by ``max_tokens`` is salvaged: the longest prefix that
    ends after a complete list item is closed and parsed (repair
    ``truncated_json``). Anything else that is not JSON raises
    ``AnswerInvalid("invalid_json")`` (refusals and instructions are named).
    """
    stripped = text.strip()
    start = min([i for i in (stripped.find("{"), stripped.find("[")) if i >= 0], default=-1)
    if start < 0:
        problem = text_problem(stripped)
        raise AnswerInvalid(problem or "invalid_json", f"no JSON in answer {stripped[:80]!r}")
    body = stripped[start:]
    try:
        data = json.loads(body)
    except json.JSONDecodeError:
        data = _salvage_truncated(body, repairs)
        if data is None:
            problem = text_problem(stripped)
            raise AnswerInvalid(problem or "invalid_json", f"not JSON: {stripped[:80]!r}") from None
    return _list_under(data, list_key, repairs)


def to_number(x: Any, repairs: Repairs) -> float | None:
    """A finite float, or None. Numeric strings are coerced (repair ``string_number``)."""
    if isinstance(x, bool):
        return float(x)
    if isinstance(x, (int, float)):
        v = float(x)
    elif isinstance(x, str):
        try:
            v = float(x.strip().replace(",", ""))
        except ValueError:
            return None
        repairs["string_number"] += 1
    else:
        return None
    return v if math.isfinite(v) else None


def strict_ok(model: type[BaseModel], text: str) -> bool:
    """Whether the raw answer validates against the model as it stands (first-try validity)."""
    try:
        model.model_validate_json(text.strip())
        return True
    except (ValidationError, ValueError):
        return False


@dataclass(frozen=True)
class Bounds:
    """The range a column's values may take: [low, high] and its origin (for the docs/stats)."""

    low: float
    high: float
    source: str   # "observed" (training minority, widened), "declared", "training", "codes"
