"""The ``ls:`` options of the two-stage methods (LS, SS): which sampler expands, and how far the seeds reach.

A method with the ``seeds_at_r0`` trait works in two stages: seeds (LS: the
LLM's rows; SS: SMOTE's) bring the minority to the *seed ratio*, then an
expander, run on real + seed rows, reaches every higher ratio. The paper's
code used SMOTE as the expander and r0 (the first applicable ratio) as the
seed ratio; its seed-sensitivity study (S1..S4) moved the seed ratio up by
``a`` = 0..3 ratio steps. Both are options here, with the paper's choice as
the default.

A module of its own (like :mod:`lsh_bench.llm_config`): :mod:`lsh_bench.config`
composes it, and the registry resolves ``expander`` against ``conf/method/``.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

#: The paper's expander: SMOTE (SMOTENC/SMOTEN where columns stay categorical), as SM runs it.
DEFAULT_EXPANDER = "smote"


class LSConfig(BaseModel):
    """``ls.expander``: ``smote`` or a registered over-sampler (a ``conf/method/`` name: ``borderline``,
    ``adasyn``, ...); ``ls.seed_steps``: the paper's a — seeds up to the a-th applicable ratio (0 = r0)."""

    model_config = ConfigDict(extra="forbid", frozen=True, protected_namespaces=(), strict=True)

    expander: str = Field(DEFAULT_EXPANDER, pattern=r"^[a-z][a-z0-9_]*$")
    seed_steps: int = Field(0, ge=0, le=3)

    def hash_fields(self) -> dict[str, Any]:
        """The options that differ from the defaults: only those enter a unit's config hash.

        So LS units computed before these options existed keep their hashes
        (and their stored results), and a non-default choice gets a new one.
        """
        return {k: v for k, v in self.model_dump().items() if v != LSConfig.model_fields[k].default}
