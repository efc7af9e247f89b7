"""scripts/figure4_runtime.py: SM/LM/LS times as the paper measured them; replays count their recorded time."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest

import lsh_bench.samplers.llm.client as client_mod
from lsh_bench.data.loader import load_dataset
from lsh_bench.samplers.llm.client import LLMClient
from tests.conftest import compose_config
from tests.llm_gen.fakes import ScriptedBackend

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"


@pytest.fixture
def figure4(monkeypatch, mirror):
    monkeypatch.syspath_prepend(str(SCRIPTS))
    import figure4_runtime

    cfg = compose_config([f"data.mirror_dirs=[{mirror}]", "data.use_openml=false", "dataset=analcatdata_draft"])
    schema = load_dataset(cfg.dataset["analcatdata_draft"], cfg.data, cfg.preprocess.encoding).schema
    backend = ScriptedBackend(schema)
    monkeypatch.setattr(figure4_runtime, "get_client", lambda llm: LLMClient(llm, backend=backend))
    yield figure4_runtime, backend
    client_mod._CLIENTS.clear()
    sys.modules.pop("figure4_runtime", None)


def test_ls_time_is_the_seeds_llm_time_plus_smote_and_replays_are_not_free(figure4, tmp_path, mirror) -> None:
    module, backend = figure4
    args = ["--datasets", "analcatdata_draft", "--set", f"data.mirror_dirs=[{mirror}]", "--set",
            "data.use_openml=false", "--set", f"llm.cache_dir={tmp_path / 'cache'}"]
    assert module.main(["--out", str(tmp_path / "a"), *args]) == 0
    first = pd.read_csv(tmp_path / "a" / "figure4.csv")
    calls = backend.calls
    assert set(first["method"]) == {"SM", "LM", "LS"} and sorted(set(first["ratio"])) == [0.2, 0.3, 0.4, 0.5]
    lm = first[first["method"] == "LM"].set_index("ratio")
    ls = first[first["method"] == "LS"].set_index("ratio")
    r0 = float(ls["seed_ratio"].iloc[0])
    assert r0 == 0.2
    # LS = the LLM seconds of LM's generation at r0 + SMOTE from there (none at r0 itself)
    assert (ls["llm_seconds"] == lm.loc[r0, "llm_seconds"]).all() and ls.loc[r0, "smote_seconds"] == 0
    assert (ls.loc[ls.index > r0, "smote_seconds"] > 0).all()
    assert (ls["seconds"] == ls["llm_seconds"] + ls["smote_seconds"]).all()
    assert (lm["llm_seconds"] > 0).all() and (first[first["method"] == "SM"]["llm_seconds"] == 0).all()
    # every answer took the scripted 0.01 s
    assert lm["llm_seconds"].round(6).tolist() == (0.01 * (lm["llm_calls"] + lm["llm_replays"])).round(6).tolist()
    assert (tmp_path / "a" / "figure4.png").stat().st_size > 0 and (tmp_path / "a" / "figure4.pdf").is_file()

    # replayed from the cache: no model call, and the same LLM seconds (the recorded ones), never 0
    client_mod._CLIENTS.clear()
    assert module.main(["--out", str(tmp_path / "b"), *args]) == 0
    again = pd.read_csv(tmp_path / "b" / "figure4.csv")
    assert backend.calls == calls and (again["llm_calls"] == 0).all()
    assert (again.loc[again["method"] != "SM", "llm_replays"] > 0).all()
    pd.testing.assert_series_equal(again["llm_seconds"], first["llm_seconds"])
