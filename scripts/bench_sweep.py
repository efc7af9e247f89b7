"""Time a whole SM sweep the way a user runs it (``make bench-sweep``).

Runs ``python -m lsh_bench method=sm dataset=<set> preprocess=<p>
run.n_jobs=<n> run.results_dir=<dir> run.progress=false`` as a subprocess, in a
fresh results directory, and records

* its wall time and peak memory: the largest single process (``wait4``
  resource usage of the sweep and the descendants it reaped), and the summed
  resident memory of the whole process tree (the runner's joblib workers are
  grandchildren), sampled every 0.5 s from ``/proc``;
* from the written store (``lsh_bench.store``): every unit's status and
  seconds, rows/features, CV seconds per classifier (``cells.parquet``;
  seconds of work, summed over worker processes), resampling seconds and
  lbfgs-cap warnings (``ratios.parquet``), and the slowest datasets with
  their dominant classifier.

With ``--check-against DIR`` every cell's F1 and every unit's choice and
scores are compared with another store (``scripts/compare_stores.py``; for
example one written with ``--evaluator straightforward``); any difference
makes the exit status 1, and so does a failed sweep or unit. Writes ``results/bench/sweep_<preprocess>.json``.

    python scripts/bench_sweep.py --preprocess paper standard --n-jobs 2
    python scripts/bench_sweep.py --datasets haberman,vertebra-column --grid smoke \\
        --evaluator straightforward --results-dir /tmp/ref
    python scripts/bench_sweep.py --datasets haberman,vertebra-column --grid smoke --check-against /tmp/ref
"""

from __future__ import annotations

import argparse
import json
import os
import platform
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

from compare_stores import compare_stores, failed as check_failed  # noqa: E402
from lsh_bench.provenance import git_state, package_versions  # noqa: E402
from lsh_bench.store import iter_records  # noqa: E402

THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


