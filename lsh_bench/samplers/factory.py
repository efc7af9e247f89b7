"""Build the sampler of a method for one ratio (see ``conf/method/``)."""

from __future__ import annotations

from typing import Any

from imblearn.over_sampling import ADASYN, SMOTE, SMOTEN, SMOTENC, BorderlineSMOTE

from lsh_bench.config import MethodSpec
from lsh_bench.data.schema import FeatureSchema
from lsh_bench.samplers.llm.config import LLMConfig


def sampler_min_minority(method: MethodSpec) -> int:
    """Fewest real minority rows the method needs in a training part.

    SMOTE needs k_neighbors + 1 (the paper's N/A otherwise). LM and LS need
    none: the LLM writes rows from the column descriptions alone, and LS's
    seeds give SMOTE its neighbours.
    """
    if method.kind in ("smote", "borderline_smote", "adasyn"):
        return method.k_neighbors + 1
    return 0


def smote_for(
    ratio: float,
    *,
    k_neighbors: int,
    random_state: int,
    categorical_features: list[int] | None,
    n_features: int,
) -> SMOTE | SMOTENC | SMOTEN:
    """SMOTE; SMOTENC when some columns must stay categorical; SMOTEN when all of them are.

    SMOTENC refuses data without a numeric column (car, soybean, tic-tac-toe
    under ``preprocess=standard``); SMOTEN is imbalanced-learn's SMOTE for
    purely nominal data (value-difference metric, majority vote per column).
    """
    kw = dict(sampling_strategy=ratio, k_neighbors=k_neighbors, random_state=random_state)
    if not categorical_features:
        return SMOTE(**kw)
    if len(categorical_features) == n_features:
        return SMOTEN(**kw)
    return SMOTENC(categorical_features=categorical_features, **kw)


def make_sampler(
    method: MethodSpec,
    ratio: float | None,
    *,
    schema: FeatureSchema,
    categorical_features: list[int] | None,
    random_state: int,
    llm: LLMConfig | None = None,
    llm_seed: int = 0,
    seed_ratio: float | None = None,
) -> Any | None:
    """The sampler that brings the minority/majority ratio of a training part to ``ratio``.

    ``categorical_features`` is non-empty only under ``preprocess=standard``
    (SMOTENC); under ``preprocess=paper`` SMOTE runs on the ordinal codes as
    the paper's code did. ``seed_ratio`` is LS's r0 (first applicable ratio).
    """
    kind = method.kind
    if kind == "none":
        return None
    assert ratio is not None
    if kind == "smote":
        return smote_for(
            ratio, k_neighbors=method.k_neighbors, random_state=random_state,
            categorical_features=categorical_features, n_features=len(schema),
        )
    if kind == "borderline_smote":
        return BorderlineSMOTE(sampling_strategy=ratio, k_neighbors=method.k_neighbors, random_state=random_state)
    if kind == "adasyn":
        return ADASYN(sampling_strategy=ratio, n_neighbors=method.k_neighbors, random_state=random_state)
    if kind == "llm":
        from lsh_bench.samplers.llm.sampler import LLMOverSampler

        assert llm is not None
        return LLMOverSampler(sampling_strategy=ratio, schema=schema, llm=llm, random_state=llm_seed)
    if kind == "hybrid":
        from lsh_bench.samplers.hybrid import LSHSampler

        assert llm is not None and seed_ratio is not None
        return LSHSampler(
            sampling_strategy=ratio,
            seed_ratio=seed_ratio,
            schema=schema,
            llm=llm,
            k_neighbors=method.k_neighbors,
            categorical_features=categorical_features,
            random_state=random_state,
            llm_seed=llm_seed,
        )
    raise ValueError(f"method.kind: unknown sampler kind {kind!r}")
