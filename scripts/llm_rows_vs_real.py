"""What the LLM's rows look like next to the real minority: column means, sds, ranges.

Replays the LM (or LS) sampler of a finished unit from the LLM replay cache
(read-only: no model call; a request that was not recorded is an error) for
every CV fold at one ratio, exactly as the runner built it, and compares the
synthetic rows (those appended after the fold's real rows) with the real
training minority of the same folds (what the LLM was shown) and with the
held-out minority of the validation parts (what the classifiers are scored
on; in few-/zero-shot the removed minority rows are there, so zero-shot rows
have something real to be compared with), in the encoded space the
classifiers see. Columns without real rows print as "-".

    python scripts/llm_rows_vs_real.py method=lm dataset=haberman ratio=1.0 \\
        run.results_dir=results/smoke_store llm.cache_dir=results/llm_cache
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hydra import compose, initialize_config_dir  # noqa: E402

from lsh_bench.config import validate  # noqa: E402
from lsh_bench.data.loader import load_dataset  # noqa: E402
from lsh_bench.models.evaluate import encode_and_resample  # noqa: E402
from lsh_bench.unit import UnitJob, fold_data  # noqa: E402


def main(argv: list[str]) -> int:
    ratio = next((float(a.split("=", 1)[1]) for a in argv if a.startswith("ratio=")), 1.0)
    overrides = [a for a in argv if not a.startswith("ratio=")] + ["llm.cache_mode=readonly"]
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        cfg = validate(compose("config", overrides=overrides))
    (spec,) = cfg.dataset.values()
    ds = load_dataset(spec, cfg.data, cfg.preprocess.encoding)
    job = UnitJob(cfg, ds)     # the unit's split, ratios and samplers (LS's r0 included), as a sweep makes them
    if ratio not in job.plan.applicable:
        raise SystemExit(f"ratio {ratio} is not applicable here; applicable: {job.plan.applicable}")
    real, held_out, synthetic = [], [], []
    for part in job.split.folds:
        fold = fold_data(ds, part)
        X_tr, y_tr, X_va, *_ = encode_and_resample(fold, ds.schema, cfg.preprocess.name, job.sampler_for(ratio))
        n = len(fold.y_train)
        real.append(X_tr[:n][y_tr[:n] == 1])
        held_out.append(X_va[np.asarray(fold.y_val) == 1])
        synthetic.append(X_tr[n:])
    R, H, S = np.vstack(real), np.vstack(held_out), np.vstack(synthetic)
    rows = []
    for j, col in enumerate(ds.schema.names):
        rows.append({"column": col, **_stats("train minority", R[:, j]), **_stats("held-out minority", H[:, j]),
                     **_stats("LLM", S[:, j]), "LLM min": S[:, j].min(), "LLM max": S[:, j].max()})
    table = pd.DataFrame(rows)
    print(f"{ds.name} {cfg.scenario.name} {cfg.method.name} ratio {ratio} (5 folds): {len(R)} training minority "
          f"rows, {len(H)} held-out minority rows, {len(S)} LLM rows")
    print("| " + " | ".join(table.columns) + " |")
    print("|" + "---|" * len(table.columns))
    for _, r in table.iterrows():
        print("| " + " | ".join([r["column"]] + ["-" if pd.isna(v) else f"{v:.4g}" for v in r.iloc[1:]]) + " |")
    return 0


def _stats(label: str, values: np.ndarray) -> dict[str, float]:
    """Mean and sample sd of ``values``; NaN (printed "-") where there are too few rows."""
    mean = float(values.mean()) if len(values) else float("nan")
    sd = float(values.std(ddof=1)) if len(values) > 1 else float("nan")
    return {f"{label} mean": mean, f"{label} sd": sd}


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    sys.exit(main(sys.argv[1:]))
