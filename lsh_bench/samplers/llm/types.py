"""The small interface between the LLM generator and its backends.

A request is fully described by plain data (messages, JSON schema, sampling
parameters, seed, draw index), so it can be hashed into a replay-cache key:
the same request always gets the same recorded answer, and a different draw
index asks for a fresh answer to the same prompt (retries, program rounds).
The local model's decoding settings travel in the request too (``decoding``),
so a change of grammar or sampler is a change of key.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class ChatRequest:
    messages: tuple[tuple[str, str], ...]      # (role, content) pairs
    json_schema: dict[str, Any] | None         # constrained output; None = free text
    max_tokens: int
    temperature: float
    top_p: float
    seed: int
    draw: int = 0                               # 0, 1, 2, ... for repeated asks of one prompt
    # The embedded model's own decoding (grammar, sampler, prompt prefix: ``decoding.decoding_request``);
    # None for endpoints and for requests decoded the old way (llama.cpp's schema grammar).
    decoding: dict[str, Any] | None = None
    # Endpoints: send ``json_schema`` as OpenAI's *strict* structured output (the paper's generator:
    # ``beta.chat.completions.parse`` sent its schemas strict). Part of the cache key only when set.
    strict_schema: bool = False

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["messages"] = [list(m) for m in self.messages]
        return d


@dataclass(frozen=True)
class ChatResponse:
    text: str
    prompt_tokens: int
    completion_tokens: int
    seconds: float          # model wall time when it was generated (0 for replays is NOT used: see cached)
    cached: bool            # True: answered from the replay cache, no model call
    key: str                # replay-cache key of the request
    model: str
    # Where a real local call's time went (prompt evaluation, forced and sampled tokens, choosing);
    # None for replays and endpoints. Not stored in the replay cache.
    timings: dict[str, float] | None = None


@dataclass
class LLMUsage:
    """Accounting of one sampler fit (summed into the unit's record).

    ``calls`` counts real model calls only; cache replays are ``cache_hits``
    and add no tokens, seconds or cost.
    """

    calls: int = 0
    cache_hits: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0
    cost: float = 0.0
    keys: list[str] = field(default_factory=list)

    def add(self, other: "LLMUsage") -> None:
        self.calls += other.calls
        self.cache_hits += other.cache_hits
        self.prompt_tokens += other.prompt_tokens
        self.completion_tokens += other.completion_tokens
        self.seconds += other.seconds
        self.cost += other.cost
        self.keys.extend(other.keys)

    def count(self, resp: ChatResponse, cost: float = 0.0) -> None:
        """One answer: a replay is a cache hit (no tokens, seconds, cost); a model call adds its usage."""
        if resp.cached:
            self.cache_hits += 1
        else:
            self.calls += 1
            self.prompt_tokens += resp.prompt_tokens
            self.completion_tokens += resp.completion_tokens
            self.seconds += resp.seconds
            self.cost += cost
        self.keys.append(resp.key)


class ChatBackend(Protocol):
    """Something that answers a ChatRequest (the local model, an OpenAI-compatible endpoint)."""

    model: str

    def chat(self, request: ChatRequest) -> ChatResponse: ...
