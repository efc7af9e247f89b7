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
from collections import deque
from collections.abc import Iterator
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
from lsh_bench.errors import DatasetUnavailable, LshBenchError, SamplerNotApplicable, StoreUnwritable, SweepStopped
from lsh_bench.models.evaluate import FoldData, GridScores, evaluate_shared, evaluate_straightforward, minority_f1
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
    keys = sorted(fold_f1)  # ratio ascending, then cell index = tie-break order
    totals = {k: _rounded_total(fold_f1[k], decimals) for k in keys}
    best_total = max(totals.values())
    best = next(k for k in keys if totals[k] == best_total)
    return best, _mean_from_total(best_total, len(fold_f1[best]), decimals), sum(
        1 for k in keys if totals[k] == best_total)


def _rounded_total(scores: list[float], decimals: int | None) -> float | int:
    """Sum of the fold F1s in integer units of ``10**-decimals`` (exact, order-free); the mean if unrounded."""
    if decimals is None:
        return float(np.mean(scores))
    return sum(round(round(s, decimals) * 10**decimals) for s in scores)


def _mean_from_total(total: float | int, n: int, decimals: int | None) -> float:
    return float(total / n / 10**decimals) if decimals is not None else float(total)


def mean_rounded_f1(scores: list[float], decimals: int | None) -> float:
    """Mean of the rounded fold F1s, computed exactly as selection computes a unit's ``val_f1``."""
    return _mean_from_total(_rounded_total(scores, decimals), len(scores), decimals)


def round_f1(x: float, decimals: int | None) -> float:
    return round(x, decimals) if decimals is not None else x


def all_minority_scores(y: np.ndarray, split: ProtocolSplit, decimals: int | None) -> dict[str, float]:
    """F1 of predicting *every* row minority, on the unit's validation folds and its test part.

    No model reaches below this on a validation set that is mostly minority,
    which is what few-/zero-shot produce (SPEC section 2 moves the removed
    minority rows to validation and test): there it is the bar a selected
    model has to clear, so it is recorded with every unit (``ALL1`` in Table 3).
    ``val_f1`` is the mean of the rounded fold F1s computed as selection
    computes it, so a selected cell that predicts all minority has *equal*
    ``val_f1`` (not just close).
    """
    def f1_all(part_rows: np.ndarray) -> float:
        yy = y[part_rows]
        return minority_f1(yy, np.ones_like(yy))

    folds = [f1_all(part.score) for part in split.folds]
    return {"val_f1": mean_rounded_f1(folds, decimals), "test_f1": round_f1(f1_all(split.refit.score), decimals)}


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
@dataclass
class WorkItem:
    """One worker call of :func:`_run_tasks`: a group of CV tasks, or the refit of the choice."""

    job: UnitJob
    tasks: list[Task]
    cells: list[Cell]
    refit: bool = False

    def args(self) -> tuple[Any, ...]:
        job = self.job
        return self.tasks, self.cells, job.ds.schema, job.mode, job.sampler_for, job.cfg.run.evaluator


