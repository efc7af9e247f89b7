"""Fast exact grid scoring: shares model fits between cells where provably identical.

Placeholder: fits every cell on the shared resampled matrix (the sharing of
encoding and resampling happens in :func:`lsh_bench.models.evaluate.evaluate_shared`).
"""

from __future__ import annotations

import time

import numpy as np

from lsh_bench.data.schema import FeatureSchema
from lsh_bench.models.grid import Cell
from lsh_bench.models.preprocess import Mode


def score_cells_fast(
    cells: list[Cell],
    schema: FeatureSchema,
    mode: Mode,
    X_tr: np.ndarray,
    y_tr: np.ndarray,
    X_va: np.ndarray,
    y_va: np.ndarray,
) -> tuple[list[float], list[float]]:
    """F1 and seconds per cell, same order as ``cells``."""
    from lsh_bench.models.evaluate import fit_predict_cell, minority_f1

    f1, seconds = [], []
    for cell in cells:
        t0 = time.perf_counter()
        f1.append(minority_f1(y_va, fit_predict_cell(cell, schema, mode, X_tr, y_tr, X_va)))
        seconds.append(time.perf_counter() - t0)
    return f1, seconds
