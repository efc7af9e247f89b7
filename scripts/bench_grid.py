"""Benchmark the fast grid evaluator against the straightforward one (``make bench``).

For each dataset, fold and applicable SMOTE ratio the full classifier grid
is scored twice in the same process, back to back:

* straightforward — ``evaluate_straightforward``: every cell in its own
  imblearn Pipeline (encode -> SMOTE -> post -> classifier), the reference;
* fast — ``evaluate_shared``: one encoding and one SMOTE per
  (fold, ratio), then :func:`lsh_bench.models.fast.score_cells_fast`.

F1 must be identical cell by cell (exact equality, not a tolerance); the
script exits 1 otherwise. Timings on a shared machine are noisy, so the
speed-up is a ratio of the two totals measured in the same run; per
classifier seconds show where the remaining time goes. Writes
``results/bench/grid.json``.

    python scripts/bench_grid.py --datasets haberman,wdbc,kc3 --folds 0,1 --n-jobs 2

With ``--n-jobs N`` (N > 1) the fast evaluator is run a second time over the
same tasks in N joblib worker processes (one BLAS/OpenMP thread each, as the
runner does with ``run.n_jobs``); ``speedup_parallel`` is the single-process
straightforward total over that wall time, and its F1s must equal the
sequential ones. The workers are started (and import the harness) before the
clock starts, as in a sweep, where joblib reuses them from unit to unit; that
start is reported apart as ``parallel_pool_start_seconds``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hydra import compose, initialize_config_dir  # noqa: E402

from lsh_bench.config import BenchConfig, validate  # noqa: E402
from lsh_bench.data.loader import load_dataset  # noqa: E402
from lsh_bench.data.splits import make_split  # noqa: E402
from lsh_bench.models.evaluate import FoldData, evaluate_shared, evaluate_straightforward  # noqa: E402
from lsh_bench.models.grid import expand_grid  # noqa: E402
from lsh_bench.models.preprocess import categorical_for_sampler  # noqa: E402
from lsh_bench.protocol import rows_to_add  # noqa: E402
from lsh_bench.samplers.smote import smote_for  # noqa: E402

DEFAULT_DATASETS = "haberman,wdbc,kc3"


def compose_config(dataset: str, preprocess: str, grid: str) -> BenchConfig:
    overrides = [f"dataset={dataset}", f"preprocess={preprocess}", "method=sm"]
    if grid != "paper":        # paper: the classifiers' own grids (no grid= override)
        overrides.append(f"grid={grid}")
    mirror = ROOT.parent / "shared" / "datasets"
    if "LSH_BENCH_DATA" not in os.environ and (mirror / "manifest.csv").is_file():
        overrides.append(f"data.mirror_dirs=[{mirror}]")
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        return validate(compose("config", overrides=overrides))


def machine_info(load_at_start: list[float] | None = None) -> dict[str, Any]:
    import lightgbm
    import sklearn
    import imblearn

    return {
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "sklearn": sklearn.__version__,
        "imblearn": imblearn.__version__,
        "lightgbm": lightgbm.__version__,
        "threads": {v: os.environ.get(v) for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")},
        "load_average_at_start": load_at_start,
        "load_average_at_end": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
    }


def fast_f1(fold: FoldData, cells: list, schema: Any, mode: str, sampler: Any) -> list[float]:
    """One (fold, ratio) task of the fast evaluator, as a joblib worker runs it."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        return evaluate_shared(fold, cells, schema, mode, sampler).f1


def start_worker() -> int:
    """Warm-up task: import what the fast evaluator needs (a started joblib worker has it)."""
    import lightgbm  # noqa: F401

    import lsh_bench.models.evaluate  # noqa: F401
    import lsh_bench.models.fast  # noqa: F401

    time.sleep(0.2)   # long enough that every worker gets one of these tasks
    return os.getpid()


