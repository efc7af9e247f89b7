"""What a result row needs to be redone: software versions and the code's commit."""

from __future__ import annotations

import functools
import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

from threadpoolctl import threadpool_info

PACKAGES = (
    "lsh-bench", "numpy", "pandas", "scipy", "scikit-learn", "imbalanced-learn", "lightgbm",
    "hydra-core", "omegaconf", "pydantic", "joblib", "llama_cpp_python", "openai",
)


@functools.lru_cache(maxsize=1)
def package_versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


@functools.lru_cache(maxsize=1)
def git_state() -> dict[str, Any]:
    """Commit of the harness code and whether the work tree had local changes.

    Read once per process (cached); see :func:`code_state` for when.
    """
    repo = Path(__file__).resolve().parents[1]
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        dirty = bool(subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], cwd=repo, capture_output=True,
            text=True, timeout=10, check=True,
        ).stdout.strip())
    except (OSError, subprocess.SubprocessError):
        return {"git_commit": None, "git_dirty": None}
    return {"git_commit": commit, "git_dirty": dirty}


@functools.lru_cache(maxsize=1)
def blas_state() -> dict[str, Any]:
    """The BLAS/OpenMP libraries numpy and scikit-learn loaded, with the kernels they chose.

    Why: OpenBLAS picks its kernels by CPU, and the choice changes float
    results. On an AMD EPYC it chose other kernels than on the Intel
    machines the reference scores were recorded on, and one LR refit
    (credit-g, legacy options) scored test F1 0.5676 instead of 0.5701.
    ``OPENBLAS_CORETYPE=Haswell`` (set by the Makefile on AVX2 machines)
    gives the same kernels on both; the record says which ran.
    """
    libs = [{"api": i.get("internal_api"), "version": i.get("version"), "architecture": i.get("architecture"),
             "threads": i.get("num_threads")} for i in threadpool_info()]
    return {"libraries": libs, "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE")}


def code_state() -> dict[str, Any]:
    """The running code's package versions and commit, for every record of a sweep.

    :func:`lsh_bench.sweep.run_sweep` calls this before computing anything and
    passes the result to each record: a record names the commit its code was
    imported from even if the checkout moves while a long (LLM) sweep runs.
    """
    return {"packages": package_versions(), "blas": blas_state(), **git_state()}
