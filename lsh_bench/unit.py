"""One unit (dataset x scenario x method) of the protocol, as work items, and its record.

The steps (docs/protocol.md, "Protocol"):

1. stratified 70/30 split, stratified shuffled 5-fold CV on the 70%
   (:mod:`lsh_bench.data.splits`), and the ratios that apply
   (:func:`lsh_bench.protocol.plan_ratios`);
2. for every applicable ratio x grid cell x fold: resample the fold's
   training part with the method's sampler (:mod:`lsh_bench.samplers.registry`),
   fit, F1 of the minority class on the validation part
   (:mod:`lsh_bench.models.evaluate`);
3. selection (:func:`lsh_bench.protocol.select`);
4. refit the choice on the whole 70% resampled with the same method and
   ratio; F1 on the 30% is the test score (``*_t``);
5. achievement rate = test / validation (``*_a``).

:class:`UnitJob` holds steps 1-5 as work items (CV task groups, then one
refit) so that :mod:`lsh_bench.sweep` can interleave the items of several
units on one worker pool; :func:`run_unit` drives one job alone. Either way
every item is the same :func:`run_tasks` call, so the scores are the same.
:class:`UnitRun` turns a job's outcome (or its failure) into the unit's record.
"""

from __future__ import annotations

import logging
import time
import traceback
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import pandas as pd
from joblib import Parallel, delayed
from sklearn.exceptions import ConvergenceWarning
from threadpoolctl import threadpool_limits
from tqdm.auto import tqdm

from lsh_bench.config import BenchConfig, DatasetSpec, LLMConfig, MethodSpec, SeedsSpec
from lsh_bench.data.loader import Dataset, load_dataset
from lsh_bench.data.schema import FeatureSchema
from lsh_bench.data.scenarios import scenario_split
from lsh_bench.data.splits import Part
from lsh_bench.errors import DatasetUnavailable, LshBenchError, SamplerNotApplicable
from lsh_bench.models.evaluate import (
    FoldData, GridScores, Resampled, evaluate_shared, evaluate_straightforward,
    resample_part,
)
from lsh_bench.models.grid import Cell, expand_grid
from lsh_bench.models.preprocess import Mode, categorical_for_sampler
from lsh_bench.protocol import all_minority_scores, plan_ratios, round_f1, select
from lsh_bench.quality.unit_rows import frame_columns, part_row, record_section
from lsh_bench.quality_config import QualitySpec
from lsh_bench.record import failed_usage, identity, provenance, ratio_row, usage_fields
from lsh_bench.samplers.llm.prefetch import llm_prefetched
from lsh_bench.samplers.llm.types import LLMUsage
from lsh_bench.samplers.registry import SamplerContext, build_sampler
from lsh_bench.store import UnitStore

log = logging.getLogger("lsh_bench")
REFIT = -1  # fold number of the refit on the whole 70% in per-ratio records
Scored = tuple[int, int, GridScores]   # (ratio position, fold, scores of the cells)


@dataclass
class Task:
    """One (ratio, training part) to resample and score every cell on."""

    ratio_pos: int
    ratio: float | None
    fold: int
    data: FoldData


@dataclass
class SamplerFactory:
    """Picklable: the method's sampler for a ratio (sent to worker processes)."""

    method: MethodSpec
    seeds: SeedsSpec
    llm: LLMConfig
    schema: FeatureSchema
    categorical_features: list[int] | None
    seed_ratio: float | None
    expander: str = "smote"

    def __call__(self, ratio: float | None) -> Any:
        if not self.method.resamples:
            return None
        assert ratio is not None
        return build_sampler(self.method, SamplerContext(
            sampling_strategy=ratio, k_neighbors=self.method.k_neighbors, random_state=self.seeds.sampler,
            llm_seed=self.seeds.llm, schema=self.schema, llm=self.llm,
            categorical_features=self.categorical_features, seed_ratio=self.seed_ratio, expander=self.expander,
        ))


def _quality_of(task: Task, quality: QualitySpec, schema: FeatureSchema, scores: GridScores) -> Any:
    """The hook that puts the task's quality row on ``scores`` from its resampled part (once, not per cell)."""
    def observe(r: Resampled) -> None:
        assert task.ratio is not None
        scores.quality = part_row(quality, schema, r, task.data.y_val, ratio=task.ratio, fold=task.fold)
    return observe


