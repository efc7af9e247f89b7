"""The paper's dataset meta-features, recomputed from a cleaned, encoded dataset.

As the paper's public table (``tests/fixtures/paper_meta/df_meta_new.csv``)
was computed (reproduced to ~1e-13 on the authors' files):

* columns: feature columns whose original values parse as numbers — every
  numeric column, plus nominal columns whose labels all look like numbers —
  with their *encoded* values (the nominal codes);
* ``iqr`` = percentile 75 - 25; ``FK`` = ``scipy.stats.kurtosis``, ``PK`` =
  FK + 3; ``skew`` = ``scipy.stats.skew``; ``coeff`` = std(ddof=1) / mean;
  ``cor`` = Pearson over every pair of columns (0 with fewer than two);
  summaries ``_min _max _avg _sd _var`` (``np.std``/``np.var``, ddof=0), all
  0 when no column qualifies;
* ``overlap_f2`` (Ho-Basu) over *all* encoded features: product of the
  per-feature overlap of the two classes' ranges; ``overlap_f3``: the largest
  Fisher ratio (mu1 - mu2)^2 / (s1^2 + s2^2), ddof=1.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from lsh_bench.data.loader import Dataset

SUMMARIES = ("min", "max", "avg", "sd", "var")


def _looks_numeric(labels: tuple[str, ...]) -> bool:
    try:
        [float(x) for x in labels]
    except ValueError:
        return False
    return bool(labels)


def encoded_matrix(ds: Dataset) -> np.ndarray:
    """The dataset as the paper's files held it: nominal codes of the run's encoding."""
    return ds.schema.model_codes(ds.schema.encode(ds.X))


def _summary(name: str, values: list[float]) -> dict[str, float]:
    if not values:
        return {f"{name}_{s}": 0.0 for s in SUMMARIES}
    v = np.asarray(values, dtype=float)
    return {f"{name}_min": v.min(), f"{name}_max": v.max(), f"{name}_avg": v.mean(),
            f"{name}_sd": np.std(v), f"{name}_var": np.var(v)}


def meta_features(ds: Dataset, numbers_in_source: frozenset[str] = frozenset()) -> dict[str, float]:
    """``numbers_in_source``: nominal columns whose labels were numbers in the paper's source (not in ours)."""
    M = encoded_matrix(ds)
    y = ds.y
    cols = [j for j, c in enumerate(ds.schema.columns)
            if c.kind == "numeric" or _looks_numeric(c.categories) or c.name in numbers_in_source]
    out: dict[str, float] = {"sample#": len(y), "feature#": M.shape[1]}
    X = M[:, cols]
    out |= _summary("iqr", [float(np.percentile(x, 75) - np.percentile(x, 25)) for x in X.T])
    fk = [float(stats.kurtosis(x)) for x in X.T]
    out |= _summary("FK", fk)
    out |= _summary("PK", [float(stats.kurtosis(x, fisher=False)) for x in X.T])
    out |= _summary("skew", [float(stats.skew(x)) for x in X.T])
    out |= _summary("coeff", [float(np.std(x, ddof=1) / np.mean(x)) for x in X.T])
    cor = []
    if X.shape[1] >= 2:
        c = np.corrcoef(X, rowvar=False)
        cor = [float(c[i, j]) for i in range(X.shape[1]) for j in range(i + 1, X.shape[1])]
    out |= _summary("cor", cor)
    a, b = M[y == 0], M[y == 1]
    f2 = 1.0
    for j in range(M.shape[1]):
        lo, hi = max(a[:, j].min(), b[:, j].min()), min(a[:, j].max(), b[:, j].max())
        span = max(a[:, j].max(), b[:, j].max()) - min(a[:, j].min(), b[:, j].min())
        f2 *= max(0.0, hi - lo) / span
    out["overlap_f2"] = f2
    fisher = [(a[:, j].mean() - b[:, j].mean()) ** 2 / (a[:, j].var(ddof=1) + b[:, j].var(ddof=1))
              for j in range(M.shape[1])]
    out["overlap_f3"] = float(np.max(fisher))
    return out


def paper_table(path) -> pd.DataFrame:
    table = pd.read_csv(path, dtype={"paper_row": str})
    return table.set_index("paper_row")
