"""The two-stage methods: LS's expander by config (``ls.expander``), SS (SMOTE+SMOTE), the seed step.

The expander runs on real + seed rows exactly as SMOTE did before the option
existed: the default gives LS the same rows as SMOTE on the LLM's seeds, and
``borderline`` / ``adasyn`` put imbalanced-learn's samplers in its place.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from imblearn.over_sampling import ADASYN, SMOTE, BorderlineSMOTE

import lsh_bench.samplers.llm.client as client
from lsh_bench.config import LLMConfig, unit_config_hash
from lsh_bench.data.schema import FeatureSchema
from lsh_bench.errors import ConfigError, SamplerNotApplicable
from lsh_bench.ls_config import LSConfig
from lsh_bench.protocol import RatioPlan, apply_seed_ratios, rows_to_add
from lsh_bench.samplers.ls_ratios import ls_ratios
from lsh_bench.samplers.hybrid import LSHSampler
from lsh_bench.samplers.registry import build_expander, check_method, expander_method, registered_methods
from lsh_bench.samplers.smote import smote_for
from lsh_bench.samplers.two_stage import SMOTETwoStageSampler, expand_from_seeds
from lsh_bench.sweep import run_sweep
from tests.llm_gen.fakes import ScriptedBackend


def _data(n_maj: int = 80, n_min: int = 12, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(0, 1, (n_maj + n_min, 3))
    y = np.array([0] * n_maj + [1] * n_min)
    X[y == 1] += 1.0
    return X, y


# -------------------------------------------------------------- expander ---
@pytest.mark.parametrize("name,cls", [("smote", SMOTE), ("sm", SMOTE), ("borderline", BorderlineSMOTE),
                                      ("adasyn", ADASYN)])
def test_expander_is_a_registered_over_sampler_by_name_or_kind(name: str, cls: type) -> None:
    sampler = build_expander(name, sampling_strategy=0.8, k_neighbors=3, random_state=4, categorical_features=[],
                             n_features=3)
    assert isinstance(sampler, cls)
    k = sampler.get_params().get("k_neighbors", sampler.get_params().get("n_neighbors"))
    assert (k, sampler.sampling_strategy, sampler.random_state) == (3, 0.8, 4)


@pytest.mark.parametrize("name", ["lm", "ls", "ss", "org", "smotte"])
def test_an_expander_that_is_not_a_plain_over_sampler_is_refused_naming_the_key(name: str) -> None:
    with pytest.raises(ConfigError, match=r"ls\.expander: .*'adasyn', 'borderline', 'sm'"):
        expander_method(name)
    with pytest.raises(ConfigError, match=r"ls\.expander"):
        check_method(registered_methods()["ls"], expander=name)
    check_method(registered_methods()["sm"], expander=name)    # SM has no expander: the option is not read


def test_default_expander_gives_ls_the_rows_smote_gives_on_real_plus_seeds() -> None:
    """``ls.expander=smote`` is the paper's LS, unchanged: SMOTE(real + seeds), same seed, same k."""
    X, y = _data()
    schema = FeatureSchema.infer(pd.DataFrame(X, columns=["a", "b", "c"]))
    llm = LLMConfig(cache_mode="off", min_outputs_per_round=10, max_rounds=20)
    ls = LSHSampler(0.8, seed_ratio=0.4, schema=schema, llm=llm, random_state=3, llm_seed=7,
                    client=ScriptedBackend(schema))
    X_ls, y_ls = ls.fit_resample(X, y)
    n_seeded = len(X) + ls.n_seeds_
    X1, y1 = X_ls[:n_seeded], y_ls[:n_seeded]
    X_ref, _ = smote_for(0.8, k_neighbors=5, random_state=3, categorical_features=[], n_features=3).fit_resample(X1, y1)
    assert np.array_equal(X_ls, X_ref)
    assert ls.expander == "smote" and ls.n_smote_ == len(X_ls) - n_seeded > 0


@pytest.mark.parametrize("expander,cls", [("borderline", BorderlineSMOTE), ("adasyn", ADASYN)])
def test_another_expander_runs_on_real_plus_seeds(expander: str, cls: type) -> None:
    X, y = _data()
    schema = FeatureSchema.infer(pd.DataFrame(X, columns=["a", "b", "c"]))
    llm = LLMConfig(cache_mode="off", min_outputs_per_round=10, max_rounds=20)
    ls = LSHSampler(0.8, seed_ratio=0.4, schema=schema, llm=llm, random_state=3, llm_seed=7,
                    client=ScriptedBackend(schema), expander=expander)
    X_ls, y_ls = ls.fit_resample(X, y)
    n_seeded = len(X) + ls.n_seeds_
    ref = cls(sampling_strategy=0.8, random_state=3)
    X_ref, _ = ref.fit_resample(X_ls[:n_seeded], y_ls[:n_seeded])
    assert np.array_equal(X_ls, X_ref)                 # the expander's own rows, after the seeds
    assert (y_ls[len(y):] == 1).all()


def test_expansion_lowers_k_to_the_pool_and_refuses_a_single_row() -> None:
    X = np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0], [3.0, 3.0], [5.0, 5.0], [5.2, 5.1], [5.1, 5.3]])
    y = np.array([0, 0, 0, 0, 1, 1, 1])
    X2, y2, k = expand_from_seeds(X, y, n_pool=3, sampling_strategy=1.0, expander="smote", k_neighbors=5,
                                  random_state=0, categorical_features=None, who="LS")
    assert k == 2 and len(X2) == 8 and y2[-1] == 1
    with pytest.raises(SamplerNotApplicable, match="LS: 1 minority row"):
        expand_from_seeds(X[:5], y[:5], n_pool=1, sampling_strategy=1.0, expander="smote", k_neighbors=5,
                          random_state=0, categorical_features=None, who="LS")


