"""The paper's generation loop (``llm.generator=paper``): report once, variables once, rounds of programs.

A port of the paper's ``oversample(data, n, label, 1, single_desc=True,
single_vars=True)`` (``datagen/oversampler.py``, github doheonhan/LSH) with
the same requests, schemas and state machine, made reproducible and made to
account for everything it does. ``generate_rows_paper`` has the signature of
the guarded ``generator.generate_rows``, so the samplers can switch on
``llm.generator``.

What the paper's code did, and what happens here:

1. **Report** (free text) from a CSV of the training minority *with the
   label column* (``paper_prompts.data_csv``). Accepted as it comes, as in
   the paper (an empty or refusing report is only flagged in the stats).
2. **Variables** (structured output, ``VariableSpecs``), once, from the same
   CSV. An answer that does not validate against the paper's model is
   rejected and asked again (the paper's parse raised and its notebook
   skipped the fold). Also rejected: an answer whose specs would make every
   ``output`` raise (``paper_machine.degenerate_reason``: e.g. a truncated
   normal with scale 0 — the paper's ZeroDivisionError) and an answer that
   names none of the columns (its rows would be pure column means).
3. **Rounds** until at least N rows exist: each shows a sample of
   ``llm.example_rows`` (30) minority rows — all rows, shuffled, if fewer —
   asks for a program with at least ``llm.min_outputs_per_round`` (10)
   outputs, and runs it once on the paper's state machine. All outputs are
   kept; the surplus is cut by a random subset (in sampled order, like
   pandas' ``sample``). A program that does not validate or raises in the
   state machine (``PaperProgramError``: change_by before init, unknown
   variable, a degenerate draw) is counted by reason and the next round is
   asked; the paper lost the whole fold's generation there.
4. **Columns back**: an output's values go to the columns of the same exact
   name (pandas' alignment in the paper). The label variable is dropped (the
   paper overwrote it with 1). Values of variables that are no column are
   dropped and counted (in the paper they became extra columns, which
   shifted ``iloc[:, -1]``, the label). A column an output lacks (omitted,
   renamed, or no ``init`` before ``output``) is missing there.
5. **Missing and non-finite values never reach a classifier**: they are
   filled with the column means of the training part ``X_train`` — the
   paper's ``fillna(df.mean())`` before fitting (it used the whole data, a
   small leak not copied) — and counted per column. ``±inf`` is filled too
   (the paper would have crashed in scikit-learn). Nothing else is changed:
   no clipping, no rounding; categorical values that are no valid code are
   kept (as the paper's numbers were) and counted.

Limits (the paper had none): a generation fails with ``LLMOutputInvalid``
after ``llm.max_retries + 1`` rejected answers in a row at one step, or
after ``llm.max_rounds + ceil(N / round_n)`` program rounds in all.

Reproducibility: every request carries a seed derived from (``seed``, N) —
LM at another ratio asks afresh, as the paper generated anew per ratio,
while LS's seeds at r0 ask exactly what LM asks at r0, so the replay cache
shares them — and a ``draw`` index per step. The paper's unseeded samples
and draws come from numpy generators seeded by (``seed``, N, stream,
round): stream 10 = the rows shown, 11 = the state machine, 12 = the
surplus cut.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from pydantic import ValidationError

from lsh_bench.data.schema import FeatureSchema
from lsh_bench.errors import LLMOutputInvalid
from lsh_bench.samplers.llm.client import get_client
from lsh_bench.samplers.llm.config import LLMConfig
from lsh_bench.samplers.llm.paper_machine import PaperProgramError, degenerate_reason, run_program
from lsh_bench.samplers.llm.paper_prompts import (
    LABEL_NAME,
    data_csv,
    program_messages,
    report_messages,
    variables_messages,
)
from lsh_bench.samplers.llm.paper_schemas import StateObjectOpSequence, VariableSpecs, response_schema
from lsh_bench.samplers.llm.prompt_files import PromptSet, PromptSetError, load_prompt_set
from lsh_bench.samplers.llm.types import ChatBackend, ChatRequest, ChatResponse, LLMUsage

STREAM_SAMPLE, STREAM_MACHINE, STREAM_SURPLUS = 10, 11, 12


@dataclass
class PaperGenerationStats:
    """What one paper-mode generation did, for the unit's record and the closing note.

    ``rejected`` ("step:reason" -> answers asked again) and ``repairs``
    (values handled: ``filled_missing``, ``filled_non_finite``,
    ``dropped_values``) have the keys the runner already records for the
    guarded generator; the per-column counters say where.
    """

    n_rows: int
    zero_shot: bool
    generator: str = "paper"
    prompt_set: str = ""
    prompt_digest: str = ""
    request_seed: int = 0
    rows_shown_report: int = 0
    rounds: int = 0                     # program rounds whose rows were kept
    rounds_asked: int = 0
    rows_generated: int = 0             # before the surplus cut
    sample_sizes: list[int] = field(default_factory=list)
    answers: Counter = field(default_factory=Counter)
    rejected: Counter = field(default_factory=Counter)
    repairs: Counter = field(default_factory=Counter)
    missing_by_column: Counter = field(default_factory=Counter)      # kept rows lacking the column
    non_finite_by_column: Counter = field(default_factory=Counter)   # kept NaN/inf values
    dropped_variables: Counter = field(default_factory=Counter)      # LLM name -> values dropped (all rounds)
    not_a_code_by_column: Counter = field(default_factory=Counter)   # categorical values kept as they are
    report_words: int = 0               # accepted as it came (the paper checked nothing); 0 = empty
    shown_rows: list = field(default_factory=list, repr=False)     # real rows in the prompts (quality record)
    variables: list[dict[str, Any]] = field(default_factory=list)
    usage: LLMUsage = field(default_factory=LLMUsage)

    @property
    def retries(self) -> int:
        return sum(self.rejected.values())

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("shown_rows")
        for k in ("answers", "rejected", "repairs", "missing_by_column", "non_finite_by_column",
                  "dropped_variables", "not_a_code_by_column"):
            d[k] = dict(getattr(self, k))
        d["retries"] = self.retries
        return d


def request_seed(seed: int, n_rows: int) -> int:
    """The seed every request of one generation carries: new per N (ratio), shared by LM and LS at r0."""
    return int(np.random.SeedSequence([int(seed), int(n_rows)]).generate_state(1)[0])


class _Session:
    def __init__(self, client: ChatBackend, cfg: LLMConfig, seed: int, stats: PaperGenerationStats):
        self.client, self.cfg, self.seed, self.stats = client, cfg, seed, stats
        self.draws: Counter = Counter()

    def ask(self, step: str, messages: list[tuple[str, str]], schema: dict | None) -> ChatResponse:
        # strict: the schemas are openai's strict conversion, sent as beta.chat.completions.parse sent them
        req = ChatRequest(messages=tuple(messages), json_schema=schema, max_tokens=int(self.cfg.max_tokens),
                          temperature=self.cfg.temperature, top_p=self.cfg.top_p, seed=self.seed,
                          draw=self.draws[step], strict_schema=schema is not None)
        self.draws[step] += 1
        resp = self.client.chat(req)
        self.stats.usage.count(resp)
        self.stats.answers[step] += 1
        return resp


def _fail(step: str, stats: PaperGenerationStats, names: list[str], last: str, extra: str = "") -> LLMOutputInvalid:
    rejected = {k: v for k, v in stats.rejected.items() if k.startswith(step + ":")}
    exc = LLMOutputInvalid(f"paper generator, step {step!r}: answers rejected {rejected}{extra}; dataset columns "
                           f"{names}; last problem: {last}")
    exc.rejected = dict(stats.rejected)   # the failed unit's record counts them (record.failed_usage)
    return exc


def _variables(session: _Session, ps: PromptSet, csv: str, names: list[str]) -> VariableSpecs:
    schema = response_schema(VariableSpecs)
    stats = session.stats
    last = ""
    for _ in range(session.cfg.max_retries + 1):
        text = session.ask("variables", variables_messages(ps, csv), schema).text
        try:
            specs = VariableSpecs.model_validate_json(text.strip())
        except ValidationError as exc:
            stats.rejected["variables:schema_invalid"] += 1
            last = f"not a VariableSpecs answer: {str(exc)[:300]}"
            continue
        bad = [(v.name, r) for v in specs.variables if (r := degenerate_reason(v)) is not None]
        if bad:
            stats.rejected["variables:degenerate_distribution"] += 1
            last = f"every output would fail: {bad[:5]}"
            continue
        if not any(v.name in names for v in specs.variables):
            stats.rejected["variables:no_column"] += 1
            last = f"the variables {[v.name for v in specs.variables][:10]} name none of the columns"
            continue
        return specs
    raise _fail("variables", stats, names, last)


def _rows(outputs: list[dict[str, Any]], names: list[str], label_name: str,
          stats: PaperGenerationStats) -> tuple[np.ndarray, np.ndarray]:
    """Outputs -> (values, absent): one row per output, columns by exact name; NaN where absent."""
    index = {n: j for j, n in enumerate(names)}
    values = np.full((len(outputs), len(names)), np.nan)
    absent = np.ones((len(outputs), len(names)), dtype=bool)
    for i, out in enumerate(outputs):
        for key, value in out.items():
            j = index.get(key)
            if j is None:
                if key != label_name:
                    stats.dropped_variables[key] += 1
                continue
            values[i, j] = float(value)
            absent[i, j] = False
    return values, absent


@dataclass
class _PaperRun:
    """What the steps of one paper-mode generation share."""

    session: _Session
    ps: PromptSet
    schema: FeatureSchema
    cfg: LLMConfig
    seed: int
    n_rows: int
    X_minority: np.ndarray
    label_name: str

    @property
    def stats(self) -> PaperGenerationStats:
        return self.session.stats

    @property
    def names(self) -> list[str]:
        return self.schema.names

    def rng(self, *key: int) -> np.random.Generator:
        return np.random.default_rng(np.random.SeedSequence([int(self.seed), int(self.n_rows), *key]))


def _fill_values(X_train: np.ndarray | None, schema: FeatureSchema) -> np.ndarray:
    """The training part's column means (finite values only): what a missing or non-finite value becomes."""
    if X_train is None or len(X_train) == 0:
        raise ValueError("generate_rows_paper needs X_train, the whole training part: its column means fill "
                         "missing values (the paper's fillna(df.mean()))")
    X_train = np.asarray(X_train, dtype=float).reshape(-1, len(schema))
    fill_values = np.nanmean(np.where(np.isfinite(X_train), X_train, np.nan), axis=0)
    if not np.all(np.isfinite(fill_values)):
        bad = [n for n, f in zip(schema.names, fill_values) if not np.isfinite(f)]
        raise ValueError(f"X_train has a column without finite values: {bad}")
    return fill_values