# ------------------------------------------------------------ measuring ---
def tree_rss_bytes(root_pid: int) -> int:
    """Summed resident memory (VmRSS) of ``root_pid`` and all its descendants (Linux /proc)."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
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


def sweep_command(args: argparse.Namespace, preprocess: str, results_dir: Path) -> list[str]:
    names = [d.strip() for d in args.datasets.split(",")]
    dataset = names[0] if len(names) == 1 else f"[{','.join(names)}]"   # a,b would be a Hydra multirun
    return [sys.executable, "-m", "lsh_bench", "method=sm", f"dataset={dataset}", f"preprocess={preprocess}",
            *([] if args.grid == "paper" else [f"grid={args.grid}"]), f"run.n_jobs={args.n_jobs}", f"run.evaluator={args.evaluator}",
            f"run.results_dir={results_dir}", "run.progress=false", f"hydra.run.dir={results_dir}/hydra",
            *args.set]


def run_sweep(cmd: list[str]) -> dict[str, Any]:
    """Run the sweep command; wall time, peak memory, exit code and the tail of its output."""
    env = {**os.environ, **{v: "1" for v in THREAD_VARS}}
    load_before = list(os.getloadavg())
    peak_tree = 0
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True)
    reader.start()
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        peak_tree = max(peak_tree, tree_rss_bytes(proc.pid))
        time.sleep(0.5)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)   # reaped here, so that Popen does not wait again
    reader.join()
    return {
        "command": " ".join(["python", *cmd[1:]]), "exit_code": proc.returncode, "wall_seconds": round(wall, 1),
        "peak_rss_tree_mb": round(peak_tree / 2**20, 1),
        "peak_rss_largest_process_mb": round(usage.ru_maxrss / 1024, 1),   # KiB on Linux
        "load_average_before": load_before, "load_average_after": list(os.getloadavg()),
        "output_tail": "".join(lines[-15:]) if proc.returncode else "",
    }


# ---------------------------------------------------------- reading it ---
def store_report(results_dir: Path, top: int) -> dict[str, Any]:
    """Per-unit status, seconds and where they went; the slowest datasets."""
    per_dataset = []
    for unit_dir, u in iter_records(results_dir):
        by_clf: dict[str, float] = {}
        resample = warnings = None
        if (unit_dir / "cells.parquet").is_file():
            cells = pd.read_parquet(unit_dir / "cells.parquet")
            by_clf = {c: round(float(s), 2) for c, s in cells.groupby("classifier")["seconds"].sum().items()}
        if (unit_dir / "ratios.parquet").is_file():
            ratios = pd.read_parquet(unit_dir / "ratios.parquet")
            resample = round(float(ratios["resample_seconds"].sum()), 2)
            warnings = int(ratios["convergence_warnings"].sum())
        dominant = max(by_clf, key=by_clf.get) if by_clf else None
        per_dataset.append({
            "dataset": u["dataset"], "status": u["status"], "seconds": round(float(u.get("seconds") or 0), 2),
            "n_rows": u.get("n_rows"), "n_features": u.get("n_features"), "n_minority": u.get("n_minority"),
            "ratios_applicable": len(u.get("ratios_applicable") or []), "n_cells": u.get("n_cells"),
            "cv_seconds_per_classifier": by_clf, "dominant_classifier": dominant,
            "dominant_share": round(by_clf[dominant] / sum(by_clf.values()), 2) if dominant and sum(by_clf.values())
            else None,
            "resample_seconds": resample, "lr_convergence_warnings": warnings,
            **({"reason": u.get("reason")} if u["status"] != "done" else {}),
        })
    per_dataset.sort(key=lambda d: -d["seconds"])
    statuses: dict[str, int] = {}
    totals: dict[str, float] = {}
    for d in per_dataset:
        statuses[d["status"]] = statuses.get(d["status"], 0) + 1
        for c, s in d["cv_seconds_per_classifier"].items():
            totals[c] = totals.get(c, 0.0) + s
    return {
        "units": len(per_dataset), "status_counts": statuses,
        "unit_seconds_total": round(sum(d["seconds"] for d in per_dataset), 1),
        "cv_seconds_per_classifier": {c: round(s, 1) for c, s in totals.items()},
        "slowest": per_dataset[:top], "datasets": per_dataset,
    }


# -------------------------------------------------------------- report ---
def machine_info() -> dict[str, Any]:
    return {
        "cpu_count": os.cpu_count(), "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "threads_in_sweep": {v: "1" for v in THREAD_VARS},
        "packages": package_versions(), **git_state(),
    }


def out_path(args: argparse.Namespace, preprocess: str) -> Path:
    if args.out is None:
        return ROOT / "results" / "bench" / f"sweep_{preprocess}.json"
    out = Path(args.out.format(preprocess=preprocess))
    if len(args.preprocess) > 1 and "{preprocess}" not in args.out:   # one file per preprocessing
        out = out.with_name(f"{out.stem}_{preprocess}{out.suffix}")
    return out


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--datasets", default="mirrored",
                   help="a dataset config name (mirrored = the 59 offline copies of Table 5 rows) or a comma list of datasets")
    p.add_argument("--preprocess", nargs="+", default=["paper"], choices=["paper", "standard"],
                   help="one sweep per value, in order")
    p.add_argument("--grid", default="paper",
                   help="grid config: paper = the classifiers' own grids (139 combinations), smoke = 10")
    p.add_argument("--n-jobs", type=int, default=2, help="run.n_jobs of the sweep")
    p.add_argument("--evaluator", default="fast", choices=["fast", "straightforward"], help="run.evaluator")
    p.add_argument("--results-dir", default=None,
                   help="keep the stores in DIR/<preprocess> (default: a temporary directory, removed)")
    p.add_argument("--check-against", default=None,
                   help="another store (or a directory with <preprocess>/ stores): every cell's F1 must be equal")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="extra Hydra override for the sweep (repeatable)")
    p.add_argument("--top", type=int, default=5, help="how many slowest datasets to list")
    p.add_argument("--out", default=None,
                   help="JSON report (default results/bench/sweep_<preprocess>.json; may contain {preprocess})")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    status = 0
    for preprocess in args.preprocess:
        with tempfile.TemporaryDirectory(prefix=f"sweep_{preprocess}_") as tmp:
            results_dir = Path(args.results_dir or tmp).resolve() / preprocess
            present = sum(1 for _ in iter_records(results_dir))
            if present:
                print(f"warning: {results_dir} already holds {present} unit(s); finished ones are not "
                      f"recomputed, so the wall time is not that of a fresh sweep", file=sys.stderr)
            cmd = sweep_command(args, preprocess, results_dir)
            print(f"{preprocess}: {' '.join(['python', *cmd[1:]])}", flush=True)
            report: dict[str, Any] = {
                "what": f"SM sweep as a subprocess: dataset={args.datasets}, grid={args.grid}, "
                        f"preprocess={preprocess}, run.n_jobs={args.n_jobs}, evaluator={args.evaluator}",
                "preprocess": preprocess, "datasets": args.datasets, "grid": args.grid, "n_jobs": args.n_jobs,
                "evaluator": args.evaluator, "units_present_before": present,
                **run_sweep(cmd), **store_report(results_dir, args.top), "machine": machine_info(),
            }
            if args.check_against:
                other = Path(args.check_against)
                report["check"] = compare_stores(results_dir, other / preprocess
                                                 if (other / preprocess / "units").is_dir() else other)
        failed = report["exit_code"] != 0 or report["status_counts"].get("failed", 0) > 0
        status |= int(failed or ("check" in report and check_failed(report["check"])))
        out = out_path(args, preprocess)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=2) + "\n")
        if report["exit_code"]:
            sys.stdout.write(report["output_tail"])
        slow = ", ".join(f"{d['dataset']} {d['seconds']:.0f}s ({d['dominant_classifier']})" for d in report["slowest"])
        print(f"{preprocess}: exit {report['exit_code']}, {report['units']} units {report['status_counts']} "
              f"in {report['wall_seconds']:.1f}s wall; peak memory {report['peak_rss_tree_mb']:.0f} MB "
              f"(process tree), {report['peak_rss_largest_process_mb']:.0f} MB (largest process)", flush=True)
        print(f"  CV seconds per classifier: {report['cv_seconds_per_classifier']}")
        print(f"  slowest: {slow}")
        if "check" in report:
            c = report["check"]
            print(f"  check against {c['b']}: {c['cells_compared']} cells, {c['cells_differing']} differing or "
                  f"unmatched (max |F1 diff| {c['max_abs_f1_difference']}); {c['units_compared']} units, "
                  f"{len(c['differences'])} differing, {len(c['only_a']) + len(c['only_b'])} in one store only")
        print(f"  wrote {out}", flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
