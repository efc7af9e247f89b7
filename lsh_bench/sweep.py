"""The sweep: every selected dataset for the configured scenario and method, resumably.

* **claims**: a unit whose record is finished (``done``/``not_applicable``) is
  never recomputed; one that is not is *claimed* by taking its lock
  (:func:`lsh_bench.store.try_lock`). A unit locked by another process is
  deferred and awaited at the end, so two sweeps on one results directory
  share the work and never duplicate it.
* **one unit at a time** (``run.n_jobs = 1``): :func:`lsh_bench.unit.compute_unit`.
* **pooled** (``run.n_jobs > 1``): :class:`PooledScheduler` runs the work
  items of consecutive units on one pool of worker processes, so the next
  unit starts while the last tasks (and the refit) of the previous one run.
"""

from __future__ import annotations

import logging
import os
import signal
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass
from typing import Any

from filelock import FileLock
from joblib.externals.loky import ProcessPoolExecutor
from tqdm.auto import tqdm

from lsh_bench.config import BenchConfig, DatasetSpec, unit_config_hash
from lsh_bench.errors import StoreUnwritable, SweepStopped
from lsh_bench.provenance import code_state
from lsh_bench.quality.backfill import fill_missing_quality
from lsh_bench.samplers.registry import check_method
from lsh_bench.store import FINISHED, UnitStore, try_lock
from lsh_bench.unit import UnitJob, UnitRun, WorkItem, compute_unit, run_tasks

log = logging.getLogger("lsh_bench")
Record = dict[str, Any]