def ask_report_and_variables(run: _PaperRun) -> tuple[str, VariableSpecs]:
    """Steps 1-2: the report and the variable specs, each once, from all the minority rows."""
    csv_all = data_csv(run.X_minority, run.names, run.label_name)
    run.stats.rows_shown_report = len(run.X_minority)
    run.stats.shown_rows.append(run.X_minority)     # the report shows every training minority row
    report = run.session.ask("report", report_messages(run.ps, csv_all), None).text
    run.stats.report_words = len(report.split())
    specs = _variables(run.session, run.ps, csv_all, run.names)
    run.stats.variables = [v.model_dump(mode="json") for v in specs.variables]
    return report, specs


def _one_round(run: _PaperRun, report: str, specs: VariableSpecs, schema: dict) -> tuple[list | None, str]:
    """One program round: the outputs, or ``None`` and why not (counted in ``rejected``)."""
    k = run.stats.rounds_asked
    sample_size = min(run.cfg.example_rows, len(run.X_minority))
    shown = run.rng(STREAM_SAMPLE, k).choice(len(run.X_minority), size=sample_size, replace=False)
    run.stats.sample_sizes.append(sample_size)
    msgs = program_messages(run.ps, report, data_csv(run.X_minority[shown], run.names, run.label_name),
                            run.cfg.min_outputs_per_round, specs)
    text = run.session.ask("program", msgs, schema).text
    run.stats.rounds_asked += 1
    try:
        program = StateObjectOpSequence.model_validate_json(text.strip())
        outputs = run_program(program, specs, run.rng(STREAM_MACHINE, k))
    except ValidationError as exc:
        reason, last = "schema_invalid", f"not a StateObjectOpSequence answer: {str(exc)[:300]}"
    except PaperProgramError as exc:
        reason, last = exc.reason, str(exc)
    else:
        if outputs:
            return outputs, ""
        reason, last = "no_output", f"a program of {len(program.op_seq)} operations with no output"
    run.stats.rejected[f"program:{reason}"] += 1
    return None, last


