"""Every config composes; the paper grid has 139 cells; typos fail with the key's name."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.errors import ConfigCompositionException, MissingConfigException

from lsh_bench.config import unit_config_hash, validate
from lsh_bench.errors import ConfigError
from lsh_bench.models.grid import expand_grid
from tests.conftest import CONF, compose_config


def _options(group: str) -> list[str]:
    return sorted(p.stem for p in (CONF / group).glob("*.yaml"))


@pytest.mark.parametrize("group", ["method", "scenario", "preprocess", "grid", "llm", "dataset"])
def test_every_option_composes(group: str) -> None:
    for option in _options(group):
        cfg = compose_config([f"{group}={option}"])
        assert cfg.dataset


def test_paper_grid_has_139_combinations_in_paper_order() -> None:
    cfg = compose_config([])
    cells = expand_grid(cfg.classifiers())
    assert len(cells) == 139
    per = {name: sum(c.classifier == name for c in cells) for name in ("LR", "DT", "SVM", "kNN", "LGBM")}
    assert per == {"LR": 7, "DT": 36, "SVM": 24, "kNN": 24, "LGBM": 48}
    assert [c.classifier for c in cells] == sorted((c.classifier for c in cells), key=["LR", "DT", "SVM", "kNN", "LGBM"].index)
    # last parameter varies fastest
    dt = [c.param_dict for c in cells if c.classifier == "DT"]
    assert dt[0] == {"max_depth": 10, "min_samples_split": 2, "min_samples_leaf": 1}
    assert dt[1] == {"max_depth": 10, "min_samples_split": 2, "min_samples_leaf": 2}
    assert dt[-1] == {"max_depth": 40, "min_samples_split": 6, "min_samples_leaf": 3}
    lr = cells[0]
    assert lr.spec.fixed == {"max_iter": 100000, "random_state": 100}


def test_smoke_grid_and_classifier_subset() -> None:
    assert len(expand_grid(compose_config(["grid=smoke"]).classifiers())) == 10
    cfg = compose_config(["grid=smoke", "classifier=[dt,lr]"])
    assert [c.name for c in cfg.classifiers()] == ["LR", "DT"]  # tie-break order, not CLI order


def test_dataset_groups() -> None:
    every = compose_config(["dataset=all"]).dataset
    assert len(every) == 60 and [d.paper_row for d in every.values()] == list(range(1, 61))
    assert all(d.openml_id is not None and not d.name.startswith("paper_row") for d in every.values())
    mirrored = compose_config(["dataset=mirrored"]).dataset
    assert len(mirrored) == 59 and "kdd_el_nino-small" not in mirrored
    assert not every["kdd_el_nino-small"].available_offline and every["kdd_el_nino-small"].openml_id == 839
    # The paper's Table 3 sets; Birthday is row T3, outside Table 5 (and outside all / mirrored).
    fewshot = compose_config(["dataset=fewshot4"]).dataset
    assert [(d.name, d.paper_row) for d in fewshot.values()] == [
        ("analcatdata_draft", 3), ("flare", 21), ("blood-transfusion-service-center", 29),
        ("analcatdata_birthday", "T3")]
    assert "analcatdata_birthday" not in every and fewshot["analcatdata_birthday"].openml_id == 968
    smoke = compose_config(["dataset=smoke"]).dataset
    assert list(smoke) == ["haberman", "vertebra-column", "analcatdata_apnea3"]
    wdbc = compose_config([]).dataset["wdbc"]
    assert (wdbc.paper_row, wdbc.openml_id, wdbc.n_rows, wdbc.ir_group) == (55, 1510, 569, "less")
    groups = [d.ir_group for d in compose_config(["dataset=all"]).dataset.values()]
    assert groups.count("more") == groups.count("mid") == groups.count("less") == 20


def test_unknown_dataset_names_the_option() -> None:
    with pytest.raises((MissingConfigException, ConfigCompositionException), match="dataset/no_such_set"):
        compose_config(["dataset=no_such_set"])


def test_unknown_method_and_classifier() -> None:
    with pytest.raises((MissingConfigException, ConfigCompositionException), match="method/smoote"):
        compose_config(["method=smoote"])
    with pytest.raises((MissingConfigException, ConfigCompositionException), match="classifier/rf"):
        compose_config(["classifier=[lr,rf]"])


def test_typo_in_override_key_is_rejected() -> None:
    with pytest.raises(ConfigCompositionException, match="njobs"):
        compose_config(["run.njobs=2"])


def test_typo_in_yaml_is_rejected_by_name() -> None:
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose("config", overrides=["+run.n_jbos=2"])  # '+' adds a key, as a YAML typo would
    with pytest.raises(ConfigError, match=r"run\.n_jbos: unknown key"):
        validate(cfg)


def test_wrong_type_is_rejected_by_name() -> None:
    with pytest.raises(ConfigError, match=r"run\.n_jobs"):
        compose_config(["run.n_jobs=many"])
    with pytest.raises(ConfigError, match="ratios"):
        compose_config(["ratios=[0.5,1.5]"])


def test_method_traits_and_target_are_typed() -> None:
    ls = compose_config(["method=ls"]).method
    assert ls.target == "lsh_bench.samplers.hybrid.LSHSampler" and ls.traits.seeds_at_r0 and ls.traits.uses_llm
    assert compose_config(["method=sm", "method.k_neighbors=3"]).method.min_minority() == 4
    assert compose_config(["method=org"]).method.resamples is False
    with pytest.raises(ConfigError, match=r"method\.traits\.min_minority"):
        compose_config(["method.traits.min_minority=k+1"])


UNIT_HASHES = Path(__file__).resolve().parent / "fixtures" / "unit_hashes.json"


def test_unit_config_hashes_are_kept() -> None:
    """Every unit keeps its identity: a rerun finds it finished instead of recomputing.

    ``fixtures/unit_hashes.json`` holds, for every unit kind of ``results/smoke_store``
    (plus the ``llm=openai`` and legacy-data variants), the hash the code gave before
    the architecture split (main at 1322082, after the paper's data preparation). If
    this fails on purpose (a change to what the hash covers), say so when committing
    and regenerate the file: every existing results store is then recomputed.

    Issue #14 changed three defaults on purpose (regenerated): few-/zero-shot units are built the
    paper's way (``scenario.construction=paper``), LS is scored above r0 only (``method.score_r0``),
    and ``llm=openai`` runs the paper's generator and prompts (with ``max_tokens`` 16384). Those
    entries keep their hash from before (``config_hash_before_14``), which their
    ``legacy_overrides`` must give back: a store of the old behaviour stays reachable by config.

    Issue #15 gave ``llm=local`` fast defaults (converted weights, capped report rows, the ``lean``
    set, programs run as often as needed): LM/LS units under it are new units. The stored ones keep
    their hash under ``llm=local_v1`` (the former values), which the LM/LS cases name.
    """
    cases = json.loads(UNIT_HASHES.read_text())
    assert {c["overrides"][1] for c in cases} >= {"method=sm", "method=lm", "method=ls", "method=org"}
    assert len(cases) > 100
    for case in cases:
        cfg = compose_config(case["overrides"])
        assert unit_config_hash(cfg, cfg.dataset[case["dataset"]]) == case["config_hash"], case["overrides"]
        if "legacy_overrides" in case:
            old = compose_config(case["overrides"] + case["legacy_overrides"])
            assert unit_config_hash(old, old.dataset[case["dataset"]]) == case["config_hash_before_14"], case
    changed = {(c["overrides"][1], c["overrides"][2]) for c in cases if "legacy_overrides" in c}
    assert not any(m in ("method=sm", "method=org") and s == "scenario=general" for m, s in changed)
    for case in cases:       # llm=local (fast defaults) vs local_v1: a new unit for LM/LS, the same for SM/ORG
        if "llm=local_v1" in case["overrides"]:
            now = compose_config([o for o in case["overrides"] if o != "llm=local_v1"])
            assert unit_config_hash(now, now.dataset[case["dataset"]]) != case["config_hash"], case["overrides"]
        elif case["overrides"][1] in ("method=sm", "method=org"):
            v1 = compose_config(case["overrides"] + ["llm=local_v1"])
            assert unit_config_hash(v1, v1.dataset[case["dataset"]]) == case["config_hash"], case["overrides"]


def test_strict_validation_and_llm_limits_are_not_hashed() -> None:
    """Strict types, ratio/seed checks and llm.request_deadline_s / llm.max_answer_bytes change no
    score, so they must not orphan a results store: the bounded config hashes like the default."""
    for overrides, dataset in ((["method=lm", "dataset=haberman", "grid=smoke"], "haberman"),
                               (["method=ls", "dataset=haberman", "llm=openai"], "haberman")):
        cfg = compose_config(overrides)
        bounded = compose_config([*overrides, "llm.request_deadline_s=5", "llm.max_answer_bytes=1000"])
        assert unit_config_hash(bounded, bounded.dataset[dataset]) == unit_config_hash(cfg, cfg.dataset[dataset])


def test_zero_shot_range_enters_the_hash_only_where_it_can_change_rows() -> None:
    """Guarded generator with a training part that may lack minority rows (few-/zero-shot): a new unit;
    the general scenario and the paper generator never read it, so their units keep their identity."""
    def h(*overrides: str) -> str:
        cfg = compose_config(["method=ls", "dataset=flare", *overrides])
        return unit_config_hash(cfg, cfg.dataset["flare"])

    for scenario in ("scenario=zeroshot", "scenario=fewshot"):
        assert h(scenario, "llm.zero_shot_range=training") != h(scenario, "llm.zero_shot_range=declared")
    assert h("llm.zero_shot_range=training") == h("llm.zero_shot_range=declared")
    paper = ("scenario=zeroshot", "llm.generator=paper", "llm.prompts=paper")
    assert h(*paper, "llm.zero_shot_range=training") == h(*paper, "llm.zero_shot_range=declared")
    assert compose_config(["method=ls"]).llm.zero_shot_range == "training"                 # llm=local
    assert compose_config(["method=ls", "llm=local_v1"]).llm.zero_shot_range == "declared"
