"""One generation's conversation with the LLM: requests with seed and draw, retries, and the stats.

Reproducibility: every request carries the sampler's ``seed`` and a
``draw`` index (per step: 0, 1, 2, ... over retries and program rounds), so
a rerun asks exactly the same requests and a replay cache answers them all.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, TypeVar

from lsh_bench.data.schema import FeatureSchema
from lsh_bench.errors import LLMOutputInvalid
from lsh_bench.samplers.llm.config import LLMConfig
from lsh_bench.samplers.llm.parse import AnswerInvalid
from lsh_bench.samplers.llm.types import ChatBackend, ChatRequest, ChatResponse, LLMUsage

T = TypeVar("T")


@dataclass
class GenerationStats:
    """What one generation took (for the closing note): rounds, rejected answers, repairs."""

    n_rows: int
    zero_shot: bool
    rows_shown_report: int = 0
    rows_generated: int = 0
    rounds: int = 0                                   # program rounds that produced rows
    executions: int = 0                               # state-machine runs of accepted programs
    answers: Counter = field(default_factory=Counter)           # step -> answers read
    first_try_valid: Counter = field(default_factory=Counter)   # step -> answers valid as returned
    rejected: Counter = field(default_factory=Counter)          # "step:reason" -> retried answers
    repairs: Counter = field(default_factory=Counter)           # kind -> count
    usage: LLMUsage = field(default_factory=LLMUsage)           # summed from the responses seen
    bounds_source: dict[str, str] = field(default_factory=dict)
    # Tokens of every answer the rows were built from, replayed answers at their recorded counts
    # (``usage`` counts real calls only): a row's token cost does not drop to 0 on a replay.
    answer_prompt_tokens: int = 0
    answer_completion_tokens: int = 0
    # The real rows shown to the LLM (report, example rows of each round), for the quality record's copy check.
    shown_rows: list = field(default_factory=list, repr=False)

    @property
    def retries(self) -> int:
        return sum(self.rejected.values())

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("shown_rows")
        for k in ("answers", "first_try_valid", "rejected", "repairs"):
            d[k] = dict(getattr(self, k))
        d["retries"] = self.retries
        return d


class Session:
    """One generation: the client, the seed, per-step draw counters and the stats."""

    def __init__(self, client: ChatBackend, cfg: LLMConfig, seed: int, schema: FeatureSchema, stats: GenerationStats):
        self.client, self.cfg, self.seed, self.schema, self.stats = client, cfg, seed, schema, stats
        self.draws: Counter = Counter()

    def request(self, step: str, messages: list[tuple[str, str]], schema: dict | None, max_tokens: int,
                decoding: dict[str, Any] | None = None, ahead: int = 0) -> ChatRequest:
        """The request ``ask`` sends now (``ahead=0``), or after ``ahead`` more asks of the same step."""
        return ChatRequest(
            messages=tuple(messages),
            json_schema=schema,
            max_tokens=int(max_tokens),
            temperature=self.cfg.temperature,
            top_p=self.cfg.top_p,
            seed=int(self.seed),
            draw=self.draws[step] + ahead,
            decoding=decoding,
        )

    def ask(self, step: str, messages: list[tuple[str, str]], schema: dict | None, max_tokens: int,
            decoding: dict[str, Any] | None = None) -> ChatResponse:
        req = self.request(step, messages, schema, max_tokens, decoding)
        self.draws[step] += 1
        resp = self.client.chat(req)
        self.stats.usage.count(resp)
        self.stats.answer_prompt_tokens += resp.prompt_tokens
        self.stats.answer_completion_tokens += resp.completion_tokens
        self.stats.answers[step] += 1
        return resp

    def ask_ahead(self, step: str, messages: list[list[tuple[str, str]]], schema: dict | None, max_tokens: int,
                  decoding: dict[str, Any] | None = None) -> list[str]:
        """Ask the next ``len(messages)`` requests of ``step`` at once (``LLMClient.ask_ahead``); ``ask`` then asks
        them one by one as always. Draws and stats are untouched; a client without ``ask_ahead`` does nothing.

        Returns the keys the client holds for this session (see ``LLMClient.ask_ahead``).
        """
        ahead = getattr(self.client, "ask_ahead", None)
        if ahead is None:
            return []
        return ahead([self.request(step, m, schema, max_tokens, decoding, ahead=i) for i, m in enumerate(messages)])

    def fail(self, step: str, n: int, last: AnswerInvalid | None, extra: str = "") -> LLMOutputInvalid:
        exc = LLMOutputInvalid(
            f"LLM generator, step {step!r}: {n} answer(s) rejected{extra}; dataset columns "
            f"{self.schema.names}; last problem: {last}"
        )
        exc.rejected = dict(self.stats.rejected)   # the failed unit's record counts them (record.failed_usage)
        return exc

    def retrying(self, step: str, messages: list[tuple[str, str]], schema: dict | None, max_tokens: int,
                 parse: Callable[[str], T], strict: Callable[[str], bool] | None = None,
                 decoding: dict[str, Any] | None = None) -> T:
        """Ask until ``parse`` accepts an answer (``max_retries`` retries), counting what was rejected."""
        last: AnswerInvalid | None = None
        for _ in range(self.cfg.max_retries + 1):
            text = self.ask(step, messages, schema, max_tokens, decoding).text
            if strict is not None and strict(text):
                self.stats.first_try_valid[step] += 1
            try:
                return parse(text)
            except AnswerInvalid as e:
                self.stats.rejected[f"{step}:{e.reason}"] += 1
                last = e
        raise self.fail(step, self.cfg.max_retries + 1, last)
