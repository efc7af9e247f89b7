"""Compare two results stores unit by unit and cell by cell; exit 1 on any difference.

A refactoring, a faster evaluator or a replay from the LLM cache must leave
every score where it was. This script reads two stores as files (not through
``lsh_bench``, so it compares stores written by different versions of the
code) and checks, for every unit (scenario, method, dataset):

* its ``config_hash`` and ``status``;
* the scores of a finished unit: ``choice`` (ratio, classifier, params, cell
  index), ``val_f1``, ``test_f1``, ``achievement``, the chosen cell's
  ``fold_f1``, ``n_tied_best``, ``n_cells``, the applicable and skipped
  ratios, LS's ``seed_ratio`` and the all-minority baseline;
* every row of ``cells.parquet`` (ratio, fold, cell index): ``f1`` and
  ``f1_rounded``, compared exactly (floats bit for bit).

Timings, provenance and LLM accounting are not compared (they differ between
runs by nature). A unit present in one store only is a difference, unless
``--only-common`` is given; ``--scenario``/``--method``/``--dataset`` restrict
the comparison. Prints one summary (and the first differences) and exits 0
only when everything compared is identical and something was compared.

    python scripts/compare_stores.py results/before results/after
    python scripts/compare_stores.py results/smoke_store /tmp/replay --method lm ls --only-common
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import pandas as pd

UnitKey = tuple[str, str, str]    # (scenario, method, dataset)

#: unit.json fields that hold scores or decisions (compared exactly when the unit is done).
SCORE_FIELDS = (
    "choice", "val_f1", "test_f1", "achievement", "fold_f1", "n_tied_best", "n_cells",
    "ratios_applicable", "ratios_skipped", "seed_ratio", "all_minority",
)
CELL_KEYS = ["ratio", "fold", "cell_index"]
CELL_VALUES = ["classifier", "params", "f1", "f1_rounded"]


def read_units(results_dir: Path) -> dict[UnitKey, list[Path]]:
    """Unit directories of a store by (scenario, method, dataset); several config hashes are kept apart."""
    units: dict[UnitKey, list[Path]] = {}
    for record in sorted((results_dir / "units").glob("*/*/*/*/unit.json")):
        unit_dir = record.parent
        key = (unit_dir.parents[2].name, unit_dir.parents[1].name, unit_dir.parents[0].name)
        units.setdefault(key, []).append(unit_dir)
    return units


def _selected(key: UnitKey, only: tuple[list[str], list[str], list[str]]) -> bool:
    """Is the unit among the chosen scenarios, methods and datasets (an empty list chooses all)?"""
    return all(not chosen or part in chosen for part, chosen in zip(key, only))


def compare_records(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    """The fields in which two unit records differ (empty: identical as far as scores go)."""
    diffs = [f"{f}: {a.get(f)!r} != {b.get(f)!r}" for f in ("config_hash", "status") if a.get(f) != b.get(f)]
    if a.get("status") == b.get("status") == "done":
        diffs += [f"{f}: {a.get(f)!r} != {b.get(f)!r}" for f in SCORE_FIELDS if a.get(f) != b.get(f)]
    return diffs


def _read_cells(unit_dir: Path) -> pd.DataFrame | None:
    path = unit_dir / "cells.parquet"
    return pd.read_parquet(path) if path.is_file() else None


def compare_cells(a: pd.DataFrame | None, b: pd.DataFrame | None) -> tuple[int, list[dict[str, Any]], float]:
    """(cells compared, differing or unmatched cells, max |F1 difference|) of two cells.parquet tables of one unit."""
    if a is None and b is None:
        return 0, [], 0.0
    if a is None or b is None:
        return 0, [{"problem": f"cells.parquet only in store {'B' if a is None else 'A'}"}], 0.0
    merged = a[CELL_KEYS + CELL_VALUES].merge(b[CELL_KEYS + CELL_VALUES], on=CELL_KEYS, how="outer",
                                              suffixes=("_a", "_b"), indicator=True)
    both = merged[merged["_merge"] == "both"]
    bad = pd.Series(False, index=both.index)
    for col in CELL_VALUES:
        # compared as objects so that NaN == NaN (a cell that could not be scored in both)
        bad |= ~both[f"{col}_a"].astype(object).eq(both[f"{col}_b"].astype(object)) & ~(
            both[f"{col}_a"].isna() & both[f"{col}_b"].isna())
    problems = both.loc[bad, CELL_KEYS + ["f1_a", "f1_b"]].to_dict("records")
    problems += [{"problem": f"cell only in store {'A' if m == 'left_only' else 'B'}",
                  **{k: row[k] for k in CELL_KEYS}}
                 for row, m in zip(merged.to_dict("records"), merged["_merge"]) if m != "both"]
    diff = (both["f1_a"] - both["f1_b"]).abs().max() if len(both) else 0.0
    return int(len(both)), problems, float(0.0 if pd.isna(diff) else diff)


def compare_stores(a: Path, b: Path, scenarios: list[str] | None = None, methods: list[str] | None = None,
                   datasets: list[str] | None = None) -> dict[str, Any]:
    """Every chosen unit and cell of stores ``a`` and ``b``; a report dict (see :func:`format_report`)."""
    only = (scenarios or [], methods or [], datasets or [])
    units_a = {k: v for k, v in read_units(a).items() if _selected(k, only)}
    units_b = {k: v for k, v in read_units(b).items() if _selected(k, only)}
    report: dict[str, Any] = {
        "a": str(a), "b": str(b), "units_a": len(units_a), "units_b": len(units_b),
        "only_a": sorted("/".join(k) for k in set(units_a) - set(units_b)),
        "only_b": sorted("/".join(k) for k in set(units_b) - set(units_a)),
        "units_compared": 0, "units_identical": 0, "status_counts": {}, "cells_compared": 0,
        "cells_differing": 0, "max_abs_f1_difference": 0.0, "differences": [],
    }
    for key in sorted(set(units_a) & set(units_b)):
        name = "/".join(key)
        if len(units_a[key]) > 1 or len(units_b[key]) > 1:
            report["differences"].append(f"{name}: several config hashes in one store "
                                         f"({len(units_a[key])} in A, {len(units_b[key])} in B)")
            continue
        dir_a, dir_b = units_a[key][0], units_b[key][0]
        rec_a = json.loads((dir_a / "unit.json").read_text())
        rec_b = json.loads((dir_b / "unit.json").read_text())
        diffs = compare_records(rec_a, rec_b)
        n_cells, bad_cells, max_diff = compare_cells(_read_cells(dir_a), _read_cells(dir_b))
        report["units_compared"] += 1
        report["cells_compared"] += n_cells
        report["cells_differing"] += len(bad_cells)
        report["max_abs_f1_difference"] = max(report["max_abs_f1_difference"], max_diff)
        status = rec_a.get("status")
        report["status_counts"][status] = report["status_counts"].get(status, 0) + 1
        diffs += [f"cell {c}" for c in bad_cells[:5]]
        if diffs:
            report["differences"].append(f"{name}: " + "; ".join(diffs))
        else:
            report["units_identical"] += 1
    return report


def failed(report: dict[str, Any], only_common: bool = False) -> bool:
    """Any difference, a unit missing from one store (unless ``only_common``), or nothing compared."""
    missing = not only_common and (report["only_a"] or report["only_b"])
    return bool(report["differences"] or report["cells_differing"] or missing or not report["units_compared"])


def format_report(report: dict[str, Any], show: int = 20) -> str:
    lines = [
        f"A: {report['a']} ({report['units_a']} units)",
        f"B: {report['b']} ({report['units_b']} units)",
        f"units compared: {report['units_compared']} "
        f"({', '.join(f'{n} {s}' for s, n in sorted(report['status_counts'].items()))}); "
        f"identical: {report['units_identical']}; differing: {len(report['differences'])}",
        f"cells compared: {report['cells_compared']}; differing or unmatched: {report['cells_differing']}; "
        f"max |F1 difference|: {report['max_abs_f1_difference']}",
        f"only in A: {len(report['only_a'])}" + (f" ({', '.join(report['only_a'][:show])})" if report["only_a"] else ""),
        f"only in B: {len(report['only_b'])}" + (f" ({', '.join(report['only_b'][:show])})" if report["only_b"] else ""),
    ]
    lines += [f"  DIFF {d}" for d in report["differences"][:show]]
    if len(report["differences"]) > show:
        lines.append(f"  ... and {len(report['differences']) - show} more")
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("a", type=Path, help="results store A (a run.results_dir)")
    p.add_argument("b", type=Path, help="results store B")
    p.add_argument("--scenario", nargs="+", default=[], help="compare only these scenarios")
    p.add_argument("--method", nargs="+", default=[], help="compare only these methods")
    p.add_argument("--dataset", nargs="+", default=[], help="compare only these datasets")
    p.add_argument("--only-common", action="store_true", help="a unit present in one store only is no difference")
    p.add_argument("--show", type=int, default=20, help="how many differences to print")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    for store in (args.a, args.b):
        if not (store / "units").is_dir():
            print(f"error: {store} is not a results store (no units/ directory)", file=sys.stderr)
            return 2
    report = compare_stores(args.a, args.b, args.scenario, args.method, args.dataset)
    print(format_report(report, args.show))
    bad = failed(report, args.only_common)
    print("RESULT: " + ("DIFFERENT" if bad else "IDENTICAL"))
    return int(bad)


if __name__ == "__main__":
    sys.exit(main())
