"""The shortcut contract (lsh_bench.models.fit_context): version guard, sharing through serve, timing apart."""

from __future__ import annotations

import numpy as np
import pandas as pd

from lsh_bench.data.schema import FeatureSchema
from lsh_bench.models import fast
from lsh_bench.models.fit_context import CostLedger, Family, installed_version, versions_match
from lsh_bench.models.grid import expand_grid
from tests.models.test_fast_exact import reference, small_grid, tie_data


def test_versions_match_only_the_installed_ones() -> None:
    sklearn = installed_version("scikit-learn")
    assert sklearn is not None and versions_match({"scikit-learn": sklearn})
    assert not versions_match({"scikit-learn": "0.0.1"}) and not versions_match({"no-such-dist": "1"})
    assert all(f.applies() for f in fast.FAMILIES), "a family's mirrored versions are not installed"


def test_a_family_checked_against_other_versions_serves_nothing_and_scores_stay_exact() -> None:
    X_tr, y_tr, X_va, y_va = tie_data(0)
    schema = FeatureSchema.infer(pd.DataFrame(X_tr))
    cells = expand_grid(small_grid())
    called = []
    stale = Family("stale", {"scikit-learn": "0.0.1"}, lambda ctx, positions: called.append(positions))
    f1, seconds = fast.score_cells_fast(cells, schema, "paper", X_tr, y_tr, X_va, y_va, families=[stale])
    assert called == [] and f1 == reference(cells, schema, "paper", X_tr, y_tr, X_va, y_va)
    assert len(seconds) == len(cells) and all(s > 0 for s in seconds)


def test_shared_seconds_are_split_equally() -> None:
    ledger = CostLedger(4)
    ledger.charge([0, 1, 3], 3.0)
    ledger.add(1, 0.5)
    assert ledger.seconds == [1.0, 1.5, 0.0, 1.0] and np.isclose(sum(ledger.seconds), 3.5)
