"""Benchmark the LLM row generator against a previous implementation, same run (``make bench-llm``).

The workload is fixed: LM at ratio 1.0 on fold 0's training part of
haberman, vertebra-column and flare, with the ``llm=local`` config of each
implementation (the embedded SmolLM2-135M), replay cache off, LLM seed
``seeds.llm``. Two implementations run it:

* ``new`` — this worktree;
* ``old`` — a given commit (default ``e82e2e2``), checked out into a
  temporary ``git worktree`` that is removed afterwards.

Both see identical inputs: this driver builds fold 0's training part once
with the current code (encoded matrix, target, column description: names,
kinds, categories, integer/boolean flags) and writes it to a JSON file;
each implementation runs in its own subprocess (``PYTHONPATH`` = its tree),
turns that file into its own ``FeatureSchema`` and calls its own
``LLMOverSampler`` through its own ``LLMClient``, with a recorder around the
backend that notes every real model call (step, token counts, seconds, the
call's ``max_tokens``). Model loading happens before the clock starts.
Runs alternate (old, new / new, old per dataset) so machine load affects
both alike; ``os.getloadavg`` is recorded around every run.

Reported per dataset and implementation: calls, prompt and completion
tokens, completion tokens/s, LLM seconds, rows delivered (N, the same for
both) and rows the accepted programs produced, **LLM seconds per 100
delivered rows** (total LLM time of the fixed workload, so the ratio
old/new is the speed-up), rejected answers and answers that needed repair
(shares of the answers read), answers that hit their token cap, and per
step (report / variables / program) the same counts. Writes
``results/bench/llm.json``.

    python scripts/bench_llm.py                          # the fixed workload, old = e82e2e2
    python scripts/bench_llm.py --datasets haberman --old-commit HEAD~3
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATASETS = "haberman,vertebra-column,flare"
DEFAULT_OLD = "e82e2e2"
STEPS = ("report", "variables", "program")
DEADLINE_S = 7200.0   # llm.request_deadline_s during the bench (each implementation's own, if larger)


def load() -> list[float] | None:
    return [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None


# ----------------------------------------------------------------------------- driver: inputs


def build_input(name: str, fold: int, ratio: float) -> dict[str, Any]:
    """Fold ``fold``'s training part of ``name``, encoded as the runner encodes it (current code)."""
    sys.path.insert(0, str(ROOT))
    from hydra import compose, initialize_config_dir

    from lsh_bench.config import validate
    from lsh_bench.data.loader import load_dataset
    from lsh_bench.data.splits import make_split
    from lsh_bench.models.preprocess import TableEncoder

    overrides = [f"dataset={name}", "method=lm", "llm=local"]
    mirror = ROOT.parent / "shared" / "datasets"
    if "LSH_BENCH_DATA" not in os.environ and (mirror / "manifest.csv").is_file():
        overrides.append(f"data.mirror_dirs=[{mirror}]")
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        cfg = validate(compose("config", overrides=overrides))
    ds = load_dataset(next(iter(cfg.dataset.values())), cfg.data)
    split = make_split(ds.y, cfg.protocol, cfg.seeds, cfg.scenario, ds.name)
    part = split.folds[fold]
    X_raw, y = ds.X.iloc[part.train], ds.y[part.train]
    X = TableEncoder(ds.schema, cfg.preprocess.name).fit(X_raw).transform(X_raw)
    columns = [{"name": c.name, "kind": c.kind, "categories": list(c.categories), "integer": c.integer,
                "boolean": c.boolean} for c in ds.schema.columns]
    return {"dataset": name, "fold": fold, "ratio": ratio, "seed": cfg.seeds.llm, "source": ds.source,
            "sha256": ds.sha256, "preprocess": cfg.preprocess.name, "columns": columns,
            "X": X.tolist(), "y": [int(v) for v in y]}


# ----------------------------------------------------------------------------- worker (either implementation)


def step_of(request: Any) -> str:
    """Which pipeline step a request belongs to (the JSON schema's title; free text is the report)."""
    schema = request.json_schema
    if schema is None:
        return "report"
    title = str(schema.get("title", "")).lower()
    return "variables" if "variables" in title or "variables" in schema.get("properties", {}) else "program"


