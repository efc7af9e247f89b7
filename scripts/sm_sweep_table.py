"""Summary table of a sweep's units, optionally against a second sweep of the same datasets.

    python scripts/sm_sweep_table.py --store results/store_sm_clean --out results/sm_cleaned \
        [--compare results/store_sm_raw --compare-label uncleaned]

Writes ``sweep.csv`` / ``sweep.md`` (dataset, paper row, rows, features, IR,
chosen ratio and classifier, val/test F1, seconds, status) and, with
``--compare``, ``changes.csv`` / ``changes.md``: both sweeps' scores per
dataset, sorted by the largest absolute change of the test F1.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lsh_bench.store import iter_records  # noqa: E402


def table(store: Path) -> pd.DataFrame:
    rows = []
    for _, rec in iter_records(store):
        choice = rec.get("choice") or {}
        cleaning = (rec.get("provenance") or {}).get("cleaning") or {}
        rows.append({
            "dataset": rec["dataset"], "paper_row": rec["paper_row"], "status": rec["status"],
            "rows": rec.get("n_rows"), "features": rec.get("n_features"),
            "ir": round(rec["ir"], 2) if rec.get("ir") is not None else None,
            "ratio": choice.get("ratio"), "classifier": choice.get("classifier"),
            "val_f1": rec.get("val_f1"), "test_f1": rec.get("test_f1"), "seconds": rec.get("seconds"),
            "dropped": _dropped(cleaning),
            "reason": (rec.get("reason") or "").splitlines()[0][:120] if rec.get("reason") else "",
        })
    out = pd.DataFrame(rows)
    out["_row"] = [int(r) if str(r).isdigit() else 99 for r in out["paper_row"]]
    return out.sort_values(["_row", "dataset"]).drop(columns="_row").reset_index(drop=True)


def _dropped(cleaning: dict) -> str:
    if not cleaning:
        return ""
    parts = []
    if cleaning.get("dropped_missing"):
        parts.append(f"{len(cleaning['dropped_missing'])} col >15% missing")
    if cleaning.get("rows_dropped_incomplete"):
        parts.append(f"{cleaning['rows_dropped_incomplete']} rows")
    if cleaning.get("dropped_near_zero_variance"):
        parts.append(f"{len(cleaning['dropped_near_zero_variance'])} col NZV")
    if cleaning.get("dropped_degenerate"):
        parts.append(f"{len(cleaning['dropped_degenerate'])} col constant")
    return ", ".join(parts)


def _cell(column: str, value) -> str:
    if pd.isna(value):
        return ""
    if isinstance(value, float) and ("f1" in column or column.startswith("d_")):
        return f"{value:.4f}"
    if isinstance(value, float) and column.startswith(("rows", "features")):
        return f"{value:.0f}"
    return str(value)


def markdown(frame: pd.DataFrame) -> str:
    cols = list(frame.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for _, r in frame.iterrows():
        lines.append("| " + " | ".join(_cell(c, v) for c, v in zip(cols, r)) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--store", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--compare", type=Path)
    ap.add_argument("--compare-label", default="uncleaned")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    main_table = table(args.store)
    main_table.to_csv(args.out / "sweep.csv", index=False)
    (args.out / "sweep.md").write_text(markdown(main_table.drop(columns=["reason"])))
    print(f"{len(main_table)} units: {main_table['status'].value_counts().to_dict()}")
    if args.compare:
        other = table(args.compare)
        lab = args.compare_label
        keep = ["dataset", "rows", "features", "ratio", "classifier", "val_f1", "test_f1", "status"]
        both = main_table[["dataset", "paper_row", *keep[1:]]].merge(
            other[keep], on="dataset", how="outer", suffixes=("", f"_{lab}"))
        both["d_val"] = (both["val_f1"] - both[f"val_f1_{lab}"]).round(4)
        both["d_test"] = (both["test_f1"] - both[f"test_f1_{lab}"]).round(4)
        both = both.reindex(both["d_test"].abs().sort_values(ascending=False, na_position="last").index)
        both = both.drop(columns=["status", f"status_{lab}"])
        both.to_csv(args.out / "changes.csv", index=False)
        (args.out / "changes.md").write_text(markdown(both))
        print(both.head(12).to_string(index=False))


if __name__ == "__main__":
    main()
