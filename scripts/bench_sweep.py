"""Time a whole SM sweep the way a user runs it (``make bench-sweep``).

Runs ``python -m lsh_bench method=sm dataset=<set> preprocess=<p>
run.n_jobs=<n>`` in a fresh results directory as a subprocess, and records
its wall time, peak memory (largest single process, and the summed RSS of
the process tree sampled every 0.5 s: the runner's joblib workers are
grandchildren) and, from the written store, the seconds per dataset and per
classifier, the slowest datasets, and the status of every unit. With
``--check-against DIR`` every cell's F1 is compared with another store (for
example one written with ``run.evaluator=straightforward``): any difference
makes the exit status 1.

    python scripts/bench_sweep.py --preprocess paper standard --n-jobs 2
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def tree_rss_bytes(root_pid: int) -> int:
    """Summed resident memory of ``root_pid`` and all its descendants (Linux /proc)."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            status = (entry / "status").read_text()
        except (OSError, IndexError, ValueError):   # the process ended while we looked
            continue
        pid = int(entry.name)
        children.setdefault(ppid, []).append(pid)
        rss[pid] = next((int(line.split()[1]) * 1024 for line in status.splitlines()
                         if line.startswith("VmRSS:")), 0)
    total, todo = 0, [root_pid]
    while todo:
        pid = todo.pop()
        total += rss.get(pid, 0)
        todo.extend(children.get(pid, []))
    return total


def run_sweep(args: argparse.Namespace, preprocess: str, results_dir: Path) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "lsh_bench", "method=sm", f"dataset={args.datasets}", f"preprocess={preprocess}",
           f"grid={args.grid}", f"run.n_jobs={args.n_jobs}", f"run.evaluator={args.evaluator}",
           f"run.results_dir={results_dir}", "run.progress=false", f"hydra.run.dir={results_dir}/hydra"]
    env = {**os.environ, **{v: "1" for v in THREAD_VARS}}
    load_before = list(os.getloadavg())
    peak_tree = 0
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out_lines: list[str] = []
    reader = threading.Thread(target=lambda: out_lines.extend(proc.stdout), daemon=True)
    reader.start()
    while proc.poll() is None:
        peak_tree = max(peak_tree, tree_rss_bytes(proc.pid))
        time.sleep(0.5)
    wall = time.perf_counter() - t0
    reader.join()
    if proc.returncode != 0:
        sys.stdout.write("".join(out_lines[-40:]))
        raise SystemExit(f"sweep failed (exit {proc.returncode}): {' '.join(cmd)}")
    return {
        "command": " ".join(cmd[1:]), "wall_seconds": round(wall, 1),
        "peak_rss_tree_mb": round(peak_tree / 2**20, 1),
        "peak_rss_largest_process_mb": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1),
        "load_average_before": load_before, "load_average_after": list(os.getloadavg()),
        **store_report(results_dir, args.top),
    }


def store_report(results_dir: Path, top: int) -> dict[str, Any]:
    """Per-unit status and seconds, per-classifier CV seconds, and the slowest datasets."""
    units = [json.loads(p.read_text()) for p in sorted(Path(results_dir).glob("units/*/*/*/*/unit.json"))]
    cells = load_cells(results_dir)
    per_dataset = []
    for u in units:
        mine = cells[cells["dataset"] == u["dataset"]]
        by_clf = mine.groupby("classifier")["seconds"].sum().round(2).to_dict() if len(mine) else {}
        per_dataset.append({
            "dataset": u["dataset"], "status": u["status"], "seconds": round(float(u.get("seconds") or 0), 2),
            "n_rows": u.get("n_rows"), "n_features": u.get("n_features"), "cv_seconds_per_classifier": by_clf,
            "dominant_classifier": max(by_clf, key=by_clf.get) if by_clf else None,
        })
    per_dataset.sort(key=lambda d: -d["seconds"])
    statuses: dict[str, int] = {}
    for u in units:
        statuses[u["status"]] = statuses.get(u["status"], 0) + 1
    total_clf = cells.groupby("classifier")["seconds"].sum().round(1).to_dict() if len(cells) else {}
    return {
        "units": len(units), "status_counts": statuses,
        "unit_seconds_total": round(sum(d["seconds"] for d in per_dataset), 1),
        "cv_seconds_per_classifier": total_clf, "slowest": per_dataset[:top], "datasets": per_dataset,
    }


