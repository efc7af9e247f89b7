"""Wall time of one LM unit at ``llm.max_concurrency`` 1 vs 8 against a slow endpoint (``make bench-concurrency``).

The endpoint is the loopback replay server (``lsh_bench.samplers.llm.replay_server``):
OpenAI-compatible, on 127.0.0.1, answering every request from a replay cache
after a fixed added latency (default 2 s, about what a hosted model takes for
one of these answers). The cache is recorded first by the project's own
client, in a recording pass whose server writes a canned, valid answer per
request (a fixed report, one variable per column, a program of 12 outputs);
after it the server answers only recorded requests (any other is HTTP 404,
which fails the unit), so both timed runs are checked to ask exactly the
recorded requests.

The unit: ``method=lm`` on one dataset (default ``analcatdata_apnea3``: all
five ratios apply), ``grid=smoke``, the ``vllm`` endpoint preset with the guarded generator (the canned answers are its steps'),
``llm.cache_mode=off`` (every request reaches the server), one process
(``run.n_jobs=1``). Timed runs: concurrency 1, then 8. Reported: wall time of
each, the speed-up, requests served, most requests in flight, and whether
the two unit records (timings and provenance aside), per-ratio rows and
LLM cache keys are identical (the exit status is 1 if they are not). Writes
``results/bench/concurrency.json``.

    python scripts/bench_concurrency.py
    python scripts/bench_concurrency.py --dataset haberman --latency 0.5
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

from hydra import compose, initialize_config_dir  # noqa: E402

import lsh_bench.samplers.llm.client as client_mod  # noqa: E402
from lsh_bench.config import CONF_DIR, BenchConfig, validate  # noqa: E402
from lsh_bench.data.loader import load_dataset  # noqa: E402
from lsh_bench.data.schema import FeatureSchema  # noqa: E402
from lsh_bench.samplers.llm.replay_server import ReplayEndpoint  # noqa: E402
from lsh_bench.samplers.llm.schemas import data_units  # noqa: E402
from lsh_bench.samplers.llm.types import ChatRequest  # noqa: E402
from lsh_bench.store import load_ratio_stats  # noqa: E402
from lsh_bench.sweep import run_sweep  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
MODEL_SEED = 0   # seeds.llm of the default config: the server rebuilds the draw from it
REPORT = ("The minority rows sit at the high end of most columns and their values rise together; "
          "a few rows are far from the rest.")


def canned_answer(schema: FeatureSchema):
    """A valid answer per step (report / variables / program), from the request's JSON schema."""
    variables = json.dumps({"variables": [
        {"name": c.name, "description": f"the {c.name}", "units": data_units(c), "jitter": "normal",
         "scale": 0.5, "min": -1e9, "max": 1e9} for c in schema.columns]})
    numeric = [schema.columns[i].name for i in schema.numeric_indices]
    ops: list[dict[str, Any]] = [{"op": "init"}]
    for k in range(12):
        if numeric:
            ops.append({"op": "change_by", "var": numeric[k % len(numeric)], "delta": 0.5})
        ops.append({"op": "output"})
    program = json.dumps({"ops": ops})

    def answer(request: ChatRequest) -> str:
        if request.json_schema is None:
            return REPORT
        return variables if "variables" in request.json_schema.get("properties", {}) else program
    return answer


def config(overrides: list[str]) -> BenchConfig:
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return validate(compose("config", overrides=overrides))


def run_unit(args: argparse.Namespace, ep: ReplayEndpoint, results: Path, concurrency: int) -> dict[str, Any]:
    """One fresh LM unit through the normal sweep; its record, wall time and the server's counts."""
    client_mod._CLIENTS.clear()       # a fresh client per run (no in-process state carried over)
    ep.answered = ep.peak_in_flight = ep.missing = 0
    cfg = config([f"method=lm", f"dataset={args.dataset}", "grid=smoke", "llm=vllm", f"llm.base_url={ep.base_url}",
                  "llm.generator=guarded", "llm.prompts=compact",   # the canned answers are the guarded generator's
                  "llm.cache_mode=off", f"llm.max_concurrency={concurrency}", "llm.max_retries=0",
                  f"run.results_dir={results}", "run.progress=false", "run.n_jobs=1"])
    t0 = time.perf_counter()
    (rec,) = run_sweep(cfg)
    wall = time.perf_counter() - t0
    if rec["status"] != "done":
        raise SystemExit(f"the LM unit at max_concurrency={concurrency} did not finish: {rec['status']}: {rec['reason']}")
    return {"record": rec, "wall_seconds": round(wall, 2), "requests_served": ep.answered,
            "peak_in_flight": ep.peak_in_flight, "missing": ep.missing}


