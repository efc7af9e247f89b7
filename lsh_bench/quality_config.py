"""The ``quality=`` config group's model: whether and how a unit records the quality of its synthetic rows.

A module of its own with no imports from the package (like ``llm_config``):
:mod:`lsh_bench.config` composes it into the run config and
:mod:`lsh_bench.quality` reads it. None of it enters a unit's config hash:
the quality record describes the rows a unit resampled, it never changes a
score (``docs/quality.md``, "Settings").
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class QualitySpec(BaseModel):
    """``quality.*``: the record of each (fold, ratio) in ``quality.parquet``.

    ``seed`` seeds the detection folds and any subsample; ``max_rows`` caps
    the rows per side of the detection and the distance to closest record
    (seeded subsample, flagged ``rows_capped``). ``zero_shot_reference``: a
    training part without a real minority row (zero-shot) is scored against
    the real minority of the part it is scored on (``heldout``: validation
    rows for a CV fold, the test part for the refit) or not at all
    (``none``: the row records why).
    """

    model_config = ConfigDict(extra="forbid", frozen=True, protected_namespaces=())

    enabled: bool = True
    seed: int = Field(0, ge=0)
    max_rows: int = Field(2000, ge=10)
    detection_folds: int = Field(3, ge=2)
    zero_shot_reference: Literal["heldout", "none"] = "heldout"
