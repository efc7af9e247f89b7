"""Draw Figure 1 (real rows and SMOTE rows on the PCA of the real rows) for one dataset and training part.

The rows are made here exactly as a sweep makes them: the dataset from the
mirror, the protocol's split and folds, the training part encoded with its
own statistics (``preprocess``), SMOTE with the config's ``seeds.sampler``
and ``k_neighbors``. LM and LS panels need their rows replayed from the LLM
cache; that wiring comes with the runner's sampler registry, so this script
draws ORG and SM only.

    PYTHONPATH=$PWD .venv/bin/python scripts/figure_rows.py --dataset haberman --fold 0 --out /tmp/fig

``--fold -1`` is the refit (the whole 70%). ``--ratio`` defaults to 1.0
(balanced: the most synthetic rows, where the methods differ most).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hydra import compose, initialize_config_dir  # noqa: E402

from lsh_bench.analysis.figures_rows import RowsView, figure1_rows  # noqa: E402
from lsh_bench.config import BenchConfig, validate  # noqa: E402
from lsh_bench.data.loader import load_dataset  # noqa: E402
from lsh_bench.data.splits import make_split  # noqa: E402
from lsh_bench.protocol import rows_to_add  # noqa: E402
from lsh_bench.models.preprocess import TableEncoder, categorical_for_sampler  # noqa: E402
from lsh_bench.samplers.smote import smote_for  # noqa: E402


def compose_config(dataset: str, preprocess: str, extra: list[str]) -> BenchConfig:
    overrides = [f"dataset={dataset}", f"preprocess={preprocess}", "method=sm", *extra]
    mirror = ROOT.parent / "shared" / "datasets"
    if "LSH_BENCH_DATA" not in os.environ and (mirror / "manifest.csv").is_file():
        overrides.append(f"data.mirror_dirs=[{mirror}]")
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        return validate(compose("config", overrides=overrides))


def sm_view(cfg: BenchConfig, fold: int, ratio: float) -> RowsView:
    """Real rows of one training part and the rows SMOTE adds to reach ``ratio``."""
    (spec,) = cfg.dataset.values()
    ds = load_dataset(spec, cfg.data)
    split = make_split(ds.y, cfg.protocol, cfg.seeds, cfg.scenario, ds.name)
    part = split.refit if fold == -1 else split.folds[fold]
    mode = cfg.preprocess.name
    X_raw, y = ds.X.iloc[part.train], ds.y[part.train]
    X = TableEncoder(ds.schema, mode).fit(X_raw).transform(X_raw)
    n_min, n_maj = int((y == 1).sum()), int((y == 0).sum())
    if rows_to_add(ratio, n_minority=n_min, n_majority=n_maj) < 1:
        raise SystemExit(f"{ds.name}: ratio {ratio} is not applicable to this training part "
                         f"({n_min} minority / {n_maj} majority)")
    smote = smote_for(ratio, k_neighbors=cfg.method.k_neighbors, random_state=cfg.seeds.sampler,
                      categorical_features=categorical_for_sampler(ds.schema, mode), n_features=len(ds.schema))
    X_res, _ = smote.fit_resample(X, y)
    label = "refit (whole 70%)" if fold == -1 else f"fold {fold}"
    return RowsView(ds.name, f"{label}, ratio {ratio:g}, preprocess={mode}", X[y == 1], X[y == 0],
                    {"SM": np.asarray(X_res[len(X):])})


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--dataset", default="haberman")
    p.add_argument("--fold", type=int, default=0)
    p.add_argument("--ratio", type=float, default=1.0)
    p.add_argument("--preprocess", default="paper")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--set", action="append", default=[], help="extra Hydra override (repeatable)")
    args = p.parse_args(argv)
    cfg = compose_config(args.dataset, args.preprocess, args.set)
    for path in figure1_rows(sm_view(cfg, args.fold, args.ratio), args.out,
                             stem=f"figure1_rows_{args.dataset}_fold{args.fold}"):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