class Recorder:
    """Wraps a backend: one entry per real model call (the client calls it only on cache misses)."""

    def __init__(self, backend: Any) -> None:
        self.backend = backend
        self.model = backend.model
        self.calls: list[dict[str, Any]] = []

    def chat(self, request: Any) -> Any:
        response = self.backend.chat(request)
        entry = {"step": step_of(request), "max_tokens": request.max_tokens,
                 "prompt_tokens": response.prompt_tokens, "completion_tokens": response.completion_tokens,
                 "seconds": round(response.seconds, 4),
                 "hit_cap": response.completion_tokens >= request.max_tokens}
        timings = getattr(response, "timings", None)
        if timings:
            entry["timings"] = dict(timings)
        self.calls.append(entry)
        return response


def run_worker(impl_root: Path, input_path: Path, out_path: Path) -> None:
    """Run one implementation on one input (this process imports ``lsh_bench`` from ``impl_root``)."""
    import numpy as np
    import yaml

    import lsh_bench
    from lsh_bench.data.schema import Column, FeatureSchema
    from lsh_bench.samplers.llm.backends import make_backend
    from lsh_bench.samplers.llm.client import LLMClient
    from lsh_bench.samplers.llm.config import LLMConfig
    from lsh_bench.samplers.llm.sampler import LLMOverSampler

    where = Path(lsh_bench.__file__).resolve()
    if impl_root.resolve() not in where.parents:
        raise SystemExit(f"worker imported lsh_bench from {where}, expected it under {impl_root}")
    task = json.loads(input_path.read_text())
    schema = FeatureSchema(tuple(Column(c["name"], c["kind"], tuple(c["categories"]), c["integer"], c["boolean"])
                                 for c in task["columns"]))
    X, y = np.asarray(task["X"], dtype=float), np.asarray(task["y"], dtype=int)
    raw = yaml.safe_load((impl_root / "conf" / "llm" / "local.yaml").read_text())
    if "request_deadline_s" in raw:   # a benchmark measures slow answers, it does not abort them (loaded machine)
        raw["request_deadline_s"] = max(float(raw["request_deadline_s"]), DEADLINE_S)
    cfg = LLMConfig(**{**raw, "cache_mode": "off"})
    t0 = time.perf_counter()
    recorder = Recorder(make_backend(cfg))        # loads the model: not part of the LLM time
    load_seconds = time.perf_counter() - t0
    # The LLM's seed is `llm_seed` since the seeds were split; `random_state` before (e82e2e2).
    seed_name = "llm_seed" if "llm_seed" in inspect.signature(LLMOverSampler).parameters else "random_state"
    sampler = LLMOverSampler(sampling_strategy=task["ratio"], schema=schema, llm=cfg, client=LLMClient(cfg, backend=recorder),
                             **{seed_name: task["seed"]})
    load_before = load()
    t0, cpu0 = time.perf_counter(), time.process_time()
    X_res, _ = sampler.fit_resample(X, y)
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    new = X_res[len(X):]
    stats = sampler.generation_.as_dict()
    stats.pop("usage", None)
    usage = sampler.usage_
    out = {
        "lsh_bench": str(where.parent), "llm_config": cfg.model_dump(), "wall_seconds": round(wall, 2),
        "cpu_seconds": round(cpu, 2),
        "model_load_seconds": round(load_seconds, 2), "load_before": load_before, "load_after": load(),
        "rows_delivered": int(len(new)), "rows_finite": bool(np.all(np.isfinite(new))),
        "rows_unique": int(len(np.unique(new, axis=0))),
        "usage": {"calls": usage.calls, "cache_hits": usage.cache_hits, "prompt_tokens": usage.prompt_tokens,
                  "completion_tokens": usage.completion_tokens, "seconds": round(usage.seconds, 3)},
        "generation": stats, "calls": recorder.calls,
    }
    out_path.write_text(json.dumps(out, indent=1) + "\n")


# ----------------------------------------------------------------------------- driver: runs and summary


def git(*args: str, cwd: Path = ROOT) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def run_impl(impl: str, impl_root: Path, input_path: Path, out_path: Path) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(impl_root), "PYTHONHASHSEED": "0"}
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", str(impl_root), str(input_path), str(out_path)]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=impl_root, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{impl} implementation ({impl_root}) failed on {input_path.name} "
                           f"(exit {proc.returncode}):\n{proc.stderr[-4000:]}")
    result = json.loads(out_path.read_text())
    result["process_seconds"] = round(time.perf_counter() - t0, 2)
    return result