def run_tasks(
    tasks: list[Task], cells: list[Cell], schema: FeatureSchema, mode: Mode, sampler_for: Any, evaluator: str,
    quality: QualitySpec | None = None,
) -> list[Scored]:
    """Score every cell for a group of tasks (one worker call; one BLAS thread).

    With ``quality`` (and a sampler), each task's quality row is computed from
    its resampled part (``GridScores.quality``).
    """
    with llm_prefetched(tasks, schema, mode, sampler_for) as ready:
        return _score_tasks(tasks, cells, schema, mode, sampler_for, evaluator, ready, quality)


def _score_tasks(
    tasks: list[Task], cells: list[Cell], schema: FeatureSchema, mode: Mode, sampler_for: Any, evaluator: str,
    ready: Callable[[Task], None], quality: QualitySpec | None = None,
) -> list[Scored]:
    out = []
    # The paper-faithful LR (unscaled, max_iter=100000) often stops at lbfgs's
    # evaluation cap; that is expected, and counted per task instead of
    # flooding the log (``convergence_warnings`` in ratios.parquet).
    with threadpool_limits(1), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        for t in tasks:
            ready(t)
            caught.clear()
            sampler = sampler_for(t.ratio)
            hold = GridScores([], [])
            observe = _quality_of(t, quality, schema, hold) if quality is not None and sampler is not None else None
            if evaluator == "straightforward":
                scores = evaluate_straightforward(t.data, cells, schema, mode, sampler)
                if observe is not None:   # the reference path resamples per cell: once more for the record
                    observe(resample_part(t.data, schema, mode, sampler))
            else:
                scores = evaluate_shared(t.data, cells, schema, mode, sampler, observe)
            scores.quality = hold.quality
            scores.convergence_warnings = sum(issubclass(w.category, ConvergenceWarning) for w in caught)
            for w in caught:
                if not issubclass(w.category, ConvergenceWarning):
                    warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
            out.append((t.ratio_pos, t.fold, scores))
    return out


def fold_data(ds: Dataset, part: Part) -> FoldData:
    """The raw rows of a part: what a sampler and a classifier see."""
    return FoldData(ds.X.iloc[part.train], ds.y[part.train], ds.X.iloc[part.score], ds.y[part.score])


def _ratio_row(ratio: float | None, fold: int, s: GridScores) -> dict[str, Any]:
    return ratio_row(ratio, fold, s.resample_seconds, s.n_train_resampled, s.convergence_warnings, s.usage,
                     s.sampler_info)


@dataclass
class WorkItem:
    """One worker call of :func:`run_tasks`: a group of CV tasks, or the refit of the choice."""

    job: UnitJob
    tasks: list[Task]
    cells: list[Cell]
    refit: bool = False

    def args(self) -> tuple[Any, ...]:
        job = self.job
        return self.tasks, self.cells, job.ds.schema, job.mode, job.sampler_for, job.cfg.run.evaluator, job.quality


