"""The method registry (lsh_bench.samplers.registry): YAML -> sampler, and the checks that keep a method honest."""

from __future__ import annotations

import pytest
from imblearn.over_sampling import ADASYN, SMOTE, BorderlineSMOTE

from lsh_bench.config import LLMConfig, MethodSpec
from lsh_bench.data.schema import Column, FeatureSchema
from lsh_bench.errors import ConfigError
from lsh_bench.samplers.hybrid import LSHSampler
from lsh_bench.samplers.llm.sampler import LLMOverSampler
from lsh_bench.samplers.registry import SamplerContext, build_sampler, check_method, registered_methods

SCHEMA = FeatureSchema((Column("a", "numeric"), Column("b", "numeric")))
METHODS = registered_methods()


def context(**over) -> SamplerContext:
    kw = dict(sampling_strategy=0.6, k_neighbors=3, random_state=11, llm_seed=7, schema=SCHEMA,
              llm=LLMConfig(), categorical_features=None, seed_ratio=None)
    return SamplerContext(**{**kw, **over})


def spec(**over) -> MethodSpec:
    base = METHODS["sm"].model_dump(by_alias=True)
    return MethodSpec.model_validate({**base, "name": "mine", "kind": "mine", **over})


def test_each_class_gets_the_values_it_names() -> None:
    sm = build_sampler(METHODS["sm"], context())
    assert type(sm) is SMOTE and (sm.sampling_strategy, sm.k_neighbors, sm.random_state) == (0.6, 3, 11)
    ada = build_sampler(METHODS["adasyn"], context())
    assert type(ada) is ADASYN and (ada.n_neighbors, ada.random_state) == (3, 11)      # imblearn's name for k
    bl = build_sampler(METHODS["borderline"], context())
    assert type(bl) is BorderlineSMOTE and (bl.k_neighbors, bl.kind) == (3, "borderline-1")
    lm = build_sampler(METHODS["lm"], context())
    assert type(lm) is LLMOverSampler and lm.llm_seed == 7 and lm.schema is SCHEMA
    ls = build_sampler(METHODS["ls"], context(seed_ratio=0.4))
    assert type(ls) is LSHSampler and (ls.seed_ratio, ls.random_state, ls.llm_seed) == (0.4, 11, 7)
    assert build_sampler(METHODS["org"], context()) is None


def test_an_unknown_class_is_a_config_error_naming_the_key() -> None:
    with pytest.raises(ConfigError, match=r"method\._target_: 'imblearn.over_sampling.SMOOTE' cannot be imported"):
        check_method(spec(_target_="imblearn.over_sampling.SMOOTE"), registered={})


def test_traits_must_match_the_class() -> None:
    with pytest.raises(ConfigError, match=r"traits\.uses_llm is False but .*LLMOverSampler takes 'llm'"):
        check_method(spec(_target_="lsh_bench.samplers.llm.sampler.LLMOverSampler"), registered={})
    with pytest.raises(ConfigError, match=r"traits\.seeds_at_r0 is True but .*SMOTE does not take 'seed_ratio'"):
        check_method(spec(_target_="imblearn.over_sampling.SMOTE",
                          traits={"min_minority": 0, "uses_llm": False, "seeds_at_r0": True}), registered={})
    with pytest.raises(ConfigError, match="no sampler"):
        check_method(spec(_target_=None, traits={"min_minority": 1, "uses_llm": True, "seeds_at_r0": False}),
                     registered={})


def test_a_class_needing_what_no_unit_gives_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"requires \['func'\]"):
        check_method(spec(_target_="tests.samplers.test_registry.NeedsFunc"), registered={})


class NeedsFunc:
    def __init__(self, sampling_strategy: float, func: object) -> None:
        self.sampling_strategy, self.func = sampling_strategy, func


def test_a_kind_keeps_its_class_and_traits() -> None:
    """The config hash names the sampler by its kind: a new class under an old kind would reuse old results."""
    check_method(METHODS["sm"])
    with pytest.raises(ConfigError, match="kind 'smote' is 'sm'"):
        check_method(spec(kind="smote", _target_="imblearn.over_sampling.SMOTE"))
    check_method(spec(kind="plain_smote", _target_="imblearn.over_sampling.SMOTE"))   # its own kind: fine


def test_the_hash_covers_name_kind_and_k_only() -> None:
    # and LS's score_r0 when it is off its value from before the key existed (r0 scored)
    assert METHODS["ls"].hash_fields() == {"name": "ls", "kind": "hybrid", "k_neighbors": 5, "score_r0": False}
    assert METHODS["ls"].model_copy(update={"score_r0": True}).hash_fields() == {
        "name": "ls", "kind": "hybrid", "k_neighbors": 5}
    assert METHODS["org"].hash_fields() == {"name": "org", "kind": "none", "k_neighbors": 5}
