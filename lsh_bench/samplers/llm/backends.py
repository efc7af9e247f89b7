"""The two ways of answering a ChatRequest, and the factory that picks one: ``make_backend(cfg)``.

The backends live in modules of their own (one job each): the embedded
model in ``local_backend.py``, any OpenAI-compatible endpoint in
``endpoint_backend.py``, and what both send the same way (messages, the
per-draw seed) in ``wire.py``. This module builds the one ``llm.backend``
names, and re-exports the public names callers imported from here when it
held everything.

``client.py`` calls ``backends.make_backend`` through the module, so a test
may replace the factory with a scripted backend (``monkeypatch.setattr``).
"""

from __future__ import annotations

from lsh_bench.errors import ConfigError
from lsh_bench.samplers.llm.config import LLMConfig
from lsh_bench.samplers.llm.endpoint_backend import AnswerRefused, OpenAIBackend
from lsh_bench.samplers.llm.local_backend import LocalBackend, resolve_model_path
from lsh_bench.samplers.llm.types import ChatBackend
from lsh_bench.samplers.llm.wire import sampling_seed

__all__ = ["AnswerRefused", "LocalBackend", "OpenAIBackend", "make_backend", "resolve_model_path", "sampling_seed"]


def make_backend(cfg: LLMConfig) -> ChatBackend:
    """The backend named by ``llm.backend``."""
    if cfg.backend == "local":
        return LocalBackend(cfg)
    if cfg.backend == "openai":
        return OpenAIBackend(cfg)
    raise ConfigError(f"llm.backend is {cfg.backend!r}; expected 'local' or 'openai'")