class UnitJob:
    """One unit's protocol as work items: the CV task groups, then one refit.

    :func:`run_unit` drives one job to its end; the pooled sweep
    (``run.n_jobs > 1``) starts the next unit's items while the last ones of
    the previous unit (and its refit) still run, so no worker waits. Either
    way every item is the same :func:`_run_tasks` call, so the scores are the
    same (tested).
    """

    def __init__(self, cfg: BenchConfig, ds: Dataset) -> None:
        self.cfg, self.ds = cfg, ds
        self.mode: Mode = cfg.preprocess.name
        self.split = make_split(ds.y, cfg.protocol, cfg.seeds, cfg.scenario, ds.name)
        self.plan = plan_ratios(cfg.method, cfg.ratios, self.split, ds.y)
        self.base: dict[str, Any] = {"ratios_skipped": self.plan.skipped,
                                     "all_minority": all_minority_scores(ds.y, self.split, cfg.protocol.f1_decimals)}
        self.early: dict[str, Any] | None = None     # the whole record when nothing is computed
        self.cv_items: list[WorkItem] = []
        if self.plan.not_applicable:
            self.early = {**self.base, "status": "not_applicable", "reason": self.plan.not_applicable,
                          "ratios_applicable": []}
            return
        self.seed_ratio = self.plan.applicable[0] if cfg.method.kind == "hybrid" else None
        self.sampler_for = SamplerFactory(cfg, ds.schema, self.seed_ratio)
        self.cells = expand_grid(cfg.classifiers())
        self.tasks = [
            Task(ri, r, fi, _fold_data(ds, part))
            for ri, r in enumerate(self.plan.applicable)
            for fi, part in enumerate(self.split.folds)
        ]
        if cfg.method.kind in ("llm", "hybrid"):
            # One group per fold, ratios in order, so the seeds/report of a fold are
            # generated once and replayed from the cache for its other ratios.
            groups = [[t for t in self.tasks if t.fold == f] for f in range(len(self.split.folds))]
        else:
            # Largest ratio (most rows, longest fits) first: the unit's last tasks are short.
            groups = [[t] for t in sorted(self.tasks, key=lambda t: -t.ratio_pos)]
        self.cv_items = [WorkItem(self, g, self.cells) for g in groups]
        self.results: list[tuple[int, int, GridScores]] = []
        self._waiting = len(self.cv_items)

    @property
    def n_progress(self) -> int:
        """Progress steps: every (task, cell) of the CV and the refit."""
        return len(self.tasks) * len(self.cells) + 1 if self.early is None else 0

    def add_cv(self, out: list[tuple[int, int, GridScores]]) -> WorkItem | None:
        """Take one CV group's scores; after the last one, select and return the refit item."""
        self.results.extend(out)
        self._waiting -= 1
        return self._select() if self._waiting == 0 else None

    def _select(self) -> WorkItem:
        cfg, plan, cells = self.cfg, self.plan, self.cells
        if cfg.run.exact_check and cfg.run.evaluator != "straightforward":
            groups = [item.tasks for item in self.cv_items]
            check = [o for g in groups for o in _run_tasks(g, cells, self.ds.schema, self.mode, self.sampler_for,
                                                           "straightforward")]
            ref = {(ri, fi): s.f1 for ri, fi, s in check}
            for ri, fi, s in self.results:
                if s.f1 != ref[(ri, fi)]:
                    bad = [c.index for c, a, b in zip(cells, s.f1, ref[(ri, fi)]) if a != b]
                    raise LshBenchError(f"exact_check: fast and straightforward F1 differ at ratio "
                                        f"{plan.applicable[ri]}, fold {fi}, cells {bad[:10]}")
        d = cfg.protocol.f1_decimals
        self.results.sort(key=lambda x: (x[0], x[1]))
        self.fold_f1: dict[tuple[int, int], list[float]] = {}
        self.cell_rows: list[dict[str, Any]] = []
        self.ratio_rows: list[dict[str, Any]] = []
        self.usage = LLMUsage()
        for ri, fi, s in self.results:
            r = plan.applicable[ri]
            self.usage.add(s.usage)
            self.ratio_rows.append(_ratio_row(r, fi, s))
            for cell, f1, sec in zip(cells, s.f1, s.seconds):
                self.fold_f1.setdefault((ri, cell.index), []).append(f1)
                self.cell_rows.append({
                    "ratio": r, "classifier": cell.classifier, "params": cell.params_json, "cell_index": cell.index,
                    "fold": fi, "f1": f1, "f1_rounded": round_f1(f1, d), "seconds": sec,
                })
        (ri, ci), self.val, self.n_tied = select(self.fold_f1, d)
        self.choice = (ri, ci)
        # Refit the choice on the whole 70%, resampled the same way; scored on the 30%.
        refit = Task(ri, plan.applicable[ri], REFIT, _fold_data(self.ds, self.split.refit))
        return WorkItem(self, [refit], [cells[ci]], refit=True)

    def finish(self, refit_out: list[tuple[int, int, GridScores]]) -> tuple[dict[str, Any], pd.DataFrame, pd.DataFrame]:
        """The unit's record fields, cells and per-ratio rows, from the refit's scores."""
        d = self.cfg.protocol.f1_decimals
        (ri, ci), val = self.choice, self.val
        ratio, cell = self.plan.applicable[ri], self.cells[ci]
        refit = refit_out[0][2]
        self.usage.add(refit.usage)
        self.ratio_rows.append(_ratio_row(ratio, REFIT, refit))
        test = round_f1(refit.f1[0], d)
        record = {
            **self.base,
            "status": "done", "reason": "",
            "ratios_applicable": self.plan.applicable,
            "seed_ratio": self.seed_ratio,
            "choice": {"ratio": ratio, "classifier": cell.classifier, "params": cell.param_dict,
                       "cell_index": cell.index},
            "val_f1": val, "test_f1": test, "achievement": (test / val) if val > 0 else None,
            "fold_f1": [round_f1(x, d) for x in self.fold_f1[(ri, ci)]],
            "n_tied_best": self.n_tied, "n_cells": len(self.cells) * len(self.plan.applicable),
            "llm": _usage_dict(self.usage) | {
                "rejected": _counter_totals(self.ratio_rows, "llm_rejected"),
                "repairs": _counter_totals(self.ratio_rows, "llm_repairs"),
                "keys": sorted(set(self.usage.keys)),
            },
        }
        return record, pd.DataFrame(self.cell_rows), pd.DataFrame(self.ratio_rows)


