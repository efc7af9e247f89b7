"""LM end to end with the REAL embedded model (SmolLM2-135M), no cache. Marked ``llm``."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

from lsh_bench.data.schema import FeatureSchema
from lsh_bench.samplers.llm.client import LLMClient
from lsh_bench.samplers.llm.config import LLMConfig
from lsh_bench.samplers.llm.sampler import LLMOverSampler


@pytest.mark.llm
def test_lm_with_the_local_model_writes_valid_rows(mirror):
    df = pd.read_csv(mirror / "43_haberman.csv.gz")
    y = df.pop("target").to_numpy()
    keep = np.concatenate([np.flatnonzero(y == 1)[20:40], np.flatnonzero(y == 0)[:60]])   # 20 minority rows
    df, y = df.iloc[keep].reset_index(drop=True), y[keep]
    schema = FeatureSchema.infer(df)
    X = schema.encode(df)
    cfg = LLMConfig(cache_mode="off", report_words=60, max_tokens=256, n_ctx=2048,
                    min_outputs_per_round=4, max_rounds=10)
    s = LLMOverSampler(sampling_strategy=0.4, schema=schema, llm=cfg, llm_seed=1, client=LLMClient(cfg))
    t = time.time()
    Xr, yr = s.fit_resample(X, y)
    seconds = time.time() - t
    new = Xr[len(X):]
    assert len(new) == 4 and np.all(yr[len(y):] == 1)
    assert np.all(np.isfinite(new))
    Xm = X[y == 1]
    lo, hi = Xm.min(0), Xm.max(0)
    assert np.all(new >= np.floor(lo - 0.1 * (hi - lo))) and np.all(new <= np.ceil(hi + 0.1 * (hi - lo)))
    for j, c in enumerate(schema.columns):
        if c.integer:
            assert np.all(new[:, j] == np.round(new[:, j]))
    assert s.usage_.calls >= 3 and s.usage_.completion_tokens > 0
    print(f"\nLM local model: {seconds:.1f} s, tokens {s.usage_.prompt_tokens}+{s.usage_.completion_tokens}, "
          f"stats {s.generation_.as_dict()}")
