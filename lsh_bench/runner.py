"""The protocol of SPEC section 2 for one unit, and the sweep over units.

One *unit* = one dataset x scenario x method:

1. stratified 70/30 split, stratified shuffled 5-fold CV on the 70%
   (:mod:`lsh_bench.data.splits`);
2. for every applicable ratio x grid cell x fold: resample the fold's
   training part, fit, F1 of the minority class on the validation part;
3. selection: highest mean of the 4-decimal fold F1s; ties go to the first
   cell in the order ratio ascending, classifier LR, DT, SVM, kNN, LGBM, grid
   order (:mod:`lsh_bench.models.grid`). Means are compared as integer sums
   of 1e-4 units, so a tie is an exact tie, independent of summation order;
4. refit the choice on the whole 70% resampled with the same method and
   ratio; F1 on the 30% is the test score (``*_t``);
5. achievement rate = test / validation (``*_a``).

A ratio enters selection only if SMOTE's count int(n_maj * r - n_min) is at
least 1 in every fold's training part *and* on the whole 70%; the others are
recorded as skipped with the counts that excluded them.
"""

from __future__ import annotations

import json
import logging
import time
import traceback
import warnings
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from sklearn.exceptions import ConvergenceWarning
from threadpoolctl import threadpool_limits
from tqdm.auto import tqdm

from lsh_bench.config import BenchConfig, DatasetSpec, MethodSpec, unit_config_hash
from lsh_bench.data.loader import Dataset, load_dataset
from lsh_bench.data.schema import FeatureSchema
from lsh_bench.data.splits import Part, ProtocolSplit, make_split, smote_rows_to_add
from lsh_bench.errors import DatasetUnavailable, LshBenchError, SamplerNotApplicable
from lsh_bench.models.evaluate import FoldData, GridScores, evaluate_shared, evaluate_straightforward
from lsh_bench.models.grid import Cell, expand_grid
from lsh_bench.models.preprocess import Mode, categorical_for_sampler
from lsh_bench.provenance import git_state, package_versions
from lsh_bench.samplers.factory import make_sampler, sampler_min_minority
from lsh_bench.samplers.llm.types import LLMUsage
from lsh_bench.store import FINISHED, UnitStore, try_lock

log = logging.getLogger("lsh_bench")
REFIT = -1  # fold number of the refit on the whole 70% in per-ratio records


# ---------------------------------------------------------------- ratios ---
@dataclass
class RatioPlan:
    """Which ratios a unit evaluates, and why the others are not."""

    applicable: list[float | None]
    skipped: dict[str, str] = field(default_factory=dict)
    not_applicable: str | None = None      # the whole method cannot run (the paper's N/A)


def _counts(y: np.ndarray, part: Part) -> tuple[int, int]:
    yt = y[part.train]
    return int((yt == 1).sum()), int((yt == 0).sum())


def plan_ratios(method: MethodSpec, ratios: list[float], split: ProtocolSplit, y: np.ndarray) -> RatioPlan:
    parts = [*split.folds, split.refit]
    counts = [_counts(y, p) for p in parts]
    labels = [f"fold {i}" for i in range(len(split.folds))] + ["refit (whole 70%)"]
    if method.kind == "none":
        empty = [lab for lab, (n_min, _) in zip(labels, counts) if n_min == 0]
        if empty:
            return RatioPlan([], not_applicable=f"no minority row in the training part of {', '.join(empty)}")
        return RatioPlan([None])
    need = sampler_min_minority(method)
    short = [f"{lab}: {n_min}" for lab, (n_min, _) in zip(labels, counts) if n_min < need]
    if short:
        return RatioPlan(
            [], not_applicable=f"{method.name} needs at least {need} real minority rows "
            f"(k_neighbors + 1) in every training part; found {'; '.join(short)}"
        )
    plan = RatioPlan([])
    for r in ratios:
        adds = [smote_rows_to_add(n_maj, n_min, r) for n_min, n_maj in counts]
        if min(adds) >= 1:
            plan.applicable.append(r)
        else:
            where = [f"{lab} adds {a}" for lab, a in zip(labels, adds) if a < 1]
            plan.skipped[f"{r:g}"] = "not above the current minority/majority: " + "; ".join(where)
    if not plan.applicable:
        plan.not_applicable = "no ratio is applicable (the data are already at or above every ratio)"
    return plan