class UnitJob:
    """One unit's protocol as work items: the CV task groups, then one refit."""

    def __init__(self, cfg: BenchConfig, ds: Dataset) -> None:
        self.cfg, self.ds = cfg, ds
        self.mode: Mode = cfg.preprocess.name
        self.split, construction = scenario_split(ds.y, cfg.protocol, cfg.seeds, cfg.scenario, ds.name)
        self.plan = plan_ratios(cfg.method, cfg.ratios, self.split, ds.y, seed_step=cfg.ls.seed_steps)
        self.base: dict[str, Any] = {"ratios_skipped": self.plan.skipped, "scenario_construction": construction,
                                     "all_minority": all_minority_scores(ds.y, self.split, cfg.protocol.f1_decimals)}
        self.early: dict[str, Any] | None = None     # the whole record when nothing is computed
        # quality.parquet rows (not part of the scores, nor of the config hash); None: not recorded
        self.quality: QualitySpec | None = cfg.quality if cfg.quality.enabled and cfg.method.resamples else None
        self.quality_rows: list[dict[str, Any]] = []
        self.cv_items: list[WorkItem] = []
        if self.plan.not_applicable:
            self.early = {**self.base, "status": "not_applicable", "reason": self.plan.not_applicable,
                          "ratios_applicable": []}
            return
        self.seed_ratio = self.plan.seed_ratio
        self.sampler_for = SamplerFactory(cfg.method, cfg.seeds, cfg.llm, ds.schema,
                                          categorical_for_sampler(ds.schema, self.mode), self.seed_ratio,
                                          cfg.ls.expander)
        self.cells = expand_grid(cfg.classifiers())
        self.tasks = [
            Task(ri, r, fi, fold_data(ds, part))
            for ri, r in enumerate(self.plan.applicable)
            for fi, part in enumerate(self.split.folds)
        ]
        self.cv_items = [WorkItem(self, g, self.cells) for g in self._task_groups()]
        self.results: list[Scored] = []
        self._waiting = len(self.cv_items)

    def _task_groups(self) -> list[list[Task]]:
        if self.cfg.method.traits.uses_llm and self.cfg.llm.max_concurrency > 1:
            # One group, folds and their ratios in order: its generations run concurrently
            # (``run_tasks``), then it is scored in the order below.
            return [sorted(self.tasks, key=lambda t: (t.fold, t.ratio_pos))]
        if self.cfg.method.traits.uses_llm:
            # One group per fold, ratios in order, so the seeds/report of a fold are
            # generated once and replayed from the cache for its other ratios.
            return [[t for t in self.tasks if t.fold == f] for f in range(len(self.split.folds))]
        # Largest ratio (most rows, longest fits) first: the unit's last tasks are short.
        return [[t] for t in sorted(self.tasks, key=lambda t: -t.ratio_pos)]

    @property
    def n_progress(self) -> int:
        """Progress steps: every (task, cell) of the CV and the refit."""
        return len(self.tasks) * len(self.cells) + 1 if self.early is None else 0

    def add_cv(self, out: list[Scored]) -> WorkItem | None:
        """Take one CV group's scores; after the last one, select and return the refit item."""
        self.results.extend(out)
        self._waiting -= 1
        return self._select() if self._waiting == 0 else None

    def _select(self) -> WorkItem:
        if self.cfg.run.exact_check and self.cfg.run.evaluator != "straightforward":
            self._check_exact()
        self._collect()
        (ri, ci), self.val, self.n_tied = select(self.fold_f1, self.cfg.protocol.f1_decimals)
        self.choice = (ri, ci)
        # Refit the choice on the whole 70%, resampled the same way; scored on the 30%.
        refit = Task(ri, self.plan.applicable[ri], REFIT, fold_data(self.ds, self.split.refit))
        return WorkItem(self, [refit], [self.cells[ci]], refit=True)

    def _check_exact(self) -> None:
        """``run.exact_check``: the straightforward evaluator must give the same F1 in every cell."""
        groups = [item.tasks for item in self.cv_items]
        check = [o for g in groups
                 for o in run_tasks(g, self.cells, self.ds.schema, self.mode, self.sampler_for, "straightforward")]
        ref = {(ri, fi): s.f1 for ri, fi, s in check}
        for ri, fi, s in self.results:
            if s.f1 != ref[(ri, fi)]:
                bad = [c.index for c, a, b in zip(self.cells, s.f1, ref[(ri, fi)]) if a != b]
                raise LshBenchError(f"exact_check: fast and straightforward F1 differ at ratio "
                                    f"{self.plan.applicable[ri]}, fold {fi}, cells {bad[:10]}")

    def _collect(self) -> None:
        """Fold F1 per (ratio, cell), the cells.parquet and ratios.parquet rows, LLM usage — in task order."""
        d = self.cfg.protocol.f1_decimals
        self.results.sort(key=lambda x: (x[0], x[1]))
        self.fold_f1: dict[tuple[int, int], list[float]] = {}
        self.cell_rows: list[dict[str, Any]] = []
        self.ratio_rows: list[dict[str, Any]] = []
        self.usage = LLMUsage()
        for ri, fi, s in self.results:
            r = self.plan.applicable[ri]
            self.usage.add(s.usage)
            self.ratio_rows.append(_ratio_row(r, fi, s))
            if s.quality is not None:
                self.quality_rows.append(s.quality)
            for cell, f1, sec in zip(self.cells, s.f1, s.seconds):
                self.fold_f1.setdefault((ri, cell.index), []).append(f1)
                self.cell_rows.append({
                    "ratio": r, "classifier": cell.classifier, "params": cell.params_json, "cell_index": cell.index,
                    "fold": fi, "f1": f1, "f1_rounded": round_f1(f1, d), "seconds": sec,
                })

    def finish(self, refit_out: list[Scored]) -> tuple[dict[str, Any], pd.DataFrame, pd.DataFrame]:
        """The unit's record fields, cells and per-ratio rows, from the refit's scores."""
        d = self.cfg.protocol.f1_decimals
        (ri, ci), val = self.choice, self.val
        ratio, cell = self.plan.applicable[ri], self.cells[ci]
        refit = refit_out[0][2]
        self.usage.add(refit.usage)
        self.ratio_rows.append(_ratio_row(ratio, REFIT, refit))
        if refit.quality is not None:
            self.quality_rows.append(refit.quality)
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
            "llm": usage_fields(self.usage, self.ratio_rows),
            "quality": record_section(self.cfg.quality, self.quality_rows, self.cfg.method.resamples),
        }
        return record, pd.DataFrame(self.cell_rows), pd.DataFrame(self.ratio_rows)

    def quality_frame(self) -> pd.DataFrame | None:
        """``quality.parquet`` (one row per resampled (fold, ratio), fold -1 = the refit), None if not recorded."""
        if self.quality is None or not self.quality_rows:
            return None
        return pd.DataFrame(self.quality_rows, columns=frame_columns())


