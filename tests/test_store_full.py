"""A results store that cannot be written (disk full, read-only): the sweep stops with one line
naming the directory and the errno, prints what finished, and leaves nothing a rerun would trust."""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import lsh_bench.store as store_mod
from lsh_bench.errors import StoreUnwritable, SweepStopped
from lsh_bench.sweep import run_sweep
from lsh_bench.unit import UnitJob
from lsh_bench.store import UnitStore, try_lock
from tests.conftest import ROOT

DATASETS = "dataset=[haberman,vertebra-column,analcatdata_apnea3]"


def _full_for(dataset: str, name: str = "unit.json"):
    """atomic_write_bytes that fails with ENOSPC when writing ``name`` of ``dataset``'s unit."""
    real = store_mod.atomic_write_bytes

    def write(path: Path, data: bytes) -> None:
        if dataset in path.parts and path.name == name:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real(path, data)

    return write


def _unit_dir(results: str, dataset: str) -> Path:
    (d,) = Path(results, "units", "general", "sm", dataset).iterdir()
    return d


def _assert_left_nothing(unit_dir: Path) -> None:
    assert sorted(p.name for p in unit_dir.iterdir()) == [".lock"]     # no record, no cells, no temp file
    lock = try_lock(UnitStore(unit_dir.parents[4], "general", "sm", unit_dir.parent.name, unit_dir.name))
    assert lock is not None                                              # released
    lock.release()


@pytest.mark.parametrize("n_jobs, unit_fails_too", [(1, False), (1, True), (2, True)])
def test_disk_full_stops_the_sweep_with_what_finished(make_cfg, monkeypatch: pytest.MonkeyPatch, n_jobs: int,
                                                      unit_fails_too: bool) -> None:
    """Before: a double traceback (raised again inside the failure handler), no summary."""
    cfg = make_cfg(DATASETS, "grid=smoke", f"run.n_jobs={n_jobs}")
    monkeypatch.setattr(store_mod, "atomic_write_bytes", _full_for("vertebra-column"))
    if unit_fails_too:     # the unit fails, and then writing its *failed* record fails as well
        add_cv = UnitJob.add_cv

        def broken(self: UnitJob, out: list) -> object:
            if self.ds.name == "vertebra-column":
                raise RuntimeError("boom")
            return add_cv(self, out)

        monkeypatch.setattr(UnitJob, "add_cv", broken)
    with pytest.raises(SweepStopped) as err:
        run_sweep(cfg)
    unit_dir = _unit_dir(cfg.run.results_dir, "vertebra-column")
    finished = err.value.records
    assert str(err.value) == (f"cannot write to the results store at {unit_dir}: [Errno 28 ENOSPC] No space left "
                              f"on device; the sweep stopped after {len(finished)} of 3 unit(s)")
    assert isinstance(err.value.__cause__, StoreUnwritable) and err.value.__cause__.errno == errno.ENOSPC
    _assert_left_nothing(unit_dir)
    written = sorted(p.parent.parent.name for p in Path(cfg.run.results_dir).rglob("unit.json"))
    assert written == sorted(r["dataset"] for r in finished)            # exactly the units reported finished
    if n_jobs == 1:
        assert [(r["dataset"], r["status"]) for r in finished] == [("haberman", "done")]
        assert "analcatdata_apnea3" not in written                       # the sweep stopped there
    else:     # pooled: haberman may still have been running; then it was abandoned unwritten, its lock freed
        assert all(r["status"] == "done" for r in finished)
    if not unit_fails_too:
        monkeypatch.undo()
        assert [r["status"] for r in run_sweep(cfg)] == ["done"] * 3      # a rerun finishes the sweep


