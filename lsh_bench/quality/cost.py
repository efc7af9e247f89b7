"""The cost columns of a quality row, filled by the caller around the sampler and the metric call.

Kept apart from the metrics because they are measurements of a run (wall
seconds differ between runs), while the metrics are a pure function of the
rows and the seed. Names and meaning: :data:`lsh_bench.quality.fields.COST_FIELDS`.
"""

from __future__ import annotations

from typing import Any

from lsh_bench.quality.fields import COST_NAMES


def cost_fields(*, resample_seconds: float, quality_seconds: float, n_rows_added: int, llm_rows: int = 0,
                llm_calls: int = 0, llm_cache_hits: int = 0, llm_prompt_tokens: int = 0,
                llm_completion_tokens: int = 0) -> dict[str, Any]:
    """The cost part of a quality row.

    ``llm_rows`` is how many of the added rows the LLM wrote (LM: all of
    them; LS: its seeds, the rest are SMOTE's; SM: 0). Tokens should count
    every answer the rows were built from, replayed answers at the token
    counts recorded with them, so the cost of a row does not drop to 0 on
    a cache replay. ``llm_tokens_per_row`` is NaN when no LLM row exists.
    """
    if llm_rows < 0 or n_rows_added < 0 or llm_rows > n_rows_added:
        raise ValueError(f"cost_fields: llm_rows ({llm_rows}) must be between 0 and n_rows_added ({n_rows_added})")
    tokens = llm_prompt_tokens + llm_completion_tokens
    out = {
        "resample_seconds": float(resample_seconds), "quality_seconds": float(quality_seconds),
        "n_rows_added": int(n_rows_added), "llm_rows": int(llm_rows), "llm_calls": int(llm_calls),
        "llm_cache_hits": int(llm_cache_hits), "llm_prompt_tokens": int(llm_prompt_tokens),
        "llm_completion_tokens": int(llm_completion_tokens),
        "llm_tokens_per_row": tokens / llm_rows if llm_rows else float("nan"),
    }
    assert tuple(out) == COST_NAMES, "cost keys drifted from lsh_bench.quality.fields.COST_FIELDS"
    return out
