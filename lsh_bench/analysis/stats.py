"""Statistics of the paper's Tables 1-2 and its correlation figures.

Pure functions on arrays: no I/O, no pandas tables beyond plain Series, so
every number can be checked by hand in a unit test.

Conventions (the paper's):
- a *pair* is (first, second), e.g. (LS, SM); the *margin* is first - second
  of test F1 (``LS_t - SM_t``);
- a *tie* is equality after rounding both scores to ``decimals`` (4: the
  paper rounds every F1 to 4 decimals);
- the Bayesian sign test (baycomp) reports P(first better), P(practically
  equal: |difference| <= rope), P(second better).
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass

import baycomp
import numpy as np
import pandas as pd
from scipy import stats as sps

from lsh_bench.analysis.errors import AnalysisInputError

#: The paper's three comparisons, (first, second): margin = first - second.
PAIRS: tuple[tuple[str, str], ...] = (("LM", "SM"), ("LS", "LM"), ("LS", "SM"))
#: The paper's methods in the paper's column order.
METHODS: tuple[str, ...] = ("SM", "LM", "LS")
#: Imbalance groups, most imbalanced (largest IR) first.
IR_GROUPS: tuple[str, ...] = ("more", "mid", "less")
#: Fewest datasets a group may hold before its statistics mean nothing.
MIN_GROUP_SIZE = 3
#: baycomp's default posterior sample size.
NSAMPLES = 50_000


@dataclass(frozen=True)
class PairStats:
    """One row of Table 1/2 (without the pair and group names)."""

    n: int
    wins: int
    ties: int
    losses: int
    mean_margin: float
    p_first_better: float
    p_rope: float
    p_second_better: float

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)


def paired(first: pd.Series, second: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Scores of the datasets where *both* methods have a score.

    A method that was not applicable (the paper's N/A) or has not run yet is
    NaN; a pair can only be compared where both exist, so n is reported.
    """
    both = first.notna() & second.notna()
    return first[both].to_numpy(dtype=float), second[both].to_numpy(dtype=float)


def win_tie_loss(x: np.ndarray, y: np.ndarray, decimals: int = 4) -> tuple[int, int, int]:
    """Wins/ties/losses of ``x`` against ``y``; tie = equal after rounding."""
    xr, yr = np.round(x, decimals), np.round(y, decimals)
    return int(np.sum(xr > yr)), int(np.sum(xr == yr)), int(np.sum(xr < yr))


def mean_margin(x: np.ndarray, y: np.ndarray) -> float:
    """Mean of first - second; NaN when there is no pair."""
    return float(np.mean(x - y)) if len(x) else float("nan")


def sign_test_posterior(
    x: np.ndarray, y: np.ndarray, rope: float, seed: int, nsamples: int = NSAMPLES
) -> np.ndarray:
    """Posterior sample of the Bayesian sign test, shape (nsamples, 3).

    Columns follow baycomp's order, checked against its source
    (``baycomp/multiple.py``, ``SignTest.sample``): it takes
    ``diff = y - x`` and counts ``[diff < -rope, rope, diff > rope]``, so
    column 0 is "x (first) better", 1 "practically equal", 2 "y (second)
    better".
    """
    return baycomp.SignTest(
        x, y, rope, nsamples=nsamples, random_state=seed
    ).sample


def sign_test(
    x: np.ndarray, y: np.ndarray, rope: float = 0.01, seed: int = 0,
    nsamples: int = NSAMPLES,
) -> tuple[float, float, float]:
    """(P(first better), P(practically equal), P(second better)).

    ``baycomp.SignTest.probs`` returns (p_left, p_rope, p_right) with left =
    x better (see :func:`sign_test_posterior`). With rope 0 it drops the
    middle value, so that case reads the posterior directly to keep three
    columns. No pair at all gives NaNs, not baycomp's prior.
    """
    if len(x) == 0:
        return (float("nan"),) * 3
    if rope > 0:
        pl, pe, pr = baycomp.SignTest.probs(
            x, y, rope=rope, nsamples=nsamples, random_state=seed
        )
    else:
        pl, pe, pr = baycomp.SignTest(
            x, y, rope, nsamples=nsamples, random_state=seed
        ).probs(with_rope=True)
    return float(pl), float(pe), float(pr)


