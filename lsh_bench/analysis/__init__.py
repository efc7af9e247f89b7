"""Analysis: regenerate the paper's tables and figures from a scores table.

Inputs are a scores CSV in the paper's Table 6 layout or the harness's
results store (:mod:`lsh_bench.analysis.load`); statistics are pure
functions (:mod:`.stats`); :mod:`.tables` and :mod:`.figures` build the
artefacts and :mod:`.report` writes them with a README. Run it as
``python -m lsh_bench.analysis scores=PATH out=DIR`` (see ``--help``).
"""

from lsh_bench.analysis.errors import AnalysisInputError
from lsh_bench.analysis.load import Inputs, from_summary, load_results, read_scores_csv

__all__ = ["AnalysisInputError", "Inputs", "from_summary", "load_results", "read_scores_csv"]
