"""Tables over every method at once: the Friedman/Nemenyi ranking and the signed-rank test of every pair.

Beyond the paper's three pairs (Tables 1/2, ``tables.py``): any method the
input holds is ranked and compared, so new samplers need no table code. The
statistics are computed in :mod:`lsh_bench.analysis.ranking`; this module
only lays them out as the DataFrames whose CSVs are the artefacts
(``friedman.csv``, ``ranking.csv``, ``signed_rank.csv``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from lsh_bench.analysis.errors import AnalysisInputError
from lsh_bench.analysis.load import methods_in
from lsh_bench.analysis.ranking import Ranking, signed_rank_test
from lsh_bench.analysis.stats import NSAMPLES, PAIRS, mean_margin, paired


def scored_methods(general: pd.DataFrame, only: tuple[str, ...] = ()) -> list[str]:
    """Methods to rank: those with any test F1 (or exactly ``only``, in the paper's order)."""
    methods = methods_in(general)
    if only:
        unknown = [m for m in only if m not in methods]
        if unknown:
            raise AnalysisInputError(
                f"rank_methods=: no such method(s) {', '.join(unknown)}; "
                f"the input has {', '.join(methods)}")
        return [m for m in methods if m in only]
    return [m for m in methods if general[f"{m}_t"].notna().any()]


def score_matrix(general: pd.DataFrame, methods: list[str], score: str = "t") -> pd.DataFrame:
    """Datasets x methods of ``<M>_<score>`` (``t`` = test F1, ``v`` = validation)."""
    table = general.set_index("dataset")[[f"{m}_{score}" for m in methods]].astype(float)
    table.columns = methods
    table.columns.name = None
    return table


#: Columns of friedman.csv.
FRIEDMAN_COLUMNS: tuple[str, ...] = (
    "methods", "k", "n", "n_dropped", "chi2", "p_value", "alpha", "critical_difference",
)


def friedman_table(r: Ranking) -> pd.DataFrame:
    """One row: the Friedman test over the complete datasets, and Nemenyi's CD."""
    return pd.DataFrame([{
        "methods": ", ".join(r.mean_ranks.index), "k": r.k, "n": r.n,
        "n_dropped": len(r.dropped), "chi2": r.chi2, "p_value": r.p_value,
        "alpha": r.alpha, "critical_difference": r.critical_difference,
    }], columns=list(FRIEDMAN_COLUMNS))


def ranking_table(r: Ranking) -> pd.DataFrame:
    """Per method, best mean rank first: mean rank, mean test F1 over the
    same datasets, and the Nemenyi p-value against every other method
    (columns ``p_vs_<M>``; 1 on the diagonal)."""
    order = list(r.mean_ranks.index)
    out = pd.DataFrame({
        "method": order,
        "mean_rank": r.mean_ranks.to_numpy(float),
        "mean_test_f1": r.scores[order].mean(axis=0).to_numpy(float),
        "n": r.n,
    })
    for m in order:
        out[f"p_vs_{m}"] = r.nemenyi.loc[order, m].to_numpy(float)
    return out


def method_pairs(methods: list[str]) -> list[tuple[str, str]]:
    """The paper's pairs first (when both are present), then every other pair
    (later method, earlier method) in ``methods`` order."""
    pairs = [(a, b) for a, b in PAIRS if a in methods and b in methods]
    for j, second in enumerate(methods):
        for first in methods[j + 1:]:
            if (first, second) not in pairs and (second, first) not in pairs:
                pairs.append((first, second))
    return pairs


SIGNED_RANK_COLUMNS: tuple[str, ...] = (
    "first", "second", "score", "n", "mean_margin", "p_first_better", "p_rope",
    "p_second_better",
)


def signed_rank(general: pd.DataFrame, methods: list[str], *, rope: float = 0.01,
                seed: int = 0, decimals: int = 4, nsamples: int = NSAMPLES) -> pd.DataFrame:
    """Bayesian signed-rank test (baycomp) for every pair of ``methods``.

    ``score`` = ``test`` compares test F1 (``*_t``, the paper's measure);
    ``cv`` compares the selected cells' mean CV fold F1 (``*_v``), which is
    what baycomp falls back to when the hierarchical test over the folds
    is not used (see docs). Each pair on the datasets where both have the
    score (n); scores rounded to ``decimals`` as in Table 1.
    """
    rows = []
    for score, col in (("test", "t"), ("cv", "v")):
        for first, second in method_pairs(methods):
            x, y = paired(general[f"{first}_{col}"], general[f"{second}_{col}"])
            x, y = np.round(x, decimals), np.round(y, decimals)
            pl, pe, pr = signed_rank_test(x, y, rope, seed, nsamples)
            rows.append({"first": first, "second": second, "score": score, "n": len(x),
                         "mean_margin": mean_margin(x, y), "p_first_better": pl,
                         "p_rope": pe, "p_second_better": pr})
    return pd.DataFrame(rows, columns=list(SIGNED_RANK_COLUMNS))
