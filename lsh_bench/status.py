"""Progress of a sweep: ``python -m lsh_bench.status [the same overrides as the sweep]``.

Composes the same config as ``python -m lsh_bench`` (same ``conf/``, same
overrides), computes the same unit config hashes
(:func:`lsh_bench.config.unit_config_hash`) and lists every unit of the sweep
with its state, then the counts:

- ``done`` / ``not_applicable`` -- finished (``unit.json`` written, never recomputed);
- ``running``   -- another process holds the unit's lock (``<unit dir>/.lock``);
- ``failed`` / ``unavailable`` -- recorded with a reason (first line shown); a
  rerun retries it;
- ``missing``   -- not started (or killed before it finished; a rerun computes it).

Multirun sweeps can be pasted as they are: ``-m`` is accepted and ignored,
and sweep values (``method=sm,lm,ls``, ``dataset=glob(*,exclude=[...])``,
``range(...)``) are expanded here, in this one process, to the list of jobs
the sweep runs -- nothing is launched. Launcher settings
(``hydra/launcher=...``, ``hydra.launcher.*``) are accepted and have no effect.

The command writes nothing: it runs with ``hydra.run.dir=.``,
``hydra.output_subdir=null`` and no log file. Exit code 0 (``2`` only for an
invalid config or invocation, Hydra's own errors included: one line).
"""

from __future__ import annotations

import itertools
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hydra
from filelock import FileLock, Timeout
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import DictConfig

from lsh_bench.cli import EXIT_CONFIG, run_cli
from lsh_bench.config import BenchConfig, unit_config_hash, validate
from lsh_bench.errors import LshBenchError, RecordUnreadable
from lsh_bench.store import FINISHED, UnitStore

STATES = ("done", "not_applicable", "running", "failed", "unavailable", "missing")

# Sweep overrides taken out of argv before Hydra parses it (Hydra refuses them
# outside --multirun); expanded in _status().
_SWEEP: list[str] = []
_FORCED = ["hydra.run.dir=.", "hydra.output_subdir=null", "hydra/job_logging=none", "hydra/hydra_logging=none"]


@dataclass
class UnitState:
    scenario: str
    method: str
    dataset: str
    config_hash: str
    state: str
    detail: str
    path: Path


def lock_held(lock_path: Path) -> bool:
    """True if another process holds the lock (a non-blocking attempt fails)."""
    if not lock_path.is_file():
        return False
    lock = FileLock(str(lock_path), timeout=0)
    try:
        lock.acquire()
    except Timeout:
        return True
    except OSError:          # e.g. a read-only results directory: cannot tell
        return False
    lock.release()
    return False


def unit_state(store: UnitStore) -> tuple[str, str]:
    """(state, detail) of one unit; never creates anything in the store."""
    try:
        rec = store.record()
    except RecordUnreadable as exc:   # damaged unit.json: not finished; the next sweep moves it aside
        rec = {"status": "failed", "reason": f"{exc}"}
    if rec is not None and rec.get("status") in FINISHED:
        if rec["status"] == "done":
            return "done", f"val {rec.get('val_f1', float('nan')):.4f}  test {rec.get('test_f1', float('nan')):.4f}"
        return "not_applicable", _first_line(rec.get("reason", ""))
    if store.dir.is_dir() and lock_held(store.dir / ".lock"):
        return "running", "lock held by another process" + (" (retrying a failed unit)" if rec else "")
    if rec is not None:
        status = rec.get("status", "failed")
        return (status if status in STATES else "failed"), _first_line(rec.get("reason", ""))
    return "missing", ""


def _first_line(text: str) -> str:
    lines = str(text).strip().splitlines()
    return lines[0] if lines else ""


def sweep_units(configs: list[BenchConfig]) -> list[UnitState]:
    """Every unit of the given job configs, in order, without duplicates."""
    seen: dict[Path, UnitState] = {}
    for cfg in configs:
        for spec in cfg.dataset.values():
            h = unit_config_hash(cfg, spec)
            store = UnitStore(cfg.run.results_dir, cfg.scenario.name, cfg.method.name, spec.name, h)
            if store.dir in seen:
                continue
            state, detail = unit_state(store)
            seen[store.dir] = UnitState(cfg.scenario.name, cfg.method.name, spec.name, h, state, detail, store.dir)
    return list(seen.values())