# ------------------------------------------------------------- selection ---
def select(fold_f1: dict[tuple[int, int], list[float]], decimals: int | None) -> tuple[tuple[int, int], float, int]:
    """Best (ratio position, cell index) by mean fold F1, first in tie-break order.

    Returns the key, its validation score (mean of the rounded fold F1s) and
    how many cells tie with it.
    """
    def total(scores: list[float]) -> float | int:
        if decimals is None:
            return float(np.mean(scores))
        return sum(round(round(s, decimals) * 10**decimals) for s in scores)

    keys = sorted(fold_f1)  # ratio ascending, then cell index = tie-break order
    totals = {k: total(fold_f1[k]) for k in keys}
    best_total = max(totals.values())
    best = next(k for k in keys if totals[k] == best_total)
    n = len(fold_f1[best])
    val = best_total / n / 10**decimals if decimals is not None else float(best_total)
    return best, float(val), sum(1 for k in keys if totals[k] == best_total)


def round_f1(x: float, decimals: int | None) -> float:
    return round(x, decimals) if decimals is not None else x


# ----------------------------------------------------------------- tasks ---
@dataclass
class Task:
    ratio_pos: int
    ratio: float | None
    fold: int
    data: FoldData


def _run_tasks(
    tasks: list[Task], cells: list[Cell], schema: FeatureSchema, mode: Mode, sampler_for: Any, evaluator: str
) -> list[tuple[int, int, GridScores]]:
    """Score every cell for a group of tasks (one worker call; one BLAS thread)."""
    out = []
    # The paper-faithful LR (unscaled, max_iter=100000) often stops at lbfgs's
    # evaluation cap; that is expected, and counted per task instead of
    # flooding the log (``convergence_warnings`` in ratios.parquet).
    with threadpool_limits(1), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        for t in tasks:
            caught.clear()
            sampler = sampler_for(t.ratio)
            if evaluator == "straightforward":
                scores = evaluate_straightforward(t.data, cells, schema, mode, sampler)
            else:
                scores = evaluate_shared(t.data, cells, schema, mode, sampler, fast=True)
            scores.convergence_warnings = sum(issubclass(w.category, ConvergenceWarning) for w in caught)
            for w in caught:
                if not issubclass(w.category, ConvergenceWarning):
                    warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
            out.append((t.ratio_pos, t.fold, scores))
    return out


@dataclass
class SamplerFactory:
    """Picklable: builds the method's sampler for a ratio (sent to worker processes)."""

    cfg: BenchConfig
    schema: FeatureSchema
    seed_ratio: float | None

    def __call__(self, ratio: float | None) -> Any:
        mode: Mode = self.cfg.preprocess.name
        return make_sampler(
            self.cfg.method, ratio, schema=self.schema,
            categorical_features=categorical_for_sampler(self.schema, mode),
            random_state=self.cfg.seeds.sampler, llm=self.cfg.llm, llm_seed=self.cfg.seeds.llm,
            seed_ratio=self.seed_ratio,
        )


def _fold_data(ds: Dataset, part: Part) -> FoldData:
    return FoldData(ds.X.iloc[part.train], ds.y[part.train], ds.X.iloc[part.score], ds.y[part.score])


def _usage_dict(u: LLMUsage) -> dict[str, Any]:
    return {
        "calls": u.calls, "cache_hits": u.cache_hits, "prompt_tokens": u.prompt_tokens,
        "completion_tokens": u.completion_tokens, "seconds": round(u.seconds, 3), "cost": u.cost,
    }


