"""What the quality record costs in an SM sweep (writes ``results/bench/quality.json``).

For every dataset of the sweep (default: the 41 mirrored ones, ``preprocess=paper``)
the script makes exactly the (training part, ratio) pairs an SM sweep makes:
5 CV folds and the refit (fold -1), every ratio applicable in all six parts,
the training part encoded with its own statistics, SMOTE with the config's
seed. For each pair it computes the quality record the way a unit would:
``prepare_reference`` once per training part, ``score_synthetic`` once per
ratio, and times both (one process, one BLAS thread).

Reported:

* per dataset: pairs, seconds per pair (prepare shared over the part's ratios
  + score), the slowest pair;
* ``projection``: the summed quality seconds of all pairs against the SM
  sweep recorded in ``results/bench/sweep_<preprocess>.json`` (same datasets,
  2 worker processes): the quality work spread over the same workers adds
  ``quality_seconds_total / n_jobs`` to its wall time. The sweep was timed on
  idle cores; the load average during this run is recorded (a loaded machine
  makes the share look larger, never smaller);
* ``same_run``: on ``--grid-datasets`` (default: all) the classifier grid of
  the sweep (fast evaluator, full paper grid) and the quality record are
  timed back to back on the first ``--grid-pairs`` pairs (fold 0, smallest
  ratio: the cheapest grid), so quality / grid is a ratio under the same
  load; weighted by each dataset's pairs it bounds the record's share of a
  sweep from above. This is the number to read when the machine is busy;
* ``one_call``: on ``--compare-datasets`` every pair is also scored with
  ``quality_record`` (reference fitted per pair, the straightforward way);
  the records must be identical (the script exits 1 otherwise) and the
  speed-up of sharing the reference across ratios is reported.

    PYTHONPATH=$PWD .venv/bin/python scripts/bench_quality.py
    PYTHONPATH=$PWD .venv/bin/python scripts/bench_quality.py --datasets haberman --grid-datasets haberman --out /tmp/q.json
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import tempfile
import time
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
from lsh_bench.protocol import rows_to_add  # noqa: E402
from lsh_bench.errors import DatasetInvalid, DatasetUnavailable  # noqa: E402
from lsh_bench.models.evaluate import FoldData, evaluate_shared  # noqa: E402
from lsh_bench.models.grid import expand_grid  # noqa: E402
from lsh_bench.models.preprocess import TableEncoder, categorical_for_sampler  # noqa: E402
from lsh_bench.quality import prepare_reference, quality_record, score_synthetic  # noqa: E402
from lsh_bench.samplers.smote import smote_for  # noqa: E402
from lsh_bench.sweep import run_sweep  # noqa: E402

REFIT = -1


def compose_config(datasets: str, preprocess: str, extra: list[str]) -> BenchConfig:
    overrides = [f"dataset={datasets}", f"preprocess={preprocess}", "method=sm", *extra]   # the paper's grid
    mirror = ROOT.parent / "shared" / "datasets"
    if "LSH_BENCH_DATA" not in os.environ and (mirror / "manifest.csv").is_file():
        overrides.append(f"data.mirror_dirs=[{mirror}]")
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        return validate(compose("config", overrides=overrides))


def sm_pairs(cfg: BenchConfig, name: str) -> tuple[Any, list[dict[str, Any]]]:
    """The dataset and its training parts, each with its encoded rows and the SMOTE rows per applicable ratio."""
    ds = load_dataset(cfg.dataset[name], cfg.data)
    split = make_split(ds.y, cfg.protocol, cfg.seeds, cfg.scenario, ds.name)
    mode = cfg.preprocess.name
    parts = [(f, p) for f, p in enumerate(split.folds)] + [(REFIT, split.refit)]
    counts = [(int((ds.y[p.train] == 1).sum()), int((ds.y[p.train] == 0).sum())) for _, p in parts]
    if min(n_min for n_min, _ in counts) < cfg.method.k_neighbors + 1:
        return ds, []     # SM is not applicable (the sweep records N/A and computes nothing)
    ratios = [r for r in cfg.ratios
              if all(rows_to_add(r, n_minority=n_min, n_majority=n_maj) >= 1 for n_min, n_maj in counts)]
    out = []
    for fold, part in parts:
        X_raw, y = ds.X.iloc[part.train], ds.y[part.train]
        X = TableEncoder(ds.schema, mode).fit(X_raw).transform(X_raw)
        synthetic = []
        for r in ratios:
            smote = smote_for(r, k_neighbors=cfg.method.k_neighbors, random_state=cfg.seeds.sampler,
                              categorical_features=categorical_for_sampler(ds.schema, mode), n_features=len(ds.schema))
            t0 = time.perf_counter()
            X_res, _ = smote.fit_resample(X, y)
            synthetic.append((r, np.asarray(X_res[len(X):]), time.perf_counter() - t0))
        out.append({"fold": fold, "part": part, "X": X, "y": y, "synthetic": synthetic})
    return ds, out


def same_record(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return a.keys() == b.keys() and all(
        (isinstance(x, float) and isinstance(y, float) and math.isnan(x) and math.isnan(y)) or x == y
        for x, y in zip(a.values(), b.values()))


def bench_dataset(cfg: BenchConfig, name: str, seed: int, compare: bool) -> dict[str, Any]:
    ds, parts = sm_pairs(cfg, name)
    row: dict[str, Any] = {"dataset": name, "n_rows": len(ds.y), "n_features": len(ds.schema),
                           "n_categorical": len(ds.schema.categorical_indices), "n_minority": ds.n_minority}
    if not parts:
        return {**row, "status": "not_applicable", "pairs": 0, "quality_seconds": 0.0}
    prepare_s, score_s, per_pair, smote_s = [], [], [], 0.0
    one_call_s, identical = 0.0, True
    for p in parts:
        t0 = time.perf_counter()
        ref = prepare_reference(p["X"], p["y"], ds.schema, seed=seed)
        t_prep = time.perf_counter() - t0
        prepare_s.append(t_prep)
        for r, S, t_smote in p["synthetic"]:
            smote_s += t_smote
            t0 = time.perf_counter()
            rec = score_synthetic(ref, S)
            t_score = time.perf_counter() - t0
            score_s.append(t_score)
            per_pair.append((t_score + t_prep / len(p["synthetic"]), p["fold"], r, len(S)))
            if compare:
                t0 = time.perf_counter()
                straight = quality_record(p["X"], p["y"], S, ds.schema, seed=seed)
                one_call_s += time.perf_counter() - t0
                identical &= same_record(rec, straight)
    total = sum(prepare_s) + sum(score_s)
    slowest = max(per_pair)
    row.update({
        "status": "done", "pairs": len(per_pair), "parts": len(parts), "ratios": len(parts[0]["synthetic"]),
        "n_real_minority_fold0": int(parts[0]["y"].sum()), "n_synthetic_max": max(n for *_, n in per_pair),
        "quality_seconds": round(total, 4), "prepare_seconds_per_part": round(float(np.mean(prepare_s)), 4),
        "score_seconds_per_pair": round(float(np.mean(score_s)), 4),
        "seconds_per_pair": round(total / len(per_pair), 4),
        "slowest_pair": {"seconds": round(slowest[0], 4), "fold": slowest[1], "ratio": slowest[2],
                         "n_synthetic": slowest[3]},
        "smote_seconds": round(smote_s, 4),
    })
    if compare:
        row["one_call"] = {"seconds": round(one_call_s, 4), "speedup": round(one_call_s / total, 2),
                           "identical_records": identical}
    return row


def grid_same_run(cfg: BenchConfig, name: str, seed: int, n_pairs: int) -> dict[str, Any]:
    """Quality vs the sweep's classifier grid on ``n_pairs`` (fold, ratio) pairs, timed back to back.

    Pairs are taken fold by fold, smallest ratio first: the fewest resampled
    rows, where the grid is cheapest, so quality / grid is an upper bound of
    the dataset's share. Quality is timed as one ``quality_record`` call per
    pair (a reference fitted per pair), also an upper bound.
    """
    ds, parts = sm_pairs(cfg, name)
    cells = expand_grid(cfg.classifiers())
    mode = cfg.preprocess.name
    done, q_s, g_s = 0, 0.0, 0.0
    for p in parts:
        if done == n_pairs:
            break
        part = p["part"]
        fold = FoldData(ds.X.iloc[part.train], ds.y[part.train], ds.X.iloc[part.score], ds.y[part.score])
        for r, S, _ in p["synthetic"]:
            if done == n_pairs:
                break
            smote = smote_for(r, k_neighbors=cfg.method.k_neighbors, random_state=cfg.seeds.sampler,
                              categorical_features=categorical_for_sampler(ds.schema, mode), n_features=len(ds.schema))
            t0 = time.perf_counter()
            evaluate_shared(fold, cells, ds.schema, mode, smote)
            g_s += time.perf_counter() - t0
            t0 = time.perf_counter()
            quality_record(p["X"], p["y"], S, ds.schema, seed=seed)
            q_s += time.perf_counter() - t0
            done += 1
    return {"dataset": name, "pairs": done, "grid_seconds": round(g_s, 3), "quality_seconds": round(q_s, 4),
            "quality_over_grid": round(q_s / g_s, 5) if g_s else None, "cells": len(cells)}


def same_run_share(grid: list[dict[str, Any]], rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Quality / grid over a sweep: each dataset's same-run pair costs weighted by its number of pairs."""
    pairs = {r["dataset"]: r["pairs"] for r in rows if r["pairs"]}
    used = [g for g in grid if g["pairs"] and g["dataset"] in pairs]
    if not used:
        return None
    q = sum(g["quality_seconds"] / g["pairs"] * pairs[g["dataset"]] for g in used)
    t = sum(g["grid_seconds"] / g["pairs"] * pairs[g["dataset"]] for g in used)
    return {"datasets": len(used), "pairs_weighted": sum(pairs[g["dataset"]] for g in used),
            "quality_over_grid": round(q / t, 4),
            "meaning": "upper bound of the quality record's share of the classifier grid's time in an SM sweep, "
                       "both timed in this run on the same pairs (smallest ratio, reference fitted per pair)"}