def format_status(units: list[UnitState]) -> str:
    counts = Counter(u.state for u in units)
    roots = sorted({str(u.path.parents[4]) for u in units})
    width = max((len(f"{u.scenario}/{u.method}/{u.dataset}") for u in units), default=10)
    lines = [f"results: {', '.join(roots)}"]
    for u in units:
        name = f"{u.scenario}/{u.method}/{u.dataset}"
        lines.append(f"{u.state:<15} {name:<{width}}  {u.config_hash}  {u.detail}".rstrip())
    finished = counts["done"] + counts["not_applicable"]
    lines.append("")
    lines.append(
        f"{len(units)} units: {finished} finished ({counts['done']} done, {counts['not_applicable']} not_applicable), "
        f"{counts['running']} running, {counts['failed'] + counts['unavailable']} failed "
        f"({counts['failed']} failed, {counts['unavailable']} unavailable), {counts['missing']} missing"
    )
    return "\n".join(lines)


def _job_overrides(task_overrides: list[str], sweep: list[str]) -> list[list[str]]:
    """The override lists of the jobs a multirun with these overrides would launch."""
    if not sweep:
        return [list(task_overrides)]
    loader = GlobalHydra.instance().config_loader()
    parser = OverridesParser.create(config_loader=loader)
    axes = []
    for o in parser.parse_overrides(sweep):
        key = o.get_key_element()
        values = list(o.sweep_string_iterator())
        if key == "dataset":
            # One job per dataset in the sweep, but a unit's hash does not depend
            # on the other datasets of its job: compose them as one list (fast).
            axes.append([f"dataset=[{','.join(values)}]"])
        else:
            axes.append([f"{key}={v}" for v in values])
    return [list(task_overrides) + list(combo) for combo in itertools.product(*axes)]


@hydra.main(version_base="1.3", config_path="../conf", config_name="config")
def _status(cfg: DictConfig) -> None:
    try:
        if not _SWEEP:
            configs = [validate(cfg)]
        else:
            task = [o for o in HydraConfig.get().overrides.task]
            configs = [validate(hydra.compose(config_name="config", overrides=job))
                       for job in _job_overrides(task, _SWEEP)]
    except LshBenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(EXIT_CONFIG)
    print(format_status(sweep_units(configs)))


def _split_argv(argv: list[str]) -> tuple[list[str], list[str]]:
    """(argv for Hydra, sweep overrides); drops -m/--multirun and run-dir settings we force."""
    parser = OverridesParser.create()
    keep: list[str] = []
    sweep: list[str] = []
    for arg in argv:
        if arg in ("-m", "--multirun"):
            continue
        if not arg.startswith("-") and "=" in arg:
            key = arg.split("=", 1)[0].lstrip("+~")
            if key in ("hydra.run.dir", "hydra.output_subdir", "hydra/job_logging", "hydra/hydra_logging") \
                    or key == "hydra/launcher" or key.startswith(("hydra.launcher.", "hydra.sweep.")):
                continue      # forced here, or launcher/sweep settings that do not change any unit
            try:
                parsed = parser.parse_overrides([arg])[0]
            except Exception:    # let Hydra report it
                keep.append(arg)
                continue
            if parsed.is_sweep_override() and not parsed.is_hydra_override():
                sweep.append(arg)
                continue
            if parsed.is_sweep_override():     # e.g. a swept launcher setting: irrelevant here
                continue
        keep.append(arg)
    return keep, sweep


def main(argv: list[str] | None = None) -> Any:
    args = list(sys.argv[1:] if argv is None else argv)
    keep, sweep = _split_argv(args)
    _SWEEP[:] = sweep
    sys.argv = [sys.argv[0], *keep, *_FORCED]
    return run_cli(_status, args)     # Hydra's errors as one line, exit 2


if __name__ == "__main__":
    main()
