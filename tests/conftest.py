"""Shared fixtures: the offline dataset mirror and composed configs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

from lsh_bench.config import BenchConfig, validate

ROOT = Path(__file__).resolve().parents[1]
CONF = ROOT / "conf"


def mirror_dir() -> Path:
    """The offline copy of the benchmark datasets (CI: ../shared/datasets)."""
    env = os.environ.get("LSH_BENCH_DATA", "").split(os.pathsep)[0]
    for candidate in (Path(env) if env else None, ROOT.parent / "shared" / "datasets"):
        if candidate and (candidate / "manifest.csv").is_file():
            return candidate
    pytest.fail("dataset mirror not found: set LSH_BENCH_DATA or place it at ../shared/datasets")


@pytest.fixture(scope="session")
def mirror() -> Path:
    return mirror_dir()


def compose_config(overrides: list[str]) -> BenchConfig:
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return validate(compose("config", overrides=overrides))


@pytest.fixture
def make_cfg(tmp_path: Path, mirror: Path):
    """Compose a config with the mirror and a fresh results directory."""

    def _make(*overrides: str) -> BenchConfig:
        base = [
            f"data.mirror_dirs=[{mirror}]",
            "data.use_openml=false",
            f"run.results_dir={tmp_path / 'results'}",
            "run.progress=false",
            f"llm.cache_dir={tmp_path / 'llm_cache'}",
        ]
        return compose_config(base + list(overrides))

    return _make
