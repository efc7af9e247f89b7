"""The LLM row generator (docs/protocol.md, "The LLM generator"): report -> variables -> rounds of programs -> N rows.

``generate_rows`` is the whole pipeline for one training part's minority,
one named step each:

1. **report** (free text, ``ask_report``): the LLM reads the minority rows as
   CSV (decoded: readable categorical values, numbers to 6 significant
   digits) and writes about ``report_words`` words. Rows shown are capped so
   the prompt fits ``n_ctx`` (``rows.rows_that_fit``); when not all rows
   fit, a seeded random subset is shown and the prompt says so. Zero-shot
   (no minority rows): the LLM is shown the column names and types
   (categoricals: their allowed values) only — no rows of either class.
2. **variables** (JSON, ``ask_variables``; ``schemas.variables_model``).
3. **programs** (JSON, ``program_rounds``; ``schemas.program_model``), each
   shown the report, the variables and a seeded sample of ``example_rows``
   minority rows, asked for at least ``min_outputs_per_round`` outputs,
   executed by the state machine (``executions_per_program`` times, or as
   often as the missing rows need up to ``max_executions_per_program``, each
   from a fresh start row with fresh jitter; 1 = the paper), until at least
   N rows exist; exactly N are kept (seeded subsample, ``keep_rows``).

How answers are constrained depends on the backend. Endpoints get the JSON
schema and ``llm.max_tokens``. The embedded model (``llm.backend=local``)
decodes with this project's grammars (``grammar.py``, ``decoding.py``): the
answer ends when the JSON is complete, and each step's ``max_tokens`` is
what the step can need — the grammar's longest answer for JSON (so it can
never cut one), and ``REPORT_TOKENS_PER_WORD`` per word of the longest
report for the free text, which ends at a sentence end after
``report_words`` words, or as soon as it ends in a loop (``parse.repeated_tail``;
the report parser then rejects it and the step is retried). The program prompt puts the example rows last, so
the local decoder evaluates the part shared by all rounds once.

Reproducibility: every request carries the sampler's ``seed`` and a
``draw`` index (``session.py``); row randomness (samples shown, jitter,
final subsample) comes from numpy generators seeded by (seed, N, step,
round).

Every answer is validated (``parse.py``); repairs are counted by kind,
rejected answers are retried up to ``max_retries`` times per step (and
``max_rounds`` program rounds in all); then ``LLMOutputInvalid`` names the
step, the columns and the last problem.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from lsh_bench.data.schema import FeatureSchema
from lsh_bench.errors import LLMOutputInvalid
from lsh_bench.samplers.llm import compact_prompts
from lsh_bench.samplers.llm.client import get_client
from lsh_bench.samplers.llm.config import LLMConfig
from lsh_bench.samplers.llm.decoding import decoding_request
from lsh_bench.samplers.llm.grammar import max_bytes
from lsh_bench.samplers.llm.parse import AnswerInvalid, Bounds, parse_report, strict_ok
from lsh_bench.samplers.llm.repair import parse_program, parse_variables
from lsh_bench.samplers.llm.rows import column_bounds, estimated_tokens, midpoint, rows_that_fit, to_csv
from lsh_bench.samplers.llm.schemas import (
    json_schema, ops_bound, program_grammar, program_model, variables_grammar, variables_model,
)
from lsh_bench.samplers.llm.session import GenerationStats, Session
from lsh_bench.samplers.llm.state_machine import ProgramError, Variable, run_program
from lsh_bench.samplers.llm.types import ChatBackend

PROMPT_OVERHEAD_TOKENS = 400   # instructions, column list, chat template
REPORT_TOKENS_PER_WORD = 3     # local report budget: 3 tokens per word of the longest report (~1.3 is usual)

# Re-exported for callers of the former single module.
__all__ = ["GenerationStats", "generate_rows"]


@dataclass
class _Generation:
    """What the steps of one generation share."""

    session: Session
    schema: FeatureSchema
    cfg: LLMConfig
    seed: int
    n_rows: int
    X_minority: np.ndarray
    observed: list[Bounds | None]
    fallback: list[Bounds]
    local: bool                   # the embedded model: this project's grammars and budgets

    @property
    def stats(self) -> GenerationStats:
        return self.session.stats

    def rng(self, *key: int) -> np.random.Generator:
        return np.random.default_rng(np.random.SeedSequence([int(self.seed), int(self.n_rows), *key]))

    def system(self) -> tuple[str, str]:
        return ("system", compact_prompts.system(self.n_rows, self.cfg.prompts))


def ask_report(g: _Generation) -> str:
    """Step 1: the plain-language report on the minority rows."""
    words = g.cfg.report_words
    if g.local:
        longest = int(1.5 * words)                 # parse_report keeps at most this many words
        budget = REPORT_TOKENS_PER_WORD * longest + 64
        decoding: dict[str, Any] | None = decoding_request(
            prose=(words, longest), prefix_until=compact_prompts.prefix_until("report", g.cfg.prompts))
    else:
        budget, decoding = min(g.cfg.max_tokens, int(1.5 * words) + 50), None
    shown = rows_that_fit(g.X_minority, g.schema, g.cfg.n_ctx - budget - PROMPT_OVERHEAD_TOKENS,
                          g.cfg.report_rows or len(g.X_minority), g.rng(1))
    g.stats.rows_shown_report = len(shown)
    g.stats.shown_rows.append(shown)
    msg = compact_prompts.report(g.schema, to_csv(shown, g.schema), len(shown), len(g.X_minority), words,
                                 g.cfg.prompts)
    return g.session.retrying("report", [g.system(), ("user", msg)], None, budget,
                              lambda t: parse_report(t, words, g.stats.repairs), decoding=decoding)


def ask_variables(g: _Generation, report: str) -> tuple[list[Variable], dict[str, str]]:
    """Step 2: one variable per column (range, jitter), checked against the data."""
    vmodel = variables_model(g.schema)
    if g.local:
        grammar = variables_grammar(g.schema)
        budget = min(g.cfg.n_ctx // 2, max_bytes(grammar))
        decoding: dict[str, Any] | None = decoding_request(
            grammar=grammar, prefix_until=compact_prompts.prefix_until("variables", g.cfg.prompts))
    else:
        budget, decoding = min(g.cfg.n_ctx // 2, max(g.cfg.max_tokens, 80 * len(g.schema))), None
    msg = compact_prompts.variables(g.schema, report, g.cfg.prompts)
    variables, descriptions = g.session.retrying(
        "variables", [g.system(), ("user", msg)], json_schema(vmodel), budget,
        lambda t: parse_variables(t, g.schema, g.observed, g.fallback, g.stats.repairs),
        strict=lambda t: strict_ok(vmodel, t), decoding=decoding,
    )
    for v, b in zip(variables, g.observed):
        g.stats.bounds_source[v.name] = b.source if b is not None else "declared/training"
    return variables, descriptions


def program_rounds(g: _Generation, report: str, variables: list[Variable],
                   descriptions: dict[str, str]) -> list[np.ndarray]:
    """Step 3: programs, executed by the state machine, until at least N rows exist."""
    n_ops = ops_bound(g.cfg.min_outputs_per_round)
    pmodel = program_model(g.schema, n_ops)
    pschema = json_schema(pmodel)
    if g.local:
        grammar = program_grammar(g.schema, n_ops, g.cfg.min_outputs_per_round)
        budget = min(g.cfg.n_ctx // 2, max_bytes(grammar))
        decoding: dict[str, Any] | None = decoding_request(grammar=grammar,
                                                           prefix_until=compact_prompts.prefix_until("program", g.cfg.prompts))
    else:
        budget, decoding = g.cfg.max_tokens, None
    listed = compact_prompts.variables_text(variables, descriptions, g.cfg.prompts)
    fixed = (estimated_tokens(report) + estimated_tokens(listed)
             + PROMPT_OVERHEAD_TOKENS + budget)
    start_mid = np.array([[midpoint(v) for v in variables]])

    def prompt(k: int) -> tuple[np.ndarray, np.random.Generator, list[tuple[str, str]]]:
        """Round k's example rows, its random stream (after choosing them) and messages: from k alone."""
        r = g.rng(3, k)
        example = rows_that_fit(g.X_minority, g.schema, g.cfg.n_ctx - fixed, g.cfg.example_rows, r)
        msg = compact_prompts.program(g.schema, report, variables, descriptions, to_csv(example, g.schema),
                                      g.cfg.min_outputs_per_round, g.cfg.prompts)
        return example, r, [g.system(), ("user", msg)]

    # Round k's request depends on k only (its example rows, its draw k), never on an earlier answer,
    # and one program gives at most n_ops outputs per execution: so the rounds surely still needed,
    # ceil(rows missing / most rows of one program), are asked at once (llm.max_concurrency > 1),
    # then asked one by one below exactly as without them, and served those answers.
    most_rows = n_ops * max(g.cfg.executions_per_program, g.cfg.max_executions_per_program or 0)
    prepared: dict[int, tuple[np.ndarray, np.random.Generator, list[tuple[str, str]]]] = {}
    asked_ahead_to = 0                      # rounds below this one were asked ahead
    held: list[str] = []                    # their answers the client holds for this generation
    rows: list[np.ndarray] = []
    total = failures = attempt = 0
    last: AnswerInvalid | None = None
    try:
        while total < g.n_rows:
            if attempt >= g.cfg.max_rounds:
                raise g.session.fail("program",
                                     sum(v for k, v in g.stats.rejected.items() if k.startswith("program:")), last,
                                     f", only {total} of {g.n_rows} rows after max_rounds={g.cfg.max_rounds} rounds")
            if g.cfg.max_concurrency > 1 and attempt >= asked_ahead_to:
                sure = min(-(-(g.n_rows - total) // most_rows), g.cfg.max_rounds - attempt)
                if sure > 1:
                    prepared = {k: prompt(k) for k in range(attempt, attempt + sure)}
                    held += g.session.ask_ahead("program", [prepared[k][2] for k in sorted(prepared)],
                                                pschema, budget, decoding)
                    asked_ahead_to = attempt + sure
            example, r, messages = prepared.pop(attempt, None) or prompt(attempt)
            g.stats.shown_rows.append(example)
            text = g.session.ask("program", messages, pschema, budget, decoding).text
            attempt += 1
            if strict_ok(pmodel, text):
                g.stats.first_try_valid["program"] += 1
            try:
                new, runs = _execute(g, text, variables, n_ops, start_rows(g, example, start_mid), r,
                                     g.n_rows - total)
            except AnswerInvalid as err:
                g.stats.rejected[f"program:{err.reason}"] += 1
                last = err
                failures += 1
                if failures > g.cfg.max_retries:
                    raise g.session.fail("program", failures, last, " in a row") from None
                continue
            failures = 0
            g.stats.rounds += 1
            g.stats.executions += runs
            rows.append(new)
            total += len(new)
    finally:
        if held:   # what the generation did not ask (it failed first) is dropped: nobody else is served it
            drop = getattr(g.session.client, "drop_prefetched", None)
            if drop is not None:
                drop(held)
    return rows


def start_rows(g: _Generation, example: np.ndarray, start_mid: np.ndarray) -> np.ndarray:
    """The rows a program's ``init`` starts from (``llm.start_rows``); zero-shot: the ranges' midpoints."""
    if g.cfg.start_rows == "minority" and len(g.X_minority):
        return g.X_minority
    return example if len(example) else start_mid


def executions(cfg: LLMConfig, n_outputs: int, missing: int) -> int:
    """How often a program with ``n_outputs`` outputs runs when ``missing`` rows are still wanted."""
    runs = cfg.executions_per_program
    if cfg.max_executions_per_program is not None and n_outputs > 0:
        runs = max(runs, min(cfg.max_executions_per_program, -(-missing // n_outputs)))
    return runs


def _execute(g: _Generation, text: str, variables: list[Variable], n_ops: int, start_rows: np.ndarray,
             r: np.random.Generator, missing: int) -> tuple[np.ndarray, int]:
    """A program answer's rows and how many times it ran (``executions``; one stream ``r`` for all runs)."""
    ops = parse_program(text, g.schema, variables, n_ops, g.stats.repairs)
    runs = executions(g.cfg, sum(op.op == "output" for op in ops), missing)
    try:
        # one stream r for all executions: execution 1 is exactly the paper's single run
        return np.vstack([run_program(ops, variables, start_rows, r) for _ in range(runs)]), runs
    except ProgramError as e:
        raise AnswerInvalid("bad_program", str(e)) from None


def keep_rows(g: _Generation, rows: list[np.ndarray]) -> np.ndarray:
    """Exactly N of the generated rows (seeded subsample, generation order kept)."""
    out = np.vstack(rows)
    g.stats.rows_generated = len(out)
    keep = np.sort(g.rng(4).choice(len(out), size=g.n_rows, replace=False))
    out = out[keep]
    if not np.all(np.isfinite(out)):  # the state machine clips everything; this is a guard, not a repair
        raise LLMOutputInvalid(f"LLM generator produced non-finite rows for columns {g.schema.names}")
    return out


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
        client = get_client(cfg)
    stats = GenerationStats(n_rows=n_rows, zero_shot=len(X_minority) == 0)
    base = X_train if X_train is not None and len(X_train) else X_minority
    training = column_bounds(np.asarray(base, float), schema, "training")
    fallback = [b or Bounds(0.0, 1.0, "default") for b in training]
    observed = column_bounds(X_minority, schema, "observed")
    if cfg.zero_shot_range == "training":   # no minority row: the training part's range bounds the declared one
        observed = [o if o is not None else t for o, t in zip(observed, training)]
    g = _Generation(Session(client, cfg, seed, schema, stats), schema, cfg, seed, n_rows, X_minority,
                    observed, fallback, cfg.backend == "local")
    report = ask_report(g)
    variables, descriptions = ask_variables(g, report)
    rows = program_rounds(g, report, variables, descriptions)
    return keep_rows(g, rows), stats
