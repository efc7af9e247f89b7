"""The paper's nominal codes: Unicode collation order, 1..k, reaching the classifier."""

from __future__ import annotations

import numpy as np
import pandas as pd

from lsh_bench.data.schema import FeatureSchema, collation_order
from lsh_bench.models.preprocess import CodeOffset, TableEncoder, post_transform


def test_collation_order_is_not_byte_order() -> None:
    # punctuation and symbols before digits before letters; numbers sorted as text; case-insensitive first
    assert collation_order(["no checking", "0<=X<200", "<0", ">=200"]) == ("<0", ">=200", "0<=X<200", "no checking")
    assert collation_order(["9", "10", "2"]) == ("10", "2", "9")
    assert collation_order(["b", "A", "a", "B"]) == ("a", "A", "b", "B")
    assert sorted(["b", "A", "a", "B"]) == ["A", "B", "a", "b"]       # what plain sorting would give


def test_classifiers_see_codes_1_to_k_and_samplers_indices() -> None:
    df = pd.DataFrame({"x": [0.5, 1.5, 2.5, 3.5], "c": ["b", "a", "c", "a"]})
    schema = FeatureSchema.infer(df, nominal=["c"], encoding="collation")
    assert schema.columns[1].categories == ("a", "b", "c") and schema.code_base == 1
    M = TableEncoder(schema, "paper").fit(df).transform(df)          # what SMOTE / the LLM sampler see
    assert M[:, 1].tolist() == [1.0, 0.0, 2.0, 0.0]
    assert schema.decode(M)["c"].tolist() == ["b", "a", "c", "a"]
    post = post_transform(schema, "paper", scale=False)
    assert isinstance(post, CodeOffset)
    assert post.fit(M).transform(M)[:, 1].tolist() == [2.0, 1.0, 3.0, 1.0]   # what the classifier sees
    assert np.array_equal(post.transform(M)[:, 0], M[:, 0])                  # numeric columns untouched
    # sorted (the harness before): indices are the codes, nothing to add
    legacy = FeatureSchema.infer(df, nominal=["c"], encoding="sorted")
    assert legacy.code_base == 0 and post_transform(legacy, "paper", scale=False) is None
    # standard + scaling: one-hot over the indices, no offset needed
    assert not isinstance(post_transform(schema, "standard", scale=True), CodeOffset)
