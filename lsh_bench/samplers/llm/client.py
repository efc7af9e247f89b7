"""The one entry point the generator uses: ``get_client(cfg).chat(request)``.

Every request goes through the replay cache (``cache.py``) first; only real
model calls count as calls, tokens, seconds and cost in ``usage``. The
backend is built lazily, so a run replayed entirely from a read-only cache
never loads the model or needs an API key.

Concurrency (``llm.max_concurrency``): however many threads ask at once (a
unit's prefetch jobs, each asking the program rounds it surely needs ahead),
at most ``llm.max_concurrency`` model calls of one client are in flight at a
time (``get_client`` keeps one client per config and process).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

from lsh_bench.errors import LLMCacheMiss, LLMError
from lsh_bench.samplers.llm import backends
from lsh_bench.samplers.llm.cache import ReplayCache, cache_key, entry_size_limit
from lsh_bench.samplers.llm.concurrency import (PrefetchStopped, bounded_map, bounded_outcomes, check_prefetch_stop,
                                                 is_prefetching, prefetching)
from lsh_bench.samplers.llm.config import LLMConfig
from lsh_bench.samplers.llm.types import ChatBackend, ChatRequest, ChatResponse, LLMUsage

log = logging.getLogger("lsh_bench")


class LLMClient:
    """Cache-first chat client with usage accounting.

    ``backend`` may be given (tests, custom endpoints); otherwise the one
    named by ``cfg.backend`` is built on the first cache miss. The cache key
    uses ``cfg.backend`` and ``cfg.model``, so a replay needs no backend.
    """

    def __init__(self, cfg: LLMConfig, backend: ChatBackend | None = None) -> None:
        self.cfg = cfg
        self.cache = ReplayCache(cfg.cache_dir, cfg.cache_mode, max_entry_bytes=entry_size_limit(cfg.max_answer_bytes))
        self.usage = LLMUsage()
        self._backend = backend
        self._lock = threading.Lock()          # usage, in-flight calls, prefetched answers
        self._inflight: dict[str, Future] = {}           # key -> the answer of the call under way
        # key -> a prefetch pass's answers (or the errors of its calls), each served once, in order: one
        # per ask of the key with cache reads (its repeats read the cache), one per ask of it without
        self._prefetched: dict[str, list[ChatResponse | Exception]] = {}
        # per prefetch-job thread: key -> what its ask_ahead got, for its own asks (without cache reads)
        self._own = threading.local()
        self._backend_lock = threading.Lock()  # builds the backend once
        # The bound on model calls in flight at once, whoever asks. Only the backend call holds a
        # slot (a thread waiting for another thread's answer holds none), so no wait can deadlock.
        self._slots = threading.BoundedSemaphore(max(1, cfg.max_concurrency))

    @property
    def backend(self) -> ChatBackend:
        if self._backend is None:
            with self._backend_lock:
                if self._backend is None:
                    # Through the module, so a test may swap the factory (monkeypatch backends.make_backend).
                    self._backend = backends.make_backend(self.cfg)
        return self._backend

    def key(self, request: ChatRequest) -> str:
        return cache_key(self.cfg.backend, self.cfg.model_id, request)

    def chat(self, request: ChatRequest) -> ChatResponse:
        """The recorded answer if there is one (per cache mode), else a real call (recorded in readwrite)."""
        response = self._answer(request)
        self._account(response)
        return response

    def chat_many(self, requests: Sequence[ChatRequest], max_concurrency: int | None = None) -> list[ChatResponse]:
        """Independent requests at once (at most ``max_concurrency``, default ``llm.max_concurrency``).

        Answers, usage and cache entries are those of ``[chat(r) for r in
        requests]``: answers in request order, usage counted in request order
        after all have answered, and a request repeated in the list is one
        call (the repeat counts as a cache hit) whenever the cache is read.
        """
        limit = max_concurrency if max_concurrency is not None else self.cfg.max_concurrency
        responses = bounded_map(self._answer, list(requests), limit)
        for response in responses:
            self._account(response)
        return responses

    @contextmanager
    def prefetched(self, jobs: Sequence[Callable[[], Any]],
                   max_concurrency: int | None = None) -> Iterator[Callable[[int], None]]:
        """Start ``jobs`` as a prefetch pass on up to ``max_concurrency`` threads; yield ``ready(i)``.

        Why: the generations of a unit are independent, but the harness
        scores them one after the other. Running the same code twice — first
        concurrently here, recording every real answer in memory (no cache
        write, no usage), then sequentially as always, where each recorded
        answer is served once as the real call it was — gives exactly the
        requests, answers, cache entries, usage and rows of a sequential run,
        with the waiting overlapped. ``ready(i)`` blocks until job ``i`` has
        run (jobs start in the given order), so the sequential pass can work
        on job ``i`` while later jobs still wait for the model.

        With cache reads, a request asked by several jobs is one call (the
        sequential pass reads its repeats from the cache); without
        (``cache_mode=off``), where a sequential run asks every repeat again,
        each ask here is its own call, so the repeats overlap too.

        A call that fails here (an endpoint that is down, after its retries)
        is recorded like an answer: the sequential pass meets the same error
        at the same request, without asking again. Any other failure of a job
        is logged and left to the sequential pass, which meets it again. On
        exit, jobs not started are cancelled, running ones are awaited, and
        answers not served are dropped.
        """
        limit = max_concurrency if max_concurrency is not None else self.cfg.max_concurrency
        if limit < 1:
            raise ValueError(f"max_concurrency must be >= 1, got {limit}")
        pool = ThreadPoolExecutor(max_workers=max(1, min(limit, len(jobs))), thread_name_prefix="llm-prefetch")
        stop = threading.Event()
        futures = [pool.submit(self._run_prefetch, job, stop) for job in jobs]

        def ready(i: int) -> None:
            outcome = futures[i].result()
            if isinstance(outcome, Exception):
                log.info("LLM prefetch job %d stopped (%s: %s); the sequential pass repeats it",
                         i, type(outcome).__name__, outcome)

        try:
            yield ready
        finally:
            stop.set()    # running jobs end at their next model call (after a failure: no answer is read)
            pool.shutdown(wait=True, cancel_futures=True)
            self.drop_prefetched()

    def ask_ahead(self, requests: Sequence[ChatRequest]) -> list[str]:
        """Ask now, at once, requests the caller will surely ``chat`` next, one by one; blocks until answered.

        Why: a generation's program rounds do not depend on each other's
        answers, so the rounds it surely still needs can be asked together
        (``generator.program_rounds``); the caller then asks them one by one
        as before and is served these answers. Requests, answers, cache
        entries and usage are those of the caller alone; only the waiting
        overlaps. Nothing happens under ``llm.max_concurrency=1`` or for
        fewer than two requests.

        In a prefetch pass the answers join the pass's. Outside one, the
        requests are answered as in a prefetch pass (held in memory: no cache
        write, no usage; the cache's own answers and those already held are
        not asked again), and the caller's ``chat`` of each is served it as
        the real call it was (written to the cache and counted then).
        Returns the keys held for the caller outside a prefetch pass: if it
        stops before asking them all (its generation failed), it drops them
        with ``drop_prefetched(keys)``. Never raises: a call that fails is
        held as its error, which the caller's ``chat`` of it meets; other
        errors (a miss in a read-only cache) are left to that ``chat``.
        """
        limit = self.cfg.max_concurrency
        requests = list(requests)
        if limit < 2 or len(requests) < 2:
            return []
        if is_prefetching():
            outcomes = bounded_outcomes(self._answer, requests, limit)
            if not self.cache.reads:    # these are the job's own asks (see _answer): its loop is served them
                own = self._own_answers()
                for request, outcome in zip(requests, outcomes):
                    own.setdefault(self.key(request), []).append(outcome)
            return []
        todo: dict[str, ChatRequest] = {}
        for request in requests:
            key = self.key(request)
            with self._lock:
                held = key in self._prefetched
            if not held and not (self.cache.reads and self.cache.get(key) is not None):
                todo.setdefault(key, request)
        if len(todo) < 2:
            return []

        def answer(request: ChatRequest) -> ChatResponse:
            with prefetching():
                return self._answer(request)

        bounded_outcomes(answer, list(todo.values()), limit)
        return list(todo)

    def drop_prefetched(self, keys: Sequence[str] | None = None) -> None:
        """Forget prefetched answers not served (a sequential pass that stopped early): one per key, or all."""
        with self._lock:
            if keys is None:
                self._prefetched.clear()
                return
            for key in keys:
                held = self._prefetched.get(key)
                if held:
                    held.pop()
                if not held:
                    self._prefetched.pop(key, None)

    def _own_answers(self) -> dict[str, list[ChatResponse | Exception]]:
        own = getattr(self._own, "answers", None)
        if own is None:
            own = self._own.answers = {}
        return own

    def _run_prefetch(self, job: Callable[[], Any], stop: threading.Event) -> Any:
        """One prefetch job on its thread; an exception is returned (``ready`` logs it), never dropped."""
        with prefetching(stop):
            try:
                return job()
            except Exception as exc:
                return exc
            finally:
                self._own.answers = {}    # what a failed job asked ahead and did not ask: not the next job's

    def _answer(self, request: ChatRequest) -> ChatResponse:
        """The answer to one request (cache, prefetched answer, or the model); no usage counted.

        Order matters while a prefetch runs beside the sequential pass: the
        prefetch looks at its answers before the cache, and the sequential
        pass writes an answer to the cache before it removes it from them, so
        a prefetch job never misses an answer that exists (and asks again).
        """
        check_prefetch_stop()
        key = self.key(request)
        prefetch = is_prefetching()
        if prefetch and (own := self._own_answers().get(key)):   # this job's ask_ahead asked it for this ask
            outcome = own.pop(0)
            if isinstance(outcome, Exception):
                raise outcome
            return outcome
        if prefetch and self.cache.reads and (recorded := self._recorded(key, remove=False)) is not None:
            return recorded
        if self.cache.reads:
            hit = self.cache.get(key)
            if hit is not None:
                return hit
            if self.cache.mode == "readonly":
                raise LLMCacheMiss(
                    f"replay cache {self.cache.cache_dir} is read-only (llm.cache_mode=readonly) and has no "
                    f"entry for key {key} (model {self.cfg.model_id}, draw {request.draw}); record it with "
                    f"llm.cache_mode=readwrite"
                )
        if not prefetch and (recorded := self._recorded(key, remove=False)) is not None:
            if self.cache.writes:
                self.cache.put(key, recorded, backend=self.cfg.backend)
            self._recorded(key, remove=True)
            return recorded
        return self._single_flight(request, key, prefetch)

    def _recorded(self, key: str, remove: bool) -> ChatResponse | None:
        """The key's first prefetched answer; the error its call met is raised instead (and, outside a prefetch, removed)."""
        with self._lock:
            held = self._prefetched.get(key)
            recorded = held[0] if held else None
            if held and (remove or (isinstance(recorded, Exception) and not is_prefetching())):
                held.pop(0)
                if not held:
                    del self._prefetched[key]
        if isinstance(recorded, Exception):
            raise recorded
        return recorded

    def _hold(self, key: str, outcome: ChatResponse | Exception) -> None:
        """Keep a prefetch pass's answer: the one of its key with cache reads, one more without."""
        with self._lock:
            if self.cache.reads:
                self._prefetched[key] = [outcome]
            else:
                self._prefetched.setdefault(key, []).append(outcome)

    def _single_flight(self, request: ChatRequest, key: str, prefetch: bool) -> ChatResponse:
        """With cache reads, one model call per key at a time: a concurrent repeat waits and gets it as a cache hit.

        A sequential run would have read the repeat from the cache; without
        cache reads (``cache_mode=off``) the repeat is asked again, also in a prefetch pass.
        """
        shared = self.cache.reads
        with self._lock:
            pending = self._inflight.get(key) if shared else None
            owner = pending is None
            if owner and shared:
                pending = self._inflight[key] = Future()
        if not owner:
            assert pending is not None
            return dataclasses.replace(pending.result(), cached=True) if not prefetch else pending.result()
        try:
            response = self._call(request, key)
        except BaseException as exc:
            if prefetch and isinstance(exc, Exception) and not isinstance(exc, PrefetchStopped):
                # the sequential pass meets it again, not the model
                self._hold(key, exc)
            if pending is not None:
                pending.set_exception(exc)
            raise
        finally:
            if pending is not None:
                with self._lock:
                    self._inflight.pop(key, None)
        if prefetch:
            self._hold(key, response)
        elif self.cache.writes:
            self.cache.put(key, response, backend=self.cfg.backend)
        if pending is not None:
            pending.set_result(response)
        return response

    def _call(self, request: ChatRequest, key: str) -> ChatResponse:
        """A real model call, checked for size before it is counted, parsed or cached."""
        backend = self.backend
        with self._slots:         # at most llm.max_concurrency calls in flight, whoever asks
            check_prefetch_stop()  # a job that waited for a slot while its pass ended asks nothing
            answer = backend.chat(request)
        response = dataclasses.replace(answer, cached=False, key=key, model=self.cfg.model_id)
        # Every backend, before the answer is counted, parsed or cached (the endpoint
        # backend also stops reading its HTTP body at this size).
        size = len(response.text.encode("utf-8"))
        if size > self.cfg.max_answer_bytes:
            raise LLMError(
                f"the answer of the LLM ({self.cfg.backend} backend, model {self.cfg.model_id}"
                f"{', ' + self.cfg.base_url if self.cfg.backend == 'openai' and self.cfg.base_url else ''}) is "
                f"{size} bytes, more than llm.max_answer_bytes={self.cfg.max_answer_bytes}; not parsed, not cached"
            )
        return response

    def _account(self, response: ChatResponse) -> None:
        """Count one answer in ``usage`` (a prefetch pass counts nothing: its sequential pass will)."""
        if is_prefetching():
            return
        with self._lock:
            self.usage.count(response, 0.0 if response.cached else self.cost(response))

    def cost(self, response: ChatResponse) -> float:
        """Price of one real call from ``price_per_1k_*`` (0 where no price is configured)."""
        cost = 0.0
        if self.cfg.price_per_1k_prompt is not None:
            cost += response.prompt_tokens / 1000 * self.cfg.price_per_1k_prompt
        if self.cfg.price_per_1k_completion is not None:
            cost += response.completion_tokens / 1000 * self.cfg.price_per_1k_completion
        return cost

    def take_usage(self) -> LLMUsage:
        """Usage since the last take, and start counting afresh (one sampler fit = one take).

        In a prefetch pass nothing is counted or taken (an empty usage).
        """
        if is_prefetching():
            return LLMUsage()
        with self._lock:
            taken, self.usage = self.usage, LLMUsage()
        return taken


_CLIENTS: dict[tuple[int, str], LLMClient] = {}
_CLIENTS_LOCK = threading.Lock()


def get_client(cfg: LLMConfig) -> LLMClient:
    """The process-wide client for this exact LLM config (model loaded once per process).

    Keyed by the process id too, so a forked worker gets its own client
    (and usage) rather than the parent's.
    """
    key = (os.getpid(), cfg.model_dump_json())
    with _CLIENTS_LOCK:
        client = _CLIENTS.get(key)
        if client is None:
            client = _CLIENTS[key] = LLMClient(cfg)
        return client
