"""Shared helpers of the scale-out tests: CLI runs in subprocesses and an in-process reference."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from lsh_bench.sweep import run_sweep
from lsh_bench.store import load_summary
from tests.conftest import ROOT, compose_config

DATASETS = ["haberman", "vertebra-column", "analcatdata_apnea3", "blood-transfusion-service-center"]
COMPARE = ["dataset", "scenario", "method", "status", "ratio", "classifier", "params", "val_f1", "test_f1",
           "config_hash"]


def env(**extra: str) -> dict[str, str]:
    return {**os.environ, "HYDRA_FULL_ERROR": "0", "OMP_NUM_THREADS": "1", "LSH_BENCH_DATA": "", **extra}


def cli(*args: str, module: str = "lsh_bench", extra_env: dict[str, str] | None = None,
        timeout: float = 300, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", module, *args], cwd=cwd, env=env(**(extra_env or {})),
                          capture_output=True, text=True, timeout=timeout)


def common(mirror: Path, results: Path) -> list[str]:
    return [f"data.mirror_dirs=[{mirror}]", "data.use_openml=false", f"run.results_dir={results}",
            "run.progress=false", "grid=smoke"]


def summary(results: Path) -> pd.DataFrame:
    frame = load_summary(results)[COMPARE]
    return frame.sort_values(["method", "dataset"]).reset_index(drop=True)


@pytest.fixture(scope="session")
def reference(tmp_path_factory: pytest.TempPathFactory, mirror: Path) -> Path:
    """A sequential, in-process run: methods sm and org over DATASETS (smoke grid)."""
    results = tmp_path_factory.mktemp("reference") / "res"
    for method in ("sm", "org"):
        cfg = compose_config([*common(mirror, results), f"method={method}", f"dataset=[{','.join(DATASETS)}]"])
        run_sweep(cfg)
    return results


def reference_summary(reference: Path, methods: list[str], datasets: list[str]) -> pd.DataFrame:
    frame = summary(reference)
    frame = frame[frame["method"].isin(methods) & frame["dataset"].isin(datasets)]
    return frame.reset_index(drop=True)
