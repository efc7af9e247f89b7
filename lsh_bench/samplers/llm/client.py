"""The one entry point the generator uses: ``get_client(cfg).chat(request)``.

Every request goes through the replay cache (``cache.py``) first; only real
model calls count as calls, tokens, seconds and cost in ``usage``. The
backend is built lazily, so a run replayed entirely from a read-only cache
never loads the model or needs an API key.
"""

from __future__ import annotations

import dataclasses
import os
import threading

from lsh_bench.errors import LLMCacheMiss, LLMError
from lsh_bench.samplers.llm.cache import ReplayCache, cache_key, entry_size_limit
from lsh_bench.samplers.llm.config import LLMConfig
from lsh_bench.samplers.llm.types import ChatBackend, ChatRequest, ChatResponse, LLMUsage


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
        self._lock = threading.Lock()          # usage updates
        self._backend_lock = threading.Lock()  # builds the backend once

    @property
    def backend(self) -> ChatBackend:
        if self._backend is None:
            with self._backend_lock:
                if self._backend is None:
                    from lsh_bench.samplers.llm.backends import make_backend

                    self._backend = make_backend(self.cfg)
        return self._backend

    def key(self, request: ChatRequest) -> str:
        return cache_key(self.cfg.backend, self.cfg.model, request)

    def chat(self, request: ChatRequest) -> ChatResponse:
        """The recorded answer if there is one (per cache mode), else a real call (recorded in readwrite)."""
        key = self.key(request)
        if self.cache.reads:
            hit = self.cache.get(key)
            if hit is not None:
                with self._lock:
                    self.usage.cache_hits += 1
                    self.usage.keys.append(key)
                return hit
            if self.cache.mode == "readonly":
                raise LLMCacheMiss(
                    f"replay cache {self.cache.cache_dir} is read-only (llm.cache_mode=readonly) and has no "
                    f"entry for key {key} (model {self.cfg.model}, draw {request.draw}); record it with "
                    f"llm.cache_mode=readwrite"
                )
        response = dataclasses.replace(self.backend.chat(request), cached=False, key=key, model=self.cfg.model)
        # Every backend, before the answer is counted, parsed or cached (the endpoint
        # backend also stops reading its HTTP body at this size).
        size = len(response.text.encode("utf-8"))
        if size > self.cfg.max_answer_bytes:
            raise LLMError(
                f"the answer of the LLM ({self.cfg.backend} backend, model {self.cfg.model}"
                f"{', ' + self.cfg.base_url if self.cfg.backend == 'openai' and self.cfg.base_url else ''}) is "
                f"{size} bytes, more than llm.max_answer_bytes={self.cfg.max_answer_bytes}; not parsed, not cached"
            )
        with self._lock:
            u = self.usage
            u.calls += 1
            u.prompt_tokens += response.prompt_tokens
            u.completion_tokens += response.completion_tokens
            u.seconds += response.seconds
            u.cost += self.cost(response)
            u.keys.append(key)
        if self.cache.writes:
            self.cache.put(key, response, backend=self.cfg.backend)
        return response

    def cost(self, response: ChatResponse) -> float:
        """Price of one real call from ``price_per_1k_*`` (0 where no price is configured)."""
        cost = 0.0
        if self.cfg.price_per_1k_prompt is not None:
            cost += response.prompt_tokens / 1000 * self.cfg.price_per_1k_prompt
        if self.cfg.price_per_1k_completion is not None:
            cost += response.completion_tokens / 1000 * self.cfg.price_per_1k_completion
        return cost

    def take_usage(self) -> LLMUsage:
        """Usage since the last take, and start counting afresh (one sampler fit = one take)."""
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