def program_rounds(run: _PaperRun, report: str, specs: VariableSpecs) -> list[tuple[np.ndarray, np.ndarray]]:
    """Step 3: rounds until at least N outputs exist; each block is (values, absent) of its outputs.

    Asked one by one, also under ``llm.max_concurrency`` > 1. Round k's
    request depends on k alone (its sample, its draw), as in the guarded
    generator, but the rounds a generation surely still needs cannot be
    known ahead: the paper's program schema bounds no list (``op_seq``), so
    one answer may hold every missing output and the sure number of further
    rounds is always one (``generator.program_rounds`` asks its sure rounds
    at once because its schema bounds a program's outputs).
    """
    round_n = run.cfg.min_outputs_per_round
    program_schema = response_schema(StateObjectOpSequence)
    budget = run.cfg.max_rounds + math.ceil(run.n_rows / round_n)
    blocks: list[tuple[np.ndarray, np.ndarray]] = []
    total, failures, last = 0, 0, ""
    while total < run.n_rows:
        k = run.stats.rounds_asked
        if k >= budget:
            raise _fail("program", run.stats, run.names, last, f", only {total} of {run.n_rows} rows after {k} "
                        f"rounds (llm.max_rounds {run.cfg.max_rounds} + ceil({run.n_rows} / {round_n}))")
        outputs, why = _one_round(run, report, specs, program_schema)
        if outputs is None:
            failures, last = failures + 1, why
            if failures > run.cfg.max_retries:
                raise _fail("program", run.stats, run.names, last, f", {failures} rounds in a row")
            continue
        failures = 0
        run.stats.rounds += 1
        blocks.append(_rows(outputs, run.names, run.label_name, run.stats))
        total += len(outputs)
    return blocks


