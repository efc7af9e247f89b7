"""Shared fixtures of the analysis tests: the synthetic scores and a
hand-built results-store summary (the store itself is written elsewhere)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

DATA = Path(__file__).resolve().parents[1] / "fixtures" / "analysis"
SYNTHETIC = DATA / "synthetic_scores.csv"
RATIO_STATS = DATA / "ratio_stats.csv"


@pytest.fixture
def synthetic_csv() -> Path:
    """The 60-row SYNTHETIC scores (see make_synthetic_scores.py)."""
    return SYNTHETIC


@pytest.fixture
def ratio_stats_csv() -> Path:
    return RATIO_STATS


def write_csv(path: Path, header: str, rows: list[str]) -> Path:
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def summary_rows(
    datasets: dict[str, float],
    methods: tuple[str, ...] = ("sm", "lm", "ls"),
    scenario: str = "general",
    config_hash: str = "abc123",
    seed: int = 0,
) -> pd.DataFrame:
    """A ``store.load_summary``-shaped frame with plausible done units."""
    rng = np.random.default_rng(seed)
    rows = []
    for i, (ds, ir) in enumerate(datasets.items()):
        for m in methods:
            v = round(float(rng.uniform(0.4, 0.95)), 4)
            t = round(float(v * rng.uniform(0.8, 1.05)), 4)
            rows.append({
                "dataset": ds, "paper_row": i + 1, "ir": ir, "ir_group": "more",
                "scenario": scenario, "method": m, "status": "done", "reason": "",
                "ratio": 0.6, "classifier": "lr", "params": "{}", "val_f1": v,
                "test_f1": t, "achievement": t / v, "seconds": 1.0, "llm_calls": 0,
                "llm_prompt_tokens": 0, "llm_completion_tokens": 0, "llm_seconds": 0.0,
                "llm_cost": 0.0, "config_hash": config_hash,
            })
    return pd.DataFrame(rows)


@pytest.fixture
def summary() -> pd.DataFrame:
    """12 datasets, SM/LM/LS done (general) plus ORG/LM/LS few- and zero-shot
    on two of them, one SM unit not applicable."""
    general = summary_rows({f"d{i:02d}": 12.0 - i for i in range(12)})
    na = (general["dataset"] == "d00") & (general["method"] == "sm")
    general.loc[na, ["status", "reason"]] = ["not_applicable", "5 minority rows < k+1"]
    general.loc[na, ["val_f1", "test_f1", "achievement"]] = np.nan
    shots = [summary_rows({"d01": 11.0, "d05": 7.0}, ("org", "sm", "lm", "ls"), sc, seed=k)
             for k, sc in enumerate(("fewshot", "zeroshot"))]
    frame = pd.concat([general, *shots], ignore_index=True)
    sm_shot = (frame["scenario"] != "general") & (frame["method"] == "sm")
    frame.loc[sm_shot, ["status", "val_f1", "test_f1", "achievement"]] = \
        ["not_applicable", np.nan, np.nan, np.nan]
    return frame


SMOKE_STORE = Path(__file__).resolve().parents[2] / "results" / "smoke_store"


@pytest.fixture(scope="session")
def smoke_report(tmp_path_factory) -> dict[str, Path]:
    """The CLI with html= on the committed real store (SM/LM/LS/ORG, 3 datasets);
    fewer posterior samples than the default, for speed. Run twice, into
    different directories, the second time in a new process with another hash
    seed (set iteration order), so byte-stability can be checked."""
    import os
    import subprocess
    import sys

    from lsh_bench.analysis.__main__ import main

    base = tmp_path_factory.mktemp("report")
    out = {}
    for name in ("a", "b"):
        args = [f"results={SMOKE_STORE}", f"out={base / name / 'paper'}", "nsamples=3000",
                f"html={base / name / 'report' / 'index.html'}"]
        if name == "a":
            assert main(args) == 0
        else:
            env = {**os.environ, "PYTHONHASHSEED": "4242"}
            proc = subprocess.run([sys.executable, "-m", "lsh_bench.analysis", *args], env=env,
                                  capture_output=True, text=True, check=False)
            assert proc.returncode == 0, proc.stderr
        out[name] = base / name / "report" / "index.html"
    out["paper"] = base / "a" / "paper"
    return out
