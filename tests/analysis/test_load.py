"""The adapters: scores CSV and results-store summary -> the paper's layouts."""

from __future__ import annotations

import types

import numpy as np
import pandas as pd
import pytest

import lsh_bench.analysis.load
from lsh_bench.analysis.errors import AnalysisInputError
from lsh_bench.analysis.load import (
    from_summary, load_results, normalise_ratio_stats, read_scores_csv, read_scores_text,
)
from tests.analysis.conftest import summary_rows

HEADER = "dataset,ir,SM_v,SM_t,LM_v,LM_t,LS_v,LS_t"


def test_scores_csv_reads_na_and_computes_achievement():
    text = f"# comment\n{HEADER}\na,3.0,0.8,0.6,N/A,,0.5,0.5\nb,2.0,0.5,0.5,0.4,0.2,0.9,0.9\n"
    g = read_scores_text(text).general
    assert g["dataset"].tolist() == ["a", "b"]
    assert g.loc[0, "SM_a"] == pytest.approx(0.75)
    assert np.isnan(g.loc[0, "LM_v"]) and np.isnan(g.loc[0, "LM_t"]) and np.isnan(g.loc[0, "LM_a"])
    assert g.loc[1, "LM_a"] == pytest.approx(0.5)
    assert list(g.columns[:2]) == ["dataset", "ir"]


def test_scores_csv_reads_achievement_when_present():
    text = f"{HEADER},SM_a\na,3.0,0.8,0.6,0.5,0.5,0.5,0.5,0.7\nb,2.0,0.5,0.5,0.4,0.2,0.9,0.9,\n"
    g = read_scores_text(text).general
    assert g["SM_a"].tolist() == pytest.approx([0.7, 1.0])  # read; empty -> computed


def test_scores_csv_scenario_column_feeds_table3():
    text = (f"{HEADER},ORG_t,scenario\na,3.0,0.8,0.6,0.5,0.5,0.5,0.5,0.4,general\n"
            "a,3.0,,,0.3,0.2,0.4,0.3,0.1,fewshot\na,3.0,,,0.3,0.25,0.4,0.35,0.0,zeroshot\n")
    i = read_scores_text(text)
    assert len(i.general) == 1 and i.general.loc[0, "ORG_t"] == pytest.approx(0.4)
    assert i.fewshot["scenario"].tolist() == ["fewshot", "zeroshot"]


@pytest.mark.parametrize("text, pattern", [
    ("dataset,ir,SM_v,SM_t,LM_v,LS_v,LS_t\na,1,1,1,1,1,1\n", r"missing column\(s\): LM_t$"),
    (f"{HEADER}\na,3,0.8,0.6,0.5,abc,0.5,0.5\n", r"column LM_t, line 2 \(dataset 'a'\): 'abc'"),
    (f"#c\n{HEADER}\na,3,0.8,0.6,0.5,0.5,0.5,0.5\nb,x,1,1,1,1,1,1\n",
     r"column ir, line 4 \(dataset 'b'\): 'x' is not a number"),
    (f"{HEADER}\na,3,1,1,1,1,1,1\nb,2,1,1,1,1,1,1\na,1,1,1,1,1,1,1\n", r"duplicate datasets: a$"),
    (f"{HEADER}\na,,1,1,1,1,1,1\n", r"column ir, line 2 \(dataset 'a'\): IR is empty"),
    ("", r"empty file"),
])
def test_scores_csv_errors_name_the_problem(text, pattern):
    with pytest.raises(AnalysisInputError, match=pattern):
        read_scores_text(text)


def test_scores_csv_missing_file(tmp_path):
    with pytest.raises(AnalysisInputError, match="cannot read scores file"):
        read_scores_csv(tmp_path / "nope.csv")


def test_synthetic_fixture_is_the_paper_shape(synthetic_csv):
    g = read_scores_csv(synthetic_csv).general
    assert len(g) == 60 and g["dataset"].is_unique
    assert g["SM_t"].isna().sum() == 2 and g["LS_t"].notna().all()


