"""Several results stores read as one (``results=A,B``): e.g. an SM sweep's store beside an LS sweep's."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from lsh_bench.analysis.__main__ import main
from lsh_bench.analysis.errors import AnalysisInputError
from lsh_bench.analysis.load import load_results
from lsh_bench.analysis.stores import results_dirs
from lsh_bench.analysis.quality import load_quality

SMOKE = Path(__file__).resolve().parents[2] / "results" / "smoke_store"


def _split(tmp_path: Path) -> tuple[Path, Path]:
    """The smoke store split by method: SM and ORG units in one store, LM and LS in the other."""
    a, b = tmp_path / "a", tmp_path / "b"
    for unit in sorted((SMOKE / "units").glob("*/*/*/*")):
        scenario, method = unit.parts[-4], unit.parts[-3]
        target = a if method in ("sm", "org") else b
        shutil.copytree(unit, target / "units" / scenario / method / unit.parts[-2] / unit.parts[-1])
    return a, b


def test_two_stores_give_the_tables_of_one(tmp_path: Path) -> None:
    a, b = _split(tmp_path)
    whole, split = load_results(SMOKE), load_results(f"{a},{b}")
    pd.testing.assert_frame_equal(whole.general, split.general)
    pd.testing.assert_frame_equal(whole.fewshot, split.fewshot)
    assert len(split.provenance) == len(whole.provenance) and len(split.ratio_stats) == len(whole.ratio_stats)
    sort = ["dataset", "scenario", "method", "fold", "ratio"]
    q_whole = load_quality(SMOKE, whole.units).sort_values(sort, ignore_index=True)
    q_split = load_quality([a, b], split.units).sort_values(sort, ignore_index=True)
    pd.testing.assert_frame_equal(q_whole, q_split)
    # each store alone misses the other's methods
    assert load_results(a).general["LS_t"].isna().all() and load_results(b).general["SM_t"].isna().all()


def test_a_unit_in_two_stores_is_an_error_naming_both(tmp_path: Path) -> None:
    a, b = _split(tmp_path)
    unit = next((a / "units" / "general" / "sm").glob("*/*"))
    shutil.copytree(unit, b / unit.relative_to(a))
    with pytest.raises(AnalysisInputError, match=rf"same unit in several results stores: .*/general/sm/.* in {a} and {b}"):
        load_results([a, b])


def test_bad_store_lists_are_named(tmp_path: Path) -> None:
    with pytest.raises(AnalysisInputError, match="named twice"):
        results_dirs(f"{SMOKE},{SMOKE}")
    with pytest.raises(AnalysisInputError, match="no results directory"):
        results_dirs(" , ")
    with pytest.raises(AnalysisInputError, match=f"{tmp_path / 'nope'} does not exist"):
        load_results(f"{SMOKE},{tmp_path / 'nope'}")


def test_command_line_reads_several_stores(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a, b = _split(tmp_path)
    assert main([f"results={a},{b}", f"out={tmp_path / 'out'}", "only=table6"]) == 0
    table6 = pd.read_csv(tmp_path / "out" / "table6.csv")
    assert {"SM_t", "LS_t"} <= set(table6.columns) and table6["LS_t"].notna().any()
