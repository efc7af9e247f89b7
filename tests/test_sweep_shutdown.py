"""An unclean end of the pooled sweep (lsh_bench.sweep.end_pool) leaves no worker process alive.

Before: after Ctrl-C or a failing record, an item submitted but not yet handed
to a worker made loky's manager thread die in ``shutdown(kill_workers=True)``
with ``InvalidStateError`` on the future the sweep had cancelled, before it
killed the workers; they lived on, and the interpreter waited for them at exit
forever. (Not cancelling it: ``KeyError``, just after killing them.) The race
is made deterministic here by holding the manager thread in that window.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future

import pytest
from joblib.externals.loky import ProcessPoolExecutor
from joblib.externals.loky import process_executor as loky_pe

from lsh_bench.sweep import end_pool, new_pool

BOUND = 10.0    # seconds end_pool may take; it normally takes well under one


def _gone(pid: int) -> bool:
    """No process ``pid`` (dead and reaped)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


@pytest.fixture
def thread_errors(monkeypatch: pytest.MonkeyPatch) -> list[BaseException]:
    """Exceptions that ended a thread (loky's manager thread), collected instead of printed."""
    errors: list[BaseException] = []
    monkeypatch.setattr(threading, "excepthook", lambda args: errors.append(args.exc_value))
    return errors


@pytest.fixture
def busy_pool() -> Iterator[tuple[ProcessPoolExecutor, list[Future]]]:
    """Two started workers, each 30 s into an item (so a clean end would wait that long), and those items."""
    pool = ProcessPoolExecutor(max_workers=2)
    deadline, seen = time.monotonic() + 30, set()
    while len(seen) < 2:           # both workers up and taking items
        assert time.monotonic() < deadline, "the pool did not start"
        seen |= {f.result() for f in [pool.submit(os.getpid) for _ in range(2)]}
    workers = list(pool._processes.values())
    busy = [pool.submit(time.sleep, 30) for _ in range(2)]
    while not all(f.running() for f in busy):
        time.sleep(0.01)
    time.sleep(0.3)                # each worker inside time.sleep; the manager thread waiting for results
    yield pool, busy
    for p in workers:              # whatever a failing test left behind
        if p.exitcode is None:
            os.kill(p.pid, signal.SIGKILL)
            p.join(5)


def _end_uncleanly(pool: ProcessPoolExecutor, futures: list[Future]) -> tuple[list[int], float]:
    """end_pool after an unclean end: the workers' pids, and the seconds it took."""
    pids = list(pool._processes)
    t0 = time.monotonic()
    end_pool(pool, futures, cleanly=False)
    return pids, time.monotonic() - t0


@pytest.mark.timeout(60)
def test_an_item_not_yet_handed_to_a_worker_does_not_kill_the_manager(
        busy_pool: tuple[ProcessPoolExecutor, list[Future]], thread_errors: list[BaseException],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The race seen under load: the manager thread woke up for a new item and is slow to look at it."""
    holding, release = threading.Event(), threading.Event()
    is_shutting_down = loky_pe._ExecutorManagerThread.is_shutting_down

    def slow(self: loky_pe._ExecutorManagerThread) -> bool:
        if holding.is_set():           # between waking up and handing the new item over
            release.wait(10)
        return is_shutting_down(self)

    pool, busy = busy_pool
    monkeypatch.setattr(loky_pe._ExecutorManagerThread, "is_shutting_down", slow)
    holding.set()
    new = pool.submit(time.sleep, 30)
    threading.Timer(0.5, release.set).start()
    time.sleep(0.1)
    assert not new.running() and not new.done()           # the window is open: not handed over yet
    manager = pool._executor_manager_thread
    pids, seconds = _end_uncleanly(pool, [*busy, new])
    left = [p for p in pids if not _gone(p)]
    release.set()
    manager.join(BOUND)                                   # how the manager thread ended (it has, by now)
    assert thread_errors == []         # before: InvalidStateError: CANCELLED: <Future ...>; not cancelling: KeyError
    assert left == []                                     # before: both workers alive, sleeping
    assert new.cancelled() and all(f.done() for f in busy)
    assert seconds < BOUND and not pool._flags.broken


@pytest.mark.timeout(60)
def test_workers_are_stopped_when_the_manager_thread_dies_before_killing_them(
        busy_pool: tuple[ProcessPoolExecutor, list[Future]], thread_errors: list[BaseException],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever kills loky's manager thread first, end_pool terminates, kills and joins the workers."""

    def dies(self: loky_pe._ExecutorManagerThread) -> None:
        raise RuntimeError("manager thread died before killing the workers")

    pool, busy = busy_pool
    monkeypatch.setattr(loky_pe._ExecutorManagerThread, "flag_executor_shutting_down", dies)
    pids, seconds = _end_uncleanly(pool, busy)
    assert len(pids) == 2 and [p for p in pids if not _gone(p)] == []     # before: both alive, sleeping
    assert [str(e) for e in thread_errors] == ["manager thread died before killing the workers"]
    assert seconds < BOUND


@pytest.mark.timeout(60)
def test_a_clean_end_waits_for_the_items(thread_errors: list[BaseException]) -> None:
    pool = ProcessPoolExecutor(max_workers=2)
    futures = [pool.submit(pow, 2, n) for n in range(4)]
    pids = list(pool._processes)
    end_pool(pool, futures, cleanly=True)
    assert [f.result() for f in futures] == [1, 2, 4, 8]
    assert thread_errors == [] and [p for p in pids if not _gone(p)] == []


@pytest.mark.timeout(60)
def test_the_sweeps_workers_ignore_ctrl_c(thread_errors: list[BaseException]) -> None:
    """Ctrl-C reaches the process group: the sweep ends its workers (end_pool), they do not react themselves.

    Before: one between two items printed its own KeyboardInterrupt traceback
    under the sweep's one line (about 1 Ctrl-C test run in 10 here).
    """
    pool = new_pool(1)
    pid = pool.submit(os.getpid).result(timeout=30)
    os.kill(pid, signal.SIGINT)
    assert pool.submit(signal.getsignal, signal.SIGINT).result(timeout=30) == signal.SIG_IGN
    assert pool.submit(os.getpid).result(timeout=30) == pid           # the same worker, still serving
    end_pool(pool, [], cleanly=True)
    assert thread_errors == [] and _gone(pid)
