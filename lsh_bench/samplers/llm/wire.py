"""How a ChatRequest goes on the wire, the same for every backend: its messages and its per-draw seed.

Shared by ``local_backend.py`` and ``endpoint_backend.py`` (and mirrored by
``replay_server.py``) so the embedded model and an endpoint are sent the
same seed for the same request; a module of its own so neither backend
imports the other.
"""

from __future__ import annotations

from lsh_bench.samplers.llm.types import ChatRequest

_SEED_MODULUS = 2**31  # fits llama.cpp's uint32 seed (0xFFFFFFFF means "random") and every endpoint


def sampling_seed(request: ChatRequest) -> int:
    """The seed actually sent to the model: ``request.seed`` shifted per draw.

    Draw 0 uses the seed itself; draw k > 0 adds k * 1_000_003 (a prime, so
    nearby seeds and draws do not collide for any realistic seed), so that
    repeated asks of one prompt get different, but reproducible, samples.
    """
    return (request.seed + request.draw * 1_000_003) % _SEED_MODULUS


def chat_messages(request: ChatRequest) -> list[dict[str, str]]:
    """The request's (role, content) pairs as the chat APIs of llama-cpp-python and openai take them."""
    return [{"role": role, "content": content} for role, content in request.messages]
