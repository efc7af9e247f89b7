"""llm.generator / llm.prompts wired: config, presets, hash, the sampler's dispatch and what a unit records."""

from __future__ import annotations

import json

import numpy as np
import pytest
from pydantic import ValidationError

from lsh_bench.config import unit_config_hash
from lsh_bench.llm_config import LLMConfig
from lsh_bench.models.evaluate import _info_of
from lsh_bench.record import provenance
from lsh_bench.samplers.hybrid import LSHSampler
from lsh_bench.samplers.llm.paper_generator import PaperGenerationStats
from lsh_bench.samplers.llm.sampler import LLMOverSampler
from lsh_bench.samplers.llm.session import GenerationStats
from tests.conftest import compose_config
from tests.llm_gen.test_paper_generator import SCHEMA, X_MIN, X_TRAIN, PaperScripted, counting_program, var, variables

PAPER = LLMConfig(generator="paper", prompts="paper", max_retries=2, max_rounds=5, max_tokens=4096)


def test_presets_name_their_generator_and_prompts() -> None:
    for preset in ("openai", "vllm", "ollama", "llamacpp_server"):
        llm = compose_config(["method=lm", f"llm={preset}"]).llm
        assert (llm.generator, llm.prompts, llm.max_tokens) == ("paper", "paper", 16384), preset
    local = compose_config(["method=lm"]).llm
    assert (local.generator, local.prompts) == ("guarded", "lean")
    v1 = compose_config(["method=lm", "llm=local_v1"]).llm
    assert (v1.generator, v1.prompts) == ("guarded", "compact")
    both = compose_config(["method=lm", "llm.generator=paper", "llm.prompts=paper"]).llm
    assert (both.generator, both.prompts) == ("paper", "paper")


@pytest.mark.parametrize("generator, prompts", [("paper", "compact"), ("paper", "lean"), ("guarded", "paper")])
def test_a_prompt_set_of_the_other_generator_is_refused(generator, prompts) -> None:
    with pytest.raises(ValidationError, match=f"llm.prompts={prompts} is written for the other generator"):
        LLMConfig(generator=generator, prompts=prompts)


def test_generator_and_prompts_enter_the_hash_of_llm_units_only() -> None:
    def h(*o: str) -> str:
        cfg = compose_config(["dataset=haberman", *o])
        return unit_config_hash(cfg, cfg.dataset["haberman"])

    paper = ("llm.generator=paper", "llm.prompts=paper")
    # the legacy values (llm=local_v1) are not in the payload: spelt out or not, the same hash
    v1 = "llm=local_v1"
    assert h("method=lm", v1) == h("method=lm", v1, "llm.generator=guarded", "llm.prompts=compact")
    assert h("method=lm") != h("method=lm", v1)           # llm=local's fast defaults: new units
    assert h("method=lm") != h("method=lm", *paper) != h("method=lm", "llm.generator=paper", "llm.prompts=/x")
    assert h("method=ls") != h("method=ls", *paper)
    assert h("method=sm") == h("method=sm", *paper)      # no LLM: nothing of llm= is hashed


def test_paper_mode_dispatches_to_the_papers_generator_and_counts_the_fills() -> None:
    X = np.vstack([X_MIN, X_TRAIN[len(X_MIN):], X_TRAIN[len(X_MIN):] + 1, X_TRAIN[len(X_MIN):] + 2,
                   X_TRAIN[len(X_MIN):] + 3])
    y = np.r_[np.ones(len(X_MIN), int), np.zeros(len(X) - len(X_MIN), int)]
    # the LLM names no variable "a": a missing column, filled with the training part's mean and counted
    fake = PaperScripted(variables=(variables(var("b", "none"), var("c"), var("NEW_LABEL", units="integer")),),
                         program=(counting_program(12),))
    lm = LLMOverSampler(1.0, schema=SCHEMA, llm=PAPER, client=fake)
    X_res, y_res = lm.fit_resample(X, y)
    assert isinstance(lm.generation_, PaperGenerationStats) and lm.n_generated_ == 7
    assert all(r.strict_schema == (r.json_schema is not None) for r in fake.requests)
    new = X_res[len(X):]
    assert np.all(new[:, 0] == X[:, 0].mean())                # the paper's fillna(mean) of the training part
    info = _info_of(lm)
    assert info["repairs"]["filled_missing"] == 7 and info["rounds"] == 1
    assert lm.generation_.missing_by_column == {"a": 7}


def test_guarded_mode_is_unchanged_and_ls_seeds_follow_the_generator() -> None:
    assert LLMConfig().generator == "guarded"
    fake = PaperScripted()
    X = np.vstack([X_MIN, X_TRAIN[len(X_MIN):]] + [X_TRAIN[len(X_MIN):] + k for k in range(1, 6)])
    y = np.r_[np.ones(len(X_MIN), int), np.zeros(len(X) - len(X_MIN), int)]
    ls = LSHSampler(1.0, seed_ratio=0.4, schema=SCHEMA, llm=PAPER, client=fake, k_neighbors=3)
    ls.fit_resample(X, y)
    assert isinstance(ls.generation_, PaperGenerationStats) and ls.n_seeds_ == 2 and ls.n_smote_ == 11
    assert not isinstance(ls.generation_, GenerationStats)


def test_llm_unit_provenance_names_generator_prompts_and_construction(make_cfg) -> None:
    cfg = make_cfg("method=ls", "dataset=haberman", "scenario=fewshot", "llm=openai")
    prov = provenance(cfg, None, "h", {})
    assert prov["llm"]["generator"] == "paper" and prov["llm"]["prompts"] == "paper"
    assert len(prov["llm"]["prompts_digest"]) >= 12 and prov["score_r0"] is False
    assert prov["scenario"] == {"name": "fewshot", "minority_fraction": 0.01, "construction": "paper",
                                "disjoint_extra": False}
    assert "llm" not in provenance(make_cfg("method=sm"), None, "h", {})
    json.dumps(prov)
