"""scenario.construction wired into units: the paper's construction by default for few-/zero-shot."""

from __future__ import annotations

import pytest

from lsh_bench.config import unit_config_hash
from lsh_bench.data.loader import load_dataset
from lsh_bench.data.scenarios import scenario_split
from lsh_bench.data.splits import make_split
from lsh_bench.errors import ConfigError
from lsh_bench.protocol import all_minority_scores, plan_ratios
from lsh_bench.sweep import run_sweep
from lsh_bench.unit import UnitJob


def _split(cfg, name):
    ds = load_dataset(cfg.dataset[name], cfg.data, cfg.preprocess.encoding)
    return ds, *scenario_split(ds.y, cfg.protocol, cfg.seeds, cfg.scenario, ds.name)


@pytest.mark.parametrize("scenario, test_f1, test_counts", [("fewshot", 0.4773, (121, 265)),
                                                            ("zeroshot", 0.4825, (124, 266))])
def test_flare_units_see_the_papers_data(make_cfg, scenario, test_f1, test_counts) -> None:
    cfg = make_cfg("dataset=flare", f"scenario={scenario}", "method=org")
    ds, split, described = _split(cfg, "flare")
    y_test = ds.y[split.refit.score]
    assert (int((y_test == 1).sum()), int((y_test == 0).sum())) == test_counts
    assert all_minority_scores(ds.y, split, 4)["test_f1"] == test_f1
    assert described["construction"] == "paper" and described["disjoint_extra"] is False
    assert described["overlap"] == described["n_extra_validation"] > 0       # the paper's overlapping samples
    job = UnitJob(cfg, ds)
    assert job.base["all_minority"]["test_f1"] == test_f1
    assert job.base["scenario_construction"] == described


def test_blood_fewshot_unit_split(make_cfg) -> None:
    cfg = make_cfg("dataset=blood-transfusion-service-center", "scenario=fewshot")
    ds, split, _ = _split(cfg, "blood-transfusion-service-center")
    assert all_minority_scores(ds.y, split, 4)["test_f1"] == 0.5819


def test_disjoint_extra_and_per_fold_are_options(make_cfg) -> None:
    cfg = make_cfg("dataset=flare", "scenario=fewshot", "scenario.disjoint_extra=true")
    _, _, described = _split(cfg, "flare")
    assert described["disjoint_extra"] is True and described["overlap"] == 0
    old = make_cfg("dataset=flare", "scenario=fewshot", "scenario.construction=per_fold")
    ds, split, described = _split(old, "flare")
    assert described == {"construction": "per_fold", "minority_fraction": 0.01}
    ref = make_split(ds.y, old.protocol, old.seeds, old.scenario, ds.name)
    for got, want in zip((*split.folds, split.refit), (*ref.folds, ref.refit)):
        assert (got.train == want.train).all() and (got.score == want.score).all()
    spec = cfg.dataset["flare"]
    hashes = {unit_config_hash(c, spec) for c in (cfg, old, make_cfg("dataset=flare", "scenario=fewshot"))}
    assert len(hashes) == 3                          # construction and disjoint_extra are in the unit's hash
    general = make_cfg("dataset=flare")
    assert unit_config_hash(general, spec) == unit_config_hash(
        make_cfg("dataset=flare", "scenario.construction=per_fold"), spec)
    with pytest.raises(ConfigError, match="construction=paper needs a minority_fraction"):
        _split(make_cfg("dataset=flare", "scenario.construction=paper"), "flare")


def test_fewshot05_is_where_sm_runs(make_cfg) -> None:
    cfg = make_cfg("dataset=flare", "scenario=fewshot05", "method=sm", "grid=smoke")
    assert cfg.scenario.minority_fraction == 0.05 and cfg.scenario.construction == "paper"
    ds, split, described = _split(cfg, "flare")
    assert described["n_kept"] == round(0.05 * described["n_majority"])
    plan = plan_ratios(cfg.method, cfg.ratios, split, ds.y)
    assert plan.not_applicable is None and plan.applicable
    few = make_cfg("dataset=flare", "scenario=fewshot", "method=sm", "grid=smoke")
    (rec,) = run_sweep(few)
    assert rec["status"] == "not_applicable" and "needs at least 6" in rec["reason"]
    assert rec["scenario_construction"]["construction"] == "paper"
    assert rec["provenance"]["scenario"]["construction"] == "paper"
