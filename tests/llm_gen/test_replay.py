"""Recorded answers of the REAL local model, replayed read-only (no model loaded, fast).

The cache in tests/fixtures/llm_cache is written by scripts/record_llm_cache.py;
these are the cases it records (LM at 0.4, LS 0.4 -> 0.6 on a haberman slice).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "record_llm_cache.py"
CACHE = ROOT / "tests" / "fixtures" / "llm_cache"


def load_script():
    spec = importlib.util.spec_from_file_location("record_llm_cache", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(mod)
    return mod


def test_replayed_cases_give_valid_rows_without_model_calls():
    if not CACHE.is_dir() or not any(CACHE.rglob("*")):
        pytest.fail(f"no recorded cache in {CACHE}: run scripts/record_llm_cache.py")
    mod = load_script()
    X, y, schema = mod.tiny_haberman()
    results = mod.replay_cases(CACHE, "readonly")   # LLMCacheMiss if the code asks anything not recorded
    lo, hi = X[y == 1].min(0), X[y == 1].max(0)
    width = hi - lo
    for method, ratio, s, Xr in results:
        assert s.usage_.calls == 0 and s.usage_.cache_hits > 0
        new = Xr[len(X):]
        assert len(new) == int(60 * ratio - 20)
        assert np.all(np.isfinite(new))
        np.testing.assert_array_equal(Xr[: len(X)], X)
        if method == "lm":   # LLM rows stay in the widened observed range, whole numbers where the data is
            assert np.all(new >= np.floor(lo - 0.1 * width)) and np.all(new <= np.ceil(hi + 0.1 * width))
            ints = [j for j, c in enumerate(schema.columns) if c.integer]
            assert np.all(new[:, ints] == np.round(new[:, ints]))
    lm_rows = results[0][3][len(X):]
    ls_seeds = results[1][3][len(X): len(X) + len(lm_rows)]
    np.testing.assert_array_equal(lm_rows, ls_seeds)   # LS's seeds are LM's r0 rows, from the same requests
