"""Rank every method at once: Friedman test, Nemenyi post-hoc, critical difference.

The paper compares methods two at a time (sign tests, Tables 1-2). With
more methods (ORG, Borderline, ADASYN, SS, seed variants...) a reader wants
one ranking: per dataset the methods are ranked on test F1 (1 = best),
the Friedman test asks whether the mean ranks differ at all, and the
Nemenyi post-hoc test says which pairs differ (Demšar 2006, JMLR 7). The
critical-difference (CD) diagram draws the same.

Libraries: ``scipy.stats.friedmanchisquare`` for the Friedman test and
``scikit_posthocs.posthoc_nemenyi_friedman`` for the Nemenyi p-values (and
its CD diagram in :mod:`.figures`). autorank was not used: it needs at
least 5 datasets (the committed smoke store has 3), does not check for
missing scores (a NaN silently gave one method a mean rank over fewer
datasets than the others), may switch to ANOVA/Tukey on its own, and
prints to stdout.

Missing results (the paper's N/A, units not run or failed): the Friedman
test needs a complete block design, so methods are ranked on the datasets
where *every* ranked method has a test F1 (complete cases); the dropped
datasets are returned with the methods they lack, and the report lists
them. A method with no score at all is left out of the ranking (and
named) rather than emptying it. Imputing a score would invent results.

Pure functions; the only randomness is the seeded signed-rank test.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import baycomp
import numpy as np
import pandas as pd
import scikit_posthocs
from scipy import stats as sps

from lsh_bench.analysis.errors import AnalysisInputError

#: Fewest methods for a ranking: with two, Tables 1-2 already say it all.
MIN_METHODS = 3
#: Fewest complete datasets: one dataset ranks, it does not test anything.
MIN_DATASETS = 2
#: Significance level of the Nemenyi test and the CD.
ALPHA = 0.05


@dataclass
class Ranking:
    """The Friedman/Nemenyi analysis of one score table (datasets x methods).

    ``scores``: the complete cases that were ranked (rounded), index =
    dataset. ``ranks``: per dataset, 1 = best (ties share the mean rank).
    ``mean_ranks``: sorted best first. ``nemenyi``: method x method p-values.
    ``dropped``: dataset -> methods without a score there.
    ``unranked``: methods left out because they have no score at all.
    """

    scores: pd.DataFrame
    ranks: pd.DataFrame
    mean_ranks: pd.Series
    chi2: float
    p_value: float
    nemenyi: pd.DataFrame
    critical_difference: float
    alpha: float = ALPHA
    dropped: dict[str, list[str]] = field(default_factory=dict)
    unranked: list[str] = field(default_factory=list)

    @property
    def n(self) -> int:
        return len(self.scores)

    @property
    def k(self) -> int:
        return self.scores.shape[1]


def complete_cases(scores: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, list[str]], list[str]]:
    """Split a datasets x methods table into the rankable part and what was left out.

    Returns (complete rows of the methods that have any score, dropped
    datasets -> their missing methods, methods with no score at all).
    """
    unranked = [m for m in scores.columns if scores[m].isna().all()]
    kept = scores.drop(columns=unranked)
    missing = kept.isna()
    dropped = {str(ds): [m for m in kept.columns if missing.loc[ds, m]]
               for ds in kept.index[missing.any(axis=1)]}
    return kept[~missing.any(axis=1)], dropped, unranked


def rank_per_dataset(scores: pd.DataFrame) -> pd.DataFrame:
    """Rank the methods within each dataset: 1 = highest score, ties averaged."""
    return scores.rank(axis=1, ascending=False, method="average")


def critical_difference(k: int, n: int, alpha: float = ALPHA) -> float:
    """Nemenyi's CD = q_alpha * sqrt(k (k + 1) / (6 n)) (Demšar 2006, eq. 5).

    q_alpha is the studentized range quantile for k groups and infinite
    degrees of freedom divided by sqrt(2) (Demšar's table: 2.343 for k = 3,
    2.569 for k = 4 at alpha 0.05).
    """
    q = sps.studentized_range.ppf(1 - alpha, k, np.inf) / math.sqrt(2)
    return float(q * math.sqrt(k * (k + 1) / (6.0 * n)))


def friedman(scores: pd.DataFrame) -> tuple[float, float]:
    """Friedman chi-square and p-value (scipy, with its tie correction).

    Every method tied on every dataset gives NaN (no evidence either way)
    instead of scipy's division by zero.
    """
    ranks = rank_per_dataset(scores)
    if (ranks.nunique(axis=1) == 1).all():
        return float("nan"), float("nan")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # small-n warnings: n and k are reported instead
        res = sps.friedmanchisquare(*(scores[m].to_numpy(float) for m in scores.columns))
    return float(res.statistic), float(res.pvalue)


def nemenyi(scores: pd.DataFrame) -> pd.DataFrame:
    """Nemenyi post-hoc p-values for every pair (scikit-posthocs).

    scikit-posthocs ranks ascending; the p-values depend only on the
    absolute differences of mean ranks, so the direction does not matter.
    """
    p = scikit_posthocs.posthoc_nemenyi_friedman(scores.reset_index(drop=True))
    return p.loc[list(scores.columns), list(scores.columns)].astype(float)


def rank_methods(scores: pd.DataFrame, decimals: int = 4, alpha: float = ALPHA) -> Ranking:
    """The full ranking of a datasets x methods table of test F1.

    Scores are rounded to ``decimals`` first, so a tie in W/T/L is a tie in
    rank too. Raises :class:`AnalysisInputError` when fewer than
    :data:`MIN_METHODS` methods have scores or fewer than
    :data:`MIN_DATASETS` datasets are complete.
    """
    kept, dropped, unranked = complete_cases(scores.astype(float).round(decimals))
    if kept.shape[1] < MIN_METHODS:
        have = ", ".join(kept.columns) or "none"
        raise AnalysisInputError(
            f"ranking needs at least {MIN_METHODS} methods with results; have {have}")
    if len(kept) < MIN_DATASETS:
        raise AnalysisInputError(
            f"ranking needs at least {MIN_DATASETS} datasets where all of "
            f"{', '.join(kept.columns)} have a test F1; found {len(kept)}")
    ranks = rank_per_dataset(kept)
    mean_ranks = ranks.mean(axis=0)
    order = sorted(mean_ranks.index, key=lambda m: (mean_ranks[m], m))
    chi2, p = friedman(kept)
    return Ranking(
        scores=kept, ranks=ranks, mean_ranks=mean_ranks[order], chi2=chi2, p_value=p,
        nemenyi=nemenyi(kept), critical_difference=critical_difference(len(order), len(kept), alpha),
        alpha=alpha, dropped=dropped, unranked=unranked,
    )


def signed_rank_test(
    x: np.ndarray, y: np.ndarray, rope: float = 0.01, seed: int = 0, nsamples: int = 50_000,
) -> tuple[float, float, float]:
    """Bayesian signed-rank test (baycomp): (P(first better), P(rope), P(second better)).

    Same orientation as the sign test (baycomp takes ``y - x``; "left" is
    x better). Unlike the sign test it weighs how large the differences
    are. ``probs(with_rope=True)`` keeps three values also for rope 0
    (the middle one is then 0). No pair gives NaNs.

    Cost: baycomp loops over the posterior draws in Python (an n x n outer
    product each), about 1.4 s of CPU per pair at 50,000 draws and 60 datasets.
    """
    if len(x) == 0:
        return (float("nan"),) * 3
    post = baycomp.SignedRankTest(np.asarray(x, float), np.asarray(y, float), rope,
                                  nsamples=nsamples, random_state=seed)
    pl, pe, pr = post.probs(with_rope=True)
    return float(pl), float(pe), float(pr)