UnitOutcome = tuple[dict[str, Any], pd.DataFrame | None, pd.DataFrame | None]


def run_unit(cfg: BenchConfig, ds: Dataset, progress: tqdm | None = None) -> UnitOutcome:
    """Run the protocol on one loaded dataset. Returns (record fields, cells, ratio stats)."""
    return run_job(UnitJob(cfg, ds), progress)


def run_job(job: UnitJob, progress: tqdm | None = None) -> UnitOutcome:
    """Drive one unit's work items alone (``run.n_jobs`` workers for its CV groups)."""
    cfg = job.cfg
    if job.early is not None:
        return job.early, None, None
    if progress is not None:
        progress.reset(total=job.n_progress)
    refit: WorkItem | None = None
    parallel = Parallel(n_jobs=cfg.run.n_jobs, return_as="generator_unordered")
    for out in parallel(delayed(run_tasks)(*item.args()) for item in job.cv_items):
        refit = job.add_cv(out) or refit
        if progress is not None:
            progress.update(len(out) * len(job.cells))
    assert refit is not None
    fields = job.finish(run_tasks(*refit.args()))
    if progress is not None:
        progress.update(1)
    return fields


class UnitRun:
    """A unit's record while it is computed: identity, timing, failure handling, the write."""

    def __init__(self, cfg: BenchConfig, spec: DatasetSpec, store: UnitStore, config_hash: str,
                 code: dict[str, Any]) -> None:
        self.cfg, self.spec, self.store, self.config_hash, self.code = cfg, spec, store, config_hash, code
        self.started = datetime.now(timezone.utc)
        self.t0 = time.perf_counter()
        self.fields: dict[str, Any] = identity(cfg, spec, config_hash)
        self.ds: Dataset | None = None

    def load(self) -> Dataset:
        ds = load_dataset(self.spec, self.cfg.data, self.cfg.preprocess.encoding)
        self.ds = ds
        self.fields.update({"ir": ds.ir, "n_rows": len(ds.y), "n_features": ds.X.shape[1],
                            "n_minority": ds.n_minority})
        return ds

    def failed(self, exc: Exception, job: "UnitJob | None" = None) -> None:
        """Record why the unit did not finish (re-raises under ``run.fail_fast``), and what its LLM calls cost."""
        if (spent := failed_usage([s.usage for _, _, s in job.results] if job else [], exc)) is not None:
            self.fields["llm"] = spent
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

    def write(self, cells: pd.DataFrame | None = None, ratios: pd.DataFrame | None = None,
              quality: pd.DataFrame | None = None) -> dict[str, Any]:
        record = self.fields
        record["seconds"] = round(time.perf_counter() - self.t0, 3)
        record["started_at"] = self.started.isoformat(timespec="seconds")
        record["provenance"] = provenance(self.cfg, self.ds, self.config_hash, self.code)
        if cells is not None:
            for col, value in (("dataset", self.spec.name), ("scenario", self.cfg.scenario.name),
                               ("method", self.cfg.method.name)):
                cells.insert(0, col, value)
        self.store.write(record, cells, ratios, quality)
        return record


def compute_unit(cfg: BenchConfig, spec: DatasetSpec, store: UnitStore, config_hash: str, code: dict[str, Any],
                 progress: tqdm | None = None) -> dict[str, Any]:
    """Load, run, and write one unit; failures become a recorded ``failed`` unit."""
    unit = UnitRun(cfg, spec, store, config_hash, code)
    cells = ratios = quality = None
    job: UnitJob | None = None
    try:
        job = UnitJob(cfg, unit.load())
        fields, cells, ratios = run_job(job, progress)
        quality = job.quality_frame()
        unit.fields.update(fields)
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception as exc:
        unit.failed(exc, job)
    return unit.write(cells, ratios, quality)
