"""Typed errors, so the runner can record *what* went wrong, not just that it did.

Every message names the thing (file, field, dataset) and what was expected.
"""

from __future__ import annotations


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
