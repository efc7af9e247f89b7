"""The table printed at the end of a sweep (and by ``python -m lsh_bench.status``)."""

from __future__ import annotations

from typing import Any

import pandas as pd


def summary_frame(records: list[dict[str, Any]]) -> pd.DataFrame:
    rows = []
    for r in records:
        choice = r.get("choice") or {}
        llm = r.get("llm") or {}
        params = choice.get("params")
        rows.append({
            "dataset": r["dataset"],
            "scenario": r["scenario"],
            "method": r["method"],
            "status": r["status"],
            "ratio": float("nan") if choice.get("ratio") is None else choice["ratio"],  # ORG: no ratio
            "clf": choice.get("classifier", ""),
            "params": ",".join(f"{k}={v}" for k, v in params.items()) if params else "",
            "val_f1": r.get("val_f1"),
            "test_f1": r.get("test_f1"),
            "achiev": r.get("achievement"),
            "seconds": r.get("seconds"),
            "llm_calls": llm.get("calls"),
            "llm_tokens": (llm.get("prompt_tokens", 0) + llm.get("completion_tokens", 0)) if llm else None,
            "llm_s": llm.get("seconds"),
            "note": _short(r.get("reason", "")),
        })
    return pd.DataFrame(rows)


def _short(text: str, width: int = 70) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: width - 1] + "…"


def format_summary(records: list[dict[str, Any]], llm: bool = False) -> str:
    frame = summary_frame(records)
    if frame.empty:
        return "(no units)"
    if not llm:
        frame = frame.drop(columns=["llm_calls", "llm_tokens", "llm_s"])
    if (frame["note"] == "").all():
        frame = frame.drop(columns=["note"])
    counts = frame["status"].value_counts().to_dict()
    text = frame.to_string(index=False, na_rep="-", float_format=lambda x: f"{x:.4f}")
    tail = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
    unavailable = frame.loc[frame["status"] == "unavailable", "dataset"].tolist()
    if unavailable:
        tail += f"\nunavailable offline ({len(unavailable)}): {', '.join(unavailable)}"
    return f"{text}\n\nunits: {tail}"
