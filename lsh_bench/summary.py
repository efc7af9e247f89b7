"""The table printed at the end of a sweep (and by ``python -m lsh_bench.status``).

Its columns are those of :class:`lsh_bench.record.UnitRow` (the same flat row
the store's summary and the analysis read), shortened for a terminal.
"""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

from lsh_bench.record import unit_rows

#: The columns shown, from :class:`lsh_bench.record.UnitRow` (``llm_tokens``: prompt + completion).
SHOWN = ["dataset", "scenario", "method", "status", "ratio", "classifier", "params", "val_f1", "test_f1",
         "achievement", "seconds", "llm_calls", "llm_tokens", "llm_seconds", "note"]
LLM_COLUMNS = ["llm_calls", "llm_tokens", "llm_seconds"]


def summary_frame(records: list[dict[str, Any]]) -> pd.DataFrame:
    rows = unit_rows(records)
    rows["classifier"] = rows["classifier"].fillna("")
    rows["params"] = [_params_text(p) for p in rows["params"]]
    rows["llm_tokens"] = rows["llm_prompt_tokens"] + rows["llm_completion_tokens"]
    for col in ("llm_calls", "llm_tokens"):
        rows[col] = rows[col].astype("Int64")    # counts print as integers, "-" where not recorded
    rows["note"] = [_short(r) for r in rows["reason"]]
    return rows[SHOWN]


def _params_text(params_json: object) -> str:
    params = json.loads(params_json) if isinstance(params_json, str) else None      # NaN/None: no choice
    return ",".join(f"{k}={v}" for k, v in params.items()) if params else ""


def _short(text: str, width: int = 70) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: width - 1] + "…"


def format_summary(records: list[dict[str, Any]], llm: bool = False) -> str:
    frame = summary_frame(records)
    if frame.empty:
        return "(no units)"
    if not llm:
        frame = frame.drop(columns=LLM_COLUMNS)
    if (frame["note"] == "").all():
        frame = frame.drop(columns=["note"])
    counts = frame["status"].value_counts().to_dict()
    text = frame.to_string(index=False, na_rep="-", float_format=lambda x: f"{x:.4f}")
    tail = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
    unavailable = frame.loc[frame["status"] == "unavailable", "dataset"].tolist()
    if unavailable:
        tail += f"\nunavailable offline ({len(unavailable)}): {', '.join(unavailable)}"
    return f"{text}\n\nunits: {tail}"