def _ratio_row(ratio: float | None, fold: int, s: GridScores) -> dict[str, Any]:
    """One row of ratios.parquet: what resampling a training part cost."""
    return {
        "ratio": ratio, "fold": fold, "resample_seconds": s.resample_seconds,
        "n_train_resampled": s.n_train_resampled, "convergence_warnings": s.convergence_warnings,
        "llm_calls": s.usage.calls, "llm_cache_hits": s.usage.cache_hits, "llm_seconds": s.usage.seconds,
        "llm_prompt_tokens": s.usage.prompt_tokens, "llm_completion_tokens": s.usage.completion_tokens,
        "llm_rounds": s.sampler_info.get("rounds", 0),
        "llm_rejected": json.dumps(s.sampler_info.get("rejected", {}), sort_keys=True),
        "llm_repairs": json.dumps(s.sampler_info.get("repairs", {}), sort_keys=True),
    }


def _counter_totals(rows: list[dict[str, Any]], column: str) -> dict[str, int]:
    """Sum the JSON counters of one ratios.parquet column (rejected answers / repairs by kind)."""
    total: dict[str, int] = {}
    for row in rows:
        for kind, n in json.loads(row[column]).items():
            total[kind] = total.get(kind, 0) + n
    return dict(sorted(total.items()))


# ------------------------------------------------------------------ unit ---
def run_unit(cfg: BenchConfig, ds: Dataset, progress: tqdm | None = None) -> tuple[dict[str, Any], pd.DataFrame | None, pd.DataFrame | None]:
    """Run the protocol on one loaded dataset. Returns (record fields, cells, ratio stats)."""
    mode: Mode = cfg.preprocess.name
    d = cfg.protocol.f1_decimals
    split = make_split(ds.y, cfg.protocol, cfg.seeds, cfg.scenario, ds.name)
    plan = plan_ratios(cfg.method, cfg.ratios, split, ds.y)
    base: dict[str, Any] = {"ratios_skipped": plan.skipped}
    if plan.not_applicable:
        return {**base, "status": "not_applicable", "reason": plan.not_applicable, "ratios_applicable": []}, None, None
    seed_ratio = plan.applicable[0] if cfg.method.kind == "hybrid" else None
    sampler_for = SamplerFactory(cfg, ds.schema, seed_ratio)
    cells = expand_grid(cfg.classifiers())

    tasks = [
        Task(ri, r, fi, _fold_data(ds, part))
        for ri, r in enumerate(plan.applicable)
        for fi, part in enumerate(split.folds)
    ]
    # LLM methods: one group per fold, ratios in order, so the seeds/report of a
    # fold are generated once and replayed from the cache for its other ratios.
    if cfg.method.kind in ("llm", "hybrid"):
        groups = [[t for t in tasks if t.fold == f] for f in range(len(split.folds))]
    else:
        groups = [[t] for t in tasks]
    evaluator = cfg.run.evaluator
    if progress is not None:
        progress.reset(total=len(tasks) * len(cells) + 1)
    results: list[tuple[int, int, GridScores]] = []
    parallel = Parallel(n_jobs=cfg.run.n_jobs, return_as="generator_unordered")
    for group_out in parallel(delayed(_run_tasks)(g, cells, ds.schema, mode, sampler_for, evaluator) for g in groups):
        results.extend(group_out)
        if progress is not None:
            progress.update(len(group_out) * len(cells))
    if cfg.run.exact_check and evaluator != "straightforward":
        check = [o for g in groups for o in _run_tasks(g, cells, ds.schema, mode, sampler_for, "straightforward")]
        ref = {(ri, fi): s.f1 for ri, fi, s in check}
        for ri, fi, s in results:
            if s.f1 != ref[(ri, fi)]:
                bad = [c.index for c, a, b in zip(cells, s.f1, ref[(ri, fi)]) if a != b]
                raise LshBenchError(f"exact_check: fast and straightforward F1 differ at ratio "
                                    f"{plan.applicable[ri]}, fold {fi}, cells {bad[:10]}")

    results.sort(key=lambda x: (x[0], x[1]))
    fold_f1: dict[tuple[int, int], list[float]] = {}
    cell_rows, ratio_rows = [], []
    usage = LLMUsage()
    for ri, fi, s in results:
        r = plan.applicable[ri]
        usage.add(s.usage)
        ratio_rows.append(_ratio_row(r, fi, s))
        for cell, f1, sec in zip(cells, s.f1, s.seconds):
            fold_f1.setdefault((ri, cell.index), []).append(f1)
            cell_rows.append({
                "ratio": r, "classifier": cell.classifier, "params": cell.params_json, "cell_index": cell.index,
                "fold": fi, "f1": f1, "f1_rounded": round_f1(f1, d), "seconds": sec,
            })

    (ri, ci), val, n_tied = select(fold_f1, d)
    ratio, cell = plan.applicable[ri], cells[ci]
    # Refit the choice on the whole 70%, resampled the same way; score on the 30%.
    refit = _run_tasks([Task(ri, ratio, REFIT, _fold_data(ds, split.refit))], [cell], ds.schema, mode,
                       sampler_for, evaluator)[0][2]
    usage.add(refit.usage)
    ratio_rows.append(_ratio_row(ratio, REFIT, refit))
    if progress is not None:
        progress.update(1)
    test = round_f1(refit.f1[0], d)
    record = {
        **base,
        "status": "done", "reason": "",
        "ratios_applicable": plan.applicable,
        "seed_ratio": seed_ratio,
        "choice": {"ratio": ratio, "classifier": cell.classifier, "params": cell.param_dict, "cell_index": cell.index},
        "val_f1": val, "test_f1": test, "achievement": (test / val) if val > 0 else None,
        "fold_f1": [round_f1(x, d) for x in fold_f1[(ri, ci)]],
        "n_tied_best": n_tied, "n_cells": len(cells) * len(plan.applicable),
        "llm": _usage_dict(usage) | {
            "rejected": _counter_totals(ratio_rows, "llm_rejected"),
            "repairs": _counter_totals(ratio_rows, "llm_repairs"),
            "keys": sorted(set(usage.keys)),
        },
    }
    return record, pd.DataFrame(cell_rows), pd.DataFrame(ratio_rows)


