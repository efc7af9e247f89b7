"""Bounded concurrency for LLM requests: ``bounded_map`` and the thread-local prefetch flag.

Why threads: an endpoint request spends its time waiting for the network,
so a few threads per process overlap those waits (``llm.max_concurrency``)
without another process or event loop. The local model is a lock-guarded
object in one process, so threads change nothing there (its default is 1).

Results always come back in the order of the inputs, whatever order the
work finishes in, so code that consumes them sequentially behaves exactly
as without concurrency. The threads of a ``bounded_map`` called in a
prefetch pass are in that pass too (the flag is passed on to them).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

_STATE = threading.local()


def bounded_map(fn: Callable[[T], R], items: Sequence[T], max_concurrency: int) -> list[R]:
    """``[fn(x) for x in items]`` with at most ``max_concurrency`` calls at a time, results in input order.

    Every call runs to its end before this returns (no thread is left
    behind); if any raised, the exception of the first failing item in
    input order is raised.
    """
    outcomes = bounded_outcomes(fn, items, max_concurrency)
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            raise outcome
    return outcomes  # type: ignore[return-value]


def bounded_outcomes(fn: Callable[[T], R], items: Sequence[T], max_concurrency: int) -> list[R | BaseException]:
    """Like :func:`bounded_map`, but each failing item's exception is returned in its place."""
    if max_concurrency < 1:
        raise ValueError(f"max_concurrency must be >= 1, got {max_concurrency}")
    items = list(items)
    if max_concurrency == 1 or len(items) <= 1:
        return [_outcome(fn, x) for x in items]
    if is_prefetching():          # the flag is thread-local: the worker threads of a prefetch job carry it
        fn = _in_prefetch(fn)
    with ThreadPoolExecutor(max_workers=min(max_concurrency, len(items)), thread_name_prefix="llm") as pool:
        futures = [pool.submit(_outcome, fn, x) for x in items]
        return [f.result() for f in futures]


def _outcome(fn: Callable[[T], R], x: T) -> R | BaseException:
    try:
        return fn(x)
    except Exception as exc:  # handed back to the caller in the item's place, never dropped
        return exc


def _in_prefetch(fn: Callable[[T], R]) -> Callable[[T], R]:
    stop = getattr(_STATE, "stop", None)     # the pass's stop signal goes with the flag to the worker threads

    def run(x: T) -> R:
        with prefetching(stop):
            return fn(x)
    return run


class PrefetchStopped(Exception):
    """A prefetch job asked the model after its pass ended: nobody would read the answer."""


@contextmanager
def prefetching(stop: threading.Event | None = None) -> Iterator[None]:
    """Mark the current thread as a prefetch pass (see ``LLMClient.prefetched``).

    ``stop``: set when the pass ends; :func:`check_prefetch_stop` then ends
    the job at its next model call instead of letting it run to its end.
    """
    before = getattr(_STATE, "prefetch", False), getattr(_STATE, "stop", None)
    _STATE.prefetch, _STATE.stop = True, stop
    try:
        yield
    finally:
        _STATE.prefetch, _STATE.stop = before


def is_prefetching() -> bool:
    """True inside :func:`prefetching` on this thread."""
    return bool(getattr(_STATE, "prefetch", False))


def check_prefetch_stop() -> None:
    """Raise :class:`PrefetchStopped` in a prefetch job whose pass has ended (else nothing).

    Why: when the sequential pass fails (a generation's answers are rejected,
    an endpoint is down), the other generations in flight would run on to
    their end — minutes of model calls whose answers are then dropped — while
    the unit's worker waits for them.
    """
    stop = getattr(_STATE, "stop", None)
    if is_prefetching() and stop is not None and stop.is_set():
        raise PrefetchStopped("the prefetch pass has ended; this job's answers would be dropped")
