"""A unit's LLM generations run ahead, concurrently, under ``llm.max_concurrency`` > 1.

The scoring of a task group stays sequential and unchanged; it only waits for
its task's generation (``tasks`` are :class:`lsh_bench.unit.Task`: ``ratio``,
``ratio_pos``, ``fold``, ``data``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from typing import Any

from lsh_bench.data.schema import FeatureSchema
from lsh_bench.models.evaluate import encode_and_resample
from lsh_bench.models.preprocess import Mode
from lsh_bench.samplers.llm.client import get_client


@contextmanager
def llm_prefetched(tasks: list[Any], schema: FeatureSchema, mode: Mode,
                   sampler_for: Any) -> Iterator[Callable[[Any], None]]:
    """``llm.max_concurrency`` > 1: the tasks' LLM generations run concurrently (``LLMClient.prefetched``).

    Yields ``ready(task)``, which waits until that task's generation has
    run; the sequential scoring (unchanged) calls it before each task and is
    served the prefetched answers, so requests, answers, cache keys, rows and
    records are those of ``llm.max_concurrency=1``, while the scoring of
    early tasks overlaps the generations of later ones.
    """
    llm, method = getattr(sampler_for, "llm", None), getattr(sampler_for, "method", None)
    if llm is None or method is None or not method.traits.uses_llm or llm.max_concurrency < 2 or len(tasks) < 2:
        yield lambda t: None
        return
    # Smallest ratio first, folds interleaved: the scoring's first tasks are ready first, and LS's
    # ratios of one fold (the same seed requests: one call, the others wait for it) do not fill the threads.
    order = sorted(tasks, key=lambda t: (t.ratio_pos, t.fold))
    position = {(t.ratio_pos, t.fold): i for i, t in enumerate(order)}
    jobs = [partial(encode_and_resample, t.data, schema, mode, sampler_for(t.ratio)) for t in order]
    with get_client(llm).prefetched(jobs, llm.max_concurrency) as ready:
        yield lambda t: ready(position[(t.ratio_pos, t.fold)])