# ----------------------------------------------------------------- sweep ---
def _identity(cfg: BenchConfig, spec: DatasetSpec, config_hash: str) -> dict[str, Any]:
    return {
        "dataset": spec.name, "paper_row": spec.paper_row, "ir_group": spec.ir_group,
        "scenario": cfg.scenario.name, "method": cfg.method.name, "preprocess": cfg.preprocess.name,
        "config_hash": config_hash,
    }


def _provenance(cfg: BenchConfig, ds: Dataset | None, config_hash: str) -> dict[str, Any]:
    prov: dict[str, Any] = {
        "config_hash": config_hash,
        "dataset_sha256": ds.sha256 if ds else None,
        "data_source": ds.source if ds else None,
        "seeds": cfg.seeds.model_dump(),
        "protocol": cfg.protocol.model_dump(),
        "ratios": cfg.ratios,
        "grid": {c.name: c.grid for c in cfg.classifiers()},
        "evaluator": cfg.run.evaluator,
        "n_jobs": cfg.run.n_jobs,
        "packages": package_versions(),
        **git_state(),
    }
    if cfg.method.kind in ("llm", "hybrid"):
        prov["llm"] = cfg.llm.model_dump(include={"backend", "model", "base_url", "temperature", "top_p", "max_tokens"})
    return prov


