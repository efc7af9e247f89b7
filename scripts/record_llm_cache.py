"""Record the replay cache the fast tests use, from the REAL local model, through the project's code.

    python scripts/record_llm_cache.py                 # the small fixed cases below
    python scripts/record_llm_cache.py -- <overrides>  # the runner, e.g. method=ls dataset=haberman ...

Without overrides it runs ``CASES``: LM and LS on a tiny slice of haberman
(mirror ``43_haberman.csv.gz``: the first 20 minority and 60 majority rows),
LM at ratio 0.4 and LS from r0 = 0.4 to 0.6 — the seeds of LS are LM's 0.4
request, so they are recorded once. With overrides it runs the runner with
``llm.cache_dir=<cache> llm.cache_mode=readwrite`` appended, so the lead can
re-record the cache with whatever the full runner asks.

Tests replay the same cases with ``cache_mode=readonly`` (no model loaded):
``replay_cases`` is imported by ``tests/llm_gen/test_replay.py``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lsh_bench.data.schema import FeatureSchema  # noqa: E402
from lsh_bench.config import LLMConfig  # noqa: E402

CACHE = ROOT / "tests" / "fixtures" / "llm_cache"
DATASET = "43_haberman.csv.gz"
# Small on purpose: a 135M model on 2 shared cores.
CASE_LLM = dict(report_words=80, max_tokens=256, n_ctx=2048, min_outputs_per_round=4, max_rounds=12, max_retries=3)
LLM_SEED = 11
CASES = [("lm", 0.4, None), ("ls", 0.6, 0.4)]   # (method, ratio, r0)


def mirror() -> Path:
    env = os.environ.get("LSH_BENCH_DATA", "").split(os.pathsep)[0]
    for d in (Path(env) if env else None, ROOT.parent / "shared" / "datasets"):
        if d and (d / DATASET).is_file():
            return d
    raise FileNotFoundError(f"{DATASET} not found: set LSH_BENCH_DATA to the dataset mirror")


def tiny_haberman() -> tuple[np.ndarray, np.ndarray, FeatureSchema]:
    df = pd.read_csv(mirror() / DATASET)
    y = df.pop("target").to_numpy()
    keep = np.concatenate([np.flatnonzero(y == 1)[:20], np.flatnonzero(y == 0)[:60]])
    df, y = df.iloc[keep].reset_index(drop=True), y[keep]
    schema = FeatureSchema.infer(df)
    return schema.encode(df), y, schema


def case_config(cache_dir: Path, mode: str) -> LLMConfig:
    return LLMConfig(cache_dir=str(cache_dir), cache_mode=mode, **CASE_LLM)  # type: ignore[arg-type]


def replay_cases(cache_dir: Path = CACHE, mode: str = "readonly") -> list[tuple[str, float, object, np.ndarray]]:
    """Run CASES through the samplers; returns (method, ratio, fitted sampler, X_resampled) per case."""
    from lsh_bench.samplers.hybrid import LSHSampler
    from lsh_bench.samplers.llm.client import LLMClient
    from lsh_bench.samplers.llm.sampler import LLMOverSampler

    X, y, schema = tiny_haberman()
    cfg = case_config(cache_dir, mode)
    client = LLMClient(cfg)   # one client: the local model is loaded at most once
    out = []
    for method, ratio, r0 in CASES:
        if method == "lm":
            s = LLMOverSampler(sampling_strategy=ratio, schema=schema, llm=cfg, llm_seed=LLM_SEED, client=client)
        else:
            s = LSHSampler(sampling_strategy=ratio, seed_ratio=r0, schema=schema, llm=cfg, k_neighbors=5,
                           random_state=0, llm_seed=LLM_SEED, client=client)
        Xr, _ = s.fit_resample(X, y)
        out.append((method, ratio, s, Xr))
    return out


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cache-dir", type=Path, default=CACHE)
    ap.add_argument("overrides", nargs="*", help="hydra overrides for the runner (after --)")
    args = ap.parse_args(argv)
    if args.overrides:
        cmd = [sys.executable, "-m", "lsh_bench", *args.overrides,
               f"llm.cache_dir={args.cache_dir}", "llm.cache_mode=readwrite"]
        print(" ".join(cmd), flush=True)
        return subprocess.call(cmd, cwd=ROOT)
    t = time.time()
    for method, ratio, s, Xr in replay_cases(args.cache_dir, "readwrite"):
        g = s.generation_
        print(f"{method} r={ratio}: +{len(Xr) - 80} rows; LLM calls {s.usage_.calls}, replays {s.usage_.cache_hits}, "
              f"tokens {s.usage_.prompt_tokens}+{s.usage_.completion_tokens}, {s.usage_.seconds:.1f} s; "
              f"rounds {g.rounds}, rejected {dict(g.rejected)}, repairs {dict(g.repairs)}, "
              f"first-try valid {dict(g.first_try_valid)} of {dict(g.answers)}", flush=True)
    print(f"recorded in {args.cache_dir} ({time.time() - t:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