def run_unit(cfg: BenchConfig, ds: Dataset, progress: tqdm | None = None) -> tuple[dict[str, Any], pd.DataFrame | None, pd.DataFrame | None]:
    """Run the protocol on one loaded dataset. Returns (record fields, cells, ratio stats)."""
    job = UnitJob(cfg, ds)
    if job.early is not None:
        return job.early, None, None
    if progress is not None:
        progress.reset(total=job.n_progress)
    refit: WorkItem | None = None
    parallel = Parallel(n_jobs=cfg.run.n_jobs, return_as="generator_unordered")
    for out in parallel(delayed(_run_tasks)(*item.args()) for item in job.cv_items):
        refit = job.add_cv(out) or refit
        if progress is not None:
            progress.update(len(out) * len(job.cells))
    assert refit is not None
    fields = job.finish(_run_tasks(*refit.args()))
    if progress is not None:
        progress.update(1)
    return fields


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
        # the file by its mirror-relative name + sha256 (+ OpenML id), and what the cleaning dropped
        **(ds.provenance() if ds else {"dataset_sha256": None, "data_source": None}),
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


class _UnitRecord:
    """A unit's record while it is computed: identity, timing, failure handling, the write."""

    def __init__(self, cfg: BenchConfig, spec: DatasetSpec, store: UnitStore, config_hash: str) -> None:
        self.cfg, self.spec, self.store, self.config_hash = cfg, spec, store, config_hash
        self.started = datetime.now(timezone.utc)
        self.t0 = time.perf_counter()
        self.fields: dict[str, Any] = _identity(cfg, spec, config_hash)
        self.ds: Dataset | None = None

    def load(self) -> Dataset:
        ds = load_dataset(self.spec, self.cfg.data, self.cfg.preprocess.encoding)
        self.ds = ds
        self.fields.update({"ir": ds.ir, "n_rows": len(ds.y), "n_features": ds.X.shape[1],
                            "n_minority": ds.n_minority})
        return ds

    def failed(self, exc: Exception) -> None:
        """Record why the unit did not finish (re-raises under ``run.fail_fast``)."""
        if isinstance(exc, DatasetUnavailable):
            self.fields.update({"status": "unavailable", "reason": str(exc)})
        elif isinstance(exc, SamplerNotApplicable):
            self.fields.update({"status": "not_applicable", "reason": str(exc)})
        else:  # recorded, visible in the summary, retried on the next run
            if self.cfg.run.fail_fast:
                raise exc
            self.fields.update({"status": "failed", "reason": f"{type(exc).__name__}: {exc}",
                                "traceback": "".join(traceback.format_exception(exc))})
            log.error("unit %s/%s/%s failed: %s: %s", self.spec.name, self.cfg.scenario.name,
                      self.cfg.method.name, type(exc).__name__, exc)

    def write(self, cells: pd.DataFrame | None = None, ratios: pd.DataFrame | None = None) -> dict[str, Any]:
        record = self.fields
        record["seconds"] = round(time.perf_counter() - self.t0, 3)
        record["started_at"] = self.started.isoformat(timespec="seconds")
        record["provenance"] = _provenance(self.cfg, self.ds, self.config_hash)
        if cells is not None:
            for col, value in (("dataset", self.spec.name), ("scenario", self.cfg.scenario.name),
                               ("method", self.cfg.method.name)):
                cells.insert(0, col, value)
        self.store.write(record, cells, ratios)
        return record


