"""Every registered method (``conf/method/*.yaml``) against one contract, the way imbalanced-learn tests its samplers.

One parametrised test per check, run over the registry, so a new oversampler
(one class + one YAML) is tested without a line added here:

* the imbalanced-learn / scikit-learn estimator contract of the sampler the
  registry builds: hyper-parameters stored unchanged (``get_params``,
  ``clone``), untouched by ``fit_resample``, which returns the original rows
  first, unchanged, then only minority rows, as many as the protocol's
  :func:`~lsh_bench.protocol.rows_to_add` says, reproducibly, without
  changing its inputs, and works inside an imblearn ``Pipeline``;
* the protocol: a whole unit on a small real dataset (haberman, a 2-cell
  grid, ratios 0.6 and 1.0) with the method's traits — it finishes, its
  choice is an applicable ratio, every resampled training part has the size
  the protocol says; and the ``min_minority`` trait decides N/A in few-shot.
  (Not ratio 0.4: a fold there needs 5 rows, and ADASYN, which rounds its
  count per minority row, then makes none and raises — the unit is recorded
  ``failed``.)

The two-stage methods (LS, SS) also run with other expanders
(``ls.expander``, :data:`EXPANDER_CASES`): ``ls+borderline`` is LS with
Borderline-SMOTE above the seed ratio.

LM and LS run with a scripted chat backend (``tests/llm_gen/fakes.py``), never a model.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from imblearn.pipeline import Pipeline
from sklearn.base import clone
from sklearn.tree import DecisionTreeClassifier

import lsh_bench.samplers.llm.backends as backends
import lsh_bench.samplers.llm.client as client
from lsh_bench.config import LLMConfig, MethodSpec
from lsh_bench.data.loader import load_dataset
from lsh_bench.protocol import rows_to_add, training_counts
from lsh_bench.samplers.registry import SamplerContext, build_sampler, check_method, registered_methods
from lsh_bench.unit import run_unit
from tests.llm_gen.fakes import ScriptedBackend

METHODS = registered_methods()
#: Two-stage methods with an expander other than SMOTE (``ls.expander``): "<method>+<expander>".
EXPANDER_CASES = ["ls+borderline", "ls+adasyn", "ss+borderline", "ss+adasyn"]
RESAMPLING = sorted(name for name, m in METHODS.items() if m.resamples) + EXPANDER_CASES
ALL_CASES = sorted(METHODS) + EXPANDER_CASES
#: imbalanced-learn's ADASYN rounds a count per minority row, so its total is near, not at, the protocol's.
APPROXIMATE_COUNT = {"adasyn", "ls+adasyn", "ss+adasyn"}


def _case(name: str) -> tuple[MethodSpec, str]:
    """(method, expander) of a case name: ``ls+adasyn`` -> (LS, "adasyn"); a plain name -> SMOTE."""
    method, _, expander = name.partition("+")
    return METHODS[method], expander or "smote"


def test_the_paper_methods_and_the_newer_ones_are_registered() -> None:
    assert {"sm", "lm", "ls", "org", "borderline", "adasyn", "ss"} <= set(METHODS)


@pytest.mark.parametrize("name", ALL_CASES)
def test_method_passes_the_registry_checks(name: str) -> None:
    method, expander = _case(name)
    check_method(method, expander=expander)


# ------------------------------------------------------ sampler contract ---
def _data(n_maj: int = 70, n_min: int = 16, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = np.column_stack([rng.normal(0, 1, n_maj + n_min), rng.integers(0, 10, n_maj + n_min),
                         rng.normal(5, 2, n_maj + n_min)]).astype(float)
    y = np.array([0] * n_maj + [1] * n_min)
    X[y == 1, 0] += 1.5
    return X, y


def _sampler(name: str, ratio: float, X: np.ndarray) -> object:
    from lsh_bench.data.schema import FeatureSchema

    method, expander = _case(name)
    schema = FeatureSchema.infer(pd.DataFrame(X, columns=["a", "b", "c"]))
    llm = LLMConfig(cache_mode="off", min_outputs_per_round=10, max_rounds=20)
    sampler = build_sampler(method, SamplerContext(
        sampling_strategy=ratio, k_neighbors=method.k_neighbors, random_state=0, llm_seed=7, schema=schema,
        llm=llm, categorical_features=None, seed_ratio=0.4 if method.traits.seeds_at_r0 else None,
        expander=expander))
    if method.traits.uses_llm:
        sampler.set_params(client=ScriptedBackend(schema))
    return sampler


@pytest.mark.parametrize("name", RESAMPLING)
def test_hyper_parameters_are_stored_unchanged_and_clone(name: str) -> None:
    X, _ = _data()
    sampler = _sampler(name, 0.6, X)
    params = sampler.get_params()
    assert params["sampling_strategy"] == 0.6
    twin = clone(sampler)
    assert twin is not sampler and twin.get_params().keys() == params.keys()
    assert all(twin.get_params()[k] == v or k == "client" for k, v in params.items())


@pytest.mark.parametrize("ratio", [0.6, 1.0])
@pytest.mark.parametrize("name", RESAMPLING)
def test_fit_resample_adds_the_protocols_rows_after_the_originals(name: str, ratio: float) -> None:
    X, y = _data()
    X0, y0 = X.copy(), y.copy()
    sampler = _sampler(name, ratio, X)
    params = dict(sampler.get_params())
    X_res, y_res = sampler.fit_resample(X, y)
    assert np.array_equal(X, X0) and np.array_equal(y, y0)                    # inputs untouched
    assert np.array_equal(X_res[: len(X)], X) and np.array_equal(y_res[: len(y)], y)   # originals first
    added = len(X_res) - len(X)
    expected = rows_to_add(ratio, n_minority=int(y.sum()), n_majority=int((y == 0).sum()))
    assert (y_res[len(y):] == 1).all() and np.isfinite(X_res).all()
    if name in APPROXIMATE_COUNT:
        assert abs(added - expected) <= int(y.sum()), (added, expected)
    else:
        assert added == expected
    assert sampler.get_params() == params                                    # fit changes no hyper-parameter


@pytest.mark.parametrize("name", RESAMPLING)
def test_fit_resample_is_reproducible(name: str) -> None:
    X, y = _data()
    first = _sampler(name, 0.8, X).fit_resample(X, y)
    second = _sampler(name, 0.8, X).fit_resample(X, y)
    assert all(np.array_equal(a, b) for a, b in zip(first, second))


@pytest.mark.parametrize("name", RESAMPLING)
def test_in_a_pipeline_only_fit_resamples(name: str) -> None:
    X, y = _data()
    pipe = Pipeline([("resample", _sampler(name, 1.0, X)),
                     ("clf", DecisionTreeClassifier(random_state=0))]).fit(X, y)
    assert len(pipe.predict(X)) == len(X)


# --------------------------------------------------------------- protocol ---
@pytest.fixture
def scripted_llm(monkeypatch, make_cfg):
    """LM/LS in a unit: the scripted backend stands in for the model; no cache."""
    schema = load_dataset(make_cfg("dataset=haberman").dataset["haberman"], make_cfg().data).schema
    monkeypatch.setattr(backends, "make_backend", lambda cfg: ScriptedBackend(schema))
    client._CLIENTS.clear()
    yield
    client._CLIENTS.clear()


@pytest.mark.parametrize("name", ALL_CASES)
def test_a_unit_of_the_method_follows_the_protocol(name: str, make_cfg, scripted_llm) -> None:
    method, expander = _case(name)
    cfg = make_cfg(f"method={method.name}", "dataset=haberman", "grid=smoke", "classifier=[dt]",
                   "llm.cache_mode=off", "ratios=[0.6,1.0]", f"ls.expander={expander}")
    ds = load_dataset(cfg.dataset["haberman"], cfg.data)
    record, cells, ratios = run_unit(cfg, ds)
    assert record["status"] == "done", record.get("reason")
    if not method.resamples:
        assert record["ratios_applicable"] == [None] and record["choice"]["ratio"] is None
        return
    # a method with seeds at r0 (LS) is scored above r0 only (method.score_r0=false)
    scored = [1.0] if method.traits.seeds_at_r0 else [0.6, 1.0]
    assert record["choice"]["ratio"] in record["ratios_applicable"] == scored
    assert record["seed_ratio"] == (0.6 if method.traits.seeds_at_r0 else None)
    assert (record["llm"]["calls"] > 0) == method.traits.uses_llm
    assert len(cells) == 2 * len(scored) * 5 and set(cells["ratio"]) == set(scored)
    from lsh_bench.data.splits import make_split

    split = make_split(ds.y, cfg.protocol, cfg.seeds, cfg.scenario, ds.name)
    for row in ratios.itertuples():
        part = split.refit if row.fold == -1 else split.folds[row.fold]
        n_min, n_maj = training_counts(ds.y, part)
        expected = n_min + n_maj + rows_to_add(row.ratio, n_minority=n_min, n_majority=n_maj)
        if name in APPROXIMATE_COUNT:
            assert abs(row.n_train_resampled - expected) <= n_min
        else:
            assert row.n_train_resampled == expected


@pytest.mark.parametrize("name", sorted(METHODS))
def test_min_minority_decides_not_applicable_in_few_shot(name: str, make_cfg, scripted_llm) -> None:
    """haberman few-shot (per_fold) keeps 1 or 2 minority rows per training part: only methods needing fewer run."""
    cfg = make_cfg(f"method={name}", "dataset=haberman", "scenario=fewshot", "scenario.construction=per_fold",
                   "grid=smoke", "classifier=[dt]", "llm.cache_mode=off", "ratios=[0.6,1.0]")
    ds = load_dataset(cfg.dataset["haberman"], cfg.data)
    record, _, _ = run_unit(cfg, ds)
    need = METHODS[name].min_minority()
    assert record["status"] == ("not_applicable" if need > 2 else "done"), record.get("reason")
    if need > 2:
        assert f"at least {need} real minority rows" in record["reason"]
