"""Exit codes (0 done, 1 failed, 2 bad config/invocation, 3 nothing ran, 130 Ctrl-C) and one line per bad input."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from filelock import FileLock

from lsh_bench.cli import INTERRUPTED_LINE, allowed_keys
from lsh_bench.store import load_summary
from tests.conftest import ROOT


def cli(*args: str, module: str = "lsh_bench", env: dict | None = None, timeout: float = 600
        ) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "HYDRA_FULL_ERROR": "0", "LSH_BENCH_DATA": "", **(env or {})}
    return subprocess.run([sys.executable, "-m", module, *args], cwd=ROOT, env=full_env, capture_output=True,
                          text=True, timeout=timeout)


def common(tmp_path: Path, mirror: Path) -> list[str]:
    return [f"data.mirror_dirs=[{mirror}]", "data.use_openml=false", f"run.results_dir={tmp_path / 'res'}",
            f"hydra.run.dir={tmp_path / 'hydra'}", "run.progress=false", "grid=smoke"]


def one_line(out: subprocess.CompletedProcess) -> str:
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr[-3000:]
    assert out.stdout.strip() == "", out.stdout[-2000:]
    return lines[0]


# --------------------------------------------------------------------------- 0 / 1 / 3


def test_every_unit_unavailable_exits_3(tmp_path: Path, mirror: Path) -> None:
    """Before: exit 0, so a CI job with a missing data setup passed with no results."""
    args = [a for a in common(tmp_path, mirror) if not a.startswith("data.mirror_dirs")]
    out = cli("dataset=[haberman,vertebra-column]", f"data.mirror_dirs=[{tmp_path / 'nowhere'}]", *args)
    assert out.returncode == 3, out.stderr[-2000:]
    assert "units: 2 unavailable" in out.stdout
    assert out.stderr.strip().splitlines()[-1] == (
        "error: nothing could run: all 2 unit(s) are unavailable (no copy of their data was found; set "
        "data.mirror_dirs or LSH_BENCH_DATA, or allow data.use_openml)")


def test_some_unavailable_beside_done_units_exits_0(tmp_path: Path, mirror: Path) -> None:
    out = cli("dataset=[haberman,kdd_el_nino-small]", *common(tmp_path, mirror))
    assert out.returncode == 0, out.stderr[-2000:]
    assert "1 done, 1 unavailable" in out.stdout and "unavailable offline (1): kdd_el_nino-small" in out.stdout


# --------------------------------------------------------------------------- 2: Hydra's own errors, one line


def _first_error(overrides: list[str]) -> str:
    """The line ``run_cli`` prints for what composing and validating ``overrides`` raises (in-process)."""
    from hydra import compose, initialize_config_dir

    from lsh_bench.cli import hydra_error_line
    from lsh_bench.config import validate
    from lsh_bench.errors import ConfigError
    from tests.conftest import CONF

    try:
        with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
            validate(compose("config", overrides=overrides))
    except ConfigError as exc:
        return f"error: {exc}"
    except Exception as exc:
        line = hydra_error_line(exc)
        assert line is not None, exc
        return f"error: {line}"
    raise AssertionError(f"{overrides} was accepted")


@pytest.mark.parametrize("override, expected", [
    ("method=smoote", "error: method=smoote: no such method option; choose one of: adasyn, borderline, lm, ls, org, "
                      "sm"),
    ("dataset=[wdbc,wdcb]", "error: dataset=wdcb: no such dataset option; choose one of: CastMetal1,"),
    ("classifier=[lr,rf]", "error: classifier=rf: no such classifier option; choose one of: dt, knn, lgbm, lr, svm"),
    ("methd=sm", "error: methd: unknown key (typo?); keys of the config: classifier, data, dataset, grid, llm, "
                 "ls, method, preprocess, protocol, quality, ratios, run, scenario, seeds"),
    ("+run.n_jbos=2", "error: invalid config (conf/): run.n_jbos: unknown key (typo?); keys of run: results_dir, "
                      "n_jobs, evaluator, exact_check, progress, rerun_failed, fail_fast"),
    ("llm.timeoutt=5", "error: llm.timeoutt: unknown key (typo?); keys of llm: backend, model, model_path, base_url, "
                       "api_key_env, temperature, top_p, max_tokens, timeout_s, request_deadline_s, "
                       "max_answer_bytes, max_retries, retry_backoff_s, max_concurrency, n_ctx, n_threads, "
                       "price_per_1k_prompt, price_per_1k_completion, cache_mode, cache_dir, example_rows, "
                       "min_outputs_per_round, max_rounds, executions_per_program, max_executions_per_program, "
                       "start_rows, zero_shot_range, report_words, report_rows, weights, generator, prompts"),
    ("dataset.wdbc.foo=1", "error: dataset.wdbc.foo: unknown key (typo?); keys of dataset.wdbc: name, paper_row,"),
    ("ratios=[0.2,", "error: cannot parse the override 'ratios=[0.2,': no viable alternative at input '[0.2,'"),
    ("method=sm,lm", "error: Ambiguous value for argument 'method=sm,lm' 1. To use it as a list"),
    ("+run.n_jobs=2", "error: Could not append to config. An item is already at 'run.n_jobs'."),
])
def test_hydra_errors_are_one_line(override: str, expected: str) -> None:
    line = _first_error([override])
    assert "\n" not in line and line.startswith(expected), line


@pytest.mark.parametrize("override, expected", [
    ("seeds.split=-1", "seeds.split: Input should be greater than or equal to 0 (got -1)"),
    ("seeds.llm=-5", "seeds.llm: Input should be greater than or equal to 0 (got -5)"),
    ("ratios=[0.5,0.5]", "ratios: Value error, ratios must be unique, 0.5 repeated in [0.5, 0.5] (got [0.5, 0.5])"),
    ("ratios=[0,0.5]", "ratios: Value error, ratios must lie in (0, 1], got [0, 0.5] (got [0, 0.5])"),
    ("run.results_dir=", "run.results_dir: Value error, must name a directory (it is empty); "
                         "e.g. run.results_dir=results/store (got '')"),
    ("run.n_jobs=true", "run.n_jobs: Input should be a valid integer (got True)"),
    ("run.progress=1", "run.progress: Input should be a valid boolean (got 1)"),
    ("ratios=[true]", "ratios.0: Input should be a valid number (got True)"),
    ("llm.max_retries=false", "llm.max_retries: Input should be a valid integer (got False)"),
    ("protocol.n_folds=true", "protocol.n_folds: Input should be a valid integer (got True)"),
])
def test_bad_values_are_refused_in_one_line(override: str, expected: str) -> None:
    """Before: an empty results_dir wrote into ./units, seeds.split=-1 failed inside scikit-learn,
    ratios=[0.5,0.5] doubled every cell (n_tied_best 2), run.n_jobs=true was taken as 1."""
    assert _first_error([override]) == f"error: invalid config (conf/): {expected}"


def test_numbers_hydra_parses_as_int_still_pass_where_a_float_is_meant() -> None:
    from tests.conftest import compose_config

    cfg = compose_config(["ratios=[1]", "llm.temperature=1", "llm.timeout_s=30"])
    assert cfg.ratios == [1.0] and isinstance(cfg.ratios[0], float)
    assert cfg.llm.temperature == 1.0 and cfg.llm.timeout_s == 30.0


def test_a_bad_value_stops_the_cli_before_any_work(tmp_path: Path, mirror: Path) -> None:
    args = [a for a in common(tmp_path, mirror) if not a.startswith("run.results_dir")]
    out = cli("dataset=haberman", "run.results_dir=", *args)
    assert out.returncode == 2
    assert one_line(out).startswith("error: invalid config (conf/): run.results_dir: Value error, must name a directory")
    assert not (ROOT / "units").exists()                     # nothing written into ./units


def test_status_has_the_same_one_line_errors(tmp_path: Path, mirror: Path) -> None:
    out = cli("dataset=wdcb", f"run.results_dir={tmp_path / 'res'}", module="lsh_bench.status")
    assert out.returncode == 2 and one_line(out).startswith("error: dataset=wdcb: no such dataset option")
    out = cli("seeds.cv=-2", f"run.results_dir={tmp_path / 'res'}", module="lsh_bench.status")
    assert out.returncode == 2 and one_line(out).startswith("error: invalid config (conf/): seeds.cv:")


def test_full_hydra_error_on_request(tmp_path: Path, mirror: Path) -> None:
    out = cli("run.n_jbos=2", *common(tmp_path, mirror), env={"HYDRA_FULL_ERROR": "1"})
    assert out.returncode == 1 and "Traceback" in out.stderr


def test_help_documents_the_exit_codes() -> None:
    out = cli("--help")
    assert out.returncode == 0
    for line in ("Exit codes:", "0    every unit done or not applicable", "1    some units failed",
                 "2    bad config or bad invocation", "3    nothing could run", "130  interrupted (Ctrl-C)"):
        assert line in out.stdout
    readme = (ROOT / "README.md").read_text()
    assert "## Exit codes" in readme and "| 3 | nothing could run" in readme


def test_allowed_keys_follow_the_typed_config() -> None:
    assert allowed_keys(["seeds"]) == ["split", "cv", "sampler", "llm", "classifier"]
    assert "k_neighbors" in allowed_keys(["method"])
    assert "paper_row" in allowed_keys(["dataset", "wdbc"])
    assert allowed_keys(["classifier", "lr", "grid"]) is None and allowed_keys(["nope"]) is None


# --------------------------------------------------------------------------- multirun


def test_multirun_keeps_its_codes(tmp_path: Path, mirror: Path) -> None:
    base = [f"data.mirror_dirs=[{mirror}]", "data.use_openml=false", f"run.results_dir={tmp_path / 'res'}",
            f"hydra.sweep.dir={tmp_path / 'sweep'}", "run.progress=false", "grid=smoke"]
    ok = cli("-m", "dataset=haberman,vertebra-column", "method=org", *base)
    assert ok.returncode == 0, ok.stderr[-2000:]
    nothing = cli("-m", "dataset=kdd_el_nino-small", "method=org", *base)
    assert nothing.returncode == 3 and nothing.stderr.strip().splitlines()[-1].startswith("error: nothing could run")
    typo = cli("-m", "dataset=haberman,vertebra-column", "run.n_jbos=2", *base)
    assert typo.returncode == 2 and one_line(typo).startswith("error: run.n_jbos: unknown key (typo?)")


# --------------------------------------------------------------------------- Ctrl-C


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_ctrl_c_is_one_line_exit_130_and_releases_locks(tmp_path: Path, mirror: Path, n_jobs: int) -> None:
    """Before: a 39-line traceback. Ctrl-C reaches the whole foreground process group (workers too)."""
    res = tmp_path / "res"
    args = ["dataset=[haberman,vertebra-column,analcatdata_apnea3,blood-transfusion-service-center]",
            *common(tmp_path, mirror), f"run.n_jobs={n_jobs}"]
    # SIGINT back to its default in the child: a test runner started as a background job (`cmd &` in a
    # script) passes SIGINT on ignored, and the sweep then ran to its end (exit 0, not 130)
    proc = subprocess.Popen([sys.executable, "-m", "lsh_bench", *args], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
                            env={**os.environ, "HYDRA_FULL_ERROR": "0", "LSH_BENCH_DATA": ""})
    deadline = time.time() + 300
    while time.time() < deadline and not list(res.glob("units/*/*/*/*/unit.json")):
        time.sleep(0.05)
    time.sleep(0.3)                                   # inside the next unit
    os.killpg(proc.pid, signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr[-3000:]
    assert stderr.strip().splitlines() == [INTERRUPTED_LINE], stderr[-3000:]
    for lock_path in res.glob("units/*/*/*/*/.lock"):
        FileLock(str(lock_path), timeout=0).acquire().lock.release()      # nobody holds it
    done_before = set(load_summary(res)["dataset"])
    assert 1 <= len(done_before) < 4
    again = cli(*args)
    assert again.returncode == 0 and "units: 4 done" in again.stdout
