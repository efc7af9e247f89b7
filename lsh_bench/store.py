"""The results store: one directory per unit, written atomically, resumable.

A *unit* is one (dataset, scenario, method) under one config hash::

    <results_dir>/units/<scenario>/<method>/<dataset>/<config_hash>/
        cells.parquet   every CV cell: ratio x classifier x params x fold -> F1, seconds
        ratios.parquet  per (ratio, fold): resampling seconds and LLM accounting
        unit.json       the unit's record: status, choice, SM_v/SM_t/SM_a-style scores,
                        skipped ratios with reasons, LLM accounting, provenance

``unit.json`` is written last, so its presence marks a finished unit; every
file is written to a temporary name in the same directory and moved into
place with ``os.replace`` (atomic on POSIX), so a crash or Ctrl-C never
leaves a half-written file, and a rerun skips finished units. A lock file per
unit keeps two concurrent sweeps from computing the same unit twice.
See ``results/README.md`` for the schema.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Iterator

import pandas as pd
from filelock import FileLock, Timeout

from lsh_bench.record import unit_rows

FINISHED = ("done", "not_applicable")   # never recomputed; "failed" and "unavailable" are retried


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path``, then ``os.replace`` it into place.

    Readers see the old file or the new one, never a part; a crash leaves at
    most a ``.<name>.*.tmp`` file, which no reader opens. Used by the results
    store and the LLM replay cache (both shared between processes).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            os.chmod(tmp, 0o644)  # mkstemp makes 0600; results and cache entries are shared data
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_json(path: Path, obj: Any) -> None:
    atomic_write_bytes(path, (json.dumps(obj, indent=2, sort_keys=False, default=str) + "\n").encode())


def atomic_write_parquet(path: Path, frame: pd.DataFrame) -> None:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    atomic_write_bytes(path, buffer.getvalue())


class UnitStore:
    """Where one unit's files live, and whether it is finished."""

    def __init__(self, results_dir: str | Path, scenario: str, method: str, dataset: str, config_hash: str) -> None:
        self.dir = Path(results_dir) / "units" / scenario / method / dataset / config_hash

    @property
    def record_path(self) -> Path:
        return self.dir / "unit.json"

    def record(self) -> dict[str, Any] | None:
        if not self.record_path.is_file():
            return None
        return json.loads(self.record_path.read_text())

    def lock(self, timeout: float = 0) -> FileLock:
        self.dir.mkdir(parents=True, exist_ok=True)
        return FileLock(str(self.dir / ".lock"), timeout=timeout)

    def write(self, record: dict[str, Any], cells: pd.DataFrame | None, ratios: pd.DataFrame | None) -> None:
        # Called with the unit's lock held, so no other writer is active: a
        # temporary file here is left over from a writer killed mid-write (SIGKILL,
        # node failure) -- remove it so no stray partial file stays in the store.
        for stale in self.dir.glob(".*.tmp"):
            stale.unlink(missing_ok=True)
        if cells is not None:
            atomic_write_parquet(self.dir / "cells.parquet", cells)
        if ratios is not None:
            atomic_write_parquet(self.dir / "ratios.parquet", ratios)
        atomic_write_json(self.record_path, record)   # last: marks the unit finished

    def cells(self) -> pd.DataFrame:
        return pd.read_parquet(self.dir / "cells.parquet")


def iter_records(results_dir: str | Path) -> Iterator[tuple[Path, dict[str, Any]]]:
    root = Path(results_dir) / "units"
    for path in sorted(root.glob("*/*/*/*/unit.json")):
        yield path.parent, json.loads(path.read_text())


def load_summary(results_dir: str | Path) -> pd.DataFrame:
    """One row per unit (the analysis module's input): :class:`lsh_bench.record.UnitRow`'s columns."""
    return unit_rows([rec for _, rec in iter_records(results_dir)])


RATIO_COLUMNS = [
    "dataset", "scenario", "method", "ratio", "fold", "resample_seconds",
    "llm_calls", "llm_cache_hits", "llm_seconds", "llm_prompt_tokens", "llm_completion_tokens",
]


def load_ratio_stats(results_dir: str | Path) -> pd.DataFrame:
    """Per (unit, ratio, fold) resampling time and LLM accounting (fold -1 = the refit)."""
    frames = []
    for unit_dir, rec in iter_records(results_dir):
        path = unit_dir / "ratios.parquet"
        if rec["status"] == "done" and path.is_file():
            f = pd.read_parquet(path)
            f.insert(0, "method", rec["method"])
            f.insert(0, "scenario", rec["scenario"])
            f.insert(0, "dataset", rec["dataset"])
            frames.append(f[RATIO_COLUMNS])
    if not frames:
        return pd.DataFrame(columns=RATIO_COLUMNS)
    return pd.concat(frames, ignore_index=True)


def try_lock(store: UnitStore) -> FileLock | None:
    """The unit's lock if free now, else None (another process is computing it)."""
    lock = store.lock(timeout=0)
    try:
        lock.acquire()
    except Timeout:
        return None
    return lock
