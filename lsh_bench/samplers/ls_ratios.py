"""Which ratios LS is scored at, and which ratio its LLM seeds reach (``ls.score_r0``, seed step).

The paper's notebook (``2. Data Generation``, "LLM + SMOTE"):
``min_strategy = Strategy[ind]`` is r0, the first ratio above the data's
minority/majority; the LLM seeds bring the minority to r0, and
``adj_strategy = Strategy[ind + 1]``: SMOTE on real + seeds is run, and LS
scored, only at the ratios from the next one on. Scoring LS at r0 would
score LM at r0 under LS's name (the seeds *are* LM's rows there), so the
paper did not, and neither does the default here; ``score_r0=True`` adds r0
back (the harness's earlier behaviour).

Seed sensitivity (the paper's S1..S4): seeds written up to
``Strategy[ind + a]``, SMOTE from ``Strategy[ind + a + 1]``, a = 0..3.
``seed_step=a`` gives that: the seed ratio is the a-th applicable ratio
(counting from 0 at r0), LS is scored above it. When no ratio is left above
the seed ratio (a dataset whose r0 is 0.8 has only 1.0 above it; with a = 1
none), ``scored`` is empty and ``skipped`` says why — a unit records that,
it is not an error.

Pure: the caller passes the ratios that are applicable (the harness's rule:
applicable in every fold's training part and in the refit).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence


@dataclass(frozen=True)
class LSRatios:
    """``seed_ratio``: what the LLM seeds reach; ``scored``: ratios LS is scored at (ascending)."""

    seed_ratio: float | None
    scored: tuple[float, ...]
    skipped: dict[float, str] = field(default_factory=dict)


def ls_ratios(applicable: Sequence[float], *, score_r0: bool = False, seed_step: int = 0) -> LSRatios:
    """The paper's ``adj_strategy`` rule over the applicable ratios.

    ``applicable``: ratios applicable to the data (any order, no duplicates);
    ``score_r0``: also score LS at the seed ratio (where LS equals LM);
    ``seed_step``: the paper's a (0 = seeds up to r0).
    """
    if seed_step < 0:
        raise ValueError(f"seed_step must be >= 0, got {seed_step}")
    ratios = sorted(float(r) for r in applicable)
    if len(set(ratios)) != len(ratios):
        raise ValueError(f"applicable ratios repeat: {list(applicable)}")
    if seed_step >= len(ratios):
        why = (f"seed step {seed_step}: only {len(ratios)} applicable ratio(s) {ratios}, no seed ratio"
               if ratios else "no applicable ratio")
        return LSRatios(None, (), {r: why for r in ratios})
    seed = ratios[seed_step]
    scored = tuple(r for r in ratios if r > seed or (score_r0 and r == seed))
    skipped: dict[float, str] = {}
    for r in ratios:
        if r < seed:
            skipped[r] = f"below the seed ratio {seed} (seed step {seed_step})"
        elif r == seed and not score_r0:
            skipped[r] = (f"the seed ratio {seed}: LS there is LM's rows (the paper scores LS above it; "
                          "ls.score_r0=true scores it)")
    return LSRatios(seed, scored, skipped)
