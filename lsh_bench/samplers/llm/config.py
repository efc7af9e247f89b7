"""The `llm=` config group's model, re-exported from its own module (no import cycle).

:class:`lsh_bench.llm_config.LLMConfig` is re-exported here so that code written
against this module keeps working; new code imports it from
:mod:`lsh_bench.llm_config`.
"""

from __future__ import annotations

from lsh_bench.llm_config import API_KEY_ENV_RULE, LLMConfig, looks_like_env_name

__all__ = ["API_KEY_ENV_RULE", "LLMConfig", "looks_like_env_name"]
