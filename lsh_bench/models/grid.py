"""The classifier grid (paper Table 4) as an ordered list of cells.

The order is the selection tie-break (docs/protocol.md, "Selection"): classifier LR, DT,
SVM, kNN, LGBM (``order`` in ``conf/classifier/*.yaml``), then each grid in
the order its parameters are written, the last parameter varying fastest.
"""

from __future__ import annotations

import importlib
import itertools
import json
from dataclasses import dataclass, field
from typing import Any

from lsh_bench.config import ClassifierSpec


@dataclass(frozen=True)
class Cell:
    """One (classifier, hyper-parameters) combination."""

    index: int                       # position in tie-break order
    classifier: str                  # paper name: LR, DT, SVM, kNN, LGBM
    spec: ClassifierSpec = field(repr=False, compare=False)
    params: tuple[tuple[str, Any], ...] = ()

    @property
    def param_dict(self) -> dict[str, Any]:
        return dict(self.params)

    @property
    def params_json(self) -> str:
        return json.dumps(self.param_dict, sort_keys=False)


def expand_grid(classifiers: list[ClassifierSpec]) -> list[Cell]:
    """All cells, in tie-break order."""
    cells: list[Cell] = []
    for spec in sorted(classifiers, key=lambda c: c.order):
        keys = list(spec.grid)
        for values in itertools.product(*(spec.grid[k] for k in keys)):
            cells.append(Cell(len(cells), spec.name, spec, tuple(zip(keys, values))))
    return cells


def _import(path: str) -> type:
    module, _, name = path.rpartition(".")
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as exc:
        raise ImportError(f"classifier estimator {path!r} cannot be imported: {exc}") from exc


def build_estimator(cell: Cell) -> Any:
    """A fresh, unfitted estimator for the cell (fixed settings + grid point)."""
    cls = _import(cell.spec.estimator)
    return cls(**{**cell.spec.fixed, **cell.param_dict})
