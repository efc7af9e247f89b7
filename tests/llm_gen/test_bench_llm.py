"""scripts/bench_llm.py without the model: the shared input, the call recorder and the summary."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from lsh_bench.data.schema import Column, FeatureSchema
from lsh_bench.samplers.llm.config import LLMConfig
from lsh_bench.samplers.llm.sampler import LLMOverSampler

from .fakes import ScriptedBackend

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

import bench_llm  # noqa: E402


def test_input_is_fold_0_encoded_and_round_trips_to_a_schema(mirror: Path, monkeypatch) -> None:
    monkeypatch.setenv("LSH_BENCH_DATA", str(mirror))
    task = json.loads(json.dumps(bench_llm.build_input("haberman", 0, 1.0)))
    X, y = np.asarray(task["X"]), np.asarray(task["y"])
    assert X.shape == (len(y), 3) and set(np.unique(y)) == {0, 1} and task["seed"] == 0
    assert 170 <= len(y) <= 172          # 70% of 306 rows, less one validation fold of five
    schema = FeatureSchema(tuple(Column(c["name"], c["kind"], tuple(c["categories"]), c["integer"], c["boolean"])
                                 for c in task["columns"]))
    assert schema.names[0] == "Age_of_patient_at_time_of_operation" and schema.columns[0].integer


def test_recorder_and_summary_count_calls_caps_and_shares() -> None:
    schema = FeatureSchema((Column("a", "numeric"), Column("b", "numeric", integer=True)))
    fake = ScriptedBackend(schema, program=["no json", '{"ops":[{"op":"output"}]}'])
    recorder = bench_llm.Recorder(fake)
    rng = np.random.default_rng(0)
    X = np.column_stack([rng.normal(size=40), rng.integers(0, 5, 40)]).astype(float)
    y = np.array([0] * 30 + [1] * 10)
    cfg = LLMConfig(cache_mode="off", min_outputs_per_round=1, executions_per_program=5, max_rounds=30)
    s = LLMOverSampler(sampling_strategy=1.0, schema=schema, llm=cfg, llm_seed=0, client=recorder)
    Xr, _ = s.fit_resample(X, y)
    steps = [c["step"] for c in recorder.calls]
    assert steps[:3] == ["report", "variables", "program"] and len(recorder.calls) == fake.calls
    run = {"calls": recorder.calls, "generation": s.generation_.as_dict(), "rows_delivered": len(Xr) - len(X),
           "rows_unique": len(Xr) - len(X), "wall_seconds": 1.0, "model_load_seconds": 0.0,
           "load_before": None, "load_after": None}
    out = bench_llm.summarize(run)
    assert out["calls"] == fake.calls and out["rows_delivered"] == 20 and out["hit_cap"] == 0
    assert out["llm_seconds"] == round(0.01 * fake.calls, 2)
    assert out["llm_seconds_per_100_rows"] == round(100 * 0.01 * fake.calls / 20, 2)
    assert out["rejected"] == 1 and out["rejected_share"] == round(1 / out["answers"], 4)
    assert out["per_step"]["program"]["rejected"] == 1
