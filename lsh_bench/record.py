"""What a unit writes, and the one flat row every reader makes of it.

A unit's ``unit.json`` is nested (choice, LLM accounting, provenance; schema
in ``results/README.md``). Three readers want one row per unit — the store's
summary (:func:`lsh_bench.store.load_summary`, the analysis module's input),
the table printed after a sweep (:mod:`lsh_bench.summary`) and the status of
a sweep — and they all get it from :meth:`UnitRow.of`, so a column means the
same thing everywhere.

The builders below (:func:`identity`, :func:`provenance`, :func:`usage_fields`,
:func:`ratio_row`) are the pieces :mod:`lsh_bench.unit` assembles a record from.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from typing import Any

import pandas as pd

from lsh_bench.config import BenchConfig, DatasetSpec
from lsh_bench.data.loader import Dataset
from lsh_bench.samplers.llm.prompt_files import load_prompt_set
from lsh_bench.samplers.llm.types import LLMUsage


@dataclass(frozen=True)
class UnitRow:
    """One unit as a flat row (``store.load_summary``'s columns, in this order)."""

    dataset: str
    paper_row: int | None
    ir: float | None
    ir_group: str | None
    scenario: str
    method: str
    status: str
    reason: str
    ratio: float | None              # the choice's ratio; None for ORG and unfinished units
    classifier: str | None
    params: str | None               # the choice's hyper-parameters as JSON
    val_f1: float | None             # *_v
    test_f1: float | None            # *_t
    achievement: float | None        # *_a = test / validation
    seconds: float | None
    llm_calls: int | None            # None: the unit recorded no LLM accounting (not run)
    llm_prompt_tokens: int | None
    llm_completion_tokens: int | None
    llm_seconds: float | None
    llm_cost: float | None
    config_hash: str
    all_minority_val_f1: float | None
    all_minority_test_f1: float | None

    @classmethod
    def of(cls, rec: dict[str, Any]) -> UnitRow:
        """The flat row of a ``unit.json`` record (older records: absent fields are ``None``)."""
        choice = rec.get("choice") or {}
        llm = rec.get("llm") or {}
        baseline = rec.get("all_minority") or {}
        return cls(
            dataset=rec["dataset"], paper_row=rec.get("paper_row"), ir=rec.get("ir"), ir_group=rec.get("ir_group"),
            scenario=rec["scenario"], method=rec["method"], status=rec["status"], reason=rec.get("reason", ""),
            ratio=choice.get("ratio"), classifier=choice.get("classifier"),
            params=json.dumps(choice.get("params")) if choice else None,
            val_f1=rec.get("val_f1"), test_f1=rec.get("test_f1"), achievement=rec.get("achievement"),
            seconds=rec.get("seconds"), llm_calls=llm.get("calls"), llm_prompt_tokens=llm.get("prompt_tokens"),
            llm_completion_tokens=llm.get("completion_tokens"), llm_seconds=llm.get("seconds"),
            llm_cost=llm.get("cost"), config_hash=rec["config_hash"],
            all_minority_val_f1=baseline.get("val_f1"), all_minority_test_f1=baseline.get("test_f1"),
        )


SUMMARY_COLUMNS = [f.name for f in fields(UnitRow)]
_NUMERIC = ("ir", "ratio", "val_f1", "test_f1", "achievement", "seconds", "llm_calls", "llm_prompt_tokens",
            "llm_completion_tokens", "llm_seconds", "llm_cost", "all_minority_val_f1", "all_minority_test_f1")


def unit_rows(records: list[dict[str, Any]]) -> pd.DataFrame:
    """One :class:`UnitRow` per record, columns :data:`SUMMARY_COLUMNS` (numbers as floats, NaN if absent)."""
    frame = pd.DataFrame([asdict(UnitRow.of(r)) for r in records], columns=SUMMARY_COLUMNS)
    for col in _NUMERIC:
        frame[col] = pd.to_numeric(frame[col], errors="coerce")
    return frame


# ------------------------------------------------------------- builders ---
def identity(cfg: BenchConfig, spec: DatasetSpec, config_hash: str) -> dict[str, Any]:
    """The fields that name a unit (first in ``unit.json``)."""
    return {
        "dataset": spec.name, "paper_row": spec.paper_row, "ir_group": spec.ir_group,
        "scenario": cfg.scenario.name, "method": cfg.method.name, "preprocess": cfg.preprocess.name,
        "config_hash": config_hash,
    }


def provenance(cfg: BenchConfig, ds: Dataset | None, config_hash: str, code: dict[str, Any]) -> dict[str, Any]:
    """What redoing the unit needs: config, data checksum, seeds, grid, and ``code`` (commit, packages).

    ``code`` is read once when the sweep starts (:func:`lsh_bench.provenance.code_state`):
    the code that runs is the code imported then, whatever the checkout does later.
    """
    prov: dict[str, Any] = {
        "config_hash": config_hash,
        # the file by its mirror-relative name + sha256 (+ OpenML id), and what the cleaning dropped
        **(ds.provenance() if ds else {"dataset_sha256": None, "data_source": None}),
        "seeds": cfg.seeds.model_dump(),
        "protocol": cfg.protocol.model_dump(),
        "ratios": cfg.ratios,
        "grid": {c.name: c.grid for c in cfg.classifiers()},
        "scenario": cfg.scenario.model_dump(),
        "evaluator": cfg.run.evaluator,
        "n_jobs": cfg.run.n_jobs,
        **code,
    }
    if cfg.method.traits.uses_llm:
        prov["llm"] = cfg.llm.model_dump(include={"backend", "model", "base_url", "temperature", "top_p", "max_tokens",
                                                  "generator", "prompts", "weights", "report_words", "report_rows",
                                                  "example_rows", "executions_per_program",
                                                  "max_executions_per_program", "start_rows", "zero_shot_range"})
        prov["llm"]["model_id"] = cfg.llm.model_id     # the cache keys' model: + the converted weights' type
        prov["llm"]["prompts_digest"] = load_prompt_set(cfg.llm.prompts).digest   # which words were sent
    if cfg.method.traits.seeds_at_r0:
        prov["score_r0"] = cfg.method.score_r0
        prov["ls"] = cfg.ls.model_dump()   # two-stage (LS, SS): which expander, which seed step
    return prov


def failed_usage(finished: list[LLMUsage], exc: BaseException) -> dict[str, Any] | None:
    """The ``llm`` section of a failed unit: what is known its calls cost, or None without any.

    An LLM unit that fails has still cost model calls: the finished CV groups'
    usage plus the failed generation's (``exc.llm_usage``, set by the LLM
    sampler), marked ``"complete": false`` — groups running beside it, or done
    before it in its own group, are not counted. The failed generation's rejected
    answers (``exc.rejected``) are counted too: a replayed failure makes no call,
    but its record still shows why it failed.
    """
    spent = LLMUsage()
    for usage in finished:
        spent.add(usage)
    if isinstance(getattr(exc, "llm_usage", None), LLMUsage):
        spent.add(exc.llm_usage)
    if not (spent.calls or spent.cache_hits):
        return None
    fields = usage_fields(spent, [])
    fields["rejected"] = dict(sorted((getattr(exc, "rejected", None) or {}).items()))
    return {**fields, "complete": False}


def usage_fields(usage: LLMUsage, ratio_rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The record's ``llm`` section: calls, tokens, seconds, cost, rejected answers and repairs, cache keys."""
    return {
        "calls": usage.calls, "cache_hits": usage.cache_hits, "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens, "seconds": round(usage.seconds, 3), "cost": usage.cost,
        "rejected": _counter_totals(ratio_rows, "llm_rejected"),
        "repairs": _counter_totals(ratio_rows, "llm_repairs"),
        "keys": sorted(set(usage.keys)),
    }


def ratio_row(ratio: float | None, fold: int, resample_seconds: float, n_train_resampled: int,
              convergence_warnings: int, usage: LLMUsage, sampler_info: dict[str, Any]) -> dict[str, Any]:
    """One row of ratios.parquet: what resampling one training part cost (fold -1 = the refit)."""
    return {
        "ratio": ratio, "fold": fold, "resample_seconds": resample_seconds,
        "n_train_resampled": n_train_resampled, "convergence_warnings": convergence_warnings,
        "llm_calls": usage.calls, "llm_cache_hits": usage.cache_hits, "llm_seconds": usage.seconds,
        "llm_prompt_tokens": usage.prompt_tokens, "llm_completion_tokens": usage.completion_tokens,
        "llm_rounds": sampler_info.get("rounds", 0),
        "llm_rejected": json.dumps(sampler_info.get("rejected", {}), sort_keys=True),
        "llm_repairs": json.dumps(sampler_info.get("repairs", {}), sort_keys=True),
    }


def _counter_totals(rows: list[dict[str, Any]], column: str) -> dict[str, int]:
    """Sum the JSON counters of one ratios.parquet column (rejected answers / repairs by kind)."""
    total: dict[str, int] = {}
    for row in rows:
        for kind, n in json.loads(row[column]).items():
            total[kind] = total.get(kind, 0) + n
    return dict(sorted(total.items()))
