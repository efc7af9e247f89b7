"""The one error the analysis raises on purpose.

The CLI turns it into a single ``error: ...`` line and exit code 2, so every
message must name the problem (column, row, dataset) on its own.
"""

from __future__ import annotations

from lsh_bench.errors import LshBenchError


class AnalysisInputError(LshBenchError):
    """The scores given to the analysis cannot be used as they are."""