def compare(
    first: pd.Series, second: pd.Series, *, rope: float = 0.01, seed: int = 0,
    decimals: int = 4, nsamples: int = NSAMPLES,
) -> PairStats:
    """All statistics of one pair on the datasets where both have a score.

    Scores are rounded to ``decimals`` before the sign test as well, so a
    tie in W/T/L is exactly a zero difference for baycomp.
    """
    x, y = paired(first, second)
    x, y = np.round(x, decimals), np.round(y, decimals)
    w, t, l = win_tie_loss(x, y, decimals)
    pl, pe, pr = sign_test(x, y, rope, seed, nsamples)
    return PairStats(len(x), w, t, l, mean_margin(x, y), pl, pe, pr)


def group_sizes(n: int) -> tuple[int, int, int]:
    """Sizes of the more/mid/less groups for n datasets.

    Equal thirds (20/20/20 for 60); a remainder goes to the more imbalanced
    groups first (61 -> 21/20/20, 62 -> 21/21/20), as ``numpy.array_split``.
    """
    q, r = divmod(n, 3)
    return tuple(q + (1 if i < r else 0) for i in range(3))  # type: ignore[return-value]


def ir_groups(ir: pd.Series, min_size: int = MIN_GROUP_SIZE) -> pd.Series:
    """IR group ("more"/"mid"/"less") of each dataset; index = dataset name.

    Datasets are sorted by IR descending (more imbalanced first), ties of IR
    broken by dataset name ascending (a stable, documented order), then cut
    by position into :func:`group_sizes`. Equal IRs at a group edge can
    therefore land in different groups: the name decides, never the input
    order. Raises :class:`AnalysisInputError` when a group would hold fewer
    than ``min_size`` datasets.
    """
    if ir.isna().any():
        missing = ", ".join(map(str, ir.index[ir.isna()]))
        raise AnalysisInputError(f"IR is missing for datasets: {missing}")
    order = pd.DataFrame({"dataset": ir.index.astype(str), "ir": ir.to_numpy(float)})
    order = order.sort_values("dataset", kind="mergesort").sort_values(
        "ir", ascending=False, kind="mergesort"
    )
    sizes = group_sizes(len(order))
    if min(sizes) < min_size:
        raise AnalysisInputError(
            f"IR groups need at least {min_size} datasets each; {len(order)} "
            f"datasets give more/mid/less = {sizes[0]}/{sizes[1]}/{sizes[2]}"
        )
    labels = np.repeat(np.array(IR_GROUPS), sizes)
    return pd.Series(labels, index=order["dataset"].to_numpy(), name="ir_group")


def correlation(x: pd.Series | np.ndarray, y: pd.Series | np.ndarray) -> dict[str, float]:
    """Pearson and Spearman of x vs y over the pairs where both exist.

    Fewer than 3 pairs or a constant side gives NaN (scipy would warn or
    report a meaningless p = 1); n is always reported.
    """
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    ok = ~(np.isnan(x) | np.isnan(y))
    x, y = x[ok], y[ok]
    out = {"n": int(len(x)), "pearson_r": np.nan, "pearson_p": np.nan,
           "spearman_rho": np.nan, "spearman_p": np.nan}
    if len(x) < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return out
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pr = sps.pearsonr(x, y)
        sr = sps.spearmanr(x, y)
    out.update(pearson_r=float(pr.statistic), pearson_p=float(pr.pvalue),
               spearman_rho=float(sr.statistic), spearman_p=float(sr.pvalue))
    return out


def achievement_summary(values: pd.Series | np.ndarray) -> dict[str, float]:
    """Mean and std of achievement rates (``*_a`` = test / validation).

    ``std_ddof0`` is the population standard deviation, ``np.std`` (ddof=0):
    what the paper's code (notebook 4, "achievement rate") computed for its
    0.1888/0.1739/0.1303. ``std`` is the sample one (ddof=1, pandas'
    default), given beside it because it is the usual estimate.
    """
    v = np.asarray(values, dtype=float)
    v = v[~np.isnan(v)]
    n = len(v)
    return {
        "n": n,
        "mean": float(np.mean(v)) if n else np.nan,
        "std": float(np.std(v, ddof=1)) if n > 1 else np.nan,
        "std_ddof0": float(np.std(v, ddof=0)) if n else np.nan,
    }


def achievement_rate(val: pd.Series, test: pd.Series) -> pd.Series:
    """``*_a`` = test / validation; NaN where either is missing or val is 0."""
    val = val.astype(float)
    return (test.astype(float) / val.where(val != 0)).astype(float)
