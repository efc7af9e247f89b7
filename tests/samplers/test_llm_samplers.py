"""LM and LS against the imbalanced-learn contract and the protocol's LLM-call budget (scripted backend)."""

from __future__ import annotations

import numpy as np
import pytest
from imblearn.over_sampling import SMOTE
from imblearn.pipeline import Pipeline
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression

from lsh_bench.data.schema import Column, FeatureSchema
from lsh_bench.errors import RatioNotApplicable
from lsh_bench.samplers.hybrid import LSHSampler
from lsh_bench.samplers.llm.client import LLMClient
from lsh_bench.samplers.llm.config import LLMConfig
from lsh_bench.samplers.llm.sampler import LLMOverSampler

from tests.llm_gen.fakes import ScriptedBackend

SCHEMA = FeatureSchema((Column("a", "numeric"), Column("b", "numeric", integer=True),
                        Column("c", "categorical", categories=("x", "y", "z"))))
CFG = LLMConfig(cache_mode="off", min_outputs_per_round=10, max_rounds=20)


def data(n_maj=60, n_min=12, seed=0):
    r = np.random.default_rng(seed)
    X = np.column_stack([r.normal(0, 1, n_maj + n_min), r.integers(0, 10, n_maj + n_min), r.integers(0, 3, n_maj + n_min)])
    y = np.array([0] * n_maj + [1] * n_min)
    X[y == 1, 0] += 2
    return X.astype(float), y


def lm(ratio, fake, **kw):
    return LLMOverSampler(sampling_strategy=ratio, schema=SCHEMA, llm=CFG, llm_seed=7, client=fake, **kw)


def ls(ratio, fake, r0=0.4, **kw):
    return LSHSampler(sampling_strategy=ratio, seed_ratio=r0, schema=SCHEMA, llm=CFG, k_neighbors=5,
                      random_state=0, llm_seed=7, client=fake, **kw)


def smote_count(X, y, r):
    Xs, _ = SMOTE(sampling_strategy=r, k_neighbors=5, random_state=0).fit_resample(X, y)
    return len(Xs) - len(X)


@pytest.mark.parametrize("make", [lm, ls])
def test_clone_keeps_params(make):
    s = make(0.6, ScriptedBackend(SCHEMA))
    c = clone(s)
    assert c.get_params() == s.get_params() and c is not s


@pytest.mark.parametrize("make", [lm, ls])
@pytest.mark.parametrize("r", [0.4, 0.6, 0.8, 1.0])
def test_sizes_match_smote_and_originals_first(make, r):
    X, y = data()
    Xr, yr = make(r, ScriptedBackend(SCHEMA)).fit_resample(X, y)
    assert len(Xr) - len(X) == smote_count(X, y, r)
    np.testing.assert_array_equal(Xr[: len(X)], X)
    np.testing.assert_array_equal(yr[: len(y)], y)
    assert np.all(yr[len(y):] == 1) and np.all(np.isfinite(Xr))
    assert set(np.unique(Xr[:, 2])) <= {0.0, 1.0, 2.0} or make is ls   # LS's SMOTE interpolates codes (paper mode)


@pytest.mark.parametrize("make", [lm, ls])
def test_imblearn_pipeline_accepts_them(make):
    X, y = data()
    pipe = Pipeline([("sampler", make(0.8, ScriptedBackend(SCHEMA))), ("clf", LogisticRegression())])
    pipe.fit(X, y)
    assert pipe.predict(X).shape == y.shape


def test_ratio_not_applicable():
    X, y = data(n_maj=60, n_min=30)
    with pytest.raises(RatioNotApplicable):
        lm(0.5, ScriptedBackend(SCHEMA)).fit_resample(X, y)


def test_usage_and_generation_recorded():
    X, y = data()
    s = lm(0.6, ScriptedBackend(SCHEMA))
    s.fit_resample(X, y)
    assert s.usage_.calls == 2 + s.generation_.rounds    # report, variables, one per program round
    assert s.n_generated_ == s.generation_.n_rows == smote_count(X, y, 0.6)


@pytest.mark.parametrize("n_min", [0, 1])
def test_ls_with_zero_or_one_real_minority_row(n_min):
    X, y = data(n_maj=60, n_min=n_min)
    s = ls(1.0, ScriptedBackend(SCHEMA), r0=0.2)
    Xr, yr = s.fit_resample(X, y)
    assert len(Xr) - len(X) == int(60 * 1.0 - n_min)
    assert s.n_seeds_ == int(60 * 0.2 - n_min) and s.k_neighbors_ == 5
    np.testing.assert_array_equal(Xr[: len(X)], X)


def test_lm_zero_shot():
    X, y = data(n_maj=60, n_min=0)
    s = lm(0.5, ScriptedBackend(SCHEMA))
    Xr, yr = s.fit_resample(X, y)
    assert len(Xr) == 90 and (yr == 1).sum() == 30 and s.generation_.zero_shot


def test_ls_reduces_k_when_seeds_are_few():
    X, y = data(n_maj=10, n_min=0)
    s = ls(1.0, ScriptedBackend(SCHEMA), r0=0.2)     # 2 seeds -> k = 1
    Xr, _ = s.fit_resample(X, y)
    assert s.n_seeds_ == 2 and s.k_neighbors_ == 1 and len(Xr) == 20


def client_with(fake, tmp_path):
    return LLMClient(CFG.model_copy(update={"cache_mode": "readwrite", "cache_dir": str(tmp_path)}), backend=fake)


def test_ls_output_order_and_no_extra_llm_calls_beyond_seeds(tmp_path):
    X, y = data()
    fake = ScriptedBackend(SCHEMA)
    client = client_with(fake, tmp_path)
    seeds_sampler = lm(0.4, client)
    Xs, _ = seeds_sampler.fit_resample(X, y)
    calls = fake.calls
    assert seeds_sampler.usage_.calls == calls > 0
    for r in (0.4, 0.6, 0.8, 1.0):
        s = ls(r, client, r0=0.4)
        Xr, yr = s.fit_resample(X, y)
        assert fake.calls == calls                      # every seed request replayed
        assert s.usage_.calls == 0 and s.usage_.cache_hits == calls
        np.testing.assert_array_equal(Xr[: len(Xs)], Xs)   # originals, then the same seeds, then SMOTE
        assert len(Xr) - len(X) == smote_count(X, y, r)


def test_lm_generates_anew_per_ratio(tmp_path):
    X, y = data()
    fake = ScriptedBackend(SCHEMA)
    client = client_with(fake, tmp_path)
    a, b = lm(0.4, client), lm(0.6, client)
    a.fit_resample(X, y)
    b.fit_resample(X, y)
    assert a.usage_.calls > 0 and b.usage_.calls > 0 and b.usage_.cache_hits == 0
    assert not set(a.usage_.keys) & set(b.usage_.keys)


def test_ls_with_smotenc():
    X, y = data()
    s = ls(0.8, ScriptedBackend(SCHEMA), categorical_features=[2])
    Xr, _ = s.fit_resample(X, y)
    assert set(np.unique(Xr[:, 2])) <= {0.0, 1.0, 2.0}
    assert len(Xr) - len(X) == smote_count(X, y, 0.8)
