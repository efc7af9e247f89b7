"""End to end: the CLI on the synthetic 60 datasets, partial inputs, bad inputs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from lsh_bench.analysis.__main__ import main
from lsh_bench.analysis.load import from_summary
from lsh_bench.analysis.report import Settings, run
from tests.analysis.conftest import summary_rows, write_csv

HEADER = "dataset,ir,SM_v,SM_t,LM_v,LM_t,LS_v,LS_t"
PAIR_COLUMNS = ["first", "second", "group", "n", "wins", "ties", "losses", "mean_margin",
                "p_first_better", "p_rope", "p_second_better"]
FAST = "nsamples=4000"


def _files(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(out.iterdir())}


@pytest.fixture(scope="module")
def full_runs(tmp_path_factory):
    """The full CLI on the synthetic scores: twice with seed 0 (fewer posterior
    samples, for speed); seed 0 and 1 again with the default 50000 samples
    for the tables only (figures are what cost time)."""
    base = tmp_path_factory.mktemp("cli")
    csv = Path(__file__).resolve().parents[1] / "fixtures" / "analysis" / "synthetic_scores.csv"
    stats = csv.with_name("ratio_stats.csv")
    outs = {}
    for name, seed, extra in (("a", 0, FAST), ("b", 0, FAST),
                              ("s0", 0, "only=table1,table2"), ("s1", 1, "only=table1,table2")):
        code = main([f"scores={csv}", f"out={base / name}", f"seed={seed}",
                     f"runtime={stats}", extra])
        assert code == 0
        outs[name] = base / name
    return outs


def test_full_run_writes_every_artefact(full_runs):
    out = full_runs["a"]
    names = set(_files(out))
    for t in ("table1", "table2", "correlations", "achievement", "table6", "runtime",
              "signed_rank", "friedman", "ranking"):
        assert {f"{t}.csv", f"{t}.md", f"{t}.tex"} <= names
    for f in ("figure2_margin_vs_ir", "figure3_achievement_vs_ir", "figure4_runtime",
              "figure_sign_test_posteriors", "figure_sign_test_probabilities",
              "figure_cd_diagram"):
        assert {f"{f}.png", f"{f}.pdf"} <= names
    assert "llm_cost.csv" not in names  # a scores CSV records no LLM cost
    t1, t2 = pd.read_csv(out / "table1.csv"), pd.read_csv(out / "table2.csv")
    assert list(t1.columns) == PAIR_COLUMNS == list(t2.columns)
    assert t1["group"].tolist() == ["all"] * 3
    assert t2.groupby("group").size().to_dict() == {"less": 3, "mid": 3, "more": 3}
    readme = (out / "README.md").read_text()
    assert "## Missing" in readme and "Table 3 is not produced" in readme
    assert "SM: no test score on 2 of 60 datasets: row03, row06" in readme
    assert readme.count("![") == 6 and "| LS | SM | all | 58 |" in readme
    # ranking: SM has no score on row03/row06, so those two are dropped and named
    assert ("ranked on the 58 of 60 datasets where all have a test F1; dropped 2: "
            "row03 (no SM), row06 (no SM).") in readme
    fr = pd.read_csv(out / "friedman.csv")
    assert fr[["k", "n", "n_dropped"]].iloc[0].tolist() == [3, 58, 2]
    assert "LLM cost: a scores CSV records none" in readme


def test_same_seed_gives_identical_bytes(full_runs):
    a, b = _files(full_runs["a"]), _files(full_runs["b"])
    assert a.keys() == b.keys() and "README.md" in a
    different = [k for k in a if a[k] != b[k]]
    assert different == []  # tables, PNGs and PDFs alike


def test_other_seed_moves_probabilities_by_less_than_001(full_runs):
    cols = ["p_first_better", "p_rope", "p_second_better"]
    for t in ("table1.csv", "table2.csv"):
        a = pd.read_csv(full_runs["s0"] / t)[cols]
        c = pd.read_csv(full_runs["s1"] / t)[cols]
        diff = (a - c).abs().to_numpy()
        assert diff.max() < 0.01 and diff.max() > 0  # seeded, and the seed is used


def test_only_sm_present_reports_missing_not_crash(tmp_path):
    rows = [f"d{i},{10 - i * 0.5},0.{50 + i},0.{49 + i},,,N/A,N/A" for i in range(12)]
    csv = write_csv(tmp_path / "s.csv", HEADER, rows)
    assert main([f"scores={csv}", f"out={tmp_path / 'o'}", FAST]) == 0
    readme = (tmp_path / "o" / "README.md").read_text()
    assert "LM: no results on any of the 12 datasets." in readme
    assert "LS: no results on any of the 12 datasets." in readme
    assert "Figure 2 \u2014 margin of test F1 vs IR: nothing to draw" in readme
    t1 = pd.read_csv(tmp_path / "o" / "table1.csv")
    assert t1["n"].tolist() == [0, 0, 0] and t1["p_rope"].isna().all()
    assert (tmp_path / "o" / "figure3_achievement_vs_ir.png").exists()  # SM panel only


def test_store_with_ten_datasets_and_missing_units(tmp_path, summary):
    part = summary[summary["dataset"].isin([f"d{i:02d}" for i in range(10)])]
    part = part[~((part["method"] == "lm") & (part["dataset"] == "d04"))]
    report = run(from_summary(part, source="store"), tmp_path,
                 Settings(nsamples=2000, seed=0))
    assert {"table1", "table2", "table3", "table6"} <= set(report.tables)
    readme = (tmp_path / "README.md").read_text()
    assert "SM: no test score on 1 of 10 datasets: d00 (not_applicable: 5 minority rows" in readme
    assert "LM: no test score on 1 of 10 datasets: d04 (not run)" in readme
    assert "runtime table and Figure 4 are not produced" in readme
    t3 = pd.read_csv(tmp_path / "table3.csv")
    assert t3["SM"].isna().all() and len(t3) == 4
    assert ("ranked on the 8 of 10 datasets where all have a test F1; dropped 2: "
            "d00 (no SM), d04 (no LM).") in readme
    assert report.ranking is not None and report.ranking.n == 8
    cost = pd.read_csv(tmp_path / "llm_cost.csv")
    assert cost[["scenario", "method", "units", "done"]].values.tolist()[:3] == [
        ["general", "SM", 10, 9], ["general", "LM", 9, 9], ["general", "LS", 10, 10]]


def test_two_methods_skip_the_ranking_or_fail_when_asked_for(tmp_path, capsys):
    rows = [f"d{i},{10 - i},0.5,0.{50 + i},,,0.6,0.{60 - i}" for i in range(6)]
    csv = write_csv(tmp_path / "s.csv", HEADER, rows)
    assert main([f"scores={csv}", f"out={tmp_path / 'o'}", FAST]) == 0
    readme = (tmp_path / "o" / "README.md").read_text()
    assert ("Ranking (Friedman table, CD diagram) not produced: ranking needs at least 3 "
            "methods with results; have SM, LS.") in readme
    assert not (tmp_path / "o" / "figure_cd_diagram.png").exists()
    assert pd.read_csv(tmp_path / "o" / "signed_rank.csv")["n"].tolist() == [6, 6]
    capsys.readouterr()
    assert main([f"scores={csv}", f"out={tmp_path / 'p'}", FAST, "only=cd_diagram"]) == 2
    assert "error: ranking needs at least 3 methods" in capsys.readouterr().err
    assert main([f"scores={csv}", f"out={tmp_path / 'q'}", FAST, "rank_methods=SM,XX"]) == 2
    assert "rank_methods=: no such method(s) XX" in capsys.readouterr().err


def test_too_few_datasets_skips_table2_in_a_full_run(tmp_path):
    rows = [f"d{i},{i + 1},0.5,0.5,0.6,0.6,0.7,0.7" for i in range(5)]
    csv = write_csv(tmp_path / "s.csv", HEADER, rows)
    assert main([f"scores={csv}", f"out={tmp_path / 'o'}", FAST]) == 0
    assert not (tmp_path / "o" / "table2.csv").exists()
    assert "Table 2 not produced: IR groups need at least 3" in (
        tmp_path / "o" / "README.md").read_text()


@pytest.mark.parametrize("rows, extra, message", [
    ([f"d{i},{i + 1},0.5,0.5,0.6,0.6,0.7,0.7" for i in range(5)], ["only=table2"],
     "IR groups need at least 3 datasets each; 5 datasets give more/mid/less = 2/2/1"),
    (["a,2,0.5,0.5,0.6,oops,0.7,0.7"], [], "column LM_t, line 2 (dataset 'a'): 'oops'"),
    (["a,2,1,1,1,1,1,1", "b,3,1,1,1,1,1,1", "b,4,1,1,1,1,1,1"], [], "duplicate datasets: b"),
])
def test_bad_input_is_one_error_line_and_exit_2(tmp_path, capsys, rows, extra, message):
    csv = write_csv(tmp_path / "s.csv", HEADER, rows)
    assert main([f"scores={csv}", f"out={tmp_path / 'o'}", FAST, *extra]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and message in err


def test_missing_column_via_subprocess(tmp_path):
    """The real entry point: exit code 2 and a single stderr line naming the column."""
    csv = write_csv(tmp_path / "s.csv", "dataset,ir,SM_v,SM_t,LM_v,LM_t,LS_v", ["a,2,1,1,1,1,1"])
    proc = subprocess.run([sys.executable, "-m", "lsh_bench.analysis", f"scores={csv}",
                           f"out={tmp_path / 'o'}"], capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [f"error: {csv}: missing column(s): LS_t"]
    assert not (tmp_path / "o").exists()


def test_argument_errors_and_help(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["out=x"])
    assert exc.value.code == 2
    assert capsys.readouterr().err.count("\n") == 1
    assert main(["scores=x.csv", "only=table9"]) == 2
    assert "unknown name(s) table9" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    assert "scores=PATH.csv" in text and "only=" in text and "ties by dataset name" in text


def test_only_writes_just_that_table(tmp_path, synthetic_csv):
    assert main([f"scores={synthetic_csv}", f"out={tmp_path}", "only=table1", FAST]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["table1.csv", "table1.md", "table1.tex"]


def test_store_input_with_runtime_figure(tmp_path, ratio_stats_csv):
    summ = summary_rows({f"d{i}": 10.0 - i for i in range(9)})
    inputs = from_summary(summ, pd.read_csv(ratio_stats_csv), source="store")
    report = run(inputs, tmp_path, Settings(nsamples=2000, only=("runtime", "figure4")))
    assert (tmp_path / "runtime.csv").exists() and (tmp_path / "figure4_runtime.png").exists()
    assert not (tmp_path / "README.md").exists() and report.missing


def test_real_store_fixture_end_to_end(tmp_path):
    """A smoke store written by the harness itself (3 datasets, SM only, 10-cell
    grid; unit.json + ratios.parquet kept) read through ``lsh_bench.store``."""
    store = Path(__file__).resolve().parents[1] / "fixtures" / "analysis" / "store_smoke"
    assert main([f"results={store}", f"out={tmp_path}", FAST]) == 0
    t6 = pd.read_csv(tmp_path / "table6.csv").set_index("dataset")
    assert t6.loc["haberman", "SM_t"] == 0.4364 and t6["LM_t"].isna().all()
    readme = (tmp_path / "README.md").read_text()
    assert "LM: no results on any of the 3 datasets." in readme
    assert "Table 2 not produced: IR groups need at least 3 datasets each" in readme
    assert (tmp_path / "runtime.csv").exists()


def test_cd_diagram_bytes_do_not_depend_on_the_hash_seed(tmp_path):
    """scikit-posthocs keeps crossbars in sets; with string labels their order (and
    the PNG's bytes) changed from one process to the next: on the smoke store hash
    seeds 1, 2 and 3 gave three different PNGs. Two processes, seeds 1 and 2."""
    import os
    store = Path(__file__).resolve().parents[2] / "results" / "smoke_store"
    outs = []
    for seed in ("1", "2"):
        out = tmp_path / seed
        proc = subprocess.run(
            [sys.executable, "-m", "lsh_bench.analysis", f"results={store}", f"out={out}",
             "only=cd_diagram,ranking"], env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
        outs.append(_files(out))
    assert outs[0].keys() == {"figure_cd_diagram.png", "figure_cd_diagram.pdf", "ranking.csv",
                              "ranking.md", "ranking.tex"}
    assert outs[0] == outs[1]