def test_summary_becomes_table6_and_shot_layouts(summary):
    i = from_summary(summary)
    g = i.general
    assert len(g) == 12 and list(g.columns[:3]) == ["dataset", "ir", "paper_row"]
    row = summary[(summary.dataset == "d03") & (summary.method == "lm")].iloc[0]
    got = g[g.dataset == "d03"].iloc[0]
    assert (got["LM_v"], got["LM_t"]) == (row["val_f1"], row["test_f1"])
    assert np.isnan(g.loc[g.dataset == "d00", "SM_t"]).all()
    assert sorted(i.fewshot["scenario"].unique()) == ["fewshot", "zeroshot"]
    assert i.fewshot["SM_t"].isna().all() and i.fewshot["ORG_t"].notna().all()
    st = i.status[(i.status.dataset == "d00") & (i.status.method == "SM")].iloc[0]
    assert st["status"] == "not_applicable" and "minority" in st["reason"]


def test_scores_of_units_not_done_are_ignored(summary):
    failed = (summary.dataset == "d02") & (summary.method == "ls") & (summary.scenario == "general")
    summary.loc[failed, "status"] = "failed"  # a stale score must not leak in
    assert np.isnan(from_summary(summary).general.set_index("dataset").loc["d02", "LS_t"])


def test_several_config_hashes_are_an_error_unless_filtered(summary):
    rerun = summary_rows({"d03": 9.0}, ("lm",), config_hash="zzz999")
    both = pd.concat([summary, rerun], ignore_index=True)
    with pytest.raises(AnalysisInputError, match=r"d03/general/lm: abc123, zzz999"):
        from_summary(both)
    assert len(from_summary(both, config_hash="abc123").general) == 12
    only = from_summary(both, config_hash="zzz999").general
    assert only["dataset"].tolist() == ["d03"] and only["SM_t"].isna().all()
    with pytest.raises(AnalysisInputError, match="no results with config_hash nope"):
        from_summary(both, config_hash="nope")


def test_summary_missing_column_is_named(summary):
    with pytest.raises(AnalysisInputError, match="missing column.*test_f1"):
        from_summary(summary.drop(columns="test_f1"))


def test_ratio_stats_are_validated(ratio_stats_csv):
    df = pd.read_csv(ratio_stats_csv)
    out = normalise_ratio_stats(df)
    assert set(out["method"]) == {"SM", "LM", "LS"}
    with pytest.raises(AnalysisInputError, match="missing column.*llm_calls"):
        normalise_ratio_stats(df.drop(columns="llm_calls"))
    bad = df.astype({"llm_calls": object})
    bad.loc[3, "llm_calls"] = "many"
    with pytest.raises(AnalysisInputError, match=r"llm_calls, row 4: 'many'"):
        normalise_ratio_stats(bad)
    assert normalise_ratio_stats(df.iloc[:0]) is None


def test_load_results_goes_through_the_store(monkeypatch, tmp_path, summary, ratio_stats_csv):
    """``load_results`` only calls ``lsh_bench.store``; a stand-in proves the wiring."""
    fake = types.ModuleType("lsh_bench.store")
    calls = []
    fake.load_summary = lambda d: calls.append(("summary", d)) or summary
    fake.load_ratio_stats = lambda d: calls.append(("ratio", d)) or pd.read_csv(ratio_stats_csv)
    fake.iter_records = lambda d: calls.append(("records", d)) or iter([])
    monkeypatch.setattr(lsh_bench.analysis.load, "store", fake)
    inputs = load_results(tmp_path)
    assert [c[0] for c in calls] == ["summary", "ratio", "records"]
    assert len(inputs.general) == 12 and inputs.ratio_stats is not None
    with pytest.raises(AnalysisInputError, match="does not exist"):
        load_results(tmp_path / "missing")


