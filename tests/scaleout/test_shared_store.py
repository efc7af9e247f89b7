"""Several processes on one results directory; a worker killed mid-unit; a failing unit retried."""

from __future__ import annotations

import gzip
import json
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
from filelock import FileLock

from lsh_bench.sweep import run_sweep
from lsh_bench.store import iter_records
from tests.conftest import ROOT, compose_config
from tests.scaleout.conftest import DATASETS, cli, common, env, reference_summary, summary

SWEEP = ["method=sm", f"dataset=[{','.join(DATASETS)}]"]


def _units(res: Path) -> list[Path]:
    return sorted(p for p in res.glob("units/*/*/*/*") if p.is_dir())


def _no_temp_files(res: Path) -> None:
    assert not [p for p in res.rglob("*") if p.name.endswith(".tmp")]


def _status(mirror: Path, res: Path) -> str:
    out = cli(*SWEEP, *common(mirror, res), module="lsh_bench.status")
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout


def _line(status_out: str, dataset: str) -> str:
    return next(line for line in status_out.splitlines() if line.split()[1:2] == [f"general/sm/{dataset}"])


class _Watcher(threading.Thread):
    """Records every distinct version (inode, mtime) of every unit file while sweeps run."""

    def __init__(self, res: Path) -> None:
        super().__init__(daemon=True)
        self.res, self.stop, self.seen = res, threading.Event(), {}

    def run(self) -> None:
        while not self.stop.is_set():
            for path in self.res.glob("units/*/*/*/*/*.*"):
                try:
                    st = path.stat()
                except FileNotFoundError:
                    continue
                if path.name in ("unit.json", "cells.parquet", "ratios.parquet"):
                    self.seen.setdefault(path, set()).add((st.st_ino, st.st_mtime_ns))
            time.sleep(0.005)