def _share(part: float, whole: float) -> float | None:
    return round(part / whole, 4) if whole else None


def summarize(run: dict[str, Any]) -> dict[str, Any]:
    """The reported numbers of one (dataset, implementation) run."""
    calls, gen = run["calls"], run["generation"]
    seconds = sum(c["seconds"] for c in calls)
    completion = sum(c["completion_tokens"] for c in calls)
    answers = sum(gen["answers"].values())
    json_answers = gen["answers"].get("variables", 0) + gen["answers"].get("program", 0)
    not_strict = json_answers - sum(gen["first_try_valid"].values())
    per_step = {}
    for step in STEPS:
        cs = [c for c in calls if c["step"] == step]
        s = sum(c["seconds"] for c in cs)
        per_step[step] = {
            "calls": len(cs), "prompt_tokens": sum(c["prompt_tokens"] for c in cs),
            "completion_tokens": sum(c["completion_tokens"] for c in cs), "seconds": round(s, 2),
            "completion_tokens_per_s": round(sum(c["completion_tokens"] for c in cs) / s, 1) if s else None,
            "hit_cap": sum(c["hit_cap"] for c in cs),
            "max_tokens": sorted({c["max_tokens"] for c in cs}),
            "rejected": sum(v for k, v in gen["rejected"].items() if k.startswith(step + ":")),
        }
        timed = [c["timings"] for c in cs if "timings" in c]
        if timed:
            per_step[step]["timings"] = {k: round(sum(t.get(k, 0.0) for t in timed), 2) for k in timed[0]}
    rows = run["rows_delivered"]
    return {
        "calls": len(calls),
        "prompt_tokens": sum(c["prompt_tokens"] for c in calls),
        "completion_tokens": completion,
        "completion_tokens_per_s": round(completion / seconds, 1) if seconds else None,
        "llm_seconds": round(seconds, 2),
        "rows_delivered": rows,
        "rows_generated": gen["rows_generated"],
        "llm_seconds_per_100_rows": round(100 * seconds / rows, 2) if rows else None,
        # CPU seconds of the whole fit (one llama.cpp thread: about the wall time on an idle core)
        "cpu_seconds_per_100_rows": round(100 * run["cpu_seconds"] / rows, 2) if rows and run.get("cpu_seconds") else None,
        "program_rounds": gen["rounds"],
        "answers": answers,
        "rejected": sum(gen["rejected"].values()),
        "rejected_share": _share(sum(gen["rejected"].values()), answers),
        "json_answers_repaired_or_rejected": not_strict,
        "json_answers_repaired_or_rejected_share": _share(not_strict, json_answers),
        "repairs": gen["repairs"],
        "repairs_per_json_answer": _share(sum(gen["repairs"].values()), json_answers),
        "rejected_by_reason": gen["rejected"],
        "hit_cap": sum(c["hit_cap"] for c in calls),
        "rows_unique_share": _share(run["rows_unique"], rows),
        "per_step": per_step,
        "wall_seconds": run["wall_seconds"], "cpu_seconds": run.get("cpu_seconds"),
        "model_load_seconds": run["model_load_seconds"],
        "load_before": run["load_before"], "load_after": run["load_after"],
    }


