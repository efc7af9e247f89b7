"""The command line: smoke sweep, clear errors on bad input, crash safety (SIGKILL + resume)."""

from __future__ import annotations

import gzip
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

from lsh_bench.store import iter_records, load_summary
from tests.conftest import ROOT


def cli(*args: str, cwd: Path, env: dict | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "HYDRA_FULL_ERROR": "0", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "lsh_bench", *args], cwd=cwd, env=full_env, capture_output=True, text=True,
        timeout=timeout,
    )


def common(tmp_path: Path, mirror: Path) -> list[str]:
    return [f"data.mirror_dirs=[{mirror}]", "data.use_openml=false", f"run.results_dir={tmp_path / 'res'}",
            f"hydra.run.dir={tmp_path / 'hydra'}", "run.progress=false"]


def test_ci_smoke_sweep_writes_complete_results(tmp_path: Path, mirror: Path) -> None:
    """What CI runs: dataset=smoke grid=smoke method=sm, then the files are checked."""
    out = cli("method=sm", "dataset=smoke", "grid=smoke", *common(tmp_path, mirror), cwd=ROOT)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "units: 3 done" in out.stdout
    summary = load_summary(tmp_path / "res")
    assert sorted(summary["dataset"]) == ["analcatdata_apnea3", "haberman", "vertebra-column"]
    assert (summary["status"] == "done").all()
    assert summary["val_f1"].between(0, 1).all() and summary["test_f1"].between(0, 1).all()
    for unit_dir, rec in iter_records(tmp_path / "res"):
        cells = pd.read_parquet(unit_dir / "cells.parquet")
        assert len(cells) == rec["n_cells"] * 5 and cells["f1"].notna().all()
        assert not list(unit_dir.glob(".*.tmp"))                  # no temp files left behind
    # Hydra must not have stored anything but the composed config (no secrets: see LLM tests).
    assert (tmp_path / "hydra" / ".hydra" / "config.yaml").is_file()


def test_unknown_dataset_is_one_clear_error(tmp_path: Path, mirror: Path) -> None:
    out = cli("dataset=wdcb", *common(tmp_path, mirror), cwd=ROOT)
    assert out.returncode == 2
    (line,) = out.stderr.strip().splitlines()
    assert line.startswith("error: dataset=wdcb: no such dataset option; choose one of: CastMetal1,")
    assert ", wdbc," in line


def test_typo_key_is_one_clear_error(tmp_path: Path, mirror: Path) -> None:
    out = cli("run.n_jbos=2", *common(tmp_path, mirror), cwd=ROOT)
    assert out.returncode == 2 and out.stderr.strip().splitlines() == [
        "error: run.n_jbos: unknown key (typo?); keys of run: results_dir, n_jobs, evaluator, exact_check, progress, "
        "rerun_failed, fail_fast"]
    assert not (tmp_path / "hydra").exists()          # Hydra stopped before its run directory (before: exit 1)
    out = cli("+protocol.folds=3", *common(tmp_path, mirror), cwd=ROOT)
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [
        "error: invalid config (conf/): protocol.folds: unknown key (typo?); keys of protocol: test_size, n_folds, "
        "f1_decimals"]


def test_missing_and_corrupt_files_are_recorded_not_crashes(tmp_path: Path, mirror: Path) -> None:
    bad = tmp_path / "mirror"
    bad.mkdir()
    shutil.copy(mirror / "manifest.csv", bad / "manifest.csv")
    with gzip.open(mirror / "43_haberman.csv.gz", "rt") as f:
        text = f.read().replace("30,", "31,", 1)
    with gzip.open(bad / "43_haberman.csv.gz", "wt") as f:
        f.write(text)
    args = [a for a in common(tmp_path, mirror) if not a.startswith("data.mirror_dirs")]
    out = cli("dataset=[haberman,vertebra-column,kdd_el_nino-small]", "grid=smoke", f"data.mirror_dirs=[{bad}]",
              *args, cwd=ROOT, env={"LSH_BENCH_DATA": ""})
    assert out.returncode == 1
    assert "checksum mismatch" in out.stdout and "failed" in out.stdout
    assert "unavailable offline (2): vertebra-column, kdd_el_nino-small" in out.stdout
    assert "1 unit(s) failed" in out.stderr


def test_sigkill_mid_sweep_then_resume_equals_uninterrupted(tmp_path: Path, mirror: Path) -> None:
    datasets = "dataset=[haberman,vertebra-column,analcatdata_apnea3,blood-transfusion-service-center]"
    base = [datasets, "grid=smoke", f"data.mirror_dirs=[{mirror}]", "data.use_openml=false", "run.progress=false"]
    ref = cli(*base, f"run.results_dir={tmp_path / 'ref'}", f"hydra.run.dir={tmp_path / 'h1'}", cwd=ROOT)
    assert ref.returncode == 0, ref.stderr[-2000:]

    res = tmp_path / "killed"
    proc = subprocess.Popen(
        [sys.executable, "-m", "lsh_bench", *base, f"run.results_dir={res}", f"hydra.run.dir={tmp_path / 'h2'}"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 300
    while time.time() < deadline and len(list(res.glob("units/*/*/*/*/unit.json"))) < 1:
        time.sleep(0.05)
    time.sleep(0.3)  # well inside the next unit
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    n_done = len(list(res.glob("units/*/*/*/*/unit.json")))
    assert 1 <= n_done < 4, "the kill should land mid-sweep"
    again = cli(*base, f"run.results_dir={res}", f"hydra.run.dir={tmp_path / 'h3'}", cwd=ROOT)
    assert again.returncode == 0, again.stderr[-2000:]

    cols = ["dataset", "status", "ratio", "classifier", "params", "val_f1", "test_f1", "config_hash"]
    a = load_summary(tmp_path / "ref")[cols].sort_values("dataset").reset_index(drop=True)
    b = load_summary(res)[cols].sort_values("dataset").reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b)
    for (da, _), (db, _) in zip(iter_records(tmp_path / "ref"), iter_records(res)):
        ca = pd.read_parquet(da / "cells.parquet").drop(columns="seconds")
        cb = pd.read_parquet(db / "cells.parquet").drop(columns="seconds")
        pd.testing.assert_frame_equal(ca, cb)
    assert not list(res.rglob("*.tmp"))


def test_failed_unit_in_a_joblib_multirun_does_not_stop_the_other_jobs(tmp_path: Path, mirror: Path) -> None:
    bad = tmp_path / "mirror"
    bad.mkdir()
    shutil.copy(mirror / "1524_vertebra-column.csv.gz", bad)
    with gzip.open(bad / "43_haberman.csv.gz", "wt") as f:
        f.write("not the file\n")
    out = cli("-m", "dataset=haberman,vertebra-column", "grid=smoke", "hydra/launcher=joblib",
              "hydra.launcher.n_jobs=2", f"data.mirror_dirs=[{bad}]", "data.use_openml=false",
              f"run.results_dir={tmp_path / 'res'}", f"hydra.sweep.dir={tmp_path / 'sweep'}", "run.progress=false",
              cwd=ROOT, env={"LSH_BENCH_DATA": ""})
    assert out.returncode == 1 and "error: 1 unit(s) failed" in out.stderr
    status = dict(zip(*load_summary(tmp_path / "res")[["dataset", "status"]].T.values))
    assert status == {"haberman": "failed", "vertebra-column": "done"}
