"""Exit codes and one-line errors for the command-line entry points.

``python -m lsh_bench`` and ``python -m lsh_bench.status`` end with one of

====  =====================================================================
0     every unit is done or not applicable (unavailable units, if others
      ran, are listed in the summary)
1     some units failed (each recorded with its traceback), or the sweep
      stopped early because the results store could not be written
2     bad config or bad invocation: a misspelt key, an unknown option, a
      value of the wrong type -- Hydra's own errors included
3     nothing could run: every unit is unavailable (e.g. no dataset mirror)
130   interrupted (Ctrl-C); finished units are kept, nothing partial
====  =====================================================================

and print one line for a bad input. Hydra reports its own errors (a typo'd
override, an unknown config option) in 6-73 lines and exits 1, the code of
"units failed"; :func:`run_cli` runs Hydra with ``HYDRA_FULL_ERROR=1`` so
those errors reach it as exceptions, and turns each into one line naming the
key or option and the allowed values. Set ``HYDRA_FULL_ERROR=1`` yourself to
see Hydra's full traceback instead.

A secret pasted into ``llm.api_key_env`` on the command line is refused here,
before Hydra prints or writes anything (Hydra saves the overrides and the
composed config in ``<run dir>/.hydra/`` before the task runs); one that came
from a config file is refused by validation, and :func:`scrub_secret` removes
it from the files Hydra wrote.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

from hydra.errors import HydraException, MissingConfigException, OverrideParseException
from omegaconf.errors import ConfigAttributeError, ConfigKeyError, OmegaConfBaseException

from lsh_bench.config import CONF_DIR, SECRET_KEYS, BenchConfig
from lsh_bench.config_keys import keys_under
from lsh_bench.errors import ConfigError, LshBenchError, SweepStopped
from lsh_bench.samplers.llm.config import API_KEY_ENV_RULE, looks_like_env_name

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_CONFIG = 2
EXIT_NOTHING_RAN = 3
EXIT_INTERRUPTED = 130

REDACTED = "<refused llm.api_key_env value: not shown>"
INTERRUPTED_LINE = ("interrupted (Ctrl-C): finished units are kept and nothing partial was written; "
                    "rerun the same command to continue")


class UnitsFailed(LshBenchError):
    """Some units of this job failed (each is recorded with its traceback)."""


class NothingRan(LshBenchError):
    """No unit of this job could run: every one is unavailable."""


def exit_code(records: list[dict[str, Any]]) -> int:
    """The exit code of a finished sweep from its unit records (see the module docstring)."""
    statuses = [r["status"] for r in records]
    if "failed" in statuses:
        return EXIT_FAILED
    if statuses and all(s == "unavailable" for s in statuses):
        return EXIT_NOTHING_RAN
    return EXIT_OK


def code_for(exc: BaseException) -> int:
    """The exit code of an error that ended a run."""
    if isinstance(exc, NothingRan):
        return EXIT_NOTHING_RAN
    if isinstance(exc, (UnitsFailed, SweepStopped)):
        return EXIT_FAILED
    if isinstance(exc, ConfigError):
        return EXIT_CONFIG
    if isinstance(exc, LshBenchError):
        return EXIT_FAILED
    return EXIT_CONFIG      # Hydra / OmegaConf errors: the invocation or the config


# ------------------------------------------------------------------ secrets ---
def _override_values(arg: str) -> tuple[str, list[str]] | None:
    """(key, values) of a ``key=value`` override (a sweep's values split), None for other arguments."""
    if arg.startswith("-") or "=" not in arg:
        return None
    key, value = arg.split("=", 1)
    key = key.lstrip("+~")
    value = value.strip()
    if value.startswith("[") and value.endswith("]"):
        value = value[1:-1]
    values = [v.strip().strip("'\"") for v in value.split(",")] if value else [""]
    return key, values


def refused_secret_override(argv: list[str]) -> str | None:
    """The key of a command-line override that would put a key-like value into ``llm.api_key_env``."""
    for arg in argv:
        parsed = _override_values(arg)
        if parsed is None:
            continue
        key, values = parsed
        if key.rsplit(".", 1)[-1] not in SECRET_KEYS:
            continue
        if any(v not in ("null", "None") and not looks_like_env_name(v) for v in values):
            return key
    return None


def scrub_secret(value: str, roots: list[Path]) -> list[Path]:
    """Replace ``value`` by a placeholder in every file under ``roots`` (Hydra's saved config and logs).

    Returns the files changed. Only used for a value validation refused as a
    possible secret, so the refused run leaves no copy of it behind.
    """
    if not value:
        return []
    changed = []
    needle = value.encode()
    for root in roots:
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else []
        for path in files:
            data = path.read_bytes()
            if needle in data:
                path.write_bytes(data.replace(needle, REDACTED.encode()))
                changed.append(path)
    return changed


# ------------------------------------------------------------- hydra errors ---
def allowed_keys(path: list[str]) -> list[str] | None:
    """The keys allowed under ``path`` of the app config (e.g. ``["run"]``), None if not known."""
    return keys_under(BenchConfig, path, CONF_DIR)


def _one_line(text: str) -> str:
    return " ".join(line.strip() for line in str(text).splitlines() if line.strip())


def hydra_error_line(exc: BaseException) -> str | None:
    """One line for an error Hydra or OmegaConf raised before the task ran; None if it is not one."""
    if isinstance(exc, MissingConfigException):
        # "Could not find 'dataset/wdcb'" (with the options), or "Could not load 'dataset/wdcb'"
        # for an option inside a list (dataset=[wdbc,wdcb]; without them: listed from conf/).
        found = re.search(r"Could not (?:find|load) '([^']+)'", str(exc))
        missing = exc.missing_cfg_file or (found.group(1) if found else "")
        if "/" in missing:
            group, option = missing.rsplit("/", 1)
            options = sorted(o for o in (exc.options or [p.stem for p in (CONF_DIR / group).glob("*.yaml")])
                             if not o.startswith("_"))
            if options:
                return f"{group}={option}: no such {group} option; choose one of: {', '.join(options)}"
        return _one_line(str(exc).split("Config search path")[0])
    if isinstance(exc, OverrideParseException):
        return f"cannot parse the override {exc.override!r}: {_one_line(exc.message)}"
    if isinstance(exc, HydraException):
        cause = exc.__cause__
        found = re.search(r"Could not override '([^']+)'", str(exc))
        if found:
            key = found.group(1)
            parent = key.split(".")[:-1]
            keys = None if key.startswith("hydra.") else allowed_keys(parent)
            where = ".".join(parent) or "the config"
            if isinstance(cause, (ConfigKeyError, ConfigAttributeError)) or "No match in the defaults list" in str(exc):
                known = f"; keys of {where}: {', '.join(keys)}" if keys else ""
                return f"{key}: unknown key (typo?){known}"
        text = _one_line(exc)
        if isinstance(cause, OmegaConfBaseException):
            text += f" ({_one_line(cause)})"
        return text
    if isinstance(exc, OmegaConfBaseException):
        return _one_line(exc)
    return None


# ---------------------------------------------------------------------- run ---
def fail(line: str, code: int) -> NoReturn:
    print(f"error: {line}", file=sys.stderr)
    sys.exit(code)


def run_cli(hydra_main: Callable[[], Any], argv: list[str] | None = None) -> Any:
    """Run a ``@hydra.main`` function with the exit codes and one-line errors of this module."""
    argv = list(sys.argv[1:] if argv is None else argv)
    key = refused_secret_override(argv)
    if key is not None:
        fail(f"{key}: {API_KEY_ENV_RULE}", EXIT_CONFIG)
    user_wants_traceback = os.environ.get("HYDRA_FULL_ERROR") == "1"
    # Hydra then re-raises its errors (and a multirun job's) instead of printing
    # its own multi-line report and exiting 1; the env var is inherited by
    # launcher workers, where it changes nothing (their errors come back here).
    os.environ["HYDRA_FULL_ERROR"] = "1"
    try:
        return hydra_main()
    except KeyboardInterrupt:
        print(INTERRUPTED_LINE, file=sys.stderr)
        sys.exit(EXIT_INTERRUPTED)
    except Exception as exc:
        if user_wants_traceback:
            raise
        if isinstance(exc, LshBenchError):      # a multirun job's error (single runs exit in the job)
            fail(str(exc), code_for(exc))
        line = hydra_error_line(exc)
        if line is None:
            raise                                # a bug: the traceback is the useful report
        fail(line, EXIT_CONFIG)
