"""lsh_bench.status: Hydra's --help, sweep expansion, and the documented one-job-per-dataset sweep."""

from __future__ import annotations

from pathlib import Path

import pytest
from hydra import initialize_config_dir
from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.global_hydra import GlobalHydra
from hydra.core.override_parser.overrides_parser import OverridesParser

from tests.conftest import CONF, compose_config
from tests.scaleout.conftest import cli

ALL_60 = "dataset=glob(*,exclude=[all,mirrored,smoke,fewshot4,analcatdata_birthday])"   # the command docs/scale-out.md shows


def test_glob_sweep_is_one_job_per_paper_dataset() -> None:
    """What Hydra's sweeper makes of `-m method=sm,lm,ls dataset=glob(...)`: 180 jobs, the 60 names of dataset=all."""
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        parser = OverridesParser.create(config_loader=GlobalHydra.instance().config_loader())
        jobs = BasicSweeper.split_arguments(parser.parse_overrides(["method=sm,lm,ls", ALL_60]), None)[0]
    names = [job[1].split("=", 1)[1] for job in jobs if job[0] == "method=sm"]
    assert len(jobs) == 180 and len(names) == 60
    assert sorted(names) == sorted(compose_config(["dataset=all"]).dataset)
    # the plain glob also picks up the group files -- which is why they are excluded
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        parser = OverridesParser.create(config_loader=GlobalHydra.instance().config_loader())
        plain = list(parser.parse_overrides(["dataset=glob(*)"])[0].sweep_string_iterator())
    assert {"all", "mirrored", "smoke", "fewshot4", "analcatdata_birthday"} <= set(plain) and len(plain) == 65


def test_status_help_and_sweep_listing(tmp_path: Path) -> None:
    help_out = cli("--help", module="lsh_bench.status", cwd=tmp_path)
    assert help_out.returncode == 0 and "== Config ==" in help_out.stdout
    # the sweep command pasted as is (-m, launcher settings): every unit listed, nothing launched or written
    out = cli("-m", "method=sm,org", ALL_60, "hydra/launcher=submitit_slurm", "hydra.launcher.partition=x",
              f"run.results_dir={tmp_path / 'res'}", module="lsh_bench.status", cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    lines = [line for line in out.stdout.splitlines() if line.startswith("missing")]
    assert len(lines) == 120 and sum("general/org/" in line for line in lines) == 60
    assert out.stdout.rstrip().endswith("120 units: 0 finished (0 done, 0 not_applicable), 0 running, "
                                        "0 failed (0 failed, 0 unavailable), 120 missing")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_documented_sweep_launches_60_jobs(tmp_path: Path) -> None:
    """The real multirun over the glob: 60 jobs, one unit each (datasets made unavailable so each is instant)."""
    out = cli("-m", "method=sm", ALL_60, "data.mirror_dirs=[/nonexistent]", "data.use_openml=false",
              "data.use_embedded=false", f"run.results_dir={tmp_path / 'res'}", f"hydra.sweep.dir={tmp_path / 'sw'}",
              "run.progress=false")
    assert out.returncode == 0, out.stderr[-2000:]
    assert len([p for p in (tmp_path / "sw").iterdir() if p.is_dir()]) == 60
    assert len(list((tmp_path / "res").glob("units/general/sm/*/*/unit.json"))) == 60