def machine_info(load_start: list[float]) -> dict[str, Any]:
    import lightgbm
    import sklearn

    from lsh_bench.provenance import git_state

    return {**git_state(), "cpu_count": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
            "numpy": np.__version__, "sklearn": sklearn.__version__, "lightgbm": lightgbm.__version__,
            "threads": {v: os.environ.get(v) for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")},
            "load_average_at_start": load_start, "load_average_at_end": list(os.getloadavg())}


def projection(rows: list[dict[str, Any]], sweep_file: Path) -> dict[str, Any]:
    total = sum(r["quality_seconds"] for r in rows)
    pairs = sum(r["pairs"] for r in rows)
    out: dict[str, Any] = {"quality_seconds_total": round(total, 3), "pairs_total": pairs,
                           "seconds_per_pair_mean": round(total / pairs, 4) if pairs else None}
    if not sweep_file.is_file():
        out["sweep"] = f"{sweep_file} not found: no projection"
        return out
    sweep = json.loads(sweep_file.read_text())
    unit_seconds = {d["dataset"]: d["seconds"] for d in sweep["datasets"] if d.get("status") == "done"}
    mine = {r["dataset"]: r["quality_seconds"] for r in rows}
    n_jobs = int(sweep["n_jobs"])
    matched = sorted(set(unit_seconds) & set(mine))
    for r in rows:
        if r["dataset"] in unit_seconds:
            r["sweep_unit_seconds"] = unit_seconds[r["dataset"]]
            r["share_of_unit"] = round(r["quality_seconds"] / n_jobs / unit_seconds[r["dataset"]], 4)
    out.update({
        "sweep_datasets": len(unit_seconds), "datasets_measured": len(mine), "datasets_matched": len(matched),
        "missing_from_this_run": sorted(set(unit_seconds) - set(mine)),
        "share_of_matched_units": round(sum(mine[d] for d in matched) / n_jobs / sum(unit_seconds[d] for d in matched), 4)
        if matched else None,
        "sweep_file": str(sweep_file.relative_to(ROOT)) if sweep_file.is_relative_to(ROOT) else str(sweep_file),
        "sweep_wall_seconds": sweep["wall_seconds"], "sweep_n_jobs": n_jobs,
        "sweep_classifier_seconds": round(sum(sweep["cv_seconds_per_classifier"].values()), 1),
        "added_wall_seconds": round(total / n_jobs, 2),
        "share_of_sweep_wall": round(total / n_jobs / sweep["wall_seconds"], 4),
    })
    return out


def _sweep_once(datasets: str, preprocess: str, extra: list[str], store: Path, quality: bool) -> dict[str, Any]:
    """One SM sweep (one process, run.n_jobs=1) into ``store``: wall and CPU seconds, the records' scores."""
    cfg = compose_config(datasets, preprocess, [*extra, f"run.results_dir={store}", "run.n_jobs=1",
                                                "run.progress=false", f"quality.enabled={str(quality).lower()}"])
    t0, c0 = time.perf_counter(), time.process_time()
    records = run_sweep(cfg)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    return {"wall_seconds": round(wall, 2), "cpu_seconds": round(cpu, 2),
            "scores": {r["dataset"]: (r["status"], r.get("val_f1"), r.get("test_f1"), r.get("choice")) for r in records},
            "quality_seconds": round(sum((r.get("quality") or {}).get("seconds", 0.0) for r in records), 2),
            "quality_rows": sum((r.get("quality") or {}).get("rows", 0) for r in records)}


def sweep_on_off(names: list[str], preprocess: str, extra: list[str], work: Path,
                 partial: Any = None) -> dict[str, Any]:
    """SM sweep wall and CPU time with the quality record on vs off, same run, per dataset in ABBA order.

    Each dataset is swept four times into fresh stores (on, off, off, on for
    even positions, the reverse for odd ones), so a load that drifts during the
    run weighs on both modes alike; the machine is shared, so CPU seconds
    (this process; n_jobs=1 keeps all work in it) are the number to read.
    The scores of the two modes must be identical (the record changes none).
    ``partial`` is handed the report so far after every dataset (a long run on a
    shared machine leaves its measurements behind if it is stopped).
    """
    per, totals = [], {m: {"wall_seconds": 0.0, "cpu_seconds": 0.0} for m in ("on", "off")}
    identical = True
    for i, name in enumerate(names):
        order = ["on", "off", "off", "on"] if i % 2 == 0 else ["off", "on", "on", "off"]
        runs: dict[str, list[dict[str, Any]]] = {"on": [], "off": []}
        for k, mode in enumerate(order):
            runs[mode].append(_sweep_once(name, preprocess, extra, work / f"{name}_{mode}_{k}", mode == "on"))
        identical &= all(r["scores"] == runs["on"][0]["scores"] for r in runs["on"] + runs["off"])
        row: dict[str, Any] = {"dataset": name, "order": order}
        for mode in ("on", "off"):
            for key in ("wall_seconds", "cpu_seconds"):
                value = sum(r[key] for r in runs[mode]) / 2
                row[f"{key}_{mode}"] = round(value, 2)
                totals[mode][key] += value
        row["quality_seconds"] = runs["on"][0]["quality_seconds"]
        row["quality_rows"] = runs["on"][0]["quality_rows"]
        row["cpu_ratio_on_off"] = round(row["cpu_seconds_on"] / row["cpu_seconds_off"], 4)
        per.append(row)
        print(f"{name:34s} cpu on {row['cpu_seconds_on']:8.2f} s  off {row['cpu_seconds_off']:8.2f} s  "
              f"wall on {row['wall_seconds_on']:8.2f} s  off {row['wall_seconds_off']:8.2f} s", flush=True)
        if partial is not None:
            partial(_on_off_report(names[: i + 1], per, totals, identical) | {"complete": i + 1 == len(names)})
    return _on_off_report(names, per, totals, identical) | {"complete": True}


def _on_off_report(names: list[str], per: list[dict[str, Any]], totals: dict[str, dict[str, float]],
                   identical: bool) -> dict[str, Any]:
    return {
        "what": "SM sweeps (paper grid, run.n_jobs=1) with quality.enabled true vs false, same run, 2 sweeps per "
                "mode and dataset in ABBA order; seconds are the mean of the 2",
        "datasets": names, "scores_identical": identical, "per_dataset": per,
        "total": {m: {k: round(v, 2) for k, v in t.items()} for m, t in totals.items()},
        "cpu_ratio_on_off": round(totals["on"]["cpu_seconds"] / totals["off"]["cpu_seconds"], 4),
        "wall_ratio_on_off": round(totals["on"]["wall_seconds"] / totals["off"]["wall_seconds"], 4),
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--datasets", default="mirrored", help="a dataset config name (mirrored = the 41 offline copies) "
                   "or a comma list")
    p.add_argument("--preprocess", default="paper")
    p.add_argument("--seed", type=int, default=0, help="seed of the quality record")
    p.add_argument("--compare-datasets", default="spambase,segment,PizzaCutter1",
                   help="also score these with one quality_record call per pair and check equality")
    p.add_argument("--grid-datasets", default="all",
                   help="time the classifier grid on --grid-pairs pairs of these in the same run (all = every "
                        "measured dataset; '' = none)")
    p.add_argument("--grid-pairs", type=int, default=1)
    p.add_argument("--set", action="append", default=[], help="extra Hydra override (repeatable)")
    p.add_argument("--sweep-on-off", default="", metavar="DATASETS",
                   help="instead: time whole SM sweeps of these datasets (comma list) with quality on vs off")
    p.add_argument("--work", type=Path, default=None, help="--sweep-on-off: directory for the throw-away stores")
    p.add_argument("--out", type=Path, default=ROOT / "results" / "bench" / "quality.json")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    load_start = list(os.getloadavg())
    if args.sweep_on_off:
        args.out.parent.mkdir(parents=True, exist_ok=True)

        def write(report: dict[str, Any]) -> None:
            report["machine"] = machine_info(load_start)
            args.out.write_text(json.dumps(report, indent=1) + "\n")

        with tempfile.TemporaryDirectory(prefix="bench_quality_") as tmp:
            report = sweep_on_off(args.sweep_on_off.split(","), args.preprocess, args.set, args.work or Path(tmp), write)
        write(report)
        print(json.dumps({k: report[k] for k in ("total", "cpu_ratio_on_off", "wall_ratio_on_off",
                                                 "scores_identical")}, indent=1))
        return 0 if report["scores_identical"] else 1
    datasets = f"[{args.datasets}]" if "," in args.datasets else args.datasets
    cfg = compose_config(datasets, args.preprocess, args.set)
    compare = set(filter(None, args.compare_datasets.split(",")))
    t_start = time.perf_counter()
    rows = []
    for name in cfg.dataset:
        try:
            row = bench_dataset(cfg, name, args.seed, name in compare)
        except (DatasetInvalid, DatasetUnavailable) as err:     # recorded in the report, not skipped silently
            rows.append({"dataset": name, "status": "unavailable", "reason": str(err), "pairs": 0,
                         "quality_seconds": 0.0})
            print(f"{name:28s} UNAVAILABLE: {err}", flush=True)
            continue
        rows.append(row)
        print(f"{name:28s} pairs {row['pairs']:3d}  quality {row['quality_seconds']:8.3f} s"
              + (f"  per pair {row['seconds_per_pair']:.4f} s" if row["pairs"] else "  (SM not applicable)"),
              flush=True)
    grid = []
    grid_names = [r["dataset"] for r in rows if r["pairs"]] if args.grid_datasets == "all" else \
        list(filter(None, args.grid_datasets.split(",")))
    for name in grid_names:
        gcfg = compose_config(name, args.preprocess, args.set)
        grid.append(grid_same_run(gcfg, name, args.seed, args.grid_pairs))
        print(f"same run {name}: grid {grid[-1]['grid_seconds']} s, quality {grid[-1]['quality_seconds']} s", flush=True)
    done = [r for r in rows if r["pairs"]]
    compared = [r for r in done if "one_call" in r]
    report = {
        "what": "quality record of every SM (training part, ratio) pair of a sweep: prepare_reference once per "
                "part + score_synthetic per ratio, one process, one BLAS thread",
        "preprocess": args.preprocess, "datasets": args.datasets, "seed": args.seed,
        "bench_wall_seconds": round(time.perf_counter() - t_start, 1),
        "projection": projection(done, ROOT / "results" / "bench" / f"sweep_{args.preprocess}.json"),
        "unavailable": {r["dataset"]: r["reason"] for r in rows if r["status"] == "unavailable"},
        "largest": sorted(({k: r[k] for k in ("dataset", "n_rows", "n_features", "pairs", "seconds_per_pair",
                                                "prepare_seconds_per_part", "score_seconds_per_pair", "slowest_pair")}
                           for r in done), key=lambda r: -r["seconds_per_pair"])[:5],
        "one_call": {"datasets": [r["dataset"] for r in compared],
                     "identical_records": all(r["one_call"]["identical_records"] for r in compared),
                     "shared_seconds": round(sum(r["quality_seconds"] for r in compared), 3),
                     "one_call_seconds": round(sum(r["one_call"]["seconds"] for r in compared), 3)},
        "same_run": {"share": same_run_share(grid, rows), "per_dataset": grid},
        "per_dataset": rows,
        "machine": machine_info(load_start),
    }
    if compared:
        report["one_call"]["speedup"] = round(report["one_call"]["one_call_seconds"] / report["one_call"]["shared_seconds"], 2)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps({k: report[k] for k in ("projection", "one_call", "same_run")}, indent=1))
    return 0 if report["one_call"]["identical_records"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
