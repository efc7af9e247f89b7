"""Entry point: ``python -m lsh_bench method=sm dataset=all`` (Hydra; ``--help`` lists options).

Exit codes (``lsh_bench.cli``): 0 all units done or not applicable, 1 some
failed (or the store could not be written), 2 bad config or invocation, 3
nothing could run (all unavailable), 130 Ctrl-C.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

# One BLAS/OpenMP thread per process, before numpy is imported: the harness
# parallelises across processes (run.n_jobs), and oversubscribed BLAS threads
# made single logistic-regression fits 3-15x slower on 2-core machines.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import hydra  # noqa: E402
from hydra.core.hydra_config import HydraConfig  # noqa: E402
from hydra.types import RunMode  # noqa: E402
from omegaconf import DictConfig, OmegaConf  # noqa: E402

from lsh_bench.cli import (  # noqa: E402
    EXIT_FAILED,
    EXIT_NOTHING_RAN,
    NothingRan,
    UnitsFailed,
    code_for,
    exit_code,
    run_cli,
    scrub_secret,
)
from lsh_bench.config import validate  # noqa: E402
from lsh_bench.errors import ConfigError, LshBenchError, SweepStopped  # noqa: E402
from lsh_bench.sweep import run_sweep  # noqa: E402
from lsh_bench.samplers.llm.config import looks_like_env_name  # noqa: E402
from lsh_bench.summary import format_summary  # noqa: E402

log = logging.getLogger("lsh_bench")

__all__ = ["UnitsFailed", "NothingRan", "main"]


def _in_multirun() -> bool:
    try:
        return HydraConfig.get().mode == RunMode.MULTIRUN
    except ValueError:  # no Hydra context (called directly)
        return False


def _stop(exc: LshBenchError) -> None:
    """End this job with ``exc``: one line and its exit code (``lsh_bench.cli``).

    In a multirun the error is raised instead: ``sys.exit`` would stop the
    launcher's other jobs (joblib pool); an exception lets Hydra finish them,
    and ``run_cli`` prints the line and exits with the code.
    """
    if _in_multirun():
        raise exc
    print(f"error: {exc}", file=sys.stderr)
    sys.exit(code_for(exc))


def _scrub_refused_key(cfg: DictConfig) -> None:
    """A key-like ``llm.api_key_env`` from a config file: remove it from what Hydra wrote.

    Hydra saves the composed config (``.hydra/``) before the task runs; the
    command-line case never gets here (``run_cli`` refuses it before Hydra).
    """
    value = OmegaConf.select(cfg, "llm.api_key_env", default=None, throw_on_resolution_failure=False)
    if not isinstance(value, str) or looks_like_env_name(value):
        return
    try:
        hc = HydraConfig.get()
    except ValueError:
        return
    roots = [Path(hc.runtime.output_dir)]
    if hc.mode == RunMode.MULTIRUN:
        roots.append(Path(hc.sweep.dir) / "multirun.yaml")
    scrub_secret(value, roots)


@hydra.main(version_base="1.3", config_path="../conf", config_name="config")
def main(cfg: DictConfig) -> None:
    try:
        bench = validate(cfg)
    except ConfigError as exc:
        _scrub_refused_key(cfg)
        _stop(exc)
        return
    llm = bench.method.traits.uses_llm
    try:
        records = run_sweep(bench)
    except SweepStopped as exc:        # e.g. disk full: what finished, then why it stopped
        print(format_summary(exc.records, llm=llm))
        _stop(exc)
        return
    except LshBenchError as exc:
        _stop(exc)
        return
    print(format_summary(records, llm=llm))
    code = exit_code(records)
    if code == EXIT_FAILED:
        failed = [r["dataset"] for r in records if r["status"] == "failed"]
        _stop(UnitsFailed(f"{len(failed)} unit(s) failed (see unit.json 'traceback'); rerun to retry: "
                          f"{', '.join(failed)}"))
    elif code == EXIT_NOTHING_RAN:
        _stop(NothingRan(f"nothing could run: all {len(records)} unit(s) are unavailable (no copy of their data "
                         f"was found; set data.mirror_dirs or LSH_BENCH_DATA, or allow data.use_openml)"))


if __name__ == "__main__":
    run_cli(main)
