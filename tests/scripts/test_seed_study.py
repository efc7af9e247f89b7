"""scripts/seed_study.py: the S1..S4 commands, and the table and figure from the stores they write.

The stores are made in-process (SS and SM need no model; LS runs with the
scripted chat backend through a replay cache of its own, so the cost columns
are read from real cache entries).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest

import lsh_bench.samplers.llm.backends as backends
import lsh_bench.samplers.llm.client as client
from lsh_bench.data.loader import load_dataset
from lsh_bench.sweep import run_sweep
from tests.llm_gen.fakes import ScriptedBackend

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

import seed_study  # noqa: E402

SMALL = ("dataset=haberman", "grid=smoke", "classifier=[dt]", "ratios=[0.4,0.6,0.8,1.0]")


def test_commands_run_ls_and_ss_at_every_step_and_sm_once(tmp_path: Path) -> None:
    cmds = seed_study.commands(tmp_path, ["smoke"], "smoke", ("sm", "ss", "ls"), ["run.n_jobs=2"])
    assert len(cmds) == 1 + 4 + 4
    ls = [c for c in cmds if "method=ls" in c]
    assert [c[-2] for c in ls] == [f"ls.seed_steps={a}" for a in range(4)]
    assert all(c[-1] == "run.n_jobs=2" and f"llm.cache_dir={tmp_path / 'llm_cache'}" in c for c in cmds)
    assert len({next(x for x in c if x.startswith("run.results_dir=")) for c in cmds}) == len(cmds)


@pytest.fixture
def study(tmp_path: Path, make_cfg, monkeypatch) -> Path:
    """Stores as the study writes them: SS at S1, S2, S4; SM; LS at S1 (scripted model)."""
    out = tmp_path / "study"
    cache = f"llm.cache_dir={out / 'llm_cache'}"
    for step in (0, 1, 3):
        run_sweep(make_cfg("method=ss", *SMALL, f"ls.seed_steps={step}",
                           f"run.results_dir={seed_study.store_dir(out, 'ss', step)}"))
    run_sweep(make_cfg("method=sm", *SMALL, f"run.results_dir={seed_study.store_dir(out, 'sm', None)}"))
    schema = load_dataset(make_cfg("dataset=haberman").dataset["haberman"], make_cfg().data).schema
    monkeypatch.setattr(backends, "make_backend", lambda cfg: ScriptedBackend(schema))
    client._CLIENTS.clear()
    run_sweep(make_cfg("method=ls", *SMALL, cache, f"run.results_dir={seed_study.store_dir(out, 'ls', 0)}"))
    client._CLIENTS.clear()
    return out


def test_table_and_figure_from_the_stores(study: Path) -> None:
    frame = seed_study.write(study)
    assert (study / "seed_study.png").stat().st_size > 10_000 and (study / "seed_study.md").is_file()
    assert pd.read_csv(study / "seed_study.csv").shape == frame.shape
    ss = frame[frame["method"] == "SS"].set_index("step")
    assert ss.loc[["S1", "S2"], "status"].tolist() == ["done", "done"]
    assert ss.loc["S1", "seed_ratio"] == 0.4 and ss.loc["S2", "seed_ratio"] == 0.6
    # haberman (81 / 225 minority/majority) has 4 applicable ratios: S4 seeds to 1.0 and, scored above its
    # seed ratio only (method.score_r0=false, the paper's), has no ratio left: not applicable, said so
    assert ss.loc["S4", "status"] == "not_applicable"
    assert (ss.loc[["S1", "S2"], "ratio"] > ss.loc[["S1", "S2"], "seed_ratio"]).all()
    p = 81 / 225
    for step in ("S1", "S2"):
        r, seed = ss.loc[step, "ratio"], ss.loc[step, "seed_ratio"]
        assert ss.loc[step, "seed_share"] == pytest.approx((seed - p) / (1 - p), abs=1e-4)
        assert ss.loc[step, "seed_share_at_choice"] == pytest.approx((seed - p) / (r - p), abs=1e-4)
    assert ss.loc["S1", "seed_share"] < ss.loc["S2", "seed_share"]
    sm = frame[frame["method"] == "SM"].iloc[0]
    assert sm["step"] == "-" and sm["seed_share"] == 0.0 and sm["llm_requests"] == 0
    ls = frame[frame["method"] == "LS"].iloc[0]
    assert ls["status"] == "done" and ls["llm_requests"] > 0 and ls["llm_missing_entries"] == 0
    assert (frame.loc[frame["method"] != "LS", "llm_tokens"] == 0).all()


def test_no_store_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="no unit records"):
        seed_study.write(tmp_path)
