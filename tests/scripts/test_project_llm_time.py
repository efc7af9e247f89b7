"""scripts/project_llm_time.py: the cost model read from a bench report, and the projection on real data."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

import project_llm_time  # noqa: E402

STEP = {"calls": 1, "seconds": 0.0}


def bench(report_s: float, variables_s: float, program_s: float, rounds: int, rows: int) -> dict:
    steps = {"report": {**STEP, "seconds": report_s}, "variables": {**STEP, "seconds": variables_s},
             "program": {"calls": rounds, "seconds": program_s}}
    return {"datasets": [{"dataset": "d", "new": {"per_step": steps, "rows_generated": rows}}]}


def test_cost_model_splits_fixed_and_per_round_seconds() -> None:
    (m,) = project_llm_time.cost_model(bench(8.0, 7.0, 40.0, 2, 240)).values()
    assert m == {"fixed_s": 15.0, "round_s": 20.0, "rows_per_round": 120.0}
    # a generation pays the fixed steps once and one round per 120 rows (rounded up); none for 0 rows
    assert project_llm_time.seconds([1, 120, 121, 0], m) == 3 * 15.0 + (1 + 1 + 2) * 20.0


def test_no_new_measurement_is_an_error() -> None:
    with pytest.raises(SystemExit, match="no 'new' measurement"):
        project_llm_time.cost_model({"datasets": [{"dataset": "d", "old": {}}]})


def test_projection_on_haberman_counts_the_protocol_generations(tmp_path: Path, mirror: Path) -> None:
    src = tmp_path / "llm.json"
    src.write_text(json.dumps(bench(8.0, 7.0, 20.0, 1, 120)))
    out = tmp_path / "p.json"
    assert project_llm_time.main(["--datasets", "haberman", "--bench", str(src), "--out", str(out)]) == 0
    methods = json.loads(out.read_text())["methods"]
    # haberman: 4 ratios above its minority share in 5 folds + refit (LM); LS only at its seed ratio
    assert methods["lm"]["generations"] == 6 * 4 and methods["ls"]["generations"] == 6
    assert methods["lm"]["rows"] > methods["ls"]["rows"] > 0