def test_cells_written_before_a_failing_record_are_removed(make_cfg, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = make_cfg("dataset=haberman", "grid=smoke")
    writes: list[str] = []
    full = _full_for("haberman", "unit.json")

    def spy(path: Path, data: bytes) -> None:
        writes.append(path.name)
        full(path, data)

    monkeypatch.setattr(store_mod, "atomic_write_bytes", spy)
    with pytest.raises(SweepStopped):
        run_sweep(cfg)
    assert writes == ["cells.parquet", "ratios.parquet", "quality.parquet", "unit.json"]   # all were in place...
    _assert_left_nothing(_unit_dir(cfg.run.results_dir, "haberman"))       # ...and are gone again


# --------------------------------------------------------------------------- a real file system


def _in_private_tmpfs(mount_opts: str, mountpoint: Path, script: str) -> subprocess.CompletedProcess:
    """Run ``script`` (sh) in a private mount namespace with a tmpfs at ``mountpoint``; skip where impossible.

    The mount exists only inside the namespace: nothing outside (other users
    of the machine) sees it, and it disappears with the process.
    """
    if not shutil.which("unshare"):
        pytest.skip("unshare(1) is not installed: cannot mount a private tmpfs")
    probe = subprocess.run(["unshare", "-m", "sh", "-c", f"mount -t tmpfs -o size=64k tmpfs {mountpoint}"],
                           capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs in a private mount namespace here: {probe.stderr.strip()}")
    env = {**os.environ, "HYDRA_FULL_ERROR": "0", "LSH_BENCH_DATA": ""}
    return subprocess.run(["unshare", "-m", "sh", "-c", f"mount -t tmpfs -o {mount_opts} tmpfs {mountpoint} && {script}"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)


def _cli(results: Path, tmp_path: Path, mirror: Path, *datasets: str) -> str:
    args = [sys.executable, "-m", "lsh_bench", f"dataset=[{','.join(datasets)}]", "grid=smoke",
            f"data.mirror_dirs=[{mirror}]", "data.use_openml=false", f"run.results_dir={results}",
            f"hydra.run.dir={tmp_path / 'hydra'}", "run.progress=false"]
    return " ".join(f"'{a}'" for a in args)


def test_full_tmpfs_stops_with_one_line_and_a_clean_store(tmp_path: Path, mirror: Path) -> None:
    """A real ENOSPC: a tmpfs with room for the inodes of one unit and a half."""
    results = tmp_path / "full"
    results.mkdir()
    listing = tmp_path / "listing.txt"
    status_out = tmp_path / "status.txt"
    status = _cli(results, tmp_path, mirror, "haberman", "vertebra-column", "analcatdata_apnea3").replace(
        "'-m' 'lsh_bench'", "'-m' 'lsh_bench.status'")
    # inodes: the root, units/general/sm, per unit 2 dirs + .lock + cells + ratios + unit.json (+ 1 temp file
    # while writing). 15 runs out when the second unit writes its record.
    script = (f"{_cli(results, tmp_path, mirror, 'haberman', 'vertebra-column', 'analcatdata_apnea3')}; rc=$?; "
              f"(cd {results} && find . | sort) > {listing}; {status} > {status_out} 2>&1; exit $rc")
    out = _in_private_tmpfs("size=4m,nr_inodes=15", results, script)
    assert out.returncode == 1, out.stderr[-3000:]
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in out.stderr, out.stderr
    assert lines[0].startswith(f"error: cannot write to the results store at {results}/units/general/sm/")
    assert "[Errno 28 ENOSPC] No space left on device; the sweep stopped after 1 of 3 unit(s)" in lines[0]
    assert "units: 1 done" in out.stdout and "haberman" in out.stdout          # the summary of what finished
    files = listing.read_text().split()
    records = [f for f in files if f.endswith("unit.json")]
    assert len(records) == 1 and "/haberman/" in records[0]                   # only the finished unit's record
    assert not [f for f in files if f.endswith(".tmp")]
    assert not [f for f in files if "/vertebra-column/" in f and f.endswith(".parquet")]
    states = status_out.read_text()
    assert "done            general/sm/haberman" in states and "missing         general/sm/vertebra-column" in states


def test_read_only_store_stops_before_any_unit(tmp_path: Path, mirror: Path) -> None:
    results = tmp_path / "ro"
    results.mkdir()
    out = _in_private_tmpfs("ro,size=64k", results, _cli(results, tmp_path, mirror, "haberman"))
    assert out.returncode == 1
    lines = out.stderr.strip().splitlines()
    assert lines == [f"error: cannot write to the results store at {results}/units/general/sm/haberman/"
                     f"{lines[0].split('/haberman/')[1].split(':')[0]}: [Errno 30 EROFS] Read-only file system; "
                     f"the sweep stopped after 0 of 1 unit(s)"], out.stderr
    assert "(no units)" in out.stdout
