"""Quality of synthetic minority rows: the paper's two measures plus fidelity, copying and detection.

Entry points: :func:`quality_record` (one call), or :func:`prepare_reference`
once per training part and :func:`score_synthetic` once per ratio;
:func:`cost_fields` for the columns the caller measures. The record's
columns are documented in ``docs/quality.md`` (source of truth:
:mod:`lsh_bench.quality.fields`).
"""

from lsh_bench.quality.cost import cost_fields
from lsh_bench.quality.fields import COST_FIELDS, COST_NAMES, KEY_FIELDS, METRIC_FIELDS, METRIC_NAMES
from lsh_bench.quality.inputs import QualityConfig, QualityInputError
from lsh_bench.quality.record import RealReference, prepare_reference, quality_record, score_synthetic

__all__ = [
    "COST_FIELDS", "COST_NAMES", "KEY_FIELDS", "METRIC_FIELDS", "METRIC_NAMES", "QualityConfig",
    "QualityInputError", "RealReference", "cost_fields", "prepare_reference", "quality_record", "score_synthetic",
]