# One BLAS/OpenMP thread in every worker process (set before numpy loads there).
_WORKER_ENV = {v: "1" for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
# Bounds (seconds) of an unclean pool end: loky's manager thread dropping the cancelled items,
# the manager finishing, a worker dying after SIGTERM and again after SIGKILL.
_DROP_WAIT, _MANAGER_WAIT, _WORKER_WAIT = 2.0, 5.0, 2.0


@dataclass
class Claim:
    """A unit this process holds the lock of and has to compute."""

    spec: DatasetSpec
    store: UnitStore
    config_hash: str
    lock: FileLock


@dataclass
class Deferred:
    """A unit another process held the lock of when we looked (``seen``: its record's mtime then)."""

    spec: DatasetSpec
    store: UnitStore
    config_hash: str
    seen: int | None


def _stamp(store: UnitStore) -> int | None:
    try:
        return store.record_path.stat().st_mtime_ns
    except FileNotFoundError:
        return None


def finished_record(cfg: BenchConfig, store: UnitStore, seen: int | None = -1) -> Record | None:
    """The unit's record if there is nothing to compute, else ``None``.

    A finished record is final; a failed one is final too under
    ``run.rerun_failed=false``, or if another process wrote it since we first
    looked (``seen``): it failed there while we waited for its lock, and is
    retried on the next run, not computed twice now.
    """
    # seen == -1: looking without the lock (a damaged record counts as not
    # finished); else the lock is held and a damaged record is moved aside.
    rec = store.peek() if seen == -1 else store.record_or_quarantine()
    if rec is not None and (rec["status"] in FINISHED or not cfg.run.rerun_failed):
        return rec
    if rec is not None and seen != -1 and _stamp(store) != seen:
        return rec
    return None


def claims(cfg: BenchConfig, specs: list[DatasetSpec], done: Callable[[Record], None],
           deferred: list[Deferred]) -> Iterator[Claim]:
    """The units to compute here, each locked; finished ones go to ``done``, locked ones to ``deferred``."""
    for spec in specs:
        h = unit_config_hash(cfg, spec)
        store = UnitStore(cfg.run.results_dir, cfg.scenario.name, cfg.method.name, spec.name, h)
        seen = _stamp(store)
        rec = finished_record(cfg, store)
        if rec is None:
            lock = try_lock(store)
            if lock is None:
                deferred.append(Deferred(spec, store, h, seen))
                continue
            rec = finished_record(cfg, store, seen)
            if rec is None:
                yield Claim(spec, store, h, lock)
                continue
            lock.release()
        done(rec)


class PooledScheduler:
    """Compute claimed units on one pool of ``run.n_jobs`` worker processes.

    The work items of consecutive units form one queue: the next unit is
    loaded and its CV tasks start as soon as a worker would otherwise idle;
    a unit's refit goes to the front of the queue once its CV is complete.
    At most one unit is loaded ahead. Each item is the same
    :func:`~lsh_bench.unit.run_tasks` call as in
    :func:`~lsh_bench.unit.run_unit`, so the scores are those of the
    one-unit-at-a-time path. A failing item fails (and records) only its unit;
    Ctrl-C releases every lock, writes nothing partial and leaves no worker
    process running (:func:`end_pool`).
    """

    def __init__(self, cfg: BenchConfig, code: Record, done: Callable[[Record], None], cell_bar: tqdm) -> None:
        self.cfg, self.code, self.done, self.cell_bar = cfg, code, done, cell_bar
        self.ready: deque[WorkItem] = deque()
        self.in_flight: dict[Future, WorkItem] = {}
        self.open_units: dict[int, tuple[Claim, UnitRun]] = {}   # id(job) -> its claim and record
        # A pool of our own, shut down when the sweep ends: loky's process-wide reusable executor
        # is shared with joblib, whose memmapping executor then found ours and failed
        # ('_ReusablePoolExecutor' object has no attribute '_temp_folder_manager').
        self.pool: ProcessPoolExecutor | None = None

    def run(self, claimed: Iterator[Claim]) -> None:
        exhausted = False
        finished_cleanly = False
        try:
            while True:
                while len(self.in_flight) < self.cfg.run.n_jobs and (self.ready or not exhausted):
                    if self.ready:
                        self._submit(self.ready.popleft())
                    elif (claim := next(claimed, None)) is not None:
                        self._start(claim)
                    else:
                        exhausted = True
                if not self.in_flight or (exhausted and not self.ready and self._only_orphans()):
                    break
                finished, _ = wait(list(self.in_flight), return_when=FIRST_COMPLETED)
                for fut in finished:
                    self._settle(fut, self.in_flight.pop(fut))
            # Orphans left in flight: their workers are stopped rather than waited for (end_pool).
            finished_cleanly = not self.in_flight
        finally:
            self._abandon()
            if self.pool is not None:
                end_pool(self.pool, self.in_flight, cleanly=finished_cleanly)

    def _submit(self, item: WorkItem) -> None:
        if self.pool is None:
            self.pool = new_pool(self.cfg.run.n_jobs)
        self.in_flight[self.pool.submit(run_tasks, *item.args())] = item

    def _start(self, claim: Claim) -> None:
        """Load the claimed unit and queue its CV items (or record it at once: N/A, failed to load)."""
        unit = UnitRun(self.cfg, claim.spec, claim.store, claim.config_hash, self.code)
        try:
            job = UnitJob(self.cfg, unit.load())
        except (KeyboardInterrupt, SystemExit):
            claim.lock.release()
            raise
        except Exception as exc:
            try:
                unit.failed(exc)
            except BaseException:
                claim.lock.release()
                raise
            self._close(None, claim, unit)
            return
        if job.early is not None:
            unit.fields.update(job.early)
            self._close(None, claim, unit)
            return
        self.open_units[id(job)] = (claim, unit)
        self.ready.extend(job.cv_items)
        self.cell_bar.total = (self.cell_bar.total or 0) + job.n_progress
        self.cell_bar.refresh()

    def _settle(self, fut: Future, item: WorkItem) -> None:
        """One finished item: the unit's next step (its refit, or its record); a failure fails the unit."""
        job = item.job
        if id(job) not in self.open_units:
            return      # its unit already failed
        claim, unit = self.open_units[id(job)]
        try:
            out = fut.result()
            self.cell_bar.update(len(out) * len(item.cells) if not item.refit else 1)
            if item.refit:
                fields, cells, ratios = job.finish(out)
                unit.fields.update(fields)
                self._close(job, claim, unit, (cells, ratios, job.quality_frame()))
            elif (refit := job.add_cv(out)) is not None:
                self.ready.appendleft(refit)
        except (KeyboardInterrupt, SystemExit, StoreUnwritable):
            raise
        except Exception as exc:
            unit.failed(exc, job)
            self._close(job, claim, unit)

    def _close(self, job: UnitJob | None, claim: Claim, unit: UnitRun,
               out: tuple[Any, ...] = (None, None, None)) -> None:
        """Write the unit's record, drop its queued items, release its lock."""
        if job is not None:
            self.open_units.pop(id(job), None)
            left = [it for it in self.ready if it.job is not job]
            self.ready.clear()
            self.ready.extend(left)
        try:
            self.done(unit.write(*out))
        finally:
            claim.lock.release()

    def _only_orphans(self) -> bool:
        """Every item in flight belongs to a unit already closed (failed): its result would be dropped.

        Why it matters: an LLM unit fails at one generation while its other
        generations run on (minutes each with the local model); at the end of a
        sweep, nothing else is left, and waiting for them only delays the exit.
        """
        return all(id(item.job) not in self.open_units for item in self.in_flight.values())

    def _abandon(self) -> None:
        """On the way out (normally nothing is left; after Ctrl-C): release every lock (end_pool cancels)."""
        for claim, _ in self.open_units.values():
            claim.lock.release()


def new_pool(n_jobs: int) -> ProcessPoolExecutor:
    """``n_jobs`` worker processes, one BLAS thread each, that ignore SIGINT.

    Ctrl-C reaches the whole foreground process group. A worker between two
    items (loky's loop, a destructor) then printed its own KeyboardInterrupt
    traceback under the sweep's one line; the sweep ends its workers itself
    (:func:`end_pool`).
    """
    return ProcessPoolExecutor(max_workers=n_jobs, env=_WORKER_ENV, initializer=signal.signal,
                               initargs=(signal.SIGINT, signal.SIG_IGN))


def end_pool(pool: ProcessPoolExecutor, futures: Iterable[Future], cleanly: bool) -> None:
    """Shut ``pool`` down; after an unclean end, cancel what has not started and leave no worker alive.

    A clean end waits for the workers to exit. An unclean one (Ctrl-C, a failing
    record, disk full) waits for no item, but must not leave a worker behind:
    loky's workers are not daemonic, so the interpreter waits for a survivor at
    exit, forever.

    loky 3.6's ``shutdown(kill_workers=True)`` has its manager thread fail every
    item not yet returned, then kill the workers. An item submitted but not yet
    handed to a worker kills that thread: if its future was cancelled, with
    ``InvalidStateError`` before the workers are killed (seen once under load:
    they lived on and pytest hung at exit); if not, with ``KeyError`` just after
    (its id is still queued), leaving a traceback and the pool's queues open.
    So the items not yet handed over are cancelled, and the pool is shut down
    only once the manager has dropped them (``wait`` counts a cancelled future
    as done only then; bounded). Whatever still goes wrong, :func:`_stop` ends
    the workers the manager left alive.
    """
    if cleanly:
        pool.shutdown(wait=True)
        return
    # loky internals: there is no public handle on the manager thread, the workers or unreturned futures
    manager = pool._executor_manager_thread
    workers = list(pool._processes.values())
    futures = [*futures, *(item.future for item in list(pool._pending_work_items.values()))]
    cancelled = {f for f in futures if f.cancel()}       # cancel() fails for the items handed over
    deadline = time.monotonic() + _DROP_WAIT
    while cancelled and manager is not None and manager.is_alive() and time.monotonic() < deadline:
        cancelled = wait(cancelled, timeout=0.05).not_done
    pool.shutdown(wait=False, kill_workers=True)
    if manager is not None:
        manager.join(_MANAGER_WAIT)
    if stopped := _stop(workers):
        log.warning("stopped %d worker process(es) the pool left running (pids %s)", len(stopped), stopped)


def _stop(workers: list[Any]) -> list[int]:
    """SIGTERM, then SIGKILL, every worker still alive; join each (bounded). Returns their pids.

    Each wait joins the process, so none is left a zombie either.
    """
    alive = [p for p in workers if p.exitcode is None]
    pids = [p.pid for p in alive]
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for p in alive:
            try:
                os.kill(p.pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + _WORKER_WAIT
        for p in alive:
            p.join(max(0.0, deadline - time.monotonic()))
        alive = [p for p in alive if p.exitcode is None]
    return pids


def run_sweep(cfg: BenchConfig) -> list[Record]:
    """Every selected dataset for the configured scenario and method; finished units are skipped.

    Returns the records in the config's dataset order.
    """
    check_method(cfg.method, expander=cfg.ls.expander)
    code = code_state()     # the code that runs is the code imported now (see code_state)
    specs = list(cfg.dataset.values())
    records: list[Record] = []
    deferred: list[Deferred] = []
    disable = None if cfg.run.progress else True
    bar = tqdm(total=len(specs), desc=f"{cfg.method.name}/{cfg.scenario.name} units", unit="unit", disable=disable)
    cell_bar = tqdm(total=0, desc="cells", unit="cell", leave=False, disable=disable)

    def done(rec: Record) -> None:
        records.append(rec)
        bar.set_postfix_str(f"{rec['dataset']}: {rec['status']}")
        bar.update(1)

    order = {s.name: i for i, s in enumerate(specs)}
    claimed = claims(cfg, specs, done, deferred)
    try:
        if cfg.run.n_jobs > 1:
            PooledScheduler(cfg, code, done, cell_bar).run(claimed)
        else:
            for claim in claimed:
                try:
                    done(compute_unit(cfg, claim.spec, claim.store, claim.config_hash, code, cell_bar))
                finally:
                    claim.lock.release()
        for d in deferred:
            log.info("waiting for unit %s, being computed by another process", d.spec.name)
            with d.store.lock(timeout=-1):
                done(finished_record(cfg, d.store, d.seen) or compute_unit(cfg, d.spec, d.store, d.config_hash,
                                                                           code, cell_bar))
    except StoreUnwritable as exc:
        # Disk full / read-only: every further unit would fail the same way. The
        # unit being written left nothing behind (UnitStore.write); stop here.
        raise SweepStopped(f"{exc}; the sweep stopped after {len(records)} of {len(specs)} unit(s)",
                           sorted(records, key=lambda r: order[r["dataset"]])) from exc
    finally:
        cell_bar.close()
        bar.close()
    fill_missing_quality(cfg, records)   # units finished before the quality record existed (no new scores)
    return sorted(records, key=lambda r: order[r["dataset"]])
