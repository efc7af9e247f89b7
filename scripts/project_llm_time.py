"""Project the LLM time of LM and LS over a dataset set from ``make bench-llm``'s measurement.

A unit's LLM work is a list of *generations*: one per (training part, ratio)
the method oversamples with the LLM. LM generates at every applicable ratio
of the five CV folds and of the refit; LS only at its seed ratio r0 (the
expander does the rest). Each generation of N rows costs, with the embedded
model, the fixed steps once (report and variables) plus as many program
rounds as N needs (a round yields about ``rows_per_round`` rows: its outputs
times ``llm.executions_per_program``). Those three numbers are read from
``results/bench/llm.json`` (the ``new`` side of every benchmarked dataset:
fixed seconds, seconds per program round, rows per round), and the row counts
from the protocol itself (``plan_ratios``, ``rows_to_add``) on the real
datasets. The projection uses the benchmark's mean and also its slowest and
fastest dataset (a range), and assumes the two cores each run one model
(``run.n_jobs=2``): wall = total / 2.

    PYTHONPATH=$PWD python scripts/project_llm_time.py                 # dataset=mirrored
    PYTHONPATH=$PWD python scripts/project_llm_time.py --datasets smoke --out /tmp/p.json
    PYTHONPATH=$PWD python scripts/project_llm_time.py --measured results/sweeps/ls_local

``--measured STORE`` calibrates the projection on the units a real sweep has
finished: the benchmark's datasets have 3–10 features, and a wide dataset's
prompts and answers grow with its columns (mw1, 35 features: 6.5x the
benchmark model's LS seconds). Per finished unit, measured / projected
seconds is fitted as a line in the number of features and applied to the
datasets not yet measured; the measured units count as measured. The LLM
seconds of a unit are those of generating its answers, read from the cache
entries (``generation_cost``), so a replayed unit still counts.

Writes ``results/bench/llm_projection.json``.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from hydra import compose, initialize_config_dir  # noqa: E402

from lsh_bench.config import validate  # noqa: E402
from lsh_bench.data.loader import load_dataset  # noqa: E402
from lsh_bench.data.scenarios import scenario_split  # noqa: E402
from lsh_bench.protocol import plan_ratios, rows_to_add, training_counts  # noqa: E402
from lsh_bench.samplers.llm.cache import generation_cost  # noqa: E402
from lsh_bench.store import iter_records  # noqa: E402


def cost_model(bench: dict[str, Any]) -> dict[str, dict[str, float]]:
    """Per benchmarked dataset: fixed seconds per generation, seconds per program round, rows per round."""
    out = {}
    for d in bench["datasets"]:
        new = d.get("new")
        if not new:
            continue
        steps = new["per_step"]
        rounds = max(1, steps["program"]["calls"])
        out[d["dataset"]] = {
            "fixed_s": steps["report"]["seconds"] + steps["variables"]["seconds"],
            "round_s": steps["program"]["seconds"] / rounds,
            "rows_per_round": new["rows_generated"] / rounds,
        }
    if not out:
        raise SystemExit("results/bench/llm.json has no 'new' measurement: run make bench-llm first")
    return out


def generations(names: list[str], overrides: list[str],
                features: dict[str, int] | None = None) -> dict[str, dict[str, list[int]]]:
    """Rows of every LLM generation of LM and of LS, per dataset (the protocol's own plan).

    ``features``, when given, is filled with each dataset's number of feature columns.
    """
    out: dict[str, dict[str, list[int]]] = {}
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        for name in names:
            rows: dict[str, list[int]] = {}
            for method in ("lm", "ls"):
                cfg = validate(compose("config", overrides=[f"dataset={name}", f"method={method}", *overrides]))
                ds = load_dataset(next(iter(cfg.dataset.values())), cfg.data)
                if features is not None:
                    features[name] = int(ds.X.shape[1])
                split, _ = scenario_split(ds.y, cfg.protocol, cfg.seeds, cfg.scenario, ds.name)
                plan = plan_ratios(cfg.method, cfg.ratios, split, ds.y, seed_step=cfg.ls.seed_steps)
                ratios = [r for r in plan.applicable if r is not None]
                if method == "ls":
                    ratios = [plan.seed_ratio] if plan.seed_ratio is not None and not plan.not_applicable else []
                counts = [training_counts(ds.y, p) for p in [*split.folds, split.refit]]
                rows[method] = [rows_to_add(r, n_minority=a, n_majority=b) for a, b in counts for r in ratios]
            out[name] = rows
    return out


def seconds(rows: list[int], m: dict[str, float]) -> float:
    return sum(m["fixed_s"] + math.ceil(n / m["rows_per_round"]) * m["round_s"] for n in rows if n >= 1)


def calibrate(store: Path, cache: Path, gens: dict[str, dict[str, list[int]]], features: dict[str, int],
              model: dict[str, float], n_jobs: int) -> dict[str, Any]:
    """Per method: the finished units' measured LLM seconds, and the rest projected with a fitted factor.

    factor(dataset) = measured / projected seconds, fitted as a + b * features
    over the measured units (their mean when fewer than 3 distinct widths),
    never below the smallest measured factor.
    """
    out: dict[str, Any] = {"store": _shown(str(store)), "cache": _shown(str(cache))}
    records = [rec for _, rec in iter_records(store)]
    for method in ("lm", "ls"):
        units = []
        for rec in records:
            name = rec["dataset"]
            if rec["method"] != method or rec["scenario"] != "general" or name not in gens:
                continue
            projected = seconds(gens[name][method], model)
            measured = generation_cost((rec.get("llm") or {}).get("keys") or [], cache).seconds
            units.append({"dataset": name, "status": rec["status"], "features": features[name],
                          "measured_s": round(measured, 1), "projected_s": round(projected, 1),
                          "factor": round(measured / projected, 2) if projected else None})
        fit = [u for u in units if u["status"] == "done" and u["factor"] is not None]
        if not fit:
            out[method] = {"units_measured": len(units), "note": "no finished unit to calibrate on"}
            continue
        x = np.array([u["features"] for u in fit], float)
        f = np.array([u["factor"] for u in fit], float)
        a, b = (np.polyfit(x, f, 1)[::-1] if len(set(x)) >= 3 else (float(f.mean()), 0.0))
        floor = float(f.min())
        measured_names = {u["dataset"] for u in units}
        rest = {n: max(floor, a + b * features[n]) * seconds(g[method], model)
                for n, g in gens.items() if n not in measured_names}
        measured_s = sum(u["measured_s"] for u in units)
        total = measured_s + sum(rest.values())
        out[method] = {
            "units_measured": len(units), "units_done": len(fit), "measured_hours": round(measured_s / 3600, 2),
            "factor_fit": {"intercept": round(float(a), 3), "per_feature": round(float(b), 3), "floor": floor},
            "projected_rest_hours": round(sum(rest.values()) / 3600, 1),
            "llm_hours_total": round(total / 3600, 1),
            "wall_hours_on_n_jobs": round(total / 3600 / n_jobs, 1),
            "units": sorted(units, key=lambda u: u["dataset"]),
        }
    return out


def _shown(path: str) -> str:
    """``path`` relative to the repository when it is inside it (the JSON is committed)."""
    p = Path(path).resolve()
    return str(p.relative_to(ROOT)) if p.is_relative_to(ROOT) else str(p)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--datasets", default="mirrored", help="a dataset group or name (the dataset= override)")
    p.add_argument("--bench", default=str(ROOT / "results" / "bench" / "llm.json"))
    p.add_argument("--n-jobs", type=int, default=2)
    p.add_argument("--out", default=str(ROOT / "results" / "bench" / "llm_projection.json"))
    p.add_argument("--measured", type=Path, default=None,
                   help="a results store of a real sweep: calibrate on its finished general-scenario units")
    p.add_argument("--cache", type=Path, default=None, help="its replay cache (default STORE/llm_cache)")
    args = p.parse_args(argv)
    if args.measured is not None and not (args.measured / "units").is_dir():
        p.error(f"--measured {args.measured}: not a results store (no units/ directory)")
    models = cost_model(json.loads(Path(args.bench).read_text()))
    mean = {k: sum(m[k] for m in models.values()) / len(models) for k in ("fixed_s", "round_s", "rows_per_round")}
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        names = list(validate(compose("config", overrides=[f"dataset={args.datasets}"])).dataset)
    features: dict[str, int] = {}
    gens = generations(names, ["data.use_openml=false"], features)
    report: dict[str, Any] = {"what": __doc__.split("\n\n")[0], "bench": _shown(args.bench), "datasets": len(names),
                              "cost_model": {"mean": mean, **models}, "n_jobs": args.n_jobs, "methods": {}}
    for method in ("lm", "ls"):
        rows = [n for g in gens.values() for n in g[method]]
        by = {k: seconds(rows, m) for k, m in {"mean": mean, **models}.items()}
        report["methods"][method] = {
            "generations": sum(1 for n in rows if n >= 1), "rows": sum(rows),
            "llm_hours_total": {k: round(v / 3600, 1) for k, v in by.items()},
            "wall_hours_on_n_jobs": {k: round(v / 3600 / args.n_jobs, 1) for k, v in by.items()},
        }
        print(f"{method.upper()}: {report['methods'][method]['generations']} generations, {sum(rows)} rows; "
              f"wall on {args.n_jobs} cores: {report['methods'][method]['wall_hours_on_n_jobs']} h")
    report["per_dataset_rows"] = {k: {m: sum(v[m]) for m in v} for k, v in gens.items()}
    report["features"] = features
    if args.measured is not None:
        cal = calibrate(args.measured, args.cache or args.measured / "llm_cache", gens, features, mean, args.n_jobs)
        report["calibrated"] = cal
        for method in ("lm", "ls"):
            c = cal[method]
            if "llm_hours_total" in c:
                print(f"{method.upper()} calibrated on {c['units_done']} finished units ({c['measured_hours']} h "
                      f"measured): {c['llm_hours_total']} LLM h in all, wall {c['wall_hours_on_n_jobs']} h "
                      f"on {args.n_jobs} cores")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=1) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
