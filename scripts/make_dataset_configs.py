"""Regenerate ``conf/dataset/*.yaml`` from the offline mirror's ``manifest.csv`` and ``columns.json``.

One config per manifest row: the paper's 60 Table 5 rows and Birthday (row
``T3``, the Table 3 few-/zero-shot set, outside ``all``), named as on OpenML.
Each carries the OpenML id, the offline file and its checksum (or
``available_offline: false``: fetched by OpenML id where the network allows),
the raw and the expected cleaned counts (the paper's Table 5), the nominal
columns, and the target rule an OpenML download needs to give the mirror's
target. Group files: ``all`` (60 rows, paper order), ``mirrored`` (those with
an offline copy), ``smoke`` and ``fewshot4`` (the paper's Table 3 sets).

Usage: python scripts/make_dataset_configs.py [path/to/manifest.csv]   (columns.json beside it)
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "conf" / "dataset"
SMOKE = ["haberman", "vertebra-column", "analcatdata_apnea3"]
# The paper's Table 3 few-/zero-shot sets: Draft (row 3), Solar Flare (21), Blood (29), Birthday (T3).
FEWSHOT4 = ["analcatdata_draft", "flare", "blood-transfusion-service-center", "analcatdata_birthday"]
# IR groups (paper Table 2): rows are listed by IR, most imbalanced first.
GROUPS = [(1, 20, "more"), (21, 40, "mid"), (41, 60, "less")]
# Lowest IR of the "more" group (row 20, soybean 5.11) and of "mid" (row 40, emotions 2.14):
# places a row outside Table 5 (Birthday) by its IR.
IR_CUTS = [(5.11, "more"), (2.14, "mid")]

# Rows whose cleaned counts cannot equal Table 5, and why (../shared/datasets/README.md, "Cleaning").
PAPER_MISMATCH = {
    "breast-w": "the 683 complete rows hold 444 benign / 239 malignant = IR 1.86; the paper's 1.79 cannot come "
                "from these rows (cause unknown)",
    "tic-tac-toe": "IR 1.89 (626/332) against the paper's 1.87: no row or column is dropped, so the paper's file "
                   "differs from OpenML's (cause unknown)",
}
# OpenML downloads whose target is not OpenML's default target attribute (manifest notes).
TARGET_COLUMN = {
    "emotions": "angry.aggresive",   # multi-label: the last label is the target, the other 5 stay features
    "colic.ORIG": "cp_data",         # OpenML 25's default target is surgical_lesion
}


def ir_group(row: str, ir: float | None) -> str:
    if row.isdigit():
        for lo, hi, name in GROUPS:
            if lo <= int(row) <= hi:
                return name
        raise ValueError(f"paper row {row} outside 1-60")
    assert ir is not None, f"row {row}: no IR to place it in a group"
    return next((name for cut, name in IR_CUTS if ir >= cut), "less")


def num(value: str | None) -> str:
    return value if value not in ("", None) else "null"


def minority_labels(r: dict[str, str]) -> list[str] | None:
    """OpenML's labels of the minority class, where OpenML's binarised copy names them.

    OpenML's binarised datasets call the original majority class (or values
    below the mean) ``P`` and the rest ``N``; the manifest gives the label of
    the source's target. Otherwise ``None``: the less frequent class.
    """
    label = r["minority_label"]
    if label in ("P", "N"):
        return [label]
    return None


def note_parts(note: str) -> list[str]:
    """A manifest note split at its top-level semicolons (not those inside parentheses)."""
    parts, depth, current = [], 0, ""
    for ch in note:
        depth += (ch == "(") - (ch == ")")
        if ch == ";" and depth == 0:
            parts.append(current.strip())
            current = ""
        else:
            current += ch
    return [p for p in [*parts, current.strip()] if p]


def target_rule(r: dict[str, str]) -> str:
    label = r["minority_label"]
    if not label:
        return "OpenML's default target; minority = the less frequent class"
    if label == "minority":
        return "minority = the less frequent class of OpenML's (binary) target"
    rule = f"minority = label(s) {label.replace('|', ', ')} of the source's target"
    notes = [p for p in note_parts(r["note"]) if "target" in p or "vs rest" in p or "majority" in p]
    return rule + (f"; {'; '.join(notes)}" if notes else "")


def yaml_str(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def yaml_list(values: list[str]) -> str:
    return "[" + ", ".join(yaml_str(v) for v in values) + "]"


def main(manifest: Path) -> None:
    rows = list(csv.DictReader(manifest.open()))
    table5 = [r for r in rows if r["paper_row"].isdigit()]
    assert sorted(int(r["paper_row"]) for r in table5) == list(range(1, 61)), f"{manifest}: rows 1-60 expected"
    columns = json.loads((manifest.parent / "columns.json").read_text())
    OUT.mkdir(parents=True, exist_ok=True)
    for old in OUT.glob("*.yaml"):
        old.unlink()
    names = []
    for r in rows:
        row, name, offline = r["paper_row"], r["name"], bool(r["file"])
        names.append((row, name, offline))
        types = columns.get(r["file"], {}) if offline else {}
        what = f"Paper Table 5 row {row}" if row.isdigit() else \
            f"Paper row {row} (Table 3 few-/zero-shot set, not in Table 5)"
        ir = float(r["paper_ir"]) if r["paper_ir"] else None
        # The package is `dataset` and the name a quoted key: a name may hold a dot (colic.ORIG),
        # which `@package dataset.<name>` would read as nesting.
        lines = [
            "# @package dataset",
            f"# {what}. Generated by scripts/make_dataset_configs.py from manifest.csv and columns.json.",
            f"{yaml_str(name)}:",
            f"name: {name}",
            f"paper_row: {row if row.isdigit() else yaml_str(row)}",
            f"openml_id: {num(r['openml_id'].split('.')[0] if r['openml_id'] else '')}",
            f"available_offline: {'true' if offline else 'false'}",
            f"file: {r['file'] or 'null'}",
            f"sha256: {r['sha256'] or 'null'}",
            f"n_rows: {num(r['n_rows'])}",
            f"n_features: {num(r['n_features'])}",
            f"n_minority: {num(r['n_minority'])}",
            f"ir: {num(r['ir'])}",
            f"paper_n_rows: {num(r['paper_n_rows'])}",
            f"paper_n_features: {num(r['paper_n_features'].split('.')[0])}",
            f"paper_ir: {num(r['paper_ir'])}",
            f"ir_group: {ir_group(row, ir)}",
            "embedded: sklearn_breast_cancer" if name == "wdbc" else "embedded: null",
            f"nominal: {yaml_list(types.get('nominal', []))}",
            f"target_column: {yaml_str(TARGET_COLUMN[name]) if name in TARGET_COLUMN else 'null'}",
            f"minority_labels: {yaml_list(labels) if (labels := minority_labels(r)) else 'null'}",
            f"target_rule: {yaml_str(target_rule(r))}",
            f"paper_mismatch: {yaml_str(PAPER_MISMATCH[name]) if name in PAPER_MISMATCH else 'null'}",
        ]
        (OUT / f"{name}.yaml").write_text("\n".join(lines[:3] + ["  " + line for line in lines[3:]]) + "\n")

    def group_file(fname: str, members: list[str], doc: str) -> None:
        body = ["# @package dataset", f"# {doc}", "defaults:"]
        body += [f"  - {m}" for m in members]
        (OUT / fname).write_text("\n".join(body) + "\n")

    in_table5 = sorted(((int(row), n, off) for row, n, off in names if row.isdigit()))
    group_file("all.yaml", [n for _, n, _ in in_table5], "All 60 datasets of the paper (Table 5), in paper-row order.")
    offline = [n for _, n, off in in_table5 if off]
    group_file("mirrored.yaml", offline, f"Every Table 5 dataset with an offline copy ({len(offline)} of 60).")
    group_file("smoke.yaml", SMOKE, "Three small mirrored datasets for CI smoke sweeps.")
    group_file("fewshot4.yaml", FEWSHOT4, "The paper's Table 3 few-/zero-shot sets: Draft (row 3), Solar Flare "
               "(row 21), Blood (row 29) and Birthday (T3, outside Table 5).")
    print(f"wrote {len(names)} dataset configs to {OUT} ({len(offline)} of 60 Table 5 rows mirrored)")


if __name__ == "__main__":
    default = ROOT.parent / "shared" / "datasets" / "manifest.csv"
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else default)
