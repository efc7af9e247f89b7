"""The results store: one directory per unit, written atomically, resumable.

A *unit* is one (dataset, scenario, method) under one config hash::

    <results_dir>/units/<scenario>/<method>/<dataset>/<config_hash>/
        cells.parquet   every CV cell: ratio x classifier x params x fold -> F1, seconds
        ratios.parquet  per (ratio, fold): resampling seconds and LLM accounting
        quality.parquet per (fold, ratio): quality of the synthetic rows (docs/quality.md)
        unit.json       the unit's record: status, choice, SM_v/SM_t/SM_a-style scores,
                        skipped ratios with reasons, LLM accounting, provenance

``unit.json`` is written last, so its presence marks a finished unit; every
file is written to a temporary name in the same directory and moved into
place with ``os.replace`` (atomic on POSIX), so a crash or Ctrl-C never
leaves a half-written file, and a rerun skips finished units. A lock file per
unit keeps two concurrent sweeps from computing the same unit twice.
See ``results/README.md`` for the schema.

Damage is expected, not fatal: a ``unit.json`` that cannot be read (truncated
by a copy, edited by hand, a disk error) is :class:`RecordUnreadable`, named by
its path. The sweep moves it aside (``unit.json.corrupt-<UTC time>``, kept for
inspection) and recomputes the unit; the summary lists it as ``failed``. A
write that fails with an OS error (disk full, read-only) becomes
:class:`StoreUnwritable` naming the unit directory and the errno, after the
files this write had put in place are removed again, so nothing a rerun would
trust is left behind.
"""

from __future__ import annotations

import io
import json
import logging
import os
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

import pandas as pd
from filelock import FileLock, Timeout

from lsh_bench.errors import RecordUnreadable, StoreUnwritable
from lsh_bench.record import unit_rows

log = logging.getLogger("lsh_bench")

FINISHED = ("done", "not_applicable")   # never recomputed; "failed" and "unavailable" are retried
STATUSES = (*FINISHED, "failed", "unavailable")
# What every reader of a record relies on; a record without them is treated as damaged.
RECORD_FIELDS = ("status", "dataset", "scenario", "method", "config_hash")


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


