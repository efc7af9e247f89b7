"""scripts/llm_study_table.py on the committed smoke store: one row per unit, LLM cost from the cache entries."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

import llm_study_table  # noqa: E402

STORE = ROOT / "results" / "smoke_store"


def test_units_and_paired_tables_from_a_real_store(tmp_path: Path) -> None:
    assert llm_study_table.main(["--store", f"a={STORE}", "--store", f"b_2={STORE}",
                                 "--cache", str(STORE / "llm_cache"), "--out", str(tmp_path)]) == 0
    units = pd.read_csv(tmp_path / "units.csv")
    n_records = sum(1 for _ in (STORE / "units").rglob("unit.json"))
    assert len(units) == 2 * n_records and set(units["store"]) == {"a", "b_2"}
    # flare's few-shot LM unit was recorded with its answers in the store's cache: its cost is read from them
    flare = units[(units["store"] == "a") & (units["dataset"] == "flare") & (units["scenario"] == "fewshot")
                  & (units["method"] == "LM")].iloc[0]
    assert flare["requests"] > 0 and flare["missing_entries"] == 0 and flare["tokens"] > 0
    assert flare["llm_seconds"] > 0 and flare["generator"] in {"guarded/compact", "unrecorded/unrecorded"}
    # units without LLM requests cost nothing and name no generator
    assert (units.loc[units["method"].isin(["SM", "ORG"]), "requests"] == 0).all()
    paired = pd.read_csv(tmp_path / "paired.csv")
    assert set(paired["method"]) <= {"LM", "LS"}
    assert (paired["test_f1_a"].fillna(-1) == paired["test_f1_b_2"].fillna(-1)).all()
    assert (tmp_path / "paired.md").read_text().startswith("| scenario | method | dataset |")
    # counts stay integers also for a label with an underscore (requests_b_2 is a count, not a value "requests_b")
    wide = llm_study_table.paired(units, ["a", "b_2"])
    assert str(wide["requests_b_2"].dtype) == "Int64" and str(wide["tokens_a"].dtype) == "Int64"


def test_a_store_with_two_units_for_one_cell_is_refused_not_silently_halved(tmp_path: Path) -> None:
    """A superseded unit (an older config hash) left beside its rerun must not be picked at random."""
    import shutil

    import pytest

    store = tmp_path / "store"
    shutil.copytree(STORE / "units", store / "units")
    unit = next((store / "units" / "fewshot" / "lm" / "flare").iterdir())
    shutil.copytree(unit, unit.with_name("0000000000000000"))
    with pytest.raises(SystemExit, match="several units for s/fewshot/LM/flare"):
        llm_study_table.main(["--store", f"s={store}", "--cache", str(STORE / "llm_cache"),
                              "--out", str(tmp_path / "out")])
