"""The paper's cleaning rule on small tables where every outcome is known."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lsh_bench.data.cleaning import clean, near_zero_variance_reason
from lsh_bench.errors import DatasetInvalid


def _y(n: int, n_min: int) -> np.ndarray:
    return np.array([1] * n_min + [0] * (n - n_min))


def test_near_zero_variance_is_carets_rule() -> None:
    # 96 of one value, 4 of another: ratio 24 > 19 and 2 distinct in 100 rows = 2% <= 10% -> dropped
    assert near_zero_variance_reason(pd.Series([0] * 96 + [1] * 4)) is not None
    # exactly 95/5 = 19 is not above the cut -> kept
    assert near_zero_variance_reason(pd.Series([0] * 95 + [1] * 5)) is None
    # ratio 80 > 19 but 21 distinct in 100 rows = 21% > 10% -> kept
    assert near_zero_variance_reason(pd.Series([0] * 80 + [1] + list(range(2, 21)) * 1)) is None
    # one distinct value -> dropped, whatever the rest
    assert near_zero_variance_reason(pd.Series(["a"] * 10)) == "one distinct value"
    # labels count as distinct strings ('1' and '1.0' are two labels)
    assert near_zero_variance_reason(pd.Series(["1"] * 5 + ["1.0"] * 5)) is None


def test_columns_with_over_15_percent_missing_go_first_then_incomplete_rows() -> None:
    n = 100
    X = pd.DataFrame({
        "many_missing": [np.nan] * 16 + list(range(84)),        # 16% > 15%: column dropped, rows kept
        "some_missing": [np.nan] * 15 + list(range(85)),        # 15%: kept, its 15 rows dropped
        "full": np.arange(n, dtype=float),
        "label": ["a", "b"] * 50,
    })
    y = _y(n, 30)
    Xc, yc, rep = clean(X, y, "paper", name="toy")
    assert list(Xc.columns) == ["some_missing", "full", "label"]
    assert rep.dropped_missing == {"many_missing": 0.16}
    assert rep.rows_dropped_incomplete == 15 and len(Xc) == 85 and len(yc) == 85
    assert (rep.rows_before, rep.features_before, rep.rows_after, rep.features_after) == (100, 4, 85, 3)
    assert rep.minority_before == 30 and rep.minority_after == 15 and int(yc.sum()) == 15
    assert not Xc.isna().any().any()
    assert "many_missing" in rep.summary() and "15 incomplete rows" in rep.summary()


def test_near_zero_variance_is_judged_after_the_rows_are_dropped() -> None:
    # 'rare' has its only second value in the rows that go: constant afterwards -> dropped
    X = pd.DataFrame({"x": [np.nan] * 2 + list(range(38)), "rare": [1, 1] + [0] * 38,
                      "ok": list(range(40))})
    Xc, _, rep = clean(X, _y(40, 10), "paper")
    assert list(Xc.columns) == ["x", "ok"]
    assert rep.dropped_near_zero_variance == {"rare": "one distinct value"}


def test_none_keeps_the_raw_table() -> None:
    X = pd.DataFrame({"a": [1.0, np.nan, 3.0, 4.0], "b": ["x", "y", "x", "y"]})
    Xc, yc, rep = clean(X, np.array([1, 0, 1, 0]), "none")
    pd.testing.assert_frame_equal(Xc, X)
    assert rep.rule == "none" and rep.dropped_columns == [] and rep.rows_dropped_incomplete == 0


def test_constant_or_empty_column_is_refused_or_dropped_never_filled() -> None:
    X = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0], "const": [7, 7, 7, 7], "empty": [np.nan] * 4})
    y = np.array([1, 0, 1, 0])
    with pytest.raises(DatasetInvalid, match=r"'toy': after cleaning=none, 2 column\(s\) carry no information "
                                             r"\('const': constant; 'empty': all values missing\)"):
        clean(X, y, "none", "error", name="toy")
    Xc, _, rep = clean(X, y, "none", "drop", name="toy")
    assert list(Xc.columns) == ["a"]
    assert rep.dropped_degenerate == {"const": "constant", "empty": "all values missing"}


def test_cleaning_that_empties_the_dataset_is_one_clear_error() -> None:
    # 'a' is 2/7 = 28.6% missing: it goes; the row missing 'b' (the only minority row) goes too
    X = pd.DataFrame({"a": [1.0, np.nan, 3.0, np.nan, 5.0, 6.0, 7.0], "b": [np.nan, 1, 2, 3, 4, 5, 6.0]})
    y = np.array([1, 0, 0, 0, 0, 0, 0])
    with pytest.raises(DatasetInvalid, match=r"'toy': cleaning=paper .* left one class only: 6 rows, all of class \[0\]"):
        clean(X, y, "paper", name="toy")
    # 10 columns, each 10% missing (kept), arranged so that every one of the 20 rows has a gap
    gaps = pd.DataFrame({f"c{j}": [np.nan if i // 2 == j else float(i) for i in range(20)] for j in range(10)})
    with pytest.raises(DatasetInvalid, match=r"'toy': cleaning=paper .*20 incomplete rows.* left no rows \(of 20\)"):
        clean(gaps, np.array([1, 0] * 10), "paper", name="toy")
