"""The `llm=` config group as a typed model (conf/llm/*.yaml)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class LLMConfig(BaseModel):
    """Which LLM writes rows, how it is sampled, and how its answers are cached.

    API keys are never part of the config: ``api_key_env`` names the
    environment variable that holds the key.
    """

    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    backend: Literal["local", "openai"] = "local"
    model: str = "SmolLM2-135M-Instruct-Q4_1"
    model_path: str | None = None
    base_url: str | None = None
    api_key_env: str | None = None
    temperature: float = Field(0.8, ge=0.0, le=2.0)
    top_p: float = Field(0.9, gt=0.0, le=1.0)
    max_tokens: int = Field(768, gt=0)
    timeout_s: float = Field(120, gt=0)
    max_retries: int = Field(3, ge=0)          # retries after the first attempt (endpoints only)
    retry_backoff_s: float = Field(1.0, ge=0)   # first retry wait; doubles per retry, capped at 60 s
    n_ctx: int = Field(8192, gt=0)
    n_threads: int = Field(1, gt=0)             # local backend: llama.cpp threads; 2 only on an idle machine
    price_per_1k_prompt: float | None = None
    price_per_1k_completion: float | None = None
    cache_mode: Literal["readwrite", "readonly", "off"] = "readwrite"
    cache_dir: str = "results/llm_cache"
    example_rows: int = Field(30, gt=0)
    min_outputs_per_round: int = Field(10, gt=0)
    max_rounds: int = Field(50, gt=0)
    # Times each accepted program is executed (fresh start row and jitter each time). The paper
    # executes a program once (1); the embedded 135M model writes ~5 usable outputs per program,
    # so conf/llm/local.yaml raises it to keep LM sweeps to minutes, not hours.
    executions_per_program: int = Field(1, ge=1, le=100)
    report_words: int = Field(500, gt=0)
