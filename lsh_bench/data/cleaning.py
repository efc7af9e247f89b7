"""The paper's data preparation, applied to the whole dataset before any split.

The study's own data files were cleaned before its experiments; our copies
(mirror files, OpenML downloads) are raw. One rule, inferred from the paper's
Table 5 and checked against it on every mirrored dataset (``python -m
lsh_bench.data check``), reproduces its row and feature counts:

1. binarise the target (the mirror files and the loader's target rule do it);
2. drop feature columns with more than 15% missing values;
3. drop rows with any missing value;
4. drop near-zero-variance columns with caret's ``nearZeroVar`` defaults: a
   column goes if it has one distinct value, or if (count of its most frequent
   value / count of its second most frequent) > 95/5 *and* (distinct values /
   rows x 100) <= 10.

The paper cleaned before splitting, so we do too: the rule uses no label and
only the whole table's column statistics, the same for every fold. ``none``
keeps the raw table (missing values are then imputed per fold by
:class:`lsh_bench.models.preprocess.TableEncoder`).

After either rule, a column that is constant or entirely missing carries no
information and could only be filled with an invented value; it is refused
(``degenerate="error"``) or dropped with a note (``"drop"``), never filled.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from lsh_bench.errors import DatasetInvalid

CleaningRule = Literal["paper", "none"]
DegeneratePolicy = Literal["error", "drop"]

MAX_MISSING_FRACTION = 0.15       # step 2: a column with more missing than this goes
NZV_FREQ_CUT = 95 / 5             # caret::nearZeroVar(freqCut = 95/5)
NZV_UNIQUE_CUT = 10.0             # caret::nearZeroVar(uniqueCut = 10), percent


@dataclass(frozen=True)
class CleaningReport:
    """What the cleaning did to one dataset (goes into every unit's provenance)."""

    rule: str
    rows_before: int
    features_before: int
    rows_after: int
    features_after: int
    minority_before: int
    minority_after: int
    # column -> fraction of missing values (step 2)
    dropped_missing: dict[str, float] = field(default_factory=dict)
    rows_dropped_incomplete: int = 0
    # column -> why caret's rule removes it (step 4)
    dropped_near_zero_variance: dict[str, str] = field(default_factory=dict)
    # column -> why (constant / all missing), with degenerate="drop"
    dropped_degenerate: dict[str, str] = field(default_factory=dict)

    @property
    def dropped_columns(self) -> list[str]:
        return [*self.dropped_missing, *self.dropped_near_zero_variance, *self.dropped_degenerate]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        """One line: what was dropped and why."""
        parts = []
        if self.dropped_missing:
            parts.append(f">15% missing: {', '.join(self.dropped_missing)}")
        if self.rows_dropped_incomplete:
            parts.append(f"{self.rows_dropped_incomplete} incomplete rows")
        if self.dropped_near_zero_variance:
            parts.append(f"near-zero variance: {', '.join(self.dropped_near_zero_variance)}")
        if self.dropped_degenerate:
            parts.append(f"degenerate: {', '.join(self.dropped_degenerate)}")
        return "; ".join(parts) if parts else "nothing dropped"


def _distinct_counts(s: pd.Series) -> np.ndarray:
    """Counts of each distinct non-missing value, most frequent first."""
    return s.dropna().value_counts(sort=True).to_numpy()


def near_zero_variance_reason(s: pd.Series) -> str | None:
    """caret's ``nearZeroVar`` verdict for one complete column (``None`` = keep).

    caret: ``freqRatio`` = most frequent count / second most frequent count,
    ``percentUnique`` = 100 x distinct values / rows; a column is removed if
    it has one distinct value, or ``freqRatio > freqCut`` and
    ``percentUnique <= uniqueCut``.
    """
    counts = _distinct_counts(s)
    n = int(s.notna().sum())
    if len(counts) <= 1:
        return "one distinct value"
    freq_ratio = counts[0] / counts[1]
    percent_unique = 100.0 * len(counts) / n
    if freq_ratio > NZV_FREQ_CUT and percent_unique <= NZV_UNIQUE_CUT:
        return (f"most/second most frequent {counts[0]}/{counts[1]} = {freq_ratio:.4g} > {NZV_FREQ_CUT:g} "
                f"and {len(counts)} distinct in {n} rows = {percent_unique:.3g}% <= {NZV_UNIQUE_CUT:g}%")
    return None


def degenerate_reason(s: pd.Series) -> str | None:
    """Why a column can carry no information (``None`` = it can)."""
    if s.isna().all():
        return "all values missing"
    if s.dropna().nunique() <= 1:
        return "constant" if not s.isna().any() else "one value, the rest missing"
    return None


def clean(
    X: pd.DataFrame, y: np.ndarray, rule: CleaningRule = "paper", degenerate: DegeneratePolicy = "error",
    name: str = "dataset",
) -> tuple[pd.DataFrame, np.ndarray, CleaningReport]:
    """Apply ``rule`` to the whole table; returns the cleaned table, its target and the report.

    Raises :class:`DatasetInvalid` naming the dataset when the result is
    unusable: no row or no feature left, one class left, or (with
    ``degenerate="error"``) a constant or all-missing column.
    """
    y = np.asarray(y)
    before = {"rows_before": len(X), "features_before": X.shape[1], "minority_before": int((y == 1).sum())}
    dropped_missing: dict[str, float] = {}
    dropped_nzv: dict[str, str] = {}
    n_incomplete = 0
    if rule == "paper":
        frac = X.isna().mean(axis=0) if len(X) else pd.Series(0.0, index=X.columns)
        dropped_missing = {str(c): round(float(f), 4) for c, f in frac.items() if f > MAX_MISSING_FRACTION}
        X = X.drop(columns=list(dropped_missing))
        complete = X.notna().all(axis=1).to_numpy() if X.shape[1] else np.ones(len(X), dtype=bool)
        n_incomplete = int((~complete).sum())
        X, y = X.loc[complete], y[complete]
        if len(X):
            for c in X.columns:
                reason = near_zero_variance_reason(X[c])
                if reason is not None:
                    dropped_nzv[str(c)] = reason
            X = X.drop(columns=list(dropped_nzv))
    elif rule != "none":
        raise ValueError(f"cleaning rule must be 'paper' or 'none', got {rule!r}")
    X = X.reset_index(drop=True)
    dropped_degenerate: dict[str, str] = {}
    if len(X):
        bad = {str(c): r for c in X.columns if (r := degenerate_reason(X[c])) is not None}
        if bad and degenerate == "error":
            listed = "; ".join(f"{c!r}: {r}" for c, r in bad.items())
            raise DatasetInvalid(
                f"dataset {name!r}: after cleaning={rule}, {len(bad)} column(s) carry no information ({listed}); "
                f"set data.degenerate_columns=drop to drop them (recorded), or data.cleaning=paper"
            )
        dropped_degenerate = bad
        X = X.drop(columns=list(bad))
    report = CleaningReport(
        rule=rule, **before, rows_after=len(X), features_after=X.shape[1], minority_after=int((y == 1).sum()),
        dropped_missing=dropped_missing, rows_dropped_incomplete=n_incomplete,
        dropped_near_zero_variance=dropped_nzv, dropped_degenerate=dropped_degenerate,
    )
    _check_usable(report, y, name)
    return X, y, report


def _check_usable(report: CleaningReport, y: np.ndarray, name: str) -> None:
    what = f"dataset {name!r}: cleaning={report.rule} ({report.summary()})"
    if report.rows_after == 0:
        raise DatasetInvalid(f"{what} left no rows (of {report.rows_before})")
    if report.features_after == 0:
        raise DatasetInvalid(f"{what} left no feature column (of {report.features_before})")
    classes = sorted(set(np.unique(y).tolist()))
    if classes != [0, 1]:
        raise DatasetInvalid(f"{what} left one class only: {report.rows_after} rows, all of class {classes} "
                             f"(expected both 0 = majority and 1 = minority)")
