"""`make run` (python -m lsh_bench.demo): the shipped dataset loads offline and the table shows each method."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lsh_bench import demo
from lsh_bench.data.loader import sha256_file


def test_shipped_dataset_is_the_configured_file() -> None:
    path = demo.DATA_DIR / "43_haberman.csv.gz"
    cfg = demo.demo_config("sm", Path("unused"), 1, [])
    assert sha256_file(path) == cfg.dataset["haberman"].sha256
    assert "CC BY 4.0" in (demo.DATA_DIR / "PROVENANCE.md").read_text()


def test_demo_runs_offline_from_the_package_and_prints_one_row_per_method(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("LSH_BENCH_DATA", raising=False)            # no mirror: the shipped copy only
    assert demo.main(["--methods", "sm", "--results-dir", str(tmp_path), "--n-jobs", "1"]) == 0
    out = capsys.readouterr().out
    (line,) = [x for x in out.splitlines() if x.startswith("SM ")]
    assert " done " in line and "grid=smoke" in out
    (unit_json,) = tmp_path.rglob("unit.json")
    rec = json.loads(unit_json.read_text())
    assert rec["provenance"]["data_source"] == "mirror:43_haberman.csv.gz"
    assert f"{rec['test_f1']:.3f}" in line and f"{rec['val_f1']:.3f}" in line


def test_table_marks_what_does_not_apply() -> None:
    org = {"method": "org", "status": "done", "choice": {"ratio": None, "classifier": "LR"}, "val_f1": 0.5,
           "test_f1": 0.25, "llm": {"calls": 0, "cache_hits": 0}, "seconds": 3.0}
    ls = {"method": "ls", "status": "done", "choice": {"ratio": 0.6, "classifier": "DT"}, "val_f1": 0.6,
          "test_f1": 0.5, "llm": {"calls": 18, "cache_hits": 12, "prompt_tokens": 100, "completion_tokens": 50,
                                  "seconds": 42.4}, "seconds": 50.0}
    text = demo.format_table([org, ls])
    org_line, ls_line = text.splitlines()[2:]
    assert org_line.split()[:4] == ["ORG", "done", "-", "LR"] and org_line.split()[6:10] == ["-"] * 4
    assert ls_line.split() == ["LS", "done", "0.6", "DT", "0.600", "0.500", "18", "12", "150", "42", "50"]