def load_cells(results_dir: Path) -> pd.DataFrame:
    """Every cells.parquet of the store, with its dataset (empty frame if there are none)."""
    frames = []
    for path in sorted(Path(results_dir).glob("units/*/*/*/*/cells.parquet")):
        frames.append(pd.read_parquet(path))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["dataset", "classifier", "seconds"])


def compare_stores(a: Path, b: Path) -> dict[str, Any]:
    """Cell-by-cell F1 equality of two stores (same datasets, ratios, folds, cells)."""
    ca, cb = load_cells(a), load_cells(b)
    keys = [k for k in ("dataset", "ratio", "fold", "cell_index") if k in ca.columns and k in cb.columns]
    merged = ca.merge(cb, on=keys, suffixes=("_a", "_b"), how="outer", indicator=True)
    unmatched = int((merged["_merge"] != "both").sum())
    both = merged[merged["_merge"] == "both"]
    diff = (both["f1_a"] - both["f1_b"]).abs()
    return {"cells_compared": int(len(both)), "cells_unmatched": unmatched,
            "max_abs_f1_difference": float(diff.max()) if len(diff) else 0.0,
            "cells_differing": int((both["f1_a"] != both["f1_b"]).sum())}


def machine_info() -> dict[str, Any]:
    import lightgbm
    import numpy
    import sklearn

    return {"cpu_count": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
            "numpy": numpy.__version__, "sklearn": sklearn.__version__, "lightgbm": lightgbm.__version__,
            "threads": {v: "1" for v in THREAD_VARS}}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--datasets", default="mirrored", help="a dataset config name (mirrored = all 41 offline copies)")
    p.add_argument("--preprocess", nargs="+", default=["paper"], choices=["paper", "standard"])
    p.add_argument("--grid", default="paper")
    p.add_argument("--n-jobs", type=int, default=2)
    p.add_argument("--evaluator", default="fast", choices=["fast", "straightforward"])
    p.add_argument("--results-dir", default=None, help="default: a fresh temporary directory per preprocess")
    p.add_argument("--check-against", default=None, help="another store: every cell's F1 must be equal")
    p.add_argument("--top", type=int, default=5, help="how many slowest datasets to list")
    p.add_argument("--out", default=None, help="default results/bench/sweep_<preprocess>.json")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    status = 0
    for preprocess in args.preprocess:
        with tempfile.TemporaryDirectory(prefix=f"sweep_{preprocess}_") as tmp:
            results_dir = Path(args.results_dir or tmp) / preprocess
            report = {"what": f"SM sweep, dataset={args.datasets}, grid={args.grid}, preprocess={preprocess}, "
                              f"run.n_jobs={args.n_jobs}, evaluator={args.evaluator}, fresh results directory",
                      **run_sweep(args, preprocess, results_dir), "machine": machine_info()}
            if args.check_against:
                report["check"] = compare_stores(results_dir, Path(args.check_against) / preprocess
                                                 if (Path(args.check_against) / preprocess).is_dir()
                                                 else Path(args.check_against))
                status |= int(report["check"]["cells_differing"] > 0 or report["check"]["cells_unmatched"] > 0)
        out = Path(args.out or ROOT / "results" / "bench" / f"sweep_{preprocess}.json")
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=2) + "\n")
        slow = ", ".join(f"{d['dataset']} {d['seconds']:.0f}s ({d['dominant_classifier']})" for d in report["slowest"])
        print(f"{preprocess}: {report['units']} units in {report['wall_seconds']:.0f}s wall, "
              f"peak memory {report['peak_rss_tree_mb']:.0f} MB (tree); slowest: {slow}; wrote {out}", flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