def compute_unit(cfg: BenchConfig, spec: DatasetSpec, store: UnitStore, config_hash: str,
                 progress: tqdm | None = None) -> dict[str, Any]:
    """Load, run, and write one unit; failures become a recorded ``failed`` unit."""
    unit = _UnitRecord(cfg, spec, store, config_hash)
    cells = ratios = None
    try:
        fields, cells, ratios = run_unit(cfg, unit.load(), progress)
        unit.fields.update(fields)
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception as exc:
        unit.failed(exc)
    return unit.write(cells, ratios)


# One BLAS/OpenMP thread in every worker process (set before numpy loads there).
_WORKER_ENV = {v: "1" for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}


@dataclass
class _Claim:
    """A unit this process holds the lock of and has to compute."""

    spec: DatasetSpec
    store: UnitStore
    config_hash: str
    lock: Any


def _sweep_pooled(cfg: BenchConfig, claims: Iterator[_Claim], done: Any, cell_bar: tqdm) -> None:
    """Compute the claimed units on one pool of ``run.n_jobs`` worker processes.

    The work items of consecutive units form one queue: the next unit is
    loaded and its CV tasks start as soon as a worker would otherwise idle
    (the current unit's last task, or its refit, still running); a unit's
    refit goes to the front of the queue once its CV is complete. At most one
    unit is loaded ahead. Each item is the same :func:`_run_tasks` call as in
    :func:`run_unit`, so the scores are those of the one-unit-at-a-time path.
    A failing item fails (and records) only its unit; Ctrl-C releases every
    lock and writes nothing partial.
    """
    from concurrent.futures import FIRST_COMPLETED, Future, wait

    from joblib.externals.loky import get_reusable_executor

    ready: deque[WorkItem] = deque()
    in_flight: dict[Future, WorkItem] = {}
    open_units: dict[int, tuple[_Claim, _UnitRecord]] = {}   # id(job) -> its claim and record

    def close(job: UnitJob | None, claim: _Claim, unit: _UnitRecord,
              out: tuple[Any, Any] = (None, None)) -> None:
        if job is not None:
            open_units.pop(id(job), None)
            ready_left = [it for it in ready if it.job is not job]
            ready.clear()
            ready.extend(ready_left)
        try:
            done(unit.write(*out))
        finally:
            claim.lock.release()

    def start(claim: _Claim) -> None:
        unit = _UnitRecord(cfg, claim.spec, claim.store, claim.config_hash)
        try:
            job = UnitJob(cfg, unit.load())
        except (KeyboardInterrupt, SystemExit):
            claim.lock.release()
            raise
        except Exception as exc:
            try:
                unit.failed(exc)
            except BaseException:
                claim.lock.release()
                raise
            close(None, claim, unit)
            return
        if job.early is not None:
            unit.fields.update(job.early)
            close(None, claim, unit)
            return
        open_units[id(job)] = (claim, unit)
        ready.extend(job.cv_items)
        cell_bar.total = (cell_bar.total or 0) + job.n_progress
        cell_bar.refresh()

    def settle(fut: Future, item: WorkItem) -> None:
        job = item.job
        if id(job) not in open_units:
            return      # its unit already failed
        claim, unit = open_units[id(job)]
        try:
            out = fut.result()
            cell_bar.update(len(out) * len(item.cells) if not item.refit else 1)
            if item.refit:
                fields, cells, ratios = job.finish(out)
                unit.fields.update(fields)
                close(job, claim, unit, (cells, ratios))
            elif (refit := job.add_cv(out)) is not None:
                ready.appendleft(refit)
        except (KeyboardInterrupt, SystemExit, StoreUnwritable):
            raise
        except Exception as exc:
            unit.failed(exc)
            close(job, claim, unit)

    exhausted = False
    try:
        while True:
            while len(in_flight) < cfg.run.n_jobs and (ready or not exhausted):
                if ready:
                    item = ready.popleft()
                    pool = get_reusable_executor(max_workers=cfg.run.n_jobs, env=_WORKER_ENV)
                    in_flight[pool.submit(_run_tasks, *item.args())] = item
                elif (claim := next(claims, None)) is not None:
                    start(claim)
                else:
                    exhausted = True
            if not in_flight:
                break
            finished, _ = wait(list(in_flight), return_when=FIRST_COMPLETED)
            for fut in finished:
                settle(fut, in_flight.pop(fut))
    finally:
        for fut in in_flight:
            fut.cancel()
        for claim, _ in open_units.values():
            claim.lock.release()


