"""Which LLM generator made a table's LM/LS scores (Table 3 and Table 6 say it per row).

Two generators write LM's and LS's rows (``llm.generator``: ``paper``, the
paper's code; ``guarded``, the harness's, for small models) with two prompt
sets (``llm.prompts``); their scores differ, so a table that mixes or hides
them misleads. The label comes from each unit's provenance
(:func:`lsh_bench.analysis.load_records.provenance_rows`).
"""

from __future__ import annotations

import pandas as pd


def llm_generator_column(table: pd.DataFrame, provenance: pd.DataFrame | None) -> pd.Series:
    """Per (dataset, scenario) row: which generator and prompt set made its LM/LS rows.

    "paper/paper" (the paper's generator and prompts) or "guarded/compact"
    (the harness's), per method when LM and LS differ ("LM paper/paper; LS
    ..."); "" where no LLM unit was used, "unknown" without provenance (a
    scores CSV). A guarded few-/zero-shot row also names the ranges that
    bound a column with no minority row ("guarded/lean, training ranges",
    ``llm.zero_shot_range``): they change its zero-shot rows.
    """
    if provenance is None or "llm_generator" not in provenance:
        return pd.Series("unknown", index=table.index, dtype=str)
    llm = provenance[provenance["llm_generator"].astype(str) != ""]
    label = {}
    for (dataset, scenario), part in llm.groupby(["dataset", "scenario"], sort=False):
        kinds = {m: _kind(g, p, r, scenario) for m, g, p, r in zip(
            part["method"], part["llm_generator"], part["llm_prompts"], part["llm_zero_shot_range"])}
        label[(dataset, scenario)] = (next(iter(kinds.values())) if len(set(kinds.values())) == 1
                                      else "; ".join(f"{m} {k}" for m, k in sorted(kinds.items())))
    scenario = table["scenario"] if "scenario" in table else pd.Series("general", index=table.index)
    return pd.Series([label.get((d, s), "") for d, s in zip(table["dataset"], scenario)],
                     index=table.index, dtype=str)


def _kind(generator: str, prompts: str, zero_shot_range: str, scenario: str) -> str:
    """"generator/prompts", plus the range option where it can change the rows (guarded, not general)."""
    kind = f"{generator}/{prompts}"
    if generator == "guarded" and scenario != "general" and zero_shot_range:
        kind += f", {zero_shot_range} ranges"
    return kind