def compute_unit(cfg: BenchConfig, spec: DatasetSpec, store: UnitStore, config_hash: str,
                 progress: tqdm | None = None) -> dict[str, Any]:
    """Load, run, and write one unit; failures become a recorded ``failed`` unit."""
    started = datetime.now(timezone.utc)
    t0 = time.perf_counter()
    record: dict[str, Any] = _identity(cfg, spec, config_hash)
    ds: Dataset | None = None
    cells = ratios = None
    try:
        ds = load_dataset(spec, cfg.data)
        record.update({"ir": ds.ir, "n_rows": len(ds.y), "n_features": ds.X.shape[1], "n_minority": ds.n_minority})
        fields, cells, ratios = run_unit(cfg, ds, progress)
        record.update(fields)
    except DatasetUnavailable as exc:
        record.update({"status": "unavailable", "reason": str(exc)})
    except SamplerNotApplicable as exc:
        record.update({"status": "not_applicable", "reason": str(exc)})
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception as exc:  # recorded, visible in the summary, retried on the next run
        if cfg.run.fail_fast:
            raise
        record.update({"status": "failed", "reason": f"{type(exc).__name__}: {exc}",
                       "traceback": traceback.format_exc()})
        log.error("unit %s/%s/%s failed: %s: %s", spec.name, cfg.scenario.name, cfg.method.name,
                  type(exc).__name__, exc)
    record["seconds"] = round(time.perf_counter() - t0, 3)
    record["started_at"] = started.isoformat(timespec="seconds")
    record["provenance"] = _provenance(cfg, ds, config_hash)
    if cells is not None:
        for col, value in (("dataset", spec.name), ("scenario", cfg.scenario.name), ("method", cfg.method.name)):
            cells.insert(0, col, value)
    store.write(record, cells, ratios)
    return record


def run_sweep(cfg: BenchConfig) -> list[dict[str, Any]]:
    """Every selected dataset for the configured scenario and method; finished units are skipped.

    Units locked by another process are deferred and awaited at the end, so
    two sweeps on one results directory share the work and never duplicate it.
    """
    specs = list(cfg.dataset.values())
    records: list[dict[str, Any]] = []
    deferred: list[tuple[DatasetSpec, UnitStore, str, int | None]] = []
    disable = None if cfg.run.progress else True
    bar = tqdm(total=len(specs), desc=f"{cfg.method.name}/{cfg.scenario.name} units", unit="unit", disable=disable)
    cell_bar = tqdm(total=0, desc="cells", unit="cell", leave=False, disable=disable)

    def stamp(store: UnitStore) -> int | None:
        try:
            return store.record_path.stat().st_mtime_ns
        except FileNotFoundError:
            return None

    def todo(store: UnitStore, seen: int | None = -1) -> dict[str, Any] | None:
        rec = store.record()
        if rec is not None and (rec["status"] in FINISHED or not cfg.run.rerun_failed):
            return rec
        # Written by another process since we first looked (it failed there, while
        # we waited for its lock): take that record; it is retried on the next run,
        # not computed twice now.
        if rec is not None and seen != -1 and stamp(store) != seen:
            return rec
        return None

    for spec in specs:
        h = unit_config_hash(cfg, spec)
        store = UnitStore(cfg.run.results_dir, cfg.scenario.name, cfg.method.name, spec.name, h)
        seen = stamp(store)
        done = todo(store)
        if done is None:
            lock = try_lock(store)
            if lock is None:
                deferred.append((spec, store, h, seen))
                continue
            try:
                done = todo(store, seen) or compute_unit(cfg, spec, store, h, cell_bar)
            finally:
                lock.release()
        records.append(done)
        bar.set_postfix_str(f"{spec.name}: {done['status']}")
        bar.update(1)
    for spec, store, h, seen in deferred:
        log.info("waiting for unit %s, being computed by another process", spec.name)
        with store.lock(timeout=-1):
            done = todo(store, seen) or compute_unit(cfg, spec, store, h, cell_bar)
        records.append(done)
        bar.update(1)
    cell_bar.close()
    bar.close()
    order = {s.name: i for i, s in enumerate(specs)}
    return sorted(records, key=lambda r: order[r["dataset"]])
