"""Table builders and their renderings, on tables small enough to check by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lsh_bench.analysis import tables
from lsh_bench.analysis.load import from_summary, normalise_ratio_stats, read_scores_text

HEADER = "dataset,ir,SM_v,SM_t,LM_v,LM_t,LS_v,LS_t"


def _general(rows: list[str]) -> pd.DataFrame:
    return read_scores_text("\n".join([HEADER, *rows]) + "\n").general


@pytest.fixture
def nine() -> pd.DataFrame:
    """9 datasets, IR 9..1: groups more = a,b,c / mid = d,e,f / less = g,h,i.
    LS beats SM by 0.1 in 'more', ties in 'mid', loses by 0.05 in 'less'."""
    rows = []
    for k, name in enumerate("abcdefghi"):
        sm = 0.5 + 0.01 * k
        ls = sm + (0.1 if k < 3 else 0.0 if k < 6 else -0.05)
        lm = "N/A" if name == "a" else f"{sm:.4f}"
        rows.append(f"{name},{9 - k},{sm:.4f},{sm:.4f},{lm},{lm},{ls:.4f},{ls:.4f}")
    return _general(rows)


def test_table1_has_exact_columns_and_hand_values(nine):
    t1 = tables.table1(nine, seed=0, nsamples=5000)
    assert list(t1.columns) == ["first", "second", "group", "n", "wins", "ties", "losses",
                                "mean_margin", "p_first_better", "p_rope", "p_second_better"]
    assert t1[["first", "second"]].values.tolist() == [["LM", "SM"], ["LS", "LM"], ["LS", "SM"]]
    ls_sm = t1.iloc[2]
    assert (ls_sm.n, ls_sm.wins, ls_sm.ties, ls_sm.losses) == (9, 3, 3, 3)
    assert ls_sm.mean_margin == pytest.approx((3 * 0.1 - 3 * 0.05) / 9)
    lm_sm = t1.iloc[0]
    assert (lm_sm.n, lm_sm.ties) == (8, 8) and lm_sm.p_rope > 0.9
    probs = t1[["p_first_better", "p_rope", "p_second_better"]].sum(axis=1)
    assert probs.to_numpy() == pytest.approx(np.ones(3))


def test_table2_groups_by_ir(nine):
    t2 = tables.table2(nine, seed=0, nsamples=5000)
    assert t2["group"].tolist() == ["more"] * 3 + ["mid"] * 3 + ["less"] * 3
    ls_sm = t2[(t2["first"] == "LS") & (t2["second"] == "SM")].set_index("group")
    assert ls_sm.loc["more", ["wins", "ties", "losses"]].tolist() == [3, 0, 0]
    assert ls_sm.loc["mid", ["wins", "ties", "losses"]].tolist() == [0, 3, 0]
    assert ls_sm.loc["less", ["wins", "ties", "losses"]].tolist() == [0, 0, 3]
    assert ls_sm.loc["more", "p_first_better"] > ls_sm.loc["more", "p_second_better"]
    assert ls_sm.loc["less", "p_second_better"] > ls_sm.loc["less", "p_first_better"]
    lm_sm = t2[(t2["first"] == "LM") & (t2["second"] == "SM")].set_index("group")
    assert lm_sm.loc["more", "n"] == 2  # 'a' has no LM score


def test_correlations_and_achievement_tables(nine):
    c = tables.correlations(nine)
    assert c[["quantity", "of"]].values.tolist() == [
        ["margin", "LM-SM"], ["margin", "LS-LM"], ["margin", "LS-SM"],
        ["achievement", "SM"], ["achievement", "LM"], ["achievement", "LS"]]
    ls_sm = c.iloc[2]
    assert ls_sm["n"] == 9 and ls_sm["spearman_rho"] > 0.8  # margin falls with IR rank
    assert np.isnan(c.iloc[3]["pearson_r"])  # SM_a is constant 1.0
    a = tables.achievement(nine).set_index("method")
    assert a.loc["SM", "mean"] == 1.0 and a.loc["LM", "n"] == 8


def test_table3_shows_org_and_na_sm(summary):
    t3 = tables.table3(from_summary(summary).fewshot)
    assert list(t3.columns) == ["dataset", "scenario", "ir", "ORG", "SM", "LM", "LS", "llm_generator"]
    assert set(t3["llm_generator"]) == {"unknown"}            # no provenance given
    assert t3["SM"].isna().all() and len(t3) == 4
    assert "N/A" in tables.to_markdown(t3)


def test_table6_roundtrips_as_scores_input(synthetic_csv, tmp_path):
    from lsh_bench.analysis.load import read_scores_csv
    g = read_scores_csv(synthetic_csv).general
    t6 = tables.table6(g)
    assert t6["ir"].is_monotonic_decreasing
    path = tmp_path / "t6.csv"
    t6.to_csv(path, index=False)
    again = read_scores_csv(path).general
    pd.testing.assert_frame_equal(tables.table1(again, nsamples=3000),
                                  tables.table1(g, nsamples=3000))


def test_runtime_sums_over_folds(ratio_stats_csv):
    rt = tables.runtime(normalise_ratio_stats(pd.read_csv(ratio_stats_csv)))
    ls = rt[rt["method"] == "LS"].set_index("ratio")
    assert (ls["folds"] == 5).all()             # the refit (fold -1) is not a CV fold
    assert ls.loc[0.4, "llm_calls"] == 30 and (ls.loc[[0.6, 0.8, 1.0], "llm_calls"] == 0).all()
    lm = rt[rt["method"] == "LM"].set_index("ratio")
    assert lm["resample_seconds_mean"].is_monotonic_increasing


def test_markdown_and_latex_rendering():
    df = pd.DataFrame({"name": ["a_b", "c&d"], "x": [0.123456, np.nan], "n": [3, 4],
                       "pearson_p": [0.000123, 0.5]})
    md = tables.to_markdown(df, decimals=3)
    assert md.splitlines()[1] == "|---|---:|---:|---:|"
    assert "| a_b | 0.123 | 3 | 0.000123 |" in md and "| c&d | N/A | 4 | 0.5 |" in md
    tex = tables.to_latex(df, decimals=3, caption="T_1", label="tab:x")
    assert r"a\_b & 0.123 & 3 & 0.000123 \\" in tex and r"c\&d & N/A" in tex
    assert r"\caption{T\_1}" in tex and r"\begin{tabular}{lrrr}" in tex


def test_table3_names_selections_that_only_tie_all_minority_on_validation():
    shots = pd.DataFrame({
        "dataset": ["a", "b", "c"], "scenario": ["fewshot", "fewshot", "zeroshot"], "ir": [2.0, 3.0, 4.0],
        "ORG_v": [0.03, 0.05, np.nan], "ORG_t": [0.0, 0.1, np.nan],
        "LM_v": [0.78104, 0.9, 0.7], "LM_t": [0.70, 0.8, 0.6],
        "LS_v": [0.78104 + 1e-12, 0.78, np.nan], "LS_t": [0.70, 0.7, np.nan],
        "ALL1_v": [0.78104, 0.8, np.nan], "ALL1_t": [0.70, 0.7, np.nan],
    })
    t3 = tables.table3(shots)
    assert list(t3.columns)[-2:] == ["ALL1", "val_is_ALL1"]
    assert t3["val_is_ALL1"].tolist() == ["LM, LS", "", ""]   # b: LM above, LS below; c: no baseline
    assert "val_is_ALL1" not in tables.table3(shots.drop(columns=["ALL1_v", "ALL1_t"]))