# -------------------------------------------------------------------- SS ---
def test_ss_is_smote_to_the_seed_ratio_then_the_expander_from_there() -> None:
    X, y = _data()
    ss = SMOTETwoStageSampler(0.9, seed_ratio=0.5, random_state=2)
    X_ss, y_ss = ss.fit_resample(X, y)
    X1, y1 = SMOTE(sampling_strategy=0.5, random_state=2).fit_resample(X, y)
    X2, _ = SMOTE(sampling_strategy=0.9, random_state=2).fit_resample(X1, y1)
    assert np.array_equal(X_ss, X2)
    assert ss.n_seeds_ == rows_to_add(0.5, n_minority=12, n_majority=80) == len(X1) - len(X)
    assert ss.n_seeds_ + ss.n_expanded_ == rows_to_add(0.9, n_minority=12, n_majority=80) == len(X_ss) - len(X)
    # one-stage SMOTE to 0.9 is not the same thing: the second stage interpolates between synthetic rows too
    assert not np.array_equal(X_ss, SMOTE(sampling_strategy=0.9, random_state=2).fit_resample(X, y)[0])


def test_ss_at_its_seed_ratio_is_stage_one_alone_and_below_it_is_refused() -> None:
    X, y = _data()
    X_ss, _ = SMOTETwoStageSampler(0.5, seed_ratio=0.5, random_state=2).fit_resample(X, y)
    assert np.array_equal(X_ss, SMOTE(sampling_strategy=0.5, random_state=2).fit_resample(X, y)[0])
    with pytest.raises(ValueError, match="below seed_ratio"):
        SMOTETwoStageSampler(0.4, seed_ratio=0.5).fit_resample(X, y)


# ------------------------------------------------------------ seed step ---
@pytest.mark.parametrize("step,seed,scored", [(0, 0.4, [0.4, 0.6, 0.8, 1.0]), (1, 0.6, [0.6, 0.8, 1.0]),
                                              (3, 1.0, [1.0])])
def test_seed_step_moves_the_seed_ratio_and_skips_the_ratios_below(step: int, seed: float, scored: list) -> None:
    plan = RatioPlan([0.4, 0.6, 0.8, 1.0], skipped={"0.2": "not above the current minority/majority"})
    apply_seed_ratios(plan, ls_ratios(plan.applicable, score_r0=True, seed_step=step))
    assert plan.seed_ratio == seed
    assert plan.applicable == scored and plan.not_applicable is None
    assert set(plan.skipped) == {"0.2", *(f"{r:g}" for r in [0.4, 0.6, 0.8, 1.0] if r < seed)}
    assert all(f"seed step {step}" in plan.skipped[f"{r:g}"] for r in [0.4, 0.6, 0.8] if r < seed)


def test_a_seed_step_beyond_the_applicable_ratios_makes_the_unit_not_applicable() -> None:
    plan = RatioPlan([0.8, 1.0])
    apply_seed_ratios(plan, ls_ratios(plan.applicable, seed_step=2))
    assert plan.seed_ratio is None
    assert plan.applicable == [] and "seed step 2: only 2 applicable ratio(s)" in plan.not_applicable


def test_seed_step_paper_scoring_leaves_the_seed_ratio_out() -> None:
    plan = RatioPlan([0.4, 0.6, 0.8, 1.0])
    apply_seed_ratios(plan, ls_ratios(plan.applicable, score_r0=False, seed_step=1))
    assert plan.seed_ratio == 0.6
    assert plan.applicable == [0.8, 1.0] and "LS there is LM's rows" in plan.skipped["0.6"]


def test_ls_options_enter_the_hash_only_when_not_the_default() -> None:
    assert LSConfig().hash_fields() == {}
    assert LSConfig(expander="adasyn", seed_steps=2).hash_fields() == {"expander": "adasyn", "seed_steps": 2}
    assert LSConfig(seed_steps=1).hash_fields() == {"seed_steps": 1}


# ------------------------------------------------- replay of the real model ---
@pytest.mark.parametrize("expander", ["borderline", "adasyn"])
def test_ls_with_another_expander_replays_the_recorded_seeds(make_cfg, expander: str) -> None:
    """LS's seed requests do not depend on the expander: the SMOTE-expansion recording replays them
    (``llm.cache_mode=readonly``: a request that was not recorded fails the unit, never calls the model)."""
    from tests.test_unit_llm import FIXTURE, replay_cfg

    client._CLIENTS.clear()
    cfg = replay_cfg(make_cfg, "ls", f"ls.expander={expander}")
    default = replay_cfg(make_cfg, "ls")
    assert unit_config_hash(cfg, cfg.dataset["haberman"]) != unit_config_hash(default, default.dataset["haberman"])
    (rec,) = run_sweep(cfg)
    client._CLIENTS.clear()
    assert rec["status"] == "done", rec.get("reason")
    assert rec["llm"]["calls"] == 0 and rec["llm"]["cache_hits"] > 0 and FIXTURE.is_dir()
    # LS is scored above its seed ratio only (method.score_r0=false, the paper's)
    assert rec["seed_ratio"] == 0.4 and rec["ratios_applicable"][0] == 0.6 and 0 < rec["val_f1"] <= 1
    assert rec["provenance"]["ls"] == {"expander": expander, "seed_steps": 0}
