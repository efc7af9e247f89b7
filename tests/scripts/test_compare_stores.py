"""scripts/compare_stores.py: identical stores pass; any changed score, cell or unit fails (exit 1)."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

import compare_stores  # noqa: E402

STORE = ROOT / "tests" / "fixtures" / "analysis" / "store_smoke"


def _copy(tmp_path: Path) -> Path:
    dst = tmp_path / "copy"
    shutil.copytree(STORE, dst)
    return dst


def test_a_store_equals_its_copy(tmp_path: Path, capsys) -> None:
    assert compare_stores.main([str(STORE), str(_copy(tmp_path))]) == 0
    out = capsys.readouterr().out
    assert "units compared: 3 (3 done); identical: 3; differing: 0" in out and "RESULT: IDENTICAL" in out


def test_a_changed_cell_score_or_choice_is_a_difference(tmp_path: Path, capsys) -> None:
    other = _copy(tmp_path)
    haberman = next(other.glob("units/general/sm/haberman/*"))
    unit = json.loads((haberman / "unit.json").read_text())
    unit["test_f1"] += 1e-12
    (haberman / "unit.json").write_text(json.dumps(unit))
    assert compare_stores.main([str(STORE), str(other)]) == 1
    out = capsys.readouterr().out
    assert "DIFF general/sm/haberman: test_f1" in out and "RESULT: DIFFERENT" in out


def test_a_unit_missing_from_one_store_fails_unless_only_common(tmp_path: Path, capsys) -> None:
    other = _copy(tmp_path)
    shutil.rmtree(next(other.glob("units/general/sm/vertebra-column/*")))
    assert compare_stores.main([str(STORE), str(other)]) == 1
    assert "only in A: 1 (general/sm/vertebra-column)" in capsys.readouterr().out
    assert compare_stores.main([str(STORE), str(other), "--only-common"]) == 0
    assert compare_stores.main([str(STORE), str(other), "--dataset", "haberman"]) == 0
    assert compare_stores.main([str(STORE), str(other), "--method", "lm"]) == 1     # nothing compared


def test_cells_are_compared_exactly(tmp_path: Path) -> None:
    a = pd.DataFrame({"ratio": [0.4, 0.4], "fold": [0, 1], "cell_index": [0, 0], "classifier": ["LR", "LR"],
                      "params": ["{}", "{}"], "f1": [0.5, 0.25], "f1_rounded": [0.5, 0.25]})
    b = a.copy()
    assert compare_stores.compare_cells(a, b) == (2, [], 0.0)
    b.loc[1, "f1"] = 0.25 + 1e-15
    n, bad, diff = compare_stores.compare_cells(a, b)
    assert n == 2 and len(bad) == 1 and bad[0]["fold"] == 1 and 0 < diff < 1e-14
    n, bad, _ = compare_stores.compare_cells(a, b.iloc[:1])
    assert any("only in store A" in str(p) for p in bad)
