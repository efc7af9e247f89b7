"""``pairs=``: Tables 1 and 2 compare chosen pairs, e.g. LS vs its SMOTE+SMOTE ablation SS."""

from __future__ import annotations

import pandas as pd

from lsh_bench.analysis.__main__ import main
from tests.analysis.conftest import write_csv

HEADER = "dataset,ir,SM_v,SM_t,LM_v,LM_t,LS_v,LS_t,SS_v,SS_t"
FAST = "nsamples=4000"
#: LS beats SS on d0-d5, ties on d6, loses on d7; SS has no score on d8.
ROWS = [f"d{i},{9 - i},0.5,0.5,0.6,0.6,0.7,0.{70 + i},0.7,0.{60 + i}" for i in range(6)] + [
    "d6,3,0.5,0.5,0.6,0.6,0.7,0.7000,0.7,0.7000", "d7,2,0.5,0.5,0.6,0.6,0.7,0.60,0.7,0.65",
    "d8,1,0.5,0.5,0.6,0.6,0.7,0.80,,"]


def test_table1_compares_the_chosen_pairs(tmp_path) -> None:
    csv = write_csv(tmp_path / "s.csv", HEADER, ROWS)
    assert main([f"scores={csv}", f"out={tmp_path / 'o'}", "only=table1,table2", FAST, "pairs=LS:SS,ls:sm"]) == 0
    t1 = pd.read_csv(tmp_path / "o" / "table1.csv")
    assert t1[["first", "second"]].values.tolist() == [["LS", "SS"], ["LS", "SM"]]
    ls_ss = t1.iloc[0]
    assert (ls_ss["n"], ls_ss["wins"], ls_ss["ties"], ls_ss["losses"]) == (8, 6, 1, 1)
    t2 = pd.read_csv(tmp_path / "o" / "table2.csv")
    assert set(map(tuple, t2[["first", "second"]].values.tolist())) == {("LS", "SS"), ("LS", "SM")}
    assert t2.groupby(["first", "second"])["n"].sum().to_dict() == {("LS", "SM"): 9, ("LS", "SS"): 8}


def test_default_pairs_are_the_papers(tmp_path) -> None:
    csv = write_csv(tmp_path / "s.csv", HEADER, ROWS)
    assert main([f"scores={csv}", f"out={tmp_path / 'o'}", "only=table1", FAST]) == 0
    t1 = pd.read_csv(tmp_path / "o" / "table1.csv")
    assert t1[["first", "second"]].values.tolist() == [["LM", "SM"], ["LS", "LM"], ["LS", "SM"]]


def test_bad_pairs_are_one_error_line(tmp_path, capsys) -> None:
    csv = write_csv(tmp_path / "s.csv", HEADER, ROWS)
    assert main([f"scores={csv}", f"out={tmp_path / 'o'}", "only=table1", FAST, "pairs=LS:XX"]) == 2
    assert "pairs=: no scores of XX; methods in the input: SM, LM, LS, SS" in capsys.readouterr().err
    for bad in ("pairs=LS", "pairs=LS:LS", "pairs=LS:SS:SM"):
        assert main([f"scores={csv}", f"out={tmp_path / 'o'}", "only=table1", FAST, bad]) == 2
        assert "is not FIRST:SECOND" in capsys.readouterr().err