def run_sweep(cfg: BenchConfig) -> list[dict[str, Any]]:
    """Every selected dataset for the configured scenario and method; finished units are skipped.

    Units locked by another process are deferred and awaited at the end, so
    two sweeps on one results directory share the work and never duplicate it.
    With ``run.n_jobs > 1`` the units share one worker pool (:func:`_sweep_pooled`).
    """
    # The code that runs is the code imported now: read its commit (and the
    # package versions) before any unit, not when a record is written hours
    # later, after the checkout may have moved on. Both are cached per process.
    git_state()
    package_versions()
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
        # seen == -1: looking without the lock (a damaged record counts as not
        # finished); else the lock is held and a damaged record is moved aside.
        rec = store.peek() if seen == -1 else store.record_or_quarantine()
        if rec is not None and (rec["status"] in FINISHED or not cfg.run.rerun_failed):
            return rec
        # Written by another process since we first looked (it failed there, while
        # we waited for its lock): take that record; it is retried on the next run,
        # not computed twice now.
        if rec is not None and seen != -1 and stamp(store) != seen:
            return rec
        return None

    def finished(rec: dict[str, Any]) -> None:
        records.append(rec)
        bar.set_postfix_str(f"{rec['dataset']}: {rec['status']}")
        bar.update(1)

    def claims() -> Iterator[_Claim]:
        """The units to compute here, each locked; finished ones are collected on the way."""
        for spec in specs:
            h = unit_config_hash(cfg, spec)
            store = UnitStore(cfg.run.results_dir, cfg.scenario.name, cfg.method.name, spec.name, h)
            seen = stamp(store)
            rec = todo(store)
            if rec is None:
                lock = try_lock(store)
                if lock is None:
                    deferred.append((spec, store, h, seen))
                    continue
                rec = todo(store, seen)
                if rec is None:
                    yield _Claim(spec, store, h, lock)
                    continue
                lock.release()
            finished(rec)

    order = {s.name: i for i, s in enumerate(specs)}
    try:
        if cfg.run.n_jobs > 1:
            _sweep_pooled(cfg, claims(), finished, cell_bar)
        else:
            for claim in claims():
                try:
                    finished(compute_unit(cfg, claim.spec, claim.store, claim.config_hash, cell_bar))
                finally:
                    claim.lock.release()
        for spec, store, h, seen in deferred:
            log.info("waiting for unit %s, being computed by another process", spec.name)
            with store.lock(timeout=-1):
                finished(todo(store, seen) or compute_unit(cfg, spec, store, h, cell_bar))
    except StoreUnwritable as exc:
        # Disk full / read-only: every further unit would fail the same way. The
        # unit being written left nothing behind (UnitStore.write); stop here.
        raise SweepStopped(f"{exc}; the sweep stopped after {len(records)} of {len(specs)} unit(s)",
                           sorted(records, key=lambda r: order[r["dataset"]])) from exc
    finally:
        cell_bar.close()
        bar.close()
    return sorted(records, key=lambda r: order[r["dataset"]])
