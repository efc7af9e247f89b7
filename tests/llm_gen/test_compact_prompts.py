"""The ``compact`` prompt set renders exactly what ``prompts.py`` renders (the guarded generator's words)."""

from __future__ import annotations

import pytest

from lsh_bench.data.schema import Column, FeatureSchema
from lsh_bench.samplers.llm import compact_prompts, prompts
from lsh_bench.samplers.llm.prompt_files import PromptSetError, load_prompt_set
from lsh_bench.samplers.llm.state_machine import Variable

SCHEMA = FeatureSchema((
    Column("age", "numeric", integer=True), Column("ratio", "numeric"), Column("flag", "numeric", integer=True,
                                                                                boolean=True),
    Column("colour", "categorical", categories=("blue", "green", "red")),
    Column("many", "categorical", categories=tuple(f"c{i}" for i in range(15))),
))
VARS = [Variable("age", "integer", 18, 90, "normal", 5.0), Variable("ratio", "number", 0.001, 12345.678),
        Variable("flag", "boolean", 0, 1), Variable("colour", "categorical", 0, 2),
        Variable("many", "categorical", 0, 14)]
DESC = {"age": "years |||report||| {x}", "ratio": "", "colour": "a colour"}
CSV = "age,ratio\n30,0.5\n"
REPORT = "Older rows. |||columns||| stays as it is."


def test_every_function_matches_prompts_py():
    assert compact_prompts.system(37) == prompts.system(37)
    assert compact_prompts.columns_text(SCHEMA) == prompts.columns_text(SCHEMA)
    for shown, total in ((0, 0), (4, 4), (3, 9)):
        assert compact_prompts.report(SCHEMA, CSV, shown, total, 500) == prompts.report(SCHEMA, CSV, shown, total, 500)
    assert compact_prompts.variables(SCHEMA, REPORT) == prompts.variables(SCHEMA, REPORT)
    assert compact_prompts.variables_text(VARS, DESC) == prompts.variables_text(VARS, DESC)
    for example in (CSV, ""):
        assert (compact_prompts.program(SCHEMA, REPORT, VARS, DESC, example, 10)
                == prompts.program(SCHEMA, REPORT, VARS, DESC, example, 10))


def test_formats_do_not_mix():
    with pytest.raises(PromptSetError, match="format 'guarded'"):
        compact_prompts.system(3, load_prompt_set("paper"))
    assert load_prompt_set("compact").answer_format == "guarded"
