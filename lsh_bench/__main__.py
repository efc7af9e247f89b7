"""Entry point: ``python -m lsh_bench method=sm dataset=all`` (Hydra; ``--help`` lists options)."""

from __future__ import annotations

import logging
import os
import sys

# One BLAS/OpenMP thread per process, before numpy is imported: the harness
# parallelises across processes (run.n_jobs), and oversubscribed BLAS threads
# made single logistic-regression fits 3-15x slower on 2-core machines.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import hydra  # noqa: E402
from hydra.core.hydra_config import HydraConfig  # noqa: E402
from hydra.types import RunMode  # noqa: E402
from omegaconf import DictConfig  # noqa: E402

from lsh_bench.config import validate  # noqa: E402
from lsh_bench.errors import LshBenchError  # noqa: E402
from lsh_bench.sweep import run_sweep  # noqa: E402
from lsh_bench.summary import format_summary  # noqa: E402

log = logging.getLogger("lsh_bench")


class UnitsFailed(LshBenchError):
    """Some units of this job failed (each is recorded with its traceback)."""


def _in_multirun() -> bool:
    try:
        return HydraConfig.get().mode == RunMode.MULTIRUN
    except ValueError:  # no Hydra context (called directly)
        return False


@hydra.main(version_base="1.3", config_path="../conf", config_name="config")
def main(cfg: DictConfig) -> None:
    try:
        bench = validate(cfg)
        records = run_sweep(bench)
    except LshBenchError as exc:
        log.error("%s", exc)
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    text = format_summary(records, llm=bench.method.traits.uses_llm)
    print(text)
    failed = [r["dataset"] for r in records if r["status"] == "failed"]
    if failed:
        msg = f"{len(failed)} unit(s) failed (see unit.json 'traceback'); rerun to retry: {', '.join(failed)}"
        if _in_multirun():
            # sys.exit would stop the launcher's other jobs (joblib pool); an
            # exception lets Hydra finish them and report this job as failed.
            raise UnitsFailed(msg)
        print(f"\n{msg}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
