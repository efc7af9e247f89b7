"""Unit records (``unit.json``) -> one provenance row per unit: what made each result.

The report's provenance tables and the ``llm_generator`` column of Tables
3/6 read these rows. A module of its own because it reads a different input
than :mod:`lsh_bench.analysis.load` (whole unit records, not the store's
summary) and forgives what that one checks: records written before a field
existed give "unknown" or "", never an error. The records themselves are
read by ``load.load_results``, the analysis's one I/O edge.
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

#: Columns of ``Inputs.provenance``; ``packages`` holds (name, version) pairs.
PROVENANCE_COLUMNS: tuple[str, ...] = (
    "dataset", "scenario", "method", "status", "config_hash", "git_commit", "git_dirty",
    "packages", "llm_backend", "llm_model", "llm_generator", "llm_prompts", "llm_zero_shot_range",
)


def provenance_rows(records: list[dict]) -> pd.DataFrame:
    """Adapter: unit records (``unit.json`` dicts) -> one provenance row per unit.

    Records written before a field existed give None there (shown as
    "unknown"), never an error: provenance is reported, not required.
    """
    rows = []
    for rec in records:
        prov = rec.get("provenance") or {}
        llm = prov.get("llm") or {}
        packages = prov.get("packages") or {}
        rows.append({
            "dataset": str(rec.get("dataset", "")), "scenario": str(rec.get("scenario", "")),
            "method": str(rec.get("method", "")).upper(), "status": str(rec.get("status", "")),
            "config_hash": str(rec.get("config_hash") or prov.get("config_hash") or ""),
            "git_commit": str(prov.get("git_commit") or "unknown"),
            "git_dirty": prov.get("git_dirty"),
            "packages": sorted((str(k), str(v)) for k, v in packages.items()),
            "llm_backend": str(llm.get("backend") or ""), "llm_model": str(llm.get("model") or ""),
            # an LLM unit recorded before the keys existed ran the guarded generator with the compact prompts
            "llm_generator": str(llm.get("generator") or ("guarded" if llm else "")),
            "llm_prompts": str(llm.get("prompts") or ("compact" if llm else "")),
            # which ranges bound a column with no minority row (guarded few-/zero-shot); "" before the key existed
            "llm_zero_shot_range": str(llm.get("zero_shot_range") or ""),
        })
    return pd.DataFrame(rows, columns=list(PROVENANCE_COLUMNS))


def _used_units(prov: pd.DataFrame, units: pd.DataFrame | None) -> pd.DataFrame:
    """Provenance of the units the tables were made from (the chosen config per unit)."""
    if units is None:
        return prov
    key = ["dataset", "scenario", "method", "config_hash"]
    used = units[key].astype(str).assign(method=lambda f: f["method"].str.upper())
    return prov.merge(used, on=key, how="inner").sort_values(
        ["scenario", "method", "dataset"], kind="mergesort").reset_index(drop=True)


def unit_provenance(records: Iterable[dict], units: pd.DataFrame | None) -> pd.DataFrame:
    """``Inputs.provenance``: the provenance rows of the units the tables were made from.

    ``units``: the store's summary rows that were used (one configuration
    per unit); None keeps every record.
    """
    return _used_units(provenance_rows(list(records)), units)
