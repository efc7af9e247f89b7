"""Figures 1 and 6: real and synthetic minority rows (ORG / SM / LM / LS) on the PCA of the real rows.

The rows are made exactly as a sweep makes them (:class:`lsh_bench.unit.UnitJob`:
the dataset, the protocol's split and folds, each method's sampler with the
config's seeds, LS's r0 from the unit's plan; the training part encoded with
its own statistics), for one training part and ratio. LM and LS rows are
**replayed** from an LLM replay cache, read-only: no model is called (a
request that was never recorded is reported and its panel left out), unless
``--record`` is given (then the local model answers what the cache lacks
and the answers are recorded).

* Figure 1 (``--figure 1``): one dataset, panels ORG, SM, LM, LS.
* Figure 6 (``--figure 6``): one row per dataset of ``--datasets`` (default:
  the paper's four few-/zero-shot sets), the same panels; the held-out real
  minority (appended to every validation part in these scenarios) drawn
  hollow for reference. SM is N/A there (fewer than k+1 real rows).

Beside the PNG and PDF a JSON lists every panel with its quality record
(``lsh_bench.quality``: copies, distance, detection AUC, ...) and every
panel left out with the reason; nothing in it depends on the run's time, so
the same inputs give the same bytes.

    PYTHONPATH=$PWD .venv/bin/python scripts/figure_rows.py --figure 1 --dataset haberman --ratio 0.4 \\
        --cache tests/fixtures/llm_cache_runner --out results/figures
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path
from typing import Any

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from hydra import compose, initialize_config_dir  # noqa: E402

from lsh_bench.analysis.figures_rows import RowsView, figure1_rows, figure6_rows  # noqa: E402
from lsh_bench.config import BenchConfig, validate  # noqa: E402
from lsh_bench.data.loader import load_dataset  # noqa: E402
from lsh_bench.errors import LLMCacheMiss  # noqa: E402
from lsh_bench.models.evaluate import resample_part  # noqa: E402
from lsh_bench.quality import quality_record  # noqa: E402
from lsh_bench.quality.unit_rows import part_row  # noqa: E402
from replay_unit_rows import schema_of  # noqa: E402  (a sibling script)
from lsh_bench.unit import REFIT, UnitJob, fold_data  # noqa: E402

LABELS = {"sm": "SM", "lm": "LM", "ls": "LS"}
FOUR = "analcatdata_draft,flare,blood-transfusion-service-center,analcatdata_birthday"   # the paper's Table 3 sets
SHOWN = ("paper_knn_mean", "paper_knn_real_mean", "copy_share", "shown_copy_share", "unique_share", "dcr_ratio",
         "detection_auc", "column_shape", "n_synthetic", "n_shown", "reference")


# The llm= preset the committed figure caches were recorded with (results/figure_cache, the
# llm-study's cache): llm=local before its fast defaults. Replaying them needs the same requests.
RECORDED_LLM = "local_v1"


def compose_config(dataset: str, scenario: str, method: str, cache: Path, record: bool, extra: list[str]) -> BenchConfig:
    overrides = [f"dataset={dataset}", f"scenario={scenario}", f"method={method}", f"llm={RECORDED_LLM}",
                 f"llm.cache_dir={cache}",
                 f"llm.cache_mode={'readwrite' if record else 'readonly'}", *extra]
    mirror = ROOT.parent / "shared" / "datasets"
    if "LSH_BENCH_DATA" not in os.environ and (mirror / "manifest.csv").is_file():
        overrides.append(f"data.mirror_dirs=[{mirror}]")
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        return validate(compose("config", overrides=overrides))


def _clean(value: Any) -> Any:
    if isinstance(value, float):
        return None if math.isnan(value) else round(value, 6)
    return value.item() if isinstance(value, np.generic) else value


def method_rows(cfg: BenchConfig, fold: int, ratio: float) -> tuple[Any, Any, np.ndarray | None, dict[str, Any]]:
    """(dataset, resampled part, the rows the method added or None, the panel's note) for one method."""
    (spec,) = cfg.dataset.values()
    ds = load_dataset(spec, cfg.data, cfg.preprocess.encoding)
    job = UnitJob(cfg, ds)
    part = job.split.refit if fold == REFIT else job.split.folds[fold]
    data = fold_data(ds, part)
    base = resample_part(data, ds.schema, job.mode, None)
    if job.early is not None:
        return ds, (base, data), None, {"left_out": f"{job.early['status']}: {job.early['reason']}"}
    if ratio not in job.plan.applicable:
        return ds, (base, data), None, {"left_out": f"ratio {ratio} not applicable (applicable {job.plan.applicable})"}
    try:
        r = resample_part(data, ds.schema, job.mode, job.sampler_for(ratio))
    except LLMCacheMiss as exc:
        return ds, (base, data), None, {"left_out": f"not in the replay cache: {exc}"}
    row = part_row(cfg.quality, ds.schema, r, data.y_val, ratio=ratio, fold=fold)
    return ds, (r, data), r.X_res[len(r.X_train):], {"quality": {k: _clean(row[k]) for k in SHOWN},
                                                      "seed_ratio": job.seed_ratio}


def build_view(dataset: str, scenario: str, methods: list[str], fold: int, ratio: float, cache: Path,
               record: bool, extra: list[str]) -> tuple[RowsView, dict[str, Any]]:
    synthetic: dict[str, np.ndarray] = {}
    notes: dict[str, Any] = {}
    base = None
    for m in methods:
        ds, (r, data), added, note = method_rows(compose_config(dataset, scenario, m, cache, record, extra), fold, ratio)
        base = base or (ds, r, data)
        notes[LABELS[m]] = note
        if added is not None:
            synthetic[LABELS[m]] = added
    ds, r, data = base
    held = r.X_val[np.asarray(data.y_val) == 1] if scenario != "general" else None
    label = "refit (whole 70%)" if fold == REFIT else f"fold {fold}"
    view = RowsView(ds.name, f"{scenario}, {label}, ratio {ratio:g}", r.X_train[r.y_train == 1],
                    r.X_train[r.y_train == 0], synthetic, held)
    return view, {"dataset": ds.name, "scenario": scenario, "fold": fold, "ratio": ratio,
                  "n_real_minority": int((r.y_train == 1).sum()), "n_real_majority": int((r.y_train == 0).sum()),
                  "n_heldout_minority": None if held is None else len(held), "panels": notes}


def npz_view(path: Path, fold: int, ratio: float) -> tuple[RowsView, dict[str, Any]]:
    """A view from rows saved by ``scripts/replay_unit_rows.py`` (a committed unit replayed at its commit)."""
    saved = np.load(path)
    key = f"{fold}_{ratio}"
    if key + "_add" not in saved:
        raise SystemExit(f"{path}: no part for fold {fold}, ratio {ratio}")
    scenario, method, dataset = path.stem.split("_", 2)
    X, y, added = saved[key + "_Xtr"], saved[key + "_ytr"], saved[key + "_add"]
    held = saved[key + "_Xva"][saved[key + "_yva"] == 1]
    schema = schema_of(saved)
    ref_X, ref_y = (X, y) if (y == 1).any() else (np.vstack([X[y == 0], held]),
                                                   np.r_[np.zeros((y == 0).sum(), int), np.ones(len(held), int)])
    row = quality_record(ref_X, ref_y, added, schema, seed=0, shown=X[y == 1])
    label = "refit (whole 70%)" if fold == REFIT else f"fold {fold}"
    view = RowsView(dataset, f"{scenario}, {label}, ratio {ratio:g} (committed unit, replayed)", X[y == 1],
                    X[y == 0], {method.upper(): added}, held)
    note = {"dataset": dataset, "scenario": scenario, "fold": fold, "ratio": ratio, "rows_file": path.name,
            "n_real_minority": int((y == 1).sum()), "n_real_majority": int((y == 0).sum()),
            "n_heldout_minority": len(held),
            "panels": {method.upper(): {"quality": {k: _clean(row[k]) for k in SHOWN if k in row}}}}
    return view, note


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--figure", choices=["1", "6"], default="1")
    p.add_argument("--dataset", default="haberman", help="figure 1: the dataset")
    p.add_argument("--datasets", default=None,
                   help=f"figure 6: one row per dataset, built from --cache (default without --rows: {FOUR})")
    p.add_argument("--scenario", default=None, help="default: general (figure 1), fewshot (figure 6)")
    p.add_argument("--methods", default="sm,lm,ls")
    p.add_argument("--fold", type=int, default=0, help="-1 = the refit (the whole 70%%)")
    p.add_argument("--ratio", type=float, default=1.0)
    p.add_argument("--cache", type=Path, default=ROOT / "results" / "llm_cache", help="LLM replay cache")
    p.add_argument("--record", action="store_true", help="let the model answer what the cache lacks (recorded)")
    p.add_argument("--rows", type=Path, nargs="*", default=[],
                   help="figure 6: views from rows saved by scripts/replay_unit_rows.py, drawn before --datasets")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--set", action="append", default=[], help="extra Hydra override (repeatable)")
    args = p.parse_args(argv)
    methods = [m.strip().lower() for m in args.methods.split(",") if m.strip()]
    if args.figure == "1":
        scenario = args.scenario or "general"
        view, note = build_view(args.dataset, scenario, methods, args.fold, args.ratio, args.cache, args.record, args.set)
        paths, notes, stem = figure1_rows(view, args.out, stem="figure1_rows"), [note], "figure1_rows"
    else:
        scenario = args.scenario or "fewshot"
        datasets = args.datasets if args.datasets is not None else ("" if args.rows else FOUR)
        built = [npz_view(path, args.fold, args.ratio) for path in args.rows] + \
            [build_view(d, scenario, methods, args.fold, args.ratio, args.cache, args.record, args.set)
             for d in datasets.split(",") if d]
        paths, notes, stem = figure6_rows([v for v, _ in built], args.out, stem="figure6_rows"), \
            [n for _, n in built], "figure6_rows"
    meta = args.out / f"{stem}.json"
    meta.write_text(json.dumps({"figure": args.figure, "views": notes}, indent=1, sort_keys=True) + "\n")
    for path in [*paths, meta]:
        print(path)
    for n in notes:
        for method, panel in n["panels"].items():
            print(f"{n['dataset']} {method}: {panel.get('left_out') or panel['quality']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