def bench_dataset(name: str, args: argparse.Namespace, jobs: list[tuple[tuple, list[float]]]) -> dict[str, Any]:
    """Time both evaluators on every (fold, ratio) task; append (task args, fast F1s) to ``jobs``."""
    cfg = compose_config(name, args.preprocess, args.grid)
    spec = next(iter(cfg.dataset.values()))
    ds = load_dataset(spec, cfg.data, cfg.preprocess.encoding)
    split = make_split(ds.y, cfg.protocol, cfg.seeds, cfg.scenario, ds.name)
    cells = expand_grid(cfg.classifiers())
    mode = cfg.preprocess.name
    cats = categorical_for_sampler(ds.schema, mode)
    ratios = cfg.ratios if args.ratios is None else args.ratios
    folds = range(len(split.folds)) if args.folds is None else args.folds
    per_clf: dict[str, dict[str, float]] = {"straightforward": defaultdict(float), "fast": defaultdict(float)}
    tasks, max_diff, n_diff = [], 0.0, 0
    for f in folds:
        part = split.folds[f]
        fold = FoldData(ds.X.iloc[part.train], ds.y[part.train], ds.X.iloc[part.score], ds.y[part.score])
        n_min = int(fold.y_train.sum())
        n_maj = len(fold.y_train) - n_min
        for r in ratios:
            if rows_to_add(r, n_minority=n_min, n_majority=n_maj) < 1:
                continue
            sampler = smote_for(r, k_neighbors=cfg.method.k_neighbors, random_state=cfg.seeds.sampler,
                                categorical_features=cats, n_features=len(ds.schema))
            t0 = time.perf_counter()
            ref = evaluate_straightforward(fold, cells, ds.schema, mode, sampler)
            t_ref = time.perf_counter() - t0
            t0 = time.perf_counter()
            fast = evaluate_shared(fold, cells, ds.schema, mode, sampler)
            t_fast = time.perf_counter() - t0
            jobs.append(((fold, cells, ds.schema, mode, sampler), list(fast.f1)))
            diffs = [abs(a - b) for a, b in zip(ref.f1, fast.f1)]
            bad = [c.index for c, a, b in zip(cells, ref.f1, fast.f1) if a != b]
            max_diff = max(max_diff, max(diffs))
            n_diff += len(bad)
            for c, s in zip(cells, ref.seconds):
                per_clf["straightforward"][c.classifier] += s
            for c, s in zip(cells, fast.seconds):
                per_clf["fast"][c.classifier] += s
            per_clf["fast"]["(encode+resample)"] += fast.resample_seconds
            tasks.append({
                "fold": f, "ratio": r, "n_train_resampled": fast.n_train_resampled,
                "straightforward_seconds": round(t_ref, 4), "fast_seconds": round(t_fast, 4),
                "speedup": round(t_ref / t_fast, 2), "cells_differing": bad,
            })
            print(f"  {name} fold {f} ratio {r}: straightforward {t_ref:.2f}s fast {t_fast:.2f}s "
                  f"x{t_ref / t_fast:.1f} differing cells: {len(bad)}", flush=True)
    t_ref = sum(t["straightforward_seconds"] for t in tasks)
    t_fast = sum(t["fast_seconds"] for t in tasks)
    return {
        "dataset": name, "n_rows": len(ds.y), "n_features": len(ds.schema), "source": ds.source,
        "cells": len(cells), "tasks": tasks,
        "straightforward_seconds": round(t_ref, 3), "fast_seconds": round(t_fast, 3),
        "speedup": round(t_ref / t_fast, 2) if t_fast else None,
        "max_abs_f1_difference": max_diff, "cells_differing": n_diff,
        "seconds_per_classifier": {k: {c: round(s, 3) for c, s in v.items()} for k, v in per_clf.items()},
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--datasets", default=DEFAULT_DATASETS, help="comma-separated dataset names")
    p.add_argument("--ratios", default=None, help="comma-separated ratios (default: all applicable)")
    p.add_argument("--folds", default="0,1", help="comma-separated fold indices, or 'all'")
    p.add_argument("--preprocess", default="paper", choices=["paper", "standard"])
    p.add_argument("--grid", default="paper",
                   help="grid config: paper = the classifiers' own grids (139 combinations), smoke = 10")
    p.add_argument("--n-jobs", type=int, default=1, help="also time the fast evaluator in N worker processes")
    p.add_argument("--out", default=str(ROOT / "results" / "bench" / "grid.json"))
    args = p.parse_args(argv)
    args.ratios = None if args.ratios is None else [float(r) for r in args.ratios.split(",")]
    args.folds = None if args.folds == "all" else [int(f) for f in args.folds.split(",")]
    return args


def main(argv: list[str] | None = None) -> int:
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from threadpoolctl import threadpool_limits

    # The paper's LR stops at lbfgs's cap on kc3 and wdbc: one warning per fit is noise here
    # (the runner counts them per task; the benchmark only compares F1 and time).
    warnings.filterwarnings("ignore", category=ConvergenceWarning)
    args = parse_args(argv)
    load_at_start = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    t0 = time.perf_counter()
    results = []
    jobs: list[tuple[tuple, list[float]]] = []
    with threadpool_limits(1):
        for name in args.datasets.split(","):
            print(f"{name}:", flush=True)
            results.append(bench_dataset(name.strip(), args, jobs))
    t_ref = sum(r["straightforward_seconds"] for r in results)
    t_fast = sum(r["fast_seconds"] for r in results)
    parallel: dict[str, Any] = {}
    if args.n_jobs > 1:
        from joblib import Parallel, delayed

        with Parallel(n_jobs=args.n_jobs) as pool:   # the same worker processes for both calls
            t1 = time.perf_counter()
            pids = pool(delayed(start_worker)() for _ in range(2 * args.n_jobs))
            t_start = time.perf_counter() - t1
            t1 = time.perf_counter()
            outs = pool(delayed(fast_f1)(*task) for task, _ in jobs)
            wall = time.perf_counter() - t1
        differing = sum(a != b for out, (_, seq) in zip(outs, jobs) for a, b in zip(out, seq))
        parallel = {"n_jobs": args.n_jobs, "fast_parallel_seconds": round(wall, 3),
                    "speedup_parallel": round(t_ref / wall, 2),
                    "speedup_parallel_vs_fast": round(t_fast / wall, 2),
                    "parallel_pool_start_seconds": round(t_start, 3), "parallel_workers": len(set(pids)),
                    "parallel_cells_differing": int(differing)}
        print(f"fast in {args.n_jobs} processes: {wall:.1f}s wall (+{t_start:.1f}s starting the workers), "
              f"x{t_ref / wall:.2f} vs straightforward, x{t_fast / wall:.2f} vs fast in one process; "
              f"cells differing from the sequential run: {differing}", flush=True)
    total_clf: dict[str, dict[str, float]] = {"straightforward": defaultdict(float), "fast": defaultdict(float)}
    for r in results:
        for way, d in r["seconds_per_classifier"].items():
            for c, s in d.items():
                total_clf[way][c] += s
    report = {
        "what": "full grid per (dataset, fold, SMOTE ratio): straightforward (every cell in its own "
                "imblearn Pipeline) vs fast (shared encode/resample + score_cells_fast), same run",
        "preprocess": args.preprocess, "grid": args.grid,
        "folds": args.folds if args.folds is not None else "all",
        "ratios": args.ratios if args.ratios is not None else "all applicable",
        "datasets": results,
        "straightforward_seconds": round(t_ref, 3), "fast_seconds": round(t_fast, 3),
        "speedup": round(t_ref / t_fast, 2) if t_fast else None,
        **parallel,
        "max_abs_f1_difference": max(r["max_abs_f1_difference"] for r in results),
        "cells_differing": sum(r["cells_differing"] for r in results),
        "seconds_per_classifier": {k: {c: round(s, 3) for c, s in v.items()} for k, v in total_clf.items()},
        "wall_seconds": round(time.perf_counter() - t0, 1),
        "machine": machine_info(load_at_start),
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"total: straightforward {t_ref:.1f}s fast {t_fast:.1f}s speed-up x{report['speedup']}; "
          f"max |F1 diff| {report['max_abs_f1_difference']}; differing cells {report['cells_differing']}")
    print("seconds per classifier:", json.dumps(report["seconds_per_classifier"]))
    print(f"wrote {out}")
    return 1 if report["cells_differing"] or parallel.get("parallel_cells_differing") else 0


if __name__ == "__main__":
    sys.exit(main())
