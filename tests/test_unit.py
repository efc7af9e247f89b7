"""One unit (lsh_bench.unit): the paper's known answer, an independent re-computation, the record's provenance."""

from __future__ import annotations

import json

import numpy as np
import pytest
from imblearn.over_sampling import SMOTE
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.model_selection import StratifiedKFold, train_test_split
from sklearn.tree import DecisionTreeClassifier

import lsh_bench.unit as unit
from lsh_bench.data.loader import load_dataset
from lsh_bench.sweep import run_sweep


def test_wdbc_sm_reproduces_paper_table6(make_cfg) -> None:
    """docs/protocol.md's known answer: wdbc, SM, preprocess=paper, full grid -> 0.9474 / 0.9767."""
    cfg = make_cfg("dataset=wdbc", "method=sm", "run.n_jobs=2")
    (rec,) = run_sweep(cfg)
    assert rec["status"] == "done"
    prov = rec["provenance"]
    # the file by its mirror-relative name, never a machine's path; what the cleaning did (nothing here)
    assert prov["data_source"] == "mirror:1510_wdbc.csv.gz" and prov["openml_id"] == 1510
    assert prov["cleaning"]["rule"] == "paper" and prov["cleaning"]["rows_after"] == 569
    assert prov["cleaning"]["dropped_near_zero_variance"] == {} and prov["encoding"] == "collation"
    assert rec["ratios_applicable"] == [0.6, 0.8, 1.0]
    assert rec["val_f1"] == pytest.approx(0.94742, abs=1e-12)
    assert round(rec["val_f1"], 4) == 0.9474
    assert rec["test_f1"] == 0.9767
    assert rec["n_cells"] == 3 * 139


def test_selection_and_refit_match_an_independent_implementation(make_cfg) -> None:
    """A hand-written loop of the protocol (sklearn + imblearn only) on real data."""
    cfg = make_cfg("dataset=haberman", "method=sm", "grid=smoke", "classifier=[lr,dt]")
    (rec,) = run_sweep(cfg)
    ds = load_dataset(cfg.dataset["haberman"], cfg.data)
    # the paper's encoding: the year of operation is nominal, coded 1..12 ('58' -> 1)
    year = ds.X["Patients_year_of_operation"].astype(int) - 57
    X = np.column_stack([ds.X["Age_of_patient_at_time_of_operation"], year,
                         ds.X["Number_of_positive_axillary_nodes_detected"]]).astype(float)
    y = ds.y
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.3, random_state=100, stratify=y)
    folds = list(StratifiedKFold(5, shuffle=True, random_state=2).split(Xtr, ytr))
    models = [("LR", lambda C=C: LogisticRegression(C=C, max_iter=100000, random_state=100)) for C in (0.1, 10)]
    models += [("DT", lambda s=s: DecisionTreeClassifier(max_depth=10, min_samples_split=s, min_samples_leaf=1,
                                                          random_state=100)) for s in (2, 4)]
    best = None
    for r in (0.2, 0.4, 0.6, 0.8, 1.0):
        counts = [(ytr[tr] == 0).sum() * r - (ytr[tr] == 1).sum() for tr, _ in folds]
        counts.append((ytr == 0).sum() * r - (ytr == 1).sum())
        if min(int(c) for c in counts) < 1:
            continue
        for name, make in models:
            scores = []
            for tr, va in folds:
                Xs, ys = SMOTE(sampling_strategy=r, random_state=0).fit_resample(Xtr[tr], ytr[tr])
                scores.append(round(f1_score(ytr[va], make().fit(Xs, ys).predict(Xtr[va])), 4))
            mean = round(sum(round(s * 1e4) for s in scores)) / 5e4
            if best is None or mean > best[0]:
                best = (mean, r, name, make)
    mean, r, name, make = best
    Xs, ys = SMOTE(sampling_strategy=r, random_state=0).fit_resample(Xtr, ytr)
    test = round(f1_score(yte, make().fit(Xs, ys).predict(Xte)), 4)
    assert (rec["choice"]["ratio"], rec["choice"]["classifier"]) == (r, name)
    assert rec["val_f1"] == pytest.approx(mean, abs=1e-12)
    assert rec["test_f1"] == test
    assert rec["achievement"] == pytest.approx(test / mean)


def test_unit_record_carries_provenance_and_cells(make_cfg) -> None:
    cfg = make_cfg("dataset=analcatdata_apnea3", "grid=smoke", "preprocess=standard")
    (rec,) = run_sweep(cfg)
    prov = rec["provenance"]
    assert len(prov["dataset_sha256"]) == 64 and prov["dataset_sha256"] == cfg.dataset["analcatdata_apnea3"].sha256
    assert prov["config_hash"] == rec["config_hash"]
    assert {"numpy", "scikit-learn", "imbalanced-learn", "lightgbm", "python"} <= set(prov["packages"])
    assert prov["seeds"] == {"split": 100, "cv": 2, "sampler": 0, "llm": 0, "classifier": 100}
    from lsh_bench.store import UnitStore

    store = UnitStore(cfg.run.results_dir, "general", "sm", "analcatdata_apnea3", rec["config_hash"])
    cells = store.cells()
    assert len(cells) == rec["n_cells"] * 5
    assert set(cells.columns) >= {"dataset", "ratio", "classifier", "params", "fold", "f1", "f1_rounded", "seconds"}
    assert json.loads(store.record_path.read_text())["status"] == "done"
    assert np.isfinite(cells["f1"]).all()


def test_record_names_the_commit_the_sweep_started_from(make_cfg, monkeypatch) -> None:
    """A long sweep whose checkout moves on meanwhile still records the commit its code came from."""
    import subprocess

    import lsh_bench.provenance as provenance

    state = {"head": "a" * 40}

    def fake_git(cmd, **kwargs):
        out = state["head"] if cmd[:2] == ["git", "rev-parse"] else ""
        return subprocess.CompletedProcess(cmd, 0, stdout=out, stderr="")

    real_tasks = unit.run_tasks

    def tasks_then_commit(*args, **kwargs):
        state["head"] = "b" * 40            # someone commits while the unit computes
        return real_tasks(*args, **kwargs)

    provenance.git_state.cache_clear()
    monkeypatch.setattr(provenance.subprocess, "run", fake_git)
    monkeypatch.setattr(unit, "run_tasks", tasks_then_commit)
    try:
        (rec,) = run_sweep(make_cfg("method=sm", "dataset=haberman", "grid=smoke"))
    finally:
        provenance.git_state.cache_clear()
    assert rec["status"] == "done" and state["head"] == "b" * 40
    assert rec["provenance"]["git_commit"] == "a" * 40 and rec["provenance"]["git_dirty"] is False
