"""Each dataset against the paper's Table 5: raw counts, counts after cleaning, what was dropped.

``python -m lsh_bench.data check dataset=all`` (the same ``dataset=`` values and
overrides as ``python -m lsh_bench``) loads every selected dataset the way a
unit does and prints one line per dataset: where it comes from, rows /
features / IR of the raw copy, after the cleaning, and in the paper, whether
they match (rows and features equal, IR within 0.01), then what the cleaning
dropped and why. Exit code 1 if a loaded dataset differs from the paper
without a recorded reason (its config's ``paper_mismatch``).
"""

from __future__ import annotations

from dataclasses import dataclass

from lsh_bench.config import BenchConfig, DatasetSpec
from lsh_bench.data.loader import Dataset, load_dataset
from lsh_bench.errors import DatasetInvalid, DatasetUnavailable

IR_TOLERANCE = 0.01


@dataclass
class CheckRow:
    spec: DatasetSpec
    ds: Dataset | None
    error: str | None = None

    @property
    def status(self) -> str:
        """``match``, ``exception`` (differs, reason recorded), ``MISMATCH``, ``unavailable`` or ``invalid``."""
        if self.ds is None:
            return "unavailable" if self.error and self.error.startswith("unavailable") else "invalid"
        if self.matches_paper:
            return "match"
        return "exception" if self.spec.paper_mismatch else "MISMATCH"

    @property
    def matches_paper(self) -> bool:
        s, ds = self.spec, self.ds
        if ds is None or s.paper_n_rows is None or s.paper_n_features is None or s.paper_ir is None:
            return False
        return (len(ds.y), ds.X.shape[1]) == (s.paper_n_rows, s.paper_n_features) and \
            abs(round(ds.ir, 2) - s.paper_ir) <= IR_TOLERANCE + 1e-9


def check_dataset(spec: DatasetSpec, cfg: BenchConfig) -> CheckRow:
    try:
        return CheckRow(spec, load_dataset(spec, cfg.data, cfg.preprocess.encoding))
    except DatasetUnavailable as exc:
        return CheckRow(spec, None, f"unavailable: {exc}")
    except DatasetInvalid as exc:
        return CheckRow(spec, None, f"invalid: {exc}")


def _fmt(rows: int | None, features: int | None, ir: float | None) -> str:
    if rows is None:
        return "-"
    return f"{rows}/{features}/{ir:.2f}" if ir is not None else f"{rows}/{features}/-"


def report(rows: list[CheckRow], cfg: BenchConfig) -> list[str]:
    """The printed table (one line per dataset) and the notes below it."""
    head = (f"{'row':>3}  {'dataset':<34} {'openml':>6}  {'source':<44} {'raw r/f/IR':>15} "
            f"{'cleaned r/f/IR':>15} {'paper r/f/IR':>15}  status")
    out = [f"cleaning={cfg.data.cleaning}, column_types={cfg.data.column_types}, "
           f"encoding={cfg.preprocess.encoding}", head, "-" * len(head)]
    for r in rows:
        s, ds = r.spec, r.ds
        raw = _fmt(s.n_rows, s.n_features, s.ir)
        if ds is not None and ds.cleaning is not None:
            c = ds.cleaning
            raw = _fmt(c.rows_before, c.features_before,
                       (c.rows_before - c.minority_before) / c.minority_before if c.minority_before else None)
        cleaned = _fmt(len(ds.y), ds.X.shape[1], ds.ir) if ds is not None else "-"
        source = ds.source if ds is not None else ("not offline" if not s.available_offline else "-")
        out.append(f"{s.paper_row!s:>3}  {s.name:<34} {s.openml_id or '-':>6}  {source:<44} {raw:>15} {cleaned:>15} "
                   f"{_fmt(s.paper_n_rows, s.paper_n_features, s.paper_ir):>15}  {r.status}")
    out.append("")
    out.append("What the cleaning dropped, and why:")
    for r in rows:
        if r.ds is not None and r.ds.cleaning is not None:
            c = r.ds.cleaning
            out.append(f"  {r.spec.name}: {c.summary()}")
            for col, why in c.dropped_near_zero_variance.items():
                out.append(f"      {col}: {why}")
            for col, frac in c.dropped_missing.items():
                out.append(f"      {col}: {frac:.1%} missing")
    notes = [r for r in rows if r.status in ("exception", "MISMATCH", "invalid", "unavailable")]
    if notes:
        out.append("")
        out.append("Not matching the paper:")
        for r in notes:
            why = r.spec.paper_mismatch if r.status == "exception" else (r.error or "differs from Table 5")
            out.append(f"  {r.spec.name} ({r.status}): {why}")
    loaded = [r for r in rows if r.ds is not None]
    n_match = sum(r.status == "match" for r in rows)
    out.append("")
    out.append(f"{len(rows)} datasets: {len(loaded)} loaded, {n_match} match the paper's rows, features and IR "
               f"(within {IR_TOLERANCE}); {sum(r.status == 'exception' for r in rows)} known exceptions; "
               f"{sum(r.status == 'MISMATCH' for r in rows)} unexplained mismatches; "
               f"{sum(r.status == 'unavailable' for r in rows)} unavailable; "
               f"{sum(r.status == 'invalid' for r in rows)} invalid")
    return out
