"""The LLM row generator (docs/protocol.md, "The LLM generator"): report -> variables -> rounds of programs -> N rows.

``generate_rows`` is the whole pipeline for one training part's minority:

1. **report** (free text): the LLM reads the minority rows as CSV (decoded:
   readable categorical values, numbers to 6 significant digits) and writes
   about ``report_words`` words. Rows shown are capped so the prompt fits
   ``n_ctx``: the prompt budget is ``n_ctx`` minus the answer's
   ``max_tokens`` minus the instructions, counted conservatively as one token
   per 2 characters (digits are often a token each); when not all rows fit,
   a seeded random subset (kept in original order) is shown and the prompt
   says so. Zero-shot (no minority rows): the LLM is shown the column names
   and types (categoricals: their allowed values) only — no rows of either
   class.
2. **variables** (constrained JSON, ``schemas.variables_model``).
3. **programs** (constrained JSON, ``schemas.program_model``), each shown the
   report, the variables and a seeded sample of ``example_rows`` minority
   rows, asked for at least ``min_outputs_per_round`` outputs, executed by
   the state machine (``executions_per_program`` times, each from a fresh
   start row with fresh jitter; 1 = the paper), until at least N rows exist;
   exactly N are kept (seeded subsample).

Ranges: a value may lie in the range observed in the training minority,
widened by ``MARGIN`` of its width on each side (not below 0 if the observed
minimum is >= 0; a constant column is widened by ``MARGIN`` x max(|value|,
1)); the LLM's declared min/max can only narrow it. Zero-shot has no
observed range: the declared min/max is used when valid, and as a last
resort the widened range of the whole training part (both classes), which
the LLM never sees.

Reproducibility: every request carries the sampler's ``seed`` and a
``draw`` index (per step: 0, 1, 2, ... over retries and program rounds), so
a rerun asks exactly the same requests and a replay cache answers them all.
Row randomness (samples shown, jitter, final subsample) comes from numpy
generators seeded by (seed, N, step, round).

Every answer is validated (``schemas.parse_*``); repairs are counted by kind,
rejected answers are retried up to ``max_retries`` times per step (and
``max_rounds`` program rounds in all); then ``LLMOutputInvalid`` names the
step, the columns and the last problem.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, TypeVar

import numpy as np

from lsh_bench.data.schema import FeatureSchema
from lsh_bench.errors import LLMOutputInvalid
from lsh_bench.samplers.llm import prompts
from lsh_bench.samplers.llm.config import LLMConfig
from lsh_bench.samplers.llm.schemas import (
    AnswerInvalid,
    Bounds,
    json_schema,
    parse_program,
    parse_variables,
    program_model,
    strict_ok,
    text_problem,
    variables_model,
)
from lsh_bench.samplers.llm.state_machine import ProgramError, Variable, run_program
from lsh_bench.samplers.llm.types import ChatBackend, ChatRequest, ChatResponse, LLMUsage

MARGIN = 0.1                 # widening of the observed range, as a fraction of its width
CHARS_PER_TOKEN = 2          # conservative prompt-size estimate
PROMPT_OVERHEAD_TOKENS = 400  # instructions, column list, chat template
MAX_OPS_CAP = 64             # longest program accepted (grammar maxItems)

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

    @property
    def retries(self) -> int:
        return sum(self.rejected.values())

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for k in ("answers", "first_try_valid", "rejected", "repairs"):
            d[k] = dict(getattr(self, k))
        d["retries"] = self.retries
        return d


# ---------------------------------------------------------------- ranges and CSV

def _widen(lo: float, hi: float) -> tuple[float, float]:
    width = hi - lo
    m = MARGIN * width if width > 0 else MARGIN * max(abs(hi), 1.0)
    low = lo - m
    if lo >= 0:
        low = max(low, 0.0)
    return low, hi + m


def column_bounds(X: np.ndarray, schema: FeatureSchema, source: str) -> list[Bounds | None]:
    """Per column: widened observed range; codes for categoricals, [0, 1] for booleans; None if no rows."""
    out: list[Bounds | None] = []
    for j, col in enumerate(schema.columns):
        if col.kind == "categorical":
            out.append(Bounds(0.0, float(max(len(col.categories) - 1, 0)), "codes"))
        elif col.boolean:
            out.append(Bounds(0.0, 1.0, "codes"))
        elif len(X) == 0:
            out.append(None)
        else:
            low, high = _widen(float(np.min(X[:, j])), float(np.max(X[:, j])))
            if col.integer:
                low, high = math.floor(low), math.ceil(high)
            out.append(Bounds(float(low), float(high), source))
    return out


def to_csv(X: np.ndarray, schema: FeatureSchema) -> str:
    if len(X) == 0:
        return ""
    return schema.decode(X).to_csv(index=False, float_format="%.6g")


def rows_that_fit(X: np.ndarray, schema: FeatureSchema, budget_tokens: int, cap: int,
                  rng: np.random.Generator) -> np.ndarray:
    """At most ``cap`` rows whose CSV fits ``budget_tokens`` (seeded subset, original order)."""
    n = len(X)
    if n == 0:
        return X
    per_row = max(len(line) for line in to_csv(X[: min(n, 50)], schema).splitlines()[1:]) / CHARS_PER_TOKEN + 1
    header = len(",".join(schema.names)) / CHARS_PER_TOKEN
    k = int(max(0, budget_tokens - header) // per_row)
    k = max(1, min(n, cap, k))
    if k == n:
        return X
    idx = np.sort(rng.choice(n, size=k, replace=False))
    return X[idx]


def _tokens(text: str) -> int:
    return len(text) // CHARS_PER_TOKEN + 1


# ---------------------------------------------------------------- the pipeline

class _Session:
    """One generation: the client, the seed, per-step draw counters and the stats."""

    def __init__(self, client: ChatBackend, cfg: LLMConfig, seed: int, schema: FeatureSchema, stats: GenerationStats):
        self.client, self.cfg, self.seed, self.schema, self.stats = client, cfg, seed, schema, stats
        self.draws: Counter = Counter()

    def ask(self, step: str, messages: list[tuple[str, str]], schema: dict | None, max_tokens: int) -> ChatResponse:
        req = ChatRequest(
            messages=tuple(messages),
            json_schema=schema,
            max_tokens=int(max_tokens),
            temperature=self.cfg.temperature,
            top_p=self.cfg.top_p,
            seed=int(self.seed),
            draw=self.draws[step],
        )
        self.draws[step] += 1
        resp = self.client.chat(req)
        u = self.stats.usage
        if resp.cached:
            u.cache_hits += 1
        else:
            u.calls += 1
            u.prompt_tokens += resp.prompt_tokens
            u.completion_tokens += resp.completion_tokens
            u.seconds += resp.seconds
        u.keys.append(resp.key)
        self.stats.answers[step] += 1
        return resp

    def fail(self, step: str, n: int, last: AnswerInvalid | None, extra: str = "") -> LLMOutputInvalid:
        return LLMOutputInvalid(
            f"LLM generator, step {step!r}: {n} answer(s) rejected{extra}; dataset columns "
            f"{self.schema.names}; last problem: {last}"
        )

    def retrying(self, step: str, messages: list[tuple[str, str]], schema: dict | None, max_tokens: int,
                 parse: Callable[[str], T], strict: Callable[[str], bool] | None = None) -> T:
        last: AnswerInvalid | None = None
        for _ in range(self.cfg.max_retries + 1):
            text = self.ask(step, messages, schema, max_tokens).text
            if strict is not None and strict(text):
                self.stats.first_try_valid[step] += 1
            try:
                return parse(text)
            except AnswerInvalid as e:
                self.stats.rejected[f"{step}:{e.reason}"] += 1
                last = e
        raise self.fail(step, self.cfg.max_retries + 1, last)


def _parse_report(text: str, words: int, repairs: Counter) -> str:
    t = text.strip()
    problem = text_problem(t)
    if problem:
        raise AnswerInvalid(problem, f"report {t[:80]!r}")
    w = t.split()
    if len(w) < 5:
        raise AnswerInvalid("empty_report", f"{len(w)} words")
    limit = int(1.5 * words)
    if len(w) > limit:
        repairs["report_truncated"] += 1
        t = " ".join(w[:limit])
    return t


def generate_rows(
    X_minority: np.ndarray,
    n_rows: int,
    *,
    schema: FeatureSchema,
    cfg: LLMConfig,
    seed: int,
    client: ChatBackend | None = None,
    X_train: np.ndarray | None = None,
) -> tuple[np.ndarray, GenerationStats]:
    """Exactly ``n_rows`` synthetic minority rows (encoded like ``X_minority``) and the stats.

    ``X_minority``: the training part's minority rows (may be empty:
    zero-shot). ``X_train``: the whole training part, used only for the
    zero-shot last-resort range, never shown to the LLM. ``client``: anything
    with ``chat(ChatRequest)``; default ``client.get_client(cfg)``.
    """
    if n_rows < 1:
        raise ValueError(f"n_rows must be >= 1, got {n_rows}")
    X_minority = np.asarray(X_minority, dtype=float).reshape(-1, len(schema))
    if client is None:
        from lsh_bench.samplers.llm.client import get_client

        client = get_client(cfg)
    zero_shot = len(X_minority) == 0
    stats = GenerationStats(n_rows=n_rows, zero_shot=zero_shot)
    s = _Session(client, cfg, seed, schema, stats)
    system = ("system", prompts.system(n_rows))

    def rng(*key: int) -> np.random.Generator:
        return np.random.default_rng(np.random.SeedSequence([int(seed), int(n_rows), *key]))

    observed = column_bounds(X_minority, schema, "observed")
    base = X_train if X_train is not None and len(X_train) else X_minority
    fallback = [b or Bounds(0.0, 1.0, "default") for b in column_bounds(np.asarray(base, float), schema, "training")]

    # 1. report
    report_tokens = min(cfg.max_tokens, int(1.5 * cfg.report_words) + 50)
    shown = rows_that_fit(X_minority, schema, cfg.n_ctx - report_tokens - PROMPT_OVERHEAD_TOKENS,
                          len(X_minority), rng(1))
    stats.rows_shown_report = len(shown)
    msg = prompts.report(schema, to_csv(shown, schema), len(shown), len(X_minority), cfg.report_words)
    report = s.retrying("report", [system, ("user", msg)], None, report_tokens,
                        lambda t: _parse_report(t, cfg.report_words, stats.repairs))

    # 2. variables
    vmodel = variables_model(schema)
    var_tokens = min(cfg.n_ctx // 2, max(cfg.max_tokens, 80 * len(schema)))
    msg = prompts.variables(schema, report)
    variables, descriptions = s.retrying(
        "variables", [system, ("user", msg)], json_schema(vmodel), var_tokens,
        lambda t: parse_variables(t, schema, observed, fallback, stats.repairs),
        strict=lambda t: strict_ok(vmodel, t),
    )
    for v, b, f in zip(variables, observed, fallback):
        stats.bounds_source[v.name] = b.source if b is not None else "declared/training"

    # 3. programs
    max_ops = min(MAX_OPS_CAP, max(16, 4 * cfg.min_outputs_per_round))
    pmodel = program_model(schema, max_ops)
    pschema = json_schema(pmodel)
    fixed = (_tokens(report) + _tokens(prompts.variables_text(variables, descriptions))
             + PROMPT_OVERHEAD_TOKENS + cfg.max_tokens)
    midpoint = np.array([[_mid(v) for v in variables]])
    rows: list[np.ndarray] = []
    total = 0
    failures = 0
    last: AnswerInvalid | None = None
    attempt = 0
    while total < n_rows:
        if attempt >= cfg.max_rounds:
            raise s.fail("program", sum(v for k, v in stats.rejected.items() if k.startswith("program:")), last,
                         f", only {total} of {n_rows} rows after max_rounds={cfg.max_rounds} rounds")
        r = rng(3, attempt)
        example = rows_that_fit(X_minority, schema, cfg.n_ctx - fixed, cfg.example_rows, r)
        msg = prompts.program(schema, report, variables, descriptions, to_csv(example, schema),
                              cfg.min_outputs_per_round)
        text = s.ask("program", [system, ("user", msg)], pschema, cfg.max_tokens).text
        attempt += 1
        if strict_ok(pmodel, text):
            stats.first_try_valid["program"] += 1
        try:
            ops = parse_program(text, schema, variables, max_ops, stats.repairs)
            start_rows = example if len(example) else midpoint
            # one stream r for all executions: execution 1 is exactly the paper's single run
            new = np.vstack([run_program(ops, variables, start_rows, r)
                             for _ in range(cfg.executions_per_program)])
        except (AnswerInvalid, ProgramError) as e:
            err = e if isinstance(e, AnswerInvalid) else AnswerInvalid("bad_program", str(e))
            stats.rejected[f"program:{err.reason}"] += 1
            last = err
            failures += 1
            if failures > cfg.max_retries:
                raise s.fail("program", failures, last, " in a row") from None
            continue
        failures = 0
        stats.rounds += 1
        stats.executions += cfg.executions_per_program
        rows.append(new)
        total += len(new)

    out = np.vstack(rows)
    stats.rows_generated = len(out)
    keep = np.sort(rng(4).choice(len(out), size=n_rows, replace=False))
    out = out[keep]
    if not np.all(np.isfinite(out)):  # the state machine clips everything; this is a guard, not a repair
        raise LLMOutputInvalid(f"LLM generator produced non-finite rows for columns {schema.names}")
    return out, stats


def _mid(v: Variable) -> float:
    """Zero-shot start value: the middle of the range (rounded for codes and integers)."""
    m = (v.low + v.high) / 2
    return float(np.floor(m)) if v.kind != "number" else m
