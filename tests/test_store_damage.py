"""A damaged results store: an unreadable unit.json is reported with its path, moved aside and
recomputed; no reader (sweep, summary, records, status, analysis) crashes on it."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import pandas as pd
import pytest

from lsh_bench.analysis.load import load_results
from lsh_bench.errors import RecordUnreadable
from lsh_bench.sweep import run_sweep
from lsh_bench.status import sweep_units
from lsh_bench.store import UnitStore, iter_records, load_ratio_stats, load_summary
from tests.conftest import compose_config

DATASETS = "dataset=[haberman,vertebra-column]"
COMPARED = ("status", "choice", "val_f1", "test_f1", "fold_f1", "n_tied_best", "config_hash")


def _store(cfg, rec: dict) -> UnitStore:
    return UnitStore(cfg.run.results_dir, rec["scenario"], rec["method"], rec["dataset"], rec["config_hash"])


@pytest.fixture(scope="module")
def reference_store(tmp_path_factory: pytest.TempPathFactory, mirror: Path) -> tuple[Path, list[dict]]:
    """One finished sweep, copied for each test (its unit hashes do not depend on the directory)."""
    results = tmp_path_factory.mktemp("damage_reference") / "results"
    cfg = compose_config([f"data.mirror_dirs=[{mirror}]", "data.use_openml=false", f"run.results_dir={results}",
                          "run.progress=false", DATASETS, "grid=smoke"])
    return results, run_sweep(cfg)


@pytest.fixture
def swept(make_cfg, reference_store, tmp_path: Path):
    source, records = reference_store
    cfg = make_cfg(DATASETS, "grid=smoke")
    shutil.copytree(source, cfg.run.results_dir)
    return cfg, records


def test_truncated_record_is_moved_aside_and_the_unit_recomputed(swept, caplog: pytest.LogCaptureFixture) -> None:
    """Before: one truncated unit.json stopped the whole sweep with a bare JSONDecodeError naming no file."""
    cfg, first = swept
    haberman, vertebra = (_store(cfg, r) for r in first)
    text = haberman.record_path.read_text()
    haberman.record_path.write_text(text[: len(text) // 2])
    vertebra_mtime = vertebra.record_path.stat().st_mtime_ns

    with caplog.at_level(logging.WARNING, logger="lsh_bench"):
        again = run_sweep(cfg)

    assert [r["status"] for r in again] == ["done", "done"]
    assert {k: again[0][k] for k in COMPARED} == {k: first[0][k] for k in COMPARED}    # recomputed, same scores
    (aside,) = haberman.dir.glob("unit.json.corrupt-*")
    assert aside.read_text() == text[: len(text) // 2]                                   # kept for inspection
    assert json.loads(haberman.record_path.read_text())["status"] == "done"
    assert vertebra.record_path.stat().st_mtime_ns == vertebra_mtime                     # the other unit untouched
    warning = next(r.getMessage() for r in caplog.records if "unreadable unit record" in r.getMessage())
    assert str(haberman.record_path) in warning and "not valid JSON" in warning and aside.name in warning
    assert run_sweep(cfg) == again                                                        # and now it is finished


@pytest.mark.parametrize("damage", [b'{"status": "do', b"", b"\xff\xfe\x00garbage", b"[1, 2]", b'{"status": "done"}',
                                    b'{"status": "weird", "dataset": "x", "scenario": "general", "method": "sm", '
                                    b'"config_hash": "h"}'])
def test_readers_report_a_damaged_record_with_its_path(swept, damage: bytes,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    """Before: load_summary crashed like the sweep; status already said 'unreadable'."""
    cfg, first = swept
    haberman = _store(cfg, first[0])
    haberman.record_path.write_bytes(damage)
    results = cfg.run.results_dir

    damaged: list[RecordUnreadable] = []
    assert [rec["dataset"] for _, rec in iter_records(results, damaged)] == ["vertebra-column"]
    assert [Path(str(e.path)) for e in damaged] == [haberman.record_path]

    with caplog.at_level(logging.WARNING, logger="lsh_bench"):
        summary = load_summary(results).set_index("dataset")
    assert summary.loc["vertebra-column", "status"] == "done"
    assert summary.loc["haberman", "status"] == "failed"
    assert str(haberman.record_path) in summary.loc["haberman", "reason"]
    assert summary.loc["haberman", "config_hash"] == first[0]["config_hash"]
    assert str(haberman.record_path) in caplog.text
    assert set(load_ratio_stats(results)["dataset"]) == {"vertebra-column"}

    states = {u.dataset: (u.state, u.detail) for u in sweep_units([cfg])}
    assert states["vertebra-column"][0] == "done"
    assert states["haberman"][0] == "failed" and str(haberman.record_path) in states["haberman"][1]

    inputs = load_results(results)            # the analysis loader: haberman is a failed unit, not a crash
    status = inputs.status.set_index("dataset")
    assert status.loc["haberman", "status"] == "failed"
    assert pd.isna(inputs.general.set_index("dataset").loc["haberman", "SM_v"])


def test_unreadable_record_file_is_reported_not_raised(swept) -> None:
    cfg, first = swept
    haberman = _store(cfg, first[0])
    haberman.record_path.unlink()
    haberman.record_path.mkdir()                     # a directory where the file should be: read fails (EISDIR)
    with pytest.raises(RecordUnreadable, match=r"cannot read it \(\[Errno 21\]"):
        haberman.record()
    assert haberman.peek() is None
    assert load_summary(cfg.run.results_dir).set_index("dataset").loc["haberman", "status"] == "failed"