def machine_info() -> dict[str, Any]:
    import llama_cpp

    return {"cpu_count": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
            "llama_cpp_python": llama_cpp.__version__,
            "threads": {v: os.environ.get(v) for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--datasets", default=DEFAULT_DATASETS, help="comma-separated dataset names")
    p.add_argument("--old-commit", default=DEFAULT_OLD, help="the previous implementation (any git revision)")
    p.add_argument("--fold", type=int, default=0)
    p.add_argument("--ratio", type=float, default=1.0)
    p.add_argument("--only", choices=["both", "new", "old"], default="both", help="run one implementation only")
    p.add_argument("--out", default=str(ROOT / "results" / "bench" / "llm.json"))
    return p.parse_args(argv)


def write_report(args: argparse.Namespace, datasets: list[dict[str, Any]], shas: tuple[str, str, bool],
                 started: float, load_start: list[float] | None, done: bool) -> dict[str, Any]:
    """Write the JSON (after every dataset too, so an interrupted bench leaves what finished, marked partial)."""
    old_sha, new_sha, dirty = shas
    both = [d for d in datasets if "ratio_old_new" in d]
    total: dict[str, Any] = {}
    for impl in ("old", "new"):
        runs = [d[impl] for d in datasets if impl in d]
        if runs:
            sec, rows = sum(r["llm_seconds"] for r in runs), sum(r["rows_delivered"] for r in runs)
            total[impl] = {"llm_seconds": round(sec, 1), "rows_delivered": rows,
                           "llm_seconds_per_100_rows": round(100 * sec / rows, 2),
                           "hit_cap": sum(r["hit_cap"] for r in runs), "calls": sum(r["calls"] for r in runs)}
    if "old" in total and "new" in total:
        total["ratio_old_new"] = round(total["old"]["llm_seconds_per_100_rows"] / total["new"]["llm_seconds_per_100_rows"], 2)
    report = {
        "what": "LM at one ratio on one fold's training part, replay cache off, each implementation's llm=local "
                "config; identical inputs built once by the driver; old and new alternate",
        "partial": not done, "datasets_asked": args.datasets,
        "old": {"commit": old_sha, "ref": args.old_commit}, "new": {"commit": new_sha, "uncommitted_changes": dirty},
        "datasets": datasets, "total": total,
        "min_ratio_old_new": min((d["ratio_old_new"]["llm_seconds_per_100_rows"] for d in both), default=None),
        "wall_seconds": round(time.time() - started, 1), "load_at_start": load_start, "load_at_end": load(),
        "machine": machine_info(),
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    return report


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started, load_start = time.time(), load()
    old_sha = git("rev-parse", args.old_commit)
    new_sha = git("rev-parse", "HEAD")
    dirty = bool(git("status", "--porcelain", "--untracked-files=no", "--", "lsh_bench", "conf"))
    tmp = Path(tempfile.mkdtemp(prefix="bench_llm_"))
    old_root = tmp / "old"
    datasets: list[dict[str, Any]] = []
    try:
        if args.only != "new":
            git("worktree", "add", "--detach", str(old_root), old_sha)
        impls = {"old": old_root, "new": ROOT}
        for i, name in enumerate(n.strip() for n in args.datasets.split(",")):
            task = build_input(name, args.fold, args.ratio)
            input_path = tmp / f"{name}.json"
            input_path.write_text(json.dumps(task))
            order = ["old", "new"] if i % 2 == 0 else ["new", "old"]
            order = [o for o in order if args.only in ("both", o)]
            entry: dict[str, Any] = {"dataset": name, "fold": args.fold, "ratio": args.ratio, "seed": task["seed"],
                                     "source": task["source"], "train_rows": len(task["y"]),
                                     "train_minority": sum(task["y"]), "n_features": len(task["columns"]),
                                     "run_order": order}
            for impl in order:
                print(f"{name}: {impl} ...", flush=True)
                run = run_impl(impl, impls[impl], input_path, tmp / f"{name}.{impl}.out.json")
                entry[impl] = summarize(run)
                s = entry[impl]
                print(f"  {impl}: {s['calls']} calls, {s['prompt_tokens']}+{s['completion_tokens']} tokens, "
                      f"{s['llm_seconds']:.1f} LLM s, {s['rows_delivered']} rows, "
                      f"{s['llm_seconds_per_100_rows']} s/100 rows, cap hits {s['hit_cap']}, "
                      f"rejected {s['rejected']}/{s['answers']}", flush=True)
            if "old" in entry and "new" in entry:
                o, n = entry["old"], entry["new"]
                entry["ratio_old_new"] = {k: round(o[k] / n[k], 2) if o[k] and n[k] else None
                                          for k in ("llm_seconds_per_100_rows", "cpu_seconds_per_100_rows",
                                                    "llm_seconds", "completion_tokens", "prompt_tokens", "calls")}
                print(f"  old/new LLM s per 100 rows: x{entry['ratio_old_new']['llm_seconds_per_100_rows']}",
                      flush=True)
            datasets.append(entry)
            write_report(args, datasets, (old_sha, new_sha, dirty), started, load_start, done=False)
    finally:
        if old_root.exists():
            subprocess.run(["git", "worktree", "remove", "--force", str(old_root)], cwd=ROOT, check=False)
        shutil.rmtree(tmp, ignore_errors=True)
    report = write_report(args, datasets, (old_sha, new_sha, dirty), started, load_start, done=True)
    print(f"total: {json.dumps(report['total'])}")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--worker":
        run_worker(Path(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4]))
        sys.exit(0)
    sys.exit(main())
