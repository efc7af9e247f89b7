"""docs/quality.md documents every column of quality.parquet, in the record's order."""

from __future__ import annotations

import re
from pathlib import Path

from lsh_bench.quality import COST_FIELDS, KEY_FIELDS, METRIC_FIELDS

DOC = Path(__file__).resolve().parents[2] / "docs" / "quality.md"


def test_every_field_is_documented_in_order():
    documented = re.findall(r"^\| `([a-z_0-9]+)` \|", DOC.read_text(encoding="utf-8"), flags=re.MULTILINE)
    expected = [f.name for f in (*KEY_FIELDS, *METRIC_FIELDS, *COST_FIELDS)]
    assert documented == expected