def read_record(path: Path) -> dict[str, Any]:
    """One ``unit.json``; :class:`RecordUnreadable` (naming ``path``) if it cannot be used.

    ``FileNotFoundError`` passes through: a missing record is not damage.
    """
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise RecordUnreadable(path, f"cannot read it ([Errno {exc.errno}] {exc.strerror or exc})") from exc
    try:
        rec = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise RecordUnreadable(path, f"not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    except json.JSONDecodeError as exc:
        raise RecordUnreadable(
            path, f"not valid JSON ({exc.msg}: line {exc.lineno}, column {exc.colno}; the file has "
            f"{len(raw)} bytes: truncated?)") from exc
    if not isinstance(rec, dict):
        raise RecordUnreadable(path, f"expected a JSON object, found {type(rec).__name__}")
    missing = [k for k in RECORD_FIELDS if k not in rec]
    if missing:
        raise RecordUnreadable(path, f"missing field(s) {', '.join(missing)}")
    if rec["status"] not in STATUSES:
        raise RecordUnreadable(path, f"status is {rec['status']!r}, expected one of {', '.join(STATUSES)}")
    return rec


class UnitStore:
    """Where one unit's files live, and whether it is finished."""

    def __init__(self, results_dir: str | Path, scenario: str, method: str, dataset: str, config_hash: str) -> None:
        self.dir = Path(results_dir) / "units" / scenario / method / dataset / config_hash

    @property
    def record_path(self) -> Path:
        return self.dir / "unit.json"

    def record(self) -> dict[str, Any] | None:
        """The unit's record, None if there is none; :class:`RecordUnreadable` if it is damaged."""
        try:
            return read_record(self.record_path)
        except FileNotFoundError:
            return None

    def peek(self) -> dict[str, Any] | None:
        """The record, or None if there is none *or it is damaged* (not finished either way).

        For looking without the unit's lock: a damaged record is left where it
        is; :meth:`record_or_quarantine`, called under the lock, deals with it.
        """
        try:
            return self.record()
        except RecordUnreadable:
            return None

    def record_or_quarantine(self) -> dict[str, Any] | None:
        """The record, or None; call with the unit's lock held.

        A damaged record is moved aside (``unit.json.corrupt-<UTC time>``, kept
        for inspection) and reported with its path, so the unit is recomputed.
        Only the lock holder may move it: another process could be about to
        replace it with a good one.
        """
        try:
            return self.record()
        except RecordUnreadable as exc:
            stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S.%fZ")
            aside = self.record_path.with_name(f"{self.record_path.name}.corrupt-{stamp}")
            try:
                os.replace(self.record_path, aside)
            except FileNotFoundError:
                return None
            except OSError as move_exc:
                raise StoreUnwritable(self.dir, move_exc) from exc
            log.warning("%s; moved it to %s and recomputing the unit", exc, aside.name)
            return None

    def lock(self, timeout: float = 0) -> FileLock:
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreUnwritable(self.dir, exc) from exc
        return FileLock(str(self.dir / ".lock"), timeout=timeout)

    def write(self, record: dict[str, Any], cells: pd.DataFrame | None, ratios: pd.DataFrame | None,
              quality: pd.DataFrame | None = None) -> None:
        """Put the unit's files in place, ``unit.json`` last (it marks the unit finished).

        On an OS error (disk full, read-only, permissions) the files this call
        already replaced are removed again and :class:`StoreUnwritable` is
        raised: the directory then holds no new file, so a rerun recomputes
        the unit instead of trusting a part of it.
        """
        written: list[Path] = []
        try:
            # Called with the unit's lock held, so no other writer is active: a
            # temporary file here is left over from a writer killed mid-write (SIGKILL,
            # node failure) -- remove it so no stray partial file stays in the store.
            for stale in self.dir.glob(".*.tmp"):
                stale.unlink(missing_ok=True)
            for name, frame in (("cells.parquet", cells), ("ratios.parquet", ratios), ("quality.parquet", quality)):
                if frame is not None:
                    atomic_write_parquet(self.dir / name, frame)
                    written.append(self.dir / name)
            atomic_write_json(self.record_path, record)   # last: marks the unit finished
        except OSError as exc:
            for path in written:
                try:
                    path.unlink(missing_ok=True)
                except OSError as cleanup_exc:   # e.g. the whole file system went read-only
                    log.warning("could not remove %s after the failed write: %s", path, cleanup_exc)
            raise StoreUnwritable(self.dir, exc) from exc

    def cells(self) -> pd.DataFrame:
        return pd.read_parquet(self.dir / "cells.parquet")


def iter_records(results_dir: str | Path, damaged: list[RecordUnreadable] | None = None
                 ) -> Iterator[tuple[Path, dict[str, Any]]]:
    """(unit directory, record) of every readable record in the store.

    A damaged record is skipped: appended to ``damaged`` when given, else
    reported as a warning naming its path. Never raises for one bad file.
    """
    root = Path(results_dir) / "units"
    for path in sorted(root.glob("*/*/*/*/unit.json")):
        try:
            rec = read_record(path)
        except FileNotFoundError:     # moved aside by a sweep since the listing
            continue
        except RecordUnreadable as exc:
            if damaged is not None:
                damaged.append(exc)
            else:
                log.warning("%s (skipped)", exc)
            continue
        yield path.parent, rec


def _damaged_row(exc: RecordUnreadable) -> dict[str, Any]:
    """A summary row for a damaged record: its identity from the path, status ``failed``."""
    path = Path(str(exc.path))
    scenario, method, dataset, config_hash = path.parts[-5:-1]
    return {"dataset": dataset, "scenario": scenario, "method": method, "status": "failed",
            "reason": f"{exc} (a sweep moves it aside and recomputes the unit)", "config_hash": config_hash}


def load_summary(results_dir: str | Path) -> pd.DataFrame:
    """One row per unit (the analysis module's input): :class:`lsh_bench.record.UnitRow`'s columns.

    A damaged ``unit.json`` is a ``failed`` row whose reason names the file
    (and a warning), so it shows up as missing instead of stopping the report.
    """
    damaged: list[RecordUnreadable] = []
    records = [rec for _, rec in iter_records(results_dir, damaged)]
    for exc in damaged:
        log.warning("%s; listed as failed", exc)
    return unit_rows(records + [_damaged_row(exc) for exc in damaged])


RATIO_COLUMNS = [
    "dataset", "scenario", "method", "ratio", "fold", "resample_seconds",
    "llm_calls", "llm_cache_hits", "llm_seconds", "llm_prompt_tokens", "llm_completion_tokens",
]


def load_ratio_stats(results_dir: str | Path) -> pd.DataFrame:
    """Per (unit, ratio, fold) resampling time and LLM accounting (fold -1 = the refit)."""
    frames = []
    for unit_dir, rec in iter_records(results_dir, damaged=[]):   # damaged ones: reported by load_summary
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
    except OSError as exc:      # the lock file cannot be created: read-only or full
        raise StoreUnwritable(store.dir, exc) from exc
    return lock