def comparable(rec: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in rec.items() if k not in ("seconds", "started_at", "provenance")}
    out["llm"] = {k: v for k, v in rec["llm"].items() if k != "seconds"}
    if "quality" in rec:          # the quality record's own timing, like the unit's
        out["quality"] = {k: v for k, v in rec["quality"].items() if k != "seconds"}
    return out


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dataset", default="analcatdata_apnea3")
    p.add_argument("--latency", type=float, default=2.0, help="seconds the server waits before each answer")
    p.add_argument("--concurrency", type=int, default=8)
    p.add_argument("--out", default=str(ROOT / "results" / "bench" / "concurrency.json"))
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    load_start = list(os.getloadavg())
    tmp = Path(tempfile.mkdtemp(prefix="bench_concurrency_"))
    schema = load_dataset(config([f"dataset={args.dataset}"]).dataset[args.dataset], config([]).data).schema
    with ReplayEndpoint(tmp / "server_cache", "replay", MODEL_SEED, 0.0, canned_answer(schema)) as ep:
        print(f"recording the replay cache ({args.dataset}) ...", flush=True)
        run_unit(args, ep, tmp / "record", args.concurrency)
        recorded = ep.recorded
        print(f"  {recorded} distinct requests recorded", flush=True)
        ep.answer_missing, ep.latency_s = None, args.latency      # from now on: replay only, slow
        runs = {}
        for c in (1, args.concurrency):
            print(f"max_concurrency={c} (latency {args.latency} s per request) ...", flush=True)
            runs[c] = run_unit(args, ep, tmp / f"c{c}", c)
            print(f"  {runs[c]['wall_seconds']} s, {runs[c]['requests_served']} requests, "
                  f"peak {runs[c]['peak_in_flight']} in flight", flush=True)
    one, many = runs[1], runs[args.concurrency]
    timing = ["resample_seconds", "llm_seconds"]
    same_ratios = load_ratio_stats(tmp / "c1").drop(columns=timing).equals(
        load_ratio_stats(tmp / f"c{args.concurrency}").drop(columns=timing))
    identical = {
        "record": comparable(one["record"]) == comparable(many["record"]),
        "ratio_rows": bool(same_ratios),
        "cache_keys": one["record"]["llm"]["keys"] == many["record"]["llm"]["keys"],
        # the same number asked, none outside the recording (the unit may repeat a request: with the
        # cache off it is asked again, at any concurrency)
        "requests": one["requests_served"] == many["requests_served"] and one["missing"] == many["missing"] == 0,
    }
    a, b = comparable(one["record"]), comparable(many["record"])
    record_differs = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
    rec = one["record"]
    report = {
        "what": "one LM unit (grid=smoke, vllm preset, cache off, n_jobs=1) against the loopback replay "
                "endpoint with a fixed latency per request; max_concurrency 1 vs N; same process, one after the other",
        "dataset": args.dataset, "latency_s": args.latency, "ratios_applicable": rec["ratios_applicable"],
        "llm_calls": rec["llm"]["calls"], "distinct_requests_recorded": recorded, "choice": rec["choice"],
        "runs": {str(c): {k: v for k, v in r.items() if k != "record"} for c, r in runs.items()},
        "speedup": round(one["wall_seconds"] / many["wall_seconds"], 2),
        "lower_bound_s": round(args.latency * rec["llm"]["calls"] / args.concurrency, 1),
        "identical": identical, "record_fields_that_differ": record_differs, "load_at_start": load_start, "load_at_end": list(os.getloadavg()),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"speed-up x{report['speedup']} ({one['wall_seconds']} s -> {many['wall_seconds']} s); identical: {identical}")
    print(f"wrote {out}")
    return 0 if all(identical.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
