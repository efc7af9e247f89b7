"""scripts/bench_quality.py and scripts/figure_rows.py on haberman (a few seconds each)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

import lsh_bench.samplers.llm.backends as backends
import lsh_bench.samplers.llm.client as client

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

import bench_quality  # noqa: E402
import figure_rows  # noqa: E402


def test_bench_quality_report(tmp_path: Path, mirror: Path) -> None:
    out = tmp_path / "quality.json"
    rc = bench_quality.main(["--datasets", "haberman", "--compare-datasets", "haberman", "--grid-datasets", "haberman",
                             "--set", f"data.mirror_dirs=[{mirror}]", "--set", "data.use_openml=false",
                             "--out", str(out)])
    report = json.loads(out.read_text())
    assert rc == 0 and report["one_call"]["identical_records"] is True
    (row,) = report["per_dataset"]
    # haberman under the paper's seeds: ratios 0.4-1.0 apply in every part, 5 folds + the refit
    assert row["status"] == "done" and row["parts"] == 6 and row["ratios"] == 4 and row["pairs"] == 24
    assert row["quality_seconds"] > 0 and row["one_call"]["seconds"] > 0
    proj = report["projection"]
    assert proj["pairs_total"] == 24 and proj["datasets_matched"] == 1
    assert 0 < proj["share_of_matched_units"] and "haberman" not in proj["missing_from_this_run"]
    assert report["machine"]["load_average_at_start"]
    share = report["same_run"]["share"]
    (grid,) = report["same_run"]["per_dataset"]
    assert grid["dataset"] == "haberman" and grid["pairs"] == 1 and grid["cells"] == 139 and grid["grid_seconds"] > 0
    assert share["datasets"] == 1 and share["pairs_weighted"] == 24
    assert share["quality_over_grid"] == round(grid["quality_seconds"] / grid["grid_seconds"], 4)


def test_figure_rows_script_draws_sm_and_lists_what_the_cache_lacks(tmp_path: Path, mirror: Path) -> None:
    common = ["--dataset", "haberman", "--fold", "0", "--ratio", "1.0", "--cache", str(tmp_path / "empty_cache"),
              "--set", f"data.mirror_dirs=[{mirror}]", "--set", "data.use_openml=false"]
    rc = figure_rows.main([*common, "--out", str(tmp_path / "a")])
    assert rc == 0
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["figure1_rows.json", "figure1_rows.pdf",
                                                                  "figure1_rows.png"]
    meta = json.loads((tmp_path / "a" / "figure1_rows.json").read_text())
    panels = meta["views"][0]["panels"]
    assert panels["SM"]["quality"]["n_synthetic"] > 0
    # an empty read-only cache: the LLM panels are left out and say why; no model is called
    assert panels["LM"]["left_out"].startswith("not in the replay cache")
    assert panels["LS"]["left_out"].startswith("not in the replay cache")
    figure_rows.main([*common, "--out", str(tmp_path / "b")])
    for name in ("figure1_rows.png", "figure1_rows.pdf", "figure1_rows.json"):     # byte-stable
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_figure6_from_the_committed_units_rows_and_the_study_cache(tmp_path: Path, mirror: Path, monkeypatch) -> None:
    monkeypatch.chdir(ROOT)              # the paths as `make figure6` gives them (they appear in the JSON)
    rows = sorted(Path("results", "smoke_store", "rows").glob("*_lm_flare.npz"))
    assert len(rows) == 2
    assert figure_rows.main(["--figure", "6", "--fold", "0", "--ratio", "1.0", "--rows", *map(str, rows),
                             "--datasets", figure_rows.FOUR, "--methods", "lm,ls",
                             "--cache", "results/llm_study/llm_cache",
                             "--set", f"data.mirror_dirs=[{mirror}]", "--set", "data.use_openml=false",
                             "--out", str(tmp_path)]) == 0     # what `make figure6` runs
    meta = json.loads((tmp_path / "figure6_rows.json").read_text())
    few, zero, *four = meta["views"]
    assert [v["dataset"] for v in four] == figure_rows.FOUR.split(",")
    # the few-shot LS units of the study: replayed from its cache, no model (the cache is read-only)
    assert all(v["panels"]["LS"]["quality"]["n_synthetic"] > 0 for v in four)
    assert few["scenario"] == "fewshot" and zero["scenario"] == "zeroshot" and zero["n_real_minority"] == 0
    assert zero["panels"]["LM"]["quality"]["detection_auc"] == 1.0     # zero-shot rows: told apart perfectly
    for name in ("figure6_rows.png", "figure6_rows.pdf", "figure6_rows.json"):     # the committed figure, byte for byte
        assert (tmp_path / name).read_bytes() == (ROOT / "results" / "figures" / name).read_bytes()


@pytest.mark.slow
def test_bench_quality_sweep_on_off(tmp_path: Path, mirror: Path) -> None:
    out = tmp_path / "on_off.json"
    rc = bench_quality.main(["--sweep-on-off", "haberman", "--set", "grid=smoke", "--set", f"data.mirror_dirs=[{mirror}]",
                             "--set", "data.use_openml=false", "--out", str(out)])
    report = json.loads(out.read_text())
    assert rc == 0 and report["scores_identical"] is True
    (row,) = report["per_dataset"]
    assert row["quality_rows"] > 0 and row["cpu_seconds_on"] > 0 and row["cpu_seconds_off"] > 0


def test_figure1_replays_the_committed_figure_cache_without_a_model(tmp_path: Path, mirror: Path, monkeypatch) -> None:
    def no_model(cfg):
        raise AssertionError("figure 1 must replay its LLM rows, not call a model")

    monkeypatch.setattr(backends, "make_backend", no_model)
    client._CLIENTS.clear()
    rc = figure_rows.main(["--dataset", "haberman", "--fold", "0", "--ratio", "1.0",
                           "--cache", str(ROOT / "results" / "figure_cache"), "--out", str(tmp_path),
                           "--set", f"data.mirror_dirs=[{mirror}]", "--set", "data.use_openml=false"])
    client._CLIENTS.clear()
    panels = json.loads((tmp_path / "figure1_rows.json").read_text())["views"][0]["panels"]
    assert rc == 0 and set(panels) == {"SM", "LM", "LS"}
    assert all("quality" in p for p in panels.values())
    committed = ROOT / "results" / "figures"
    for name in ("figure1_rows.png", "figure1_rows.pdf", "figure1_rows.json"):     # the committed figure, byte for byte
        assert (tmp_path / name).read_bytes() == (committed / name).read_bytes()
