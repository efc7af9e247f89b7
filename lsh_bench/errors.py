"""Typed errors, so the runner can record *what* went wrong, not just that it did.

Every message names the thing (file, field, dataset) and what was expected.
"""

from __future__ import annotations

import errno


class LshBenchError(Exception):
    """Base class of every error the harness raises on purpose."""


class ConfigError(LshBenchError):
    """A config value is missing, misspelt or of the wrong kind."""


class DatasetUnavailable(LshBenchError):
    """No copy of a dataset could be found (mirror, embedded, OpenML)."""


class DatasetInvalid(LshBenchError):
    """A dataset file exists but is corrupt or unusable (checksum, one class, ...)."""


class RatioNotApplicable(LshBenchError):
    """SMOTE cannot reach the ratio: it would add fewer than one row."""


class SamplerNotApplicable(LshBenchError):
    """The method cannot run on this data at all (e.g. SMOTE with < k+1 minority rows)."""


class LLMError(LshBenchError):
    """The LLM endpoint failed (unreachable, timeouts, HTTP errors) after retries."""


class LLMOutputInvalid(LLMError):
    """The LLM kept returning output that could not be validated or repaired."""


class LLMCacheMiss(LLMError):
    """The replay cache is read-only and holds no answer for this request."""


class RecordUnreadable(LshBenchError):
    """A unit's ``unit.json`` exists but cannot be read or parsed (truncated, not JSON, ...).

    The unit counts as not finished: the sweep moves the file aside and
    recomputes it; readers (summary, status, analysis) report it with its path.
    """

    def __init__(self, path: object, problem: str) -> None:
        super().__init__(f"unreadable unit record {path}: {problem}")
        self.path = path
        self.problem = problem

    def __reduce__(self) -> tuple:   # picklable (multirun workers send errors back)
        return (type(self), (self.path, self.problem))


class StoreUnwritable(LshBenchError):
    """The results store cannot be written (disk full, read-only, no permission).

    Raised instead of the bare ``OSError`` so the sweep can stop with one line
    naming the directory and the errno, after removing what it wrote for the
    unit it was finishing.
    """

    def __init__(self, directory: object, exc: OSError) -> None:
        code = errno.errorcode.get(exc.errno or 0, "?")
        super().__init__(
            f"cannot write to the results store at {directory}: [Errno {exc.errno} {code}] "
            f"{exc.strerror or exc}"
        )
        self.directory = directory
        self.errno = exc.errno
        self.os_error = exc

    def __reduce__(self) -> tuple:
        return (type(self), (self.directory, self.os_error))


class SweepStopped(LshBenchError):
    """The sweep stopped before every unit was run; ``records`` are the units that finished."""

    def __init__(self, message: str, records: list[dict]) -> None:
        super().__init__(message)
        self.records = records

    def __reduce__(self) -> tuple:
        return (type(self), (str(self), self.records))
