"""``make run``: ORG, SM and LS on an embedded dataset with the embedded model, printed side by side.

What the project is about in one command, offline on a fresh clone: the
same protocol (``docs/protocol.md``) run for no oversampling (ORG), SMOTE
(SM) and the LSH hybrid (LS: seeds written by the LLM, expanded by SMOTE)
through the normal sweep, then one table: validation and test F1, the ratio
and classifier each method's selection chose, and what the LLM cost (calls,
tokens, seconds; replays from the cache count as cache hits, not calls).

Kept small so it finishes in minutes on 2 cores: Haberman's Survival (306
rows, 3 features), shipped inside the package (``demo_data/``, provenance
there), the ``smoke`` classifier grid (10 of the paper's combinations), and
the embedded SmolLM2-135M (``llm=local``). Results go to ``results/demo``
(a rerun skips finished units; the LLM answers are cached there too).

    python -m lsh_bench.demo                       # ORG, SM, LS
    python -m lsh_bench.demo --methods sm,ls,lm --n-jobs 1
    python -m lsh_bench.demo llm=openai            # any override of the sweep's config
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")   # one BLAS thread per process, before numpy loads

from hydra import compose, initialize_config_dir  # noqa: E402

from lsh_bench.config import CONF_DIR, BenchConfig, validate  # noqa: E402
from lsh_bench.sweep import run_sweep  # noqa: E402

DATA_DIR = Path(__file__).resolve().parent / "demo_data"
DATASET = "haberman"
COLUMNS = ("method", "status", "ratio", "classifier", "val F1", "test F1", "LLM calls", "cache hits",
           "LLM tokens", "LLM s", "unit s")


def demo_config(method: str, results_dir: Path, n_jobs: int, overrides: list[str]) -> BenchConfig:
    """The sweep's config for one method of the demo (the shipped data only, no download)."""
    base = [f"method={method}", f"dataset={DATASET}", "grid=smoke", f"data.mirror_dirs=[{DATA_DIR}]",
            "data.use_openml=false", f"run.results_dir={results_dir}", f"run.n_jobs={n_jobs}",
            f"llm.cache_dir={results_dir / 'llm_cache'}"]
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return validate(compose("config", overrides=base + overrides))


def table_row(rec: dict[str, Any]) -> list[str]:
    """One method's line of the table (``-`` where a value does not apply)."""
    def f1(x: Any) -> str:
        return "-" if x is None else f"{x:.3f}"

    choice = rec.get("choice") or {}
    llm = rec.get("llm") or {}
    tokens = llm.get("prompt_tokens", 0) + llm.get("completion_tokens", 0)
    used_llm = bool(llm.get("calls") or llm.get("cache_hits"))
    return [
        rec["method"].upper(), rec["status"],
        "-" if choice.get("ratio") is None else f"{choice['ratio']:g}", choice.get("classifier", "-"),
        f1(rec.get("val_f1")), f1(rec.get("test_f1")),
        str(llm.get("calls", 0)) if used_llm else "-", str(llm.get("cache_hits", 0)) if used_llm else "-",
        str(tokens) if used_llm else "-", f"{llm.get('seconds', 0.0):.0f}" if used_llm else "-",
        f"{rec.get('seconds', 0.0):.0f}",
    ]


def format_table(records: list[dict[str, Any]]) -> str:
    rows = [list(COLUMNS)] + [table_row(r) for r in records]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    lines = ["  ".join(cell.rjust(w) if i > 1 else cell.ljust(w) for i, (cell, w) in enumerate(zip(row, widths)))
             for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m lsh_bench.demo", description=__doc__.split("\n\n")[0])
    p.add_argument("--methods", default="org,sm,ls", help="comma-separated methods (conf/method/*.yaml)")
    p.add_argument("--results-dir", default="results/demo")
    p.add_argument("--n-jobs", type=int, default=2, help="worker processes (one BLAS thread each)")
    p.add_argument("overrides", nargs="*", help="further config overrides, e.g. llm=openai")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    results_dir = Path(args.results_dir)
    records, t0 = [], time.perf_counter()
    for method in [m.strip() for m in args.methods.split(",") if m.strip()]:
        print(f"== {method.upper()} on {DATASET} (grid=smoke) ...", flush=True)
        (rec,) = run_sweep(demo_config(method, results_dir, args.n_jobs, args.overrides))
        records.append(rec)
    print()
    print(f"{DATASET}: {records[0].get('n_rows')} rows, {records[0].get('n_minority')} minority; "
          f"F1 of the minority class; ratio = minority/majority after oversampling; grid=smoke")
    print(format_table(records))
    print(f"\nwall time {time.perf_counter() - t0:.0f} s; records in {results_dir} "
          "(a rerun reuses finished units and cached LLM answers)")
    return 0 if all(r["status"] in ("done", "not_applicable") for r in records) else 1


if __name__ == "__main__":
    sys.exit(main())