def test_two_concurrent_sweeps_share_the_work(tmp_path: Path, mirror: Path, reference: Path) -> None:
    res = tmp_path / "res"
    watcher = _Watcher(res)
    watcher.start()
    cmd = [sys.executable, "-m", "lsh_bench", *SWEEP, *common(mirror, res)]
    procs = [subprocess.Popen([*cmd, f"hydra.run.dir={tmp_path / f'h{i}'}"], cwd=ROOT, env=env(),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    watcher.stop.set()
    watcher.join()
    for p, (stdout, stderr) in zip(procs, outs):
        assert p.returncode == 0, stderr[-2000:]
        assert "units: 4 done" in stdout          # each sweep reports the whole union
    units = _units(res)
    assert len(units) == len(DATASETS)
    for unit in units:
        assert sorted(p.name for p in unit.iterdir()) == [".lock", "cells.parquet", "quality.parquet", "ratios.parquet", "unit.json"]
    # every unit file was written exactly once (one version ever seen), i.e. no unit was computed twice
    assert len(watcher.seen) == 3 * len(DATASETS)
    twice = {str(p): v for p, v in watcher.seen.items() if len(v) != 1}
    assert not twice, twice
    _no_temp_files(res)
    pd.testing.assert_frame_equal(summary(res), reference_summary(reference, ["sm"], DATASETS))


def test_worker_killed_mid_unit_then_rerun_equals_uninterrupted(tmp_path: Path, mirror: Path,
                                                                 reference: Path) -> None:
    res = tmp_path / "res"
    proc = subprocess.Popen([sys.executable, "-m", "lsh_bench", *SWEEP, *common(mirror, res),
                             f"hydra.run.dir={tmp_path / 'h1'}"], cwd=ROOT, env=env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    victim = None
    deadline = time.time() + 120
    while victim is None and time.time() < deadline and proc.poll() is None:
        # a unit being computed: its lock file exists, its unit.json does not yet; prefer a later
        # unit so the kill lands mid-sweep, with finished units before it
        busy = [u for u in _units(res) if (u / ".lock").exists() and not (u / "unit.json").exists()]
        finished = [u for u in _units(res) if (u / "unit.json").exists()]
        if busy and finished:
            victim = busy[0]
        time.sleep(0.01)
    assert victim is not None, "no unit was seen mid-computation"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (victim / "unit.json").exists()
    n_done = sum((u / "unit.json").exists() for u in _units(res))
    assert 1 <= n_done < len(DATASETS)

    dataset = victim.parent.name
    # The killed process's lock died with it: the unit is "missing", not "running".
    assert _line(_status(mirror, res), dataset).startswith("missing")
    # While some process holds the lock, status reports the unit as running.
    with FileLock(str(victim / ".lock")):
        out = cli(*SWEEP, *common(mirror, res), module="lsh_bench.status")   # another process than the holder
    assert _line(out.stdout, dataset).startswith("running")

    again = cli(*SWEEP, *common(mirror, res), f"hydra.run.dir={tmp_path / 'h2'}")
    assert again.returncode == 0, again.stderr[-2000:]
    pd.testing.assert_frame_equal(summary(res), reference_summary(reference, ["sm"], DATASETS))
    ref_cells = {d.parent.name: d for d, rec in iter_records(reference) if rec["method"] == "sm"}
    for unit_dir, _ in iter_records(res):
        a = pd.read_parquet(unit_dir / "cells.parquet").drop(columns="seconds")
        b = pd.read_parquet(ref_cells[unit_dir.parent.name] / "cells.parquet").drop(columns="seconds")
        pd.testing.assert_frame_equal(a, b)
    _no_temp_files(res)


def test_failing_unit_is_recorded_then_only_it_is_retried(tmp_path: Path, mirror: Path, reference: Path,
                                                           monkeypatch) -> None:
    monkeypatch.delenv("LSH_BENCH_DATA", raising=False)
    bad = tmp_path / "mirror"
    bad.mkdir()
    shutil.copy(mirror / "manifest.csv", bad / "manifest.csv")
    files = {}
    for name in DATASETS:
        spec = compose_config([f"dataset={name}"]).dataset[name]
        files[name] = spec.file
        shutil.copy(mirror / spec.file, bad / spec.file)
    with gzip.open(mirror / files["haberman"], "rt") as f:      # a corrupted copy of one dataset file
        text = f.read().replace("30,", "31,", 1)
    with gzip.open(bad / files["haberman"], "wt") as f:
        f.write(text)

    res = tmp_path / "res"
    cfg = compose_config([*SWEEP, *common(bad, res)])
    records = {r["dataset"]: r for r in run_sweep(cfg)}
    assert [d for d, r in records.items() if r["status"] != "done"] == ["haberman"]
    unit = next(d for d, rec in iter_records(res) if rec["dataset"] == "haberman")
    rec = json.loads((unit / "unit.json").read_text())
    assert rec["status"] == "failed"
    assert rec["reason"].startswith("DatasetInvalid: dataset 'haberman': checksum mismatch")
    assert "Traceback (most recent call last)" in rec["traceback"] and "DatasetInvalid" in rec["traceback"]
    assert not (unit / "cells.parquet").exists()

    out = _status(bad, res)
    line = _line(out, "haberman")
    assert line.startswith("failed") and "checksum mismatch" in line
    assert "4 units: 3 finished (3 done, 0 not_applicable), 0 running, 1 failed" in out

    # The cause fixed, a rerun retries the failed unit, and only it.
    before = {d.parent.name: (d / "unit.json").stat().st_mtime_ns for d, _ in iter_records(res)}
    shutil.copy(mirror / files["haberman"], bad / files["haberman"])
    records = {r["dataset"]: r for r in run_sweep(cfg)}
    assert all(r["status"] == "done" for r in records.values())
    after = {d.parent.name: (d / "unit.json").stat().st_mtime_ns for d, _ in iter_records(res)}
    assert [d for d in DATASETS if after[d] != before[d]] == ["haberman"]     # only the failed unit re-ran
    assert "traceback" not in json.loads((unit / "unit.json").read_text())
    pd.testing.assert_frame_equal(summary(res), reference_summary(reference, ["sm"], DATASETS))
