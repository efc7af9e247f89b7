"""Hydra multirun with the joblib and submitit_local launchers equals a sequential run."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from lsh_bench.store import iter_records
from tests.scaleout.conftest import cli, common, reference_summary, summary
from tests.scaleout.test_secrets import dummy_keys, files_containing

METHODS = ["sm", "org"]
SETS = ["haberman", "vertebra-column"]


def _multirun(tmp_path: Path, mirror: Path, launcher: str, *extra: str) -> Path:
    res = tmp_path / "res"
    keys = dummy_keys()
    out = cli("-m", f"method={','.join(METHODS)}", f"dataset={','.join(SETS)}", f"hydra/launcher={launcher}",
              *extra, *common(mirror, res), f"hydra.sweep.dir={tmp_path / 'sweep'}", "llm=openai",
              extra_env=keys)
    assert out.returncode == 0, out.stderr[-3000:]
    # the launcher's own files (joblib temp, submitit pickles and job logs) hold no key either
    assert files_containing(tmp_path, list(keys.values())) == []
    assert not any(k in out.stdout + out.stderr for k in keys.values())
    # one Hydra job per (method, dataset) combination, each with its own output dir
    jobs = sorted(p.name for p in (tmp_path / "sweep").iterdir() if p.is_dir() and p.name.isdigit())
    assert jobs == ["0", "1", "2", "3"]
    return res


def _check(res: Path, reference: Path) -> None:
    got = summary(res)
    assert len(got) == len(METHODS) * len(SETS) and (got["status"] == "done").all()
    pd.testing.assert_frame_equal(got, reference_summary(reference, METHODS, SETS))
    for unit_dir, _ in iter_records(res):
        files = sorted(p.name for p in unit_dir.iterdir())
        assert [f for f in files if f != "quality.parquet"] == [".lock", "cells.parquet", "ratios.parquet", "unit.json"]


def test_joblib_multirun_two_workers_equals_sequential(tmp_path: Path, mirror: Path, reference: Path) -> None:
    res = _multirun(tmp_path, mirror, "joblib", "hydra.launcher.n_jobs=2")
    _check(res, reference)


def test_submitit_local_multirun_equals_sequential(tmp_path: Path, mirror: Path, reference: Path) -> None:
    res = _multirun(tmp_path, mirror, "submitit_local")
    _check(res, reference)
    assert (tmp_path / "sweep" / ".submitit").is_dir()      # submitit's job folders went to the sweep dir


def test_launcher_configs_compose_with_overrides() -> None:
    """The three launcher configs resolve, and their documented keys can be overridden."""
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    from tests.conftest import CONF

    cases = {
        "joblib": ["hydra.launcher.n_jobs=3"],
        "submitit_local": ["hydra.launcher.timeout_min=5"],
        "submitit_slurm": ["hydra.launcher.partition=cpu", "hydra.launcher.timeout_min=30",
                           "hydra.launcher.mem_gb=2", "hydra.launcher.array_parallelism=10", "run.n_jobs=4"],
    }
    for name, overrides in cases.items():
        with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
            cfg = compose("config", overrides=[f"hydra/launcher={name}", *overrides], return_hydra_config=True)
        launcher = cfg.hydra.launcher
        assert launcher._target_.endswith({"joblib": "JoblibLauncher", "submitit_local": "LocalLauncher",
                                           "submitit_slurm": "SlurmLauncher"}[name])
        for o in overrides:
            key, value = o.split("=")
            if key.startswith("hydra.launcher."):
                assert str(OmegaConf.select(cfg, key)) == value
        if name == "submitit_slurm":
            assert launcher.cpus_per_task == 4          # follows run.n_jobs
            with pytest.raises(Exception):
                with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
                    compose("config", overrides=["hydra/launcher=submitit_slurm", "hydra.launcher.partiton=x"],
                            return_hydra_config=True)
