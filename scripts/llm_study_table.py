"""One table of LLM-method units from several results stores (e.g. the guarded vs the paper generator).

    python scripts/llm_study_table.py --store guarded=results/llm_study/guarded \
        --store paper=results/llm_study/paper --cache results/llm_study/llm_cache --out results/llm_study

Why: issue #14 asks how the paper's generator and the guarded one compare
on the same units (val/test F1, calls, tokens, time). Each store holds one
generator's units (the unit directories are keyed by config hash, so both
could share one store; two keep the analysis of each a plain ``make paper``).

Writes ``units.csv`` / ``units.md`` (one row per unit and store: scores, the
choice, the LLM cost) and ``paired.csv`` / ``paired.md`` (one row per
scenario, method and dataset: each store's val/test F1 and LLM cost side by
side). The LLM cost is that of *generating* the unit's distinct requests, read
from the cache entries (``generation_cost``), so a unit replayed from the
cache costs what writing it did; ``calls`` is what the run that wrote the
record asked the model (0 for a replay).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lsh_bench.samplers.llm.cache import generation_cost  # noqa: E402
from lsh_bench.store import iter_records  # noqa: E402

SCENARIOS = {"general": 0, "fewshot": 1, "zeroshot": 2}
METHODS = {"ORG": 0, "SM": 1, "LM": 2, "LS": 3}


def unit_row(label: str, rec: dict[str, Any], cache_dir: Path) -> dict[str, Any]:
    """One unit's scores and LLM cost (``label`` names the store)."""
    choice = rec.get("choice") or {}
    llm = rec.get("llm") or {}
    prov_llm = (rec.get("provenance") or {}).get("llm") or {}
    keys = llm.get("keys") or []
    cost = generation_cost(keys, cache_dir)
    ratio = choice.get("ratio")
    expander = ((rec.get("provenance") or {}).get("ls") or {}).get("expander", "smote")
    method = rec["method"].upper() + ("" if expander == "smote" else f"[{expander}]")   # LS[borderline]
    return {
        "store": label, "scenario": rec["scenario"], "method": method, "dataset": rec["dataset"],
        # records written before llm.generator existed do not name one (they ran guarded/compact's forerunner)
        "generator": (f"{prov_llm.get('generator', 'unrecorded')}/{prov_llm.get('prompts', 'unrecorded')}"
                      if prov_llm or keys else "-"),
        "status": rec["status"], "val_f1": rec.get("val_f1"), "test_f1": rec.get("test_f1"),
        "all1_test_f1": (rec.get("all_minority") or {}).get("test_f1"),
        "ratio": "-" if ratio is None else ratio, "classifier": choice.get("classifier") or "-",
        "requests": cost.requests, "calls": llm.get("calls", 0), "cache_hits": llm.get("cache_hits", 0),
        "tokens": cost.tokens, "llm_seconds": round(cost.seconds, 1), "missing_entries": cost.missing,
        "rejected": sum((llm.get("rejected") or {}).values()), "repairs": sum((llm.get("repairs") or {}).values()),
        "unit_seconds": round(float(rec.get("seconds") or 0.0), 1),
        "reason": (rec.get("reason") or "").splitlines()[0][:120] if rec.get("reason") else "",
    }


def collect(stores: dict[str, Path], cache_dir: Path) -> pd.DataFrame:
    rows = [unit_row(label, rec, cache_dir) for label, path in stores.items() for _, rec in iter_records(path)]
    if not rows:
        raise SystemExit(f"no unit records under {', '.join(map(str, stores.values()))}")
    out = pd.DataFrame(rows)
    order = out["scenario"].map(SCENARIOS).fillna(9), out["method"].str.split("[").str[0].map(METHODS).fillna(9)
    out = out.assign(_s=order[0], _m=order[1]).sort_values(["_s", "_m", "method", "dataset", "store"],
                                                           kind="mergesort")
    return out.drop(columns=["_s", "_m"]).reset_index(drop=True)


def paired(units: pd.DataFrame, labels: list[str]) -> pd.DataFrame:
    """Side by side per (scenario, method, dataset): each store's F1 and LLM cost (LLM methods only).

    ``unit_seconds`` is the unit's own time: for a failed unit, how long it ran
    before failing. A failed unit's record keeps the LLM usage known when it
    failed (its finished groups and the failed generation, ``complete: false``)
    since this session's change; older failed records keep none.
    """
    values = ["status", "val_f1", "test_f1", "requests", "missing_entries", "tokens", "llm_seconds", "unit_seconds"]
    llm = units[units["method"].str.match(r"^(LM|LS)\b")]
    key = ["store", "scenario", "method", "dataset"]
    dup = llm[llm.duplicated(key, keep=False)]
    if len(dup):   # pivot would keep one of them silently: a superseded unit (older config hash) left in a store
        names = sorted({"/".join(map(str, row)) for row in dup[key].itertuples(index=False)})
        raise SystemExit(f"several units for {', '.join(names)}: keep one unit directory per store "
                         "(move the superseded one to a store of its own)")
    wide = llm.pivot_table(index=["scenario", "method", "dataset"], columns="store", aggfunc="first", values=values)
    wide.columns = [f"{value}_{store}" for value, store in wide.columns]
    cols = [f"{v}_{s}" for v in values for s in labels if f"{v}_{s}" in wide.columns]
    counts = [f"{v}_{s}" for v in ("requests", "missing_entries", "tokens") for s in labels if f"{v}_{s}" in cols]
    out = wide[cols].astype({c: "Int64" for c in counts}).reset_index()
    return out.sort_values("scenario", key=lambda c: c.map(SCENARIOS).fillna(9), kind="mergesort",
                           ignore_index=True)


def to_markdown(df: pd.DataFrame) -> str:
    cells = df.astype(object).where(df.notna(), "N/A")
    lines = ["| " + " | ".join(df.columns) + " |", "|" + "---|" * len(df.columns)]
    lines += ["| " + " | ".join(_fmt(c, v) for c, v in zip(df.columns, row)) + " |"
              for row in cells.itertuples(index=False)]
    return "\n".join(lines) + "\n"


def _fmt(column: str, value: Any) -> str:
    """F1 to 4 decimals (the paper's rounding), ratios to 1, counts with separators, seconds to 0.1."""
    if isinstance(value, float):
        if "f1" in column:
            return f"{value:.4f}"
        return f"{value:.1f}" if column == "ratio" else f"{value:,.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--store", action="append", required=True, metavar="LABEL=PATH",
                    help="a results store and its label (repeat)")
    ap.add_argument("--cache", required=True, type=Path, help="the replay cache holding the units' answers")
    ap.add_argument("--out", required=True, type=Path)
    args = ap.parse_args(argv)
    stores: dict[str, Path] = {}
    for item in args.store:
        label, sep, path = item.partition("=")
        if not sep or not label or not Path(path).is_dir():
            ap.error(f"--store {item!r}: expected LABEL=PATH with PATH an existing results store")
        stores[label] = Path(path)
    units = collect(stores, args.cache)
    pairs = paired(units, list(stores))
    args.out.mkdir(parents=True, exist_ok=True)
    for name, df in (("units", units), ("paired", pairs)):
        df.to_csv(args.out / f"{name}.csv", index=False)
        (args.out / f"{name}.md").write_text(to_markdown(df), encoding="utf-8")
    print(to_markdown(pairs))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
