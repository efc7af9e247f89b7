"""The seed-sensitivity study (the paper code's S1..S4): how many LLM seeds are worth their cost?

    python scripts/seed_study.py --dataset smoke --grid smoke [--study results/seed_study] [-- overrides...]
    python scripts/seed_study.py --no-run --study results/seed_study      # tables and figure only

LS writes its LLM seeds up to the seed ratio and expands from there
(``ls.expander``, SMOTE by default). S1 is the paper's LS (seeds up to r0,
the first applicable ratio); S2..S4 move the seed ratio up by 1..3 ratio
steps (``ls.seed_steps=1..3``), so more of the synthetic rows are the LLM's.
For each step the study runs LS and, as references without an LLM, SS
(SMOTE seeds, then the same expander: the two-stage effect alone) and SM.
Each (method, step) is one results store under ``<study>/store/<method>/S<k>``
(resumable: rerunning computes only what is missing); every LS step shares
one LLM replay cache, ``<study>/llm_cache``, so answers written once are
replayed (a step's seeds are new requests: the LLM is asked for a different
number of rows).

Outputs in ``<study>``: ``seed_study.csv`` / ``.md`` (one row per dataset,
method and step) and ``seed_study.png`` (test F1 and LLM cost against the
seed share). The seed share is a property of the step: the fraction of the
rows that balance the classes (ratio 1.0) that are seeds,
``(r_seed - p) / (1 - p)`` with ``p`` the dataset's minority/majority (the
training parts are stratified). ``seed_share_at_choice`` is the same at the
ratio selection chose, ``(r_seed - p) / (r_choice - p)``: 1.0 when the unit
was scored best at its seed ratio, where every synthetic row is a seed. The LLM
cost is that of writing the unit's distinct requests — tokens and seconds
as recorded in the cache entries when they were generated — so a replayed
unit costs what generating it did, not zero.

A step with no ratio left at or above its seed ratio is recorded by the
harness as ``not_applicable`` and listed as such.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import matplotlib
import pandas as pd

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lsh_bench.samplers.llm.cache import generation_cost  # noqa: E402
from lsh_bench.store import iter_records  # noqa: E402

STEPS = (0, 1, 2, 3)                   # ls.seed_steps: S1..S4
TWO_STAGE = ("ls", "ss")               # run at every step
REFERENCE = ("sm",)                    # no seeds: run once
COLUMNS = ["dataset", "method", "step", "status", "seed_ratio", "ratio", "seed_share", "seed_share_at_choice",
           "classifier",
           "val_f1", "test_f1", "llm_requests", "llm_tokens", "llm_seconds", "llm_missing_entries", "reason"]


def label(step: int) -> str:
    return f"S{step + 1}"


def store_dir(study: Path, method: str, step: int | None) -> Path:
    return study / "store" / method / (label(step) if step is not None else "ref")


def commands(study: Path, datasets: list[str], grid: str, methods: tuple[str, ...],
             extra: list[str]) -> list[list[str]]:
    """One ``python -m lsh_bench`` per (dataset entry, method, step); the references once per entry.

    Dataset-major, in the order of ``methods``: a partial run has whole datasets.
    """
    out = []
    for dataset, method in ((d, m) for d in datasets for m in methods):
        steps: tuple[int | None, ...] = STEPS if method in TWO_STAGE else (None,)
        for step in steps:
            cmd = [sys.executable, "-m", "lsh_bench", f"method={method}", f"dataset={dataset}", f"grid={grid}",
                   f"run.results_dir={store_dir(study, method, step)}", f"llm.cache_dir={study / 'llm_cache'}",
                   "run.progress=false"]
            if step is not None:
                cmd.append(f"ls.seed_steps={step}")
            out.append(cmd + extra)
    return out


def run(cmds: list[list[str]]) -> list[int]:
    """Run every sweep; a failed one is reported and the rest still run (the table shows what is missing)."""
    codes = []
    for cmd in cmds:
        print("+ " + " ".join(cmd[1:]), flush=True)
        codes.append(subprocess.run(cmd, cwd=ROOT, check=False).returncode)
        if codes[-1] != 0:
            print(f"  exit code {codes[-1]} (see the unit records)", flush=True)
    return codes


def seed_share(rec: dict[str, Any], at: float | None = 1.0) -> float | None:
    """Seeds / synthetic rows at ratio ``at`` (``None``: the chosen ratio): ``(r_seed - p) / (at - p)``.

    0 for a method without seeds; ``None`` for a unit that is not done.
    """
    ratio = (rec.get("choice") or {}).get("ratio")
    if rec.get("status") != "done" or ratio is None:
        return None
    seed = rec.get("seed_ratio")
    if seed is None:
        return 0.0
    p = rec["n_minority"] / (rec["n_rows"] - rec["n_minority"])
    return round(min(1.0, (seed - p) / ((ratio if at is None else at) - p)), 4)


def row(rec: dict[str, Any], method: str, step: int | None, cache_dir: Path) -> dict[str, Any]:
    choice = rec.get("choice") or {}
    llm = rec.get("llm") or {}
    keys = llm.get("keys") or []
    cost = generation_cost(keys, cache_dir)
    reason = (rec.get("reason") or "").splitlines()[0][:160] if rec.get("reason") else ""
    return {
        "dataset": rec["dataset"], "method": method.upper(), "step": label(step) if step is not None else "-",
        "status": rec["status"], "seed_ratio": rec.get("seed_ratio"), "ratio": choice.get("ratio"),
        "seed_share": seed_share(rec), "seed_share_at_choice": seed_share(rec, at=None),
        "classifier": choice.get("classifier"),
        "val_f1": rec.get("val_f1"), "test_f1": rec.get("test_f1"), "llm_requests": cost.requests,
        "llm_tokens": cost.tokens, "llm_seconds": round(cost.seconds, 1), "llm_missing_entries": cost.missing, "reason": reason,
    }


def collect(study: Path) -> pd.DataFrame:
    """One row per (dataset, method, step) found under ``<study>/store``."""
    rows = []
    for method in (*TWO_STAGE, *REFERENCE):
        steps: tuple[int | None, ...] = STEPS if method in TWO_STAGE else (None,)
        for step in steps:
            where = store_dir(study, method, step)
            if where.is_dir():
                rows += [row(rec, method, step, study / "llm_cache") for _, rec in iter_records(where)]
    frame = pd.DataFrame(rows, columns=COLUMNS)
    return frame.sort_values(["dataset", "method", "step"], kind="stable").reset_index(drop=True)


def to_markdown(frame: pd.DataFrame) -> str:
    cols = [c for c in COLUMNS if c != "reason"]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in frame.itertuples(index=False):
        cells = ["" if pd.isna(getattr(r, c)) else (f"{getattr(r, c):.4f}" if isinstance(getattr(r, c), float)
                 and c in ("val_f1", "test_f1", "seed_share", "seed_share_at_choice") else str(getattr(r, c))) for c in cols]
        lines.append("| " + " | ".join(cells) + " |")
    notes = [f"- {r.dataset} {r.method} {r.step}: {r.status}: {r.reason}"
             for r in frame.itertuples(index=False) if r.status != "done"]
    return "\n".join(lines + ([""] + ["Not done:"] + notes if notes else [])) + "\n"


def plot(frame: pd.DataFrame, path: Path) -> Path:
    """Test F1 (left) and LLM tokens (right) against the seed share; LS solid, SS dashed, SM dotted."""
    done = frame[frame["status"] == "done"]
    fig, (ax_f1, ax_cost) = plt.subplots(1, 2, figsize=(11, 5.4))
    colours = dict(zip(sorted(frame["dataset"].unique()), plt.rcParams["axes.prop_cycle"].by_key()["color"]))
    for dataset, colour in colours.items():
        for method, style in (("LS", "-o"), ("SS", "--s")):
            part = done[(done["dataset"] == dataset) & (done["method"] == method)]
            if part.empty:
                continue
            ax_f1.plot(part["seed_share"], part["test_f1"], style, color=colour, label=f"{dataset} {method}")
            if method == "LS":
                ax_cost.plot(part["seed_share"], part["llm_tokens"] / 1000, style, color=colour, label=dataset)
                for r in part.itertuples(index=False):
                    ax_cost.annotate(r.step, (r.seed_share, r.llm_tokens / 1000), textcoords="offset points",
                                     xytext=(4, 4), fontsize=8)
            for r in part.itertuples(index=False):
                ax_f1.annotate(r.step, (r.seed_share, r.test_f1), textcoords="offset points", xytext=(4, 4),
                               fontsize=7, color=colour)
        sm = done[(done["dataset"] == dataset) & (done["method"] == "SM")]
        if not sm.empty:
            ax_f1.axhline(float(sm["test_f1"].iloc[0]), color=colour, linestyle=":", linewidth=1,
                          label=f"{dataset} SM")
    xlabel = "seed share (seeds / rows that balance the classes)"
    ax_f1.set(xlabel=xlabel, ylabel="test F1 (minority)", title="Test F1 vs seed share (S1..S4; SM dotted)")
    ax_cost.set(xlabel=xlabel, ylabel="LLM tokens to write the seeds (thousands)", title="LS: LLM cost vs seed share")
    for ax in (ax_f1, ax_cost):       # below the axes: inside, the F1 legend hid the lines near the top
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7, ncol=3 if ax is ax_f1 else 1, loc="upper center", bbox_to_anchor=(0.5, -0.16))
    for ax in (ax_f1, ax_cost):
        ax.set_xlim(-0.05, 1.05)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def write(study: Path) -> pd.DataFrame:
    frame = collect(study)
    if frame.empty:
        raise SystemExit(f"error: no unit records under {study / 'store'}: run the study first")
    frame.to_csv(study / "seed_study.csv", index=False, lineterminator="\n")
    (study / "seed_study.md").write_text(to_markdown(frame), encoding="utf-8")
    plot(frame, study / "seed_study.png")
    return frame


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--study", type=Path, default=ROOT / "results" / "seed_study")
    p.add_argument("--dataset", default="smoke", help="a dataset or group; comma-separated: one after the other")
    p.add_argument("--grid", default="smoke")
    p.add_argument("--methods", default=",".join((*REFERENCE, "ss", "ls")),
                   help="comma-separated, run in this order: ls, ss (S1..S4 each), sm (once)")
    p.add_argument("--no-run", action="store_true", help="only the table and figure from the stores")
    p.add_argument("overrides", nargs="*", help="extra overrides for every sweep (after --)")
    args = p.parse_args(argv)
    if not args.no_run:
        methods = tuple(m.strip() for m in args.methods.split(",") if m.strip())
        datasets = [d.strip() for d in args.dataset.split(",") if d.strip()]
        run(commands(args.study, datasets, args.grid, methods, args.overrides))
    frame = write(args.study)
    print(frame.drop(columns=["reason"]).to_string(index=False))
    print(f"wrote {args.study / 'seed_study.csv'}, .md and {args.study / 'seed_study.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
