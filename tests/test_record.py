"""A unit's record and its one flat row (lsh_bench.record): the store, the printed table and the analysis agree."""

from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path

import pandas as pd

from lsh_bench.analysis.load import SUMMARY_COLUMNS as ANALYSIS_COLUMNS
from lsh_bench.record import SUMMARY_COLUMNS, UnitRow, unit_rows
from lsh_bench.store import load_summary
from lsh_bench.summary import SHOWN, format_summary, summary_frame

STORE = Path(__file__).resolve().parent / "fixtures" / "analysis" / "store_smoke"
NOT_APPLICABLE = {"dataset": "flare", "paper_row": 21, "ir_group": "mid", "scenario": "fewshot", "method": "sm",
                  "preprocess": "paper", "config_hash": "abc", "status": "not_applicable",
                  "reason": "sm needs at least 6 real minority rows", "all_minority": {"val_f1": 0.7, "test_f1": 0.6}}


def test_the_store_summary_is_one_unit_row_per_record() -> None:
    summary = load_summary(STORE)
    records = sorted((json.loads(p.read_text()) for p in STORE.glob("units/*/*/*/*/unit.json")),
                     key=lambda r: r["dataset"])
    assert list(summary.columns) == SUMMARY_COLUMNS == [f.name for f in fields(UnitRow)]
    assert set(ANALYSIS_COLUMNS) <= set(SUMMARY_COLUMNS)            # what the analysis needs is there
    row = UnitRow.of(records[0])
    got = summary.sort_values("dataset").iloc[0]
    assert (got["classifier"], got["val_f1"], got["achievement"]) == (row.classifier, row.val_f1, row.achievement)
    assert json.loads(row.params) == records[0]["choice"]["params"]
    assert row.llm_calls == records[0]["llm"]["calls"] == 0


def test_a_unit_without_a_choice_flattens_to_missing_values() -> None:
    row = UnitRow.of(NOT_APPLICABLE)
    assert (row.classifier, row.params, row.val_f1, row.llm_calls) == (None, None, None, None)
    assert row.all_minority_test_f1 == 0.6
    frame = unit_rows([NOT_APPLICABLE])
    assert pd.isna(frame.loc[0, "ratio"]) and pd.isna(frame.loc[0, "llm_calls"])


def test_the_printed_table_uses_the_same_column_names() -> None:
    records = [json.loads(p.read_text()) for p in sorted(STORE.glob("units/*/*/*/*/unit.json"))]
    shown = summary_frame([*records, NOT_APPLICABLE])
    assert list(shown.columns) == SHOWN and set(SHOWN) - {"llm_tokens", "note"} <= set(SUMMARY_COLUMNS)
    text = format_summary([*records, NOT_APPLICABLE])
    header = text.splitlines()[0].split()
    assert "classifier" in header and "achievement" in header and "llm_calls" not in header
    assert "units: 3 done, 1 not_applicable" in text
    llm_text = format_summary(records, llm=True)
    assert "llm_calls" in llm_text.splitlines()[0] and " 0 " in llm_text.splitlines()[1]
