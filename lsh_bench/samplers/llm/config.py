"""The `llm=` config group's model now lives beside the other config models.

:class:`lsh_bench.config.LLMConfig` is re-exported here so that code written
against this module keeps working; new code imports it from
:mod:`lsh_bench.config`.
"""

from __future__ import annotations

from lsh_bench.config import LLMConfig

__all__ = ["LLMConfig"]