def test_missing_few_shot_scores_say_not_run_or_why(summary):
    """Table 3 prints every absent score as N/A; the Missing section tells them apart."""
    from lsh_bench.analysis.report import missing_inputs

    not_run = (summary.dataset == "d05") & (summary.method == "lm") & (summary.scenario == "fewshot")
    failed = (summary.dataset == "d01") & (summary.method == "lm") & (summary.scenario == "zeroshot")
    summary.loc[failed, "status"] = "failed"
    lines = missing_inputs(from_summary(summary[~not_run].reset_index(drop=True)))
    (lm,) = [line for line in lines if line.startswith("Few-/zero-shot LM")]
    assert "d05 fewshot (not run)" in lm and "d01 zeroshot (failed)" in lm
    assert not any(line.startswith("Few-/zero-shot LS") for line in lines)


def test_any_method_name_in_the_store_flows_through(summary):
    """New samplers and variants (Borderline, ADASYN, SS, seed steps) need no loader change."""
    extra = summary_rows({f"d{i:02d}": 12.0 - i for i in range(12)},
                         ("org", "borderline", "adasyn", "ss", "ls_s2"), seed=7)
    i = from_summary(pd.concat([summary, extra], ignore_index=True))
    from lsh_bench.analysis.load import methods_in
    assert methods_in(i.general) == ["SM", "LM", "LS", "ORG", "ADASYN", "BORDERLINE",
                                     "LS_S2", "SS"]
    row = extra[(extra.dataset == "d03") & (extra.method == "ls_s2")].iloc[0]
    got = i.general[i.general.dataset == "d03"].iloc[0]
    assert (got["LS_S2_v"], got["LS_S2_t"]) == (row["val_f1"], row["test_f1"])
    assert got["LS_S2_a"] == pytest.approx(row["test_f1"] / row["val_f1"])
    assert set(i.units["method"]) == {"SM", "LM", "LS", "ORG", "BORDERLINE", "ADASYN",
                                      "SS", "LS_S2"}


def test_scores_csv_reads_any_method_columns():
    text = f"{HEADER},ADASYN_v,ADASYN_t,LS_S2_t\na,3,0.8,0.6,0.5,0.5,0.5,0.5,0.7,0.65,0.4\n"
    g = read_scores_text(text).general
    assert g.loc[0, "ADASYN_t"] == pytest.approx(0.65)
    assert g.loc[0, "LS_S2_t"] == pytest.approx(0.4) and np.isnan(g.loc[0, "LS_S2_v"])


def test_provenance_rows_from_records():
    from lsh_bench.analysis.load_records import provenance_rows
    recs = [{"dataset": "a", "scenario": "general", "method": "ls", "status": "done",
             "config_hash": "h1", "provenance": {"git_commit": "c1", "git_dirty": False,
                                                 "packages": {"numpy": "2.4.6", "scipy": "1.17.1"},
                                                 "llm": {"backend": "local", "model": "m"}}},
            {"dataset": "b", "scenario": "general", "method": "sm", "status": "done",
             "config_hash": "h2"}]   # written before provenance existed
    p = provenance_rows(recs)
    assert p["method"].tolist() == ["LS", "SM"]
    assert p.loc[0, "packages"] == [("numpy", "2.4.6"), ("scipy", "1.17.1")]
    assert p.loc[1, "git_commit"] == "unknown" and p.loc[1, "packages"] == []
    assert p.loc[0, "llm_model"] == "m" and p.loc[1, "llm_model"] == ""


def test_a_method_with_no_few_shot_score_says_how_its_units_ended(summary):
    """All of LS's few-/zero-shot units failed (the paper generator with a small model): the line counts them."""
    from lsh_bench.analysis.report import missing_inputs

    shots = summary.scenario.isin(["fewshot", "zeroshot"]) & (summary.method == "ls")
    summary.loc[shots, "status"] = "failed"
    lines = missing_inputs(from_summary(summary))
    (ls,) = [line for line in lines if line.startswith("Few-/zero-shot: no LS")]
    assert ls == f"Few-/zero-shot: no LS results (failed: {int(shots.sum())})."
