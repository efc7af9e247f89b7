"""SMOTE for the data at hand: the one place that picks imbalanced-learn's SMOTE variant.

SM uses it for every ratio and LS for the expansion above r0, so both treat
categorical columns the same way.
"""

from __future__ import annotations

from imblearn.over_sampling import SMOTE, SMOTEN, SMOTENC


def smote_for(
    sampling_strategy: float,
    *,
    k_neighbors: int,
    random_state: int,
    categorical_features: list[int] | None,
    n_features: int,
) -> SMOTE | SMOTENC | SMOTEN:
    """SMOTE; SMOTENC when some columns must stay categorical; SMOTEN when all of them are.

    ``categorical_features`` is non-empty only under ``preprocess=standard``;
    under ``preprocess=paper`` SMOTE interpolates the ordinal codes, as the
    paper's code did. SMOTENC refuses data without a numeric column (car,
    soybean, tic-tac-toe under ``preprocess=standard``); SMOTEN is
    imbalanced-learn's SMOTE for purely nominal data (value-difference
    metric, majority vote per column).
    """
    kw = dict(sampling_strategy=sampling_strategy, k_neighbors=k_neighbors, random_state=random_state)
    if not categorical_features:
        return SMOTE(**kw)
    if len(categorical_features) == n_features:
        return SMOTEN(**kw)
    return SMOTENC(categorical_features=categorical_features, **kw)
