"""Several results stores read as one (``results=A,B``).

Why: a sweep of one method lives in its own store (SM on every dataset in
``results/sweeps/sm_clean``, LS in ``results/sweeps/ls_local``), and a
researcher's new sampler in theirs; the paper's tables compare them. The
reading itself stays in :func:`lsh_bench.analysis.load.load_results`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from lsh_bench.analysis.errors import AnalysisInputError


def results_dirs(results: str | Path | Sequence[str | Path]) -> list[Path]:
    """``results=`` -> the store directories it names: one path, or several joined by commas."""
    items = [str(r) for r in results] if isinstance(results, (list, tuple)) else str(results).split(",")
    dirs = [Path(item.strip()) for item in items if item.strip()]
    if not dirs:
        raise AnalysisInputError("results=: no results directory given")
    if len(set(dirs)) < len(dirs):
        raise AnalysisInputError(f"results=: a directory is named twice: {', '.join(map(str, dirs))}")
    return dirs


def check_no_unit_in_two_stores(summary: pd.DataFrame) -> None:
    """A unit (dataset, scenario, method, config hash) in two stores (column ``_store``) is an error naming both."""
    key = [c for c in ("dataset", "scenario", "method", "config_hash") if c in summary]
    stores = summary.groupby(key, sort=True)["_store"].unique()
    twice = stores[stores.map(len) > 1]
    if len(twice):
        shown = [f"{'/'.join(map(str, k))} in {' and '.join(v)}" for k, v in twice.items()]
        raise AnalysisInputError(f"the same unit in several results stores: {'; '.join(shown[:5])}"
                                 + (f" (and {len(shown) - 5} more)" if len(shown) > 5 else ""))
