"""LS is scored only above r0 (the paper's adj_strategy); ``method.score_r0=true`` restores r0."""

from __future__ import annotations

import numpy as np
import pytest

import lsh_bench.samplers.llm.client as client
from lsh_bench.config import unit_config_hash
from lsh_bench.data.splits import Part, ProtocolSplit
from lsh_bench.protocol import plan_ratios
from lsh_bench.samplers.registry import registered_methods
from lsh_bench.store import load_ratio_stats
from lsh_bench.sweep import run_sweep
from tests.test_unit_llm import FIXTURE, replay_cfg

LS = registered_methods()["ls"]


def _split(n_min: int, n_maj: int) -> tuple[ProtocolSplit, np.ndarray]:
    y = np.r_[np.ones(n_min, int), np.zeros(n_maj, int)]
    part = Part(np.arange(len(y)), np.array([], int))
    return ProtocolSplit((part, part), part), y


def test_ls_plans_its_seed_ratio_and_scores_above_it() -> None:
    split, y = _split(30, 100)                    # 0.2 is not above 0.3: r0 = 0.4
    plan = plan_ratios(LS, [0.2, 0.4, 0.6, 0.8, 1.0], split, y)
    assert plan.seed_ratio == 0.4 and plan.applicable == [0.6, 0.8, 1.0]
    assert "seed ratio 0.4" in plan.skipped["0.4"] and "not above" in plan.skipped["0.2"]
    restored = plan_ratios(LS.model_copy(update={"score_r0": True}), [0.2, 0.4, 0.6, 0.8, 1.0], split, y)
    assert restored.seed_ratio == 0.4 and restored.applicable == [0.4, 0.6, 0.8, 1.0]
    # the hook for the paper's seed sensitivity (S2): seeds up to the next ratio, LS above it
    s2 = plan_ratios(LS, [0.2, 0.4, 0.6, 0.8, 1.0], split, y, seed_step=1)
    assert s2.seed_ratio == 0.6 and s2.applicable == [0.8, 1.0]


def test_r0_at_the_last_ratio_leaves_ls_nothing_to_score() -> None:
    split, y = _split(85, 100)                    # only 1.0 adds a row: it is r0, nothing above
    plan = plan_ratios(LS, [0.2, 0.4, 0.6, 0.8, 1.0], split, y)
    assert plan.applicable == [] and plan.seed_ratio == 1.0
    assert plan.not_applicable.startswith("no ratio above the seed ratio")
    assert plan_ratios(LS.model_copy(update={"score_r0": True}), [1.0], split, y).applicable == [1.0]


def test_score_r0_enters_the_hash_off_its_legacy_value(make_cfg) -> None:
    default, legacy = make_cfg("method=ls"), make_cfg("method=ls", "method.score_r0=true")
    spec = default.dataset["wdbc"]
    assert default.method.score_r0 is False and legacy.method.score_r0 is True
    assert unit_config_hash(default, spec) != unit_config_hash(legacy, spec)
    sm = make_cfg("method=sm").method         # no seeds: the key means nothing there and is not hashed
    assert sm.model_copy(update={"score_r0": True}).hash_fields() == sm.hash_fields()


@pytest.mark.parametrize("score_r0", [False, True])
def test_ls_unit_records_no_score_at_r0_unless_asked(make_cfg, score_r0) -> None:
    if not any(FIXTURE.rglob("*.json")):
        pytest.fail(f"no recorded LLM cache in {FIXTURE}: run `make record-llm-cache`")
    client._CLIENTS.clear()
    cfg = replay_cfg(make_cfg, "ls", f"method.score_r0={str(score_r0).lower()}")
    (rec,) = run_sweep(cfg)
    client._CLIENTS.clear()
    assert rec["status"] == "done", rec.get("reason")
    r0 = rec["seed_ratio"]
    assert r0 == 0.4                               # haberman: 0.2 is below its minority/majority
    assert (r0 in rec["ratios_applicable"]) is score_r0
    assert all(r > r0 for r in rec["ratios_applicable"] if r != r0)
    ratios = load_ratio_stats(cfg.run.results_dir)
    assert (r0 in set(ratios["ratio"])) is score_r0
    if not score_r0:
        assert "seed ratio 0.4" in rec["ratios_skipped"]["0.4"]
    assert rec["provenance"]["score_r0"] is score_r0