def keep_rows_paper(run: _PaperRun, blocks: list[tuple[np.ndarray, np.ndarray]],
                    fill_values: np.ndarray) -> np.ndarray:
    """Step 4: all outputs, the surplus cut by a random subset (sampled order), gaps filled and counted."""
    values = np.vstack([b[0] for b in blocks])
    absent = np.vstack([b[1] for b in blocks])
    run.stats.rows_generated = len(values)
    if len(values) > run.n_rows:  # the paper: out_df.sample(new_samples), rows in sampled order
        keep = run.rng(STREAM_SURPLUS).choice(len(values), size=run.n_rows, replace=False)
        values, absent = values[keep], absent[keep]
    run.stats.repairs.update(_fill(values, absent, fill_values, run.schema, run.stats))
    return values


def generate_rows_paper(
    X_minority: np.ndarray,
    n_rows: int,
    *,
    schema: FeatureSchema,
    cfg: LLMConfig,
    seed: int,
    client: ChatBackend | None = None,
    X_train: np.ndarray | None = None,
    prompt_set: str | PromptSet = "paper",
    label_name: str = LABEL_NAME,
) -> tuple[np.ndarray, PaperGenerationStats]:
    """Exactly ``n_rows`` synthetic minority rows (encoded like ``X_minority``) the paper's way, and the stats.

    ``X_minority``: the training part's minority rows (may be empty: zero-shot —
    the LLM then sees the header only, as in the paper). ``X_train``: the
    whole training part (both classes); its column means fill missing values.
    """
    if n_rows < 1:
        raise ValueError(f"n_rows must be >= 1, got {n_rows}")
    X_minority = np.asarray(X_minority, dtype=float).reshape(-1, len(schema))
    fill_values = _fill_values(X_train, schema)
    ps = load_prompt_set(prompt_set) if isinstance(prompt_set, str) else prompt_set
    if ps.answer_format != "paper":
        raise PromptSetError(f"prompt set {ps.name!r} asks for answer format {ps.answer_format!r}; "
                             "llm.generator=paper needs a set of format 'paper' (llm.prompts=paper)")
    stats = PaperGenerationStats(n_rows=n_rows, zero_shot=len(X_minority) == 0, prompt_set=ps.name,
                                 prompt_digest=ps.digest, request_seed=request_seed(seed, n_rows))
    session = _Session(client if client is not None else get_client(cfg), cfg, stats.request_seed, stats)
    run = _PaperRun(session, ps, schema, cfg, seed, n_rows, X_minority, label_name)
    report, specs = ask_report_and_variables(run)
    blocks = program_rounds(run, report, specs)
    return keep_rows_paper(run, blocks, fill_values), stats


def _fill(values: np.ndarray, absent: np.ndarray, fill_values: np.ndarray, schema: FeatureSchema,
          stats: PaperGenerationStats) -> Counter:
    """Fill absent and non-finite values in place with ``fill_values``; count per column and in all."""
    handled: Counter = Counter()
    non_finite = ~np.isfinite(values) & ~absent
    for j, name in enumerate(schema.names):
        if absent[:, j].any():
            stats.missing_by_column[name] += int(absent[:, j].sum())
        if non_finite[:, j].any():
            stats.non_finite_by_column[name] += int(non_finite[:, j].sum())
    handled["filled_missing"] = int(absent.sum())
    handled["filled_non_finite"] = int(non_finite.sum())
    handled["dropped_values"] = int(sum(stats.dropped_variables.values()))
    bad = absent | non_finite
    values[bad] = np.take(fill_values, np.nonzero(bad)[1])
    for j in schema.categorical_indices:
        col = schema.columns[j]
        v = values[:, j]
        not_code = (v != np.round(v)) | (v < 0) | (v > len(col.categories) - 1)
        if not_code.any():
            stats.not_a_code_by_column[col.name] += int(not_code.sum())
    return Counter({k: v for k, v in handled.items() if v})
