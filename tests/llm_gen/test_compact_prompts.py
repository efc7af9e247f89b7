"""The ``compact`` prompt set renders the guarded generator's words, byte for byte as they always were.

The texts were written in code (``prompts.py``) before they moved into the
set's files; this test compared both until ``prompts.py`` was deleted, and
now pins every rendered branch by its sha256 (taken from ``prompts.py``):
a changed text changes every request's replay-cache key, so recorded caches
and fixtures would stop replaying.
"""

from __future__ import annotations

import hashlib

import pytest

from lsh_bench.data.schema import Column, FeatureSchema
from lsh_bench.samplers.llm import compact_prompts
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


#: sha256 of each text as ``prompts.py`` rendered it for the inputs above (see :func:`_texts`).
PROMPTS_PY_SHA256 = {
    "system": "593c0c3045a132716b532e597b96839d1ef10f6ef1dffac6a0082da0782d10d0",
    "columns_text": "c72e7193d6d98ee597f34bf78c5daad79731b0a0ca2b90cdcab9c83c5318a47c",
    "report_zero_shot": "0ac2bc31757d2db681d31fcdaf82313b392eb64b317ff9d67ae57b3bca0864b1",
    "report_all": "1855afa73e73eddf1fbfc56d288b390ef84658d6e66ce4fe5eed00fc873574d9",
    "report_sample": "366f3212e44d1f5f33b0c459752af87d85907e26ccc15748390b798ee07f6d74",
    "variables": "e07c450a84c7c8a32a0b794ca2800364bda9ca35b0057e0c5c71c440a25c985e",
    "variables_text": "172335dc054edfc4d18ac557c4eafeba1b3fd876524b0b8c9bc54b99d7aa2f2e",
    "program": "8cba504c1e6cad384942fca4ce4b8a908e9f7099929bdbf46f6cdcf85fb65063",
    "program_no_rows": "a92cee4b3f86d69f6f84d20faac90ada1979f3ef0ab7421310a4734f7ea952a3",
}


def _texts() -> dict[str, str]:
    """Every function and branch: zero-shot, all rows, a sample; a description or none; rows or none."""
    return {
        "system": compact_prompts.system(37),
        "columns_text": compact_prompts.columns_text(SCHEMA),
        "report_zero_shot": compact_prompts.report(SCHEMA, CSV, 0, 0, 500),
        "report_all": compact_prompts.report(SCHEMA, CSV, 4, 4, 500),
        "report_sample": compact_prompts.report(SCHEMA, CSV, 3, 9, 500),
        "variables": compact_prompts.variables(SCHEMA, REPORT),
        "variables_text": compact_prompts.variables_text(VARS, DESC),
        "program": compact_prompts.program(SCHEMA, REPORT, VARS, DESC, CSV, 10),
        "program_no_rows": compact_prompts.program(SCHEMA, REPORT, VARS, DESC, "", 10),
    }


def test_every_text_is_the_one_prompts_py_rendered():
    texts = _texts()
    changed = {k: t for k, t in texts.items() if hashlib.sha256(t.encode()).hexdigest() != PROMPTS_PY_SHA256[k]}
    assert not changed, f"prompt texts changed (replay caches would miss): {changed}"


def test_the_round_part_marker_is_where_the_set_puts_the_example_rows():
    """The local decoder's shared prefix ends at ``PROGRAM_ROUND_PART``: the set's texts must contain it, last."""
    texts = _texts()
    with_rows, without = texts["program"], texts["program_no_rows"]
    assert with_rows.rfind(compact_prompts.PROGRAM_ROUND_PART[0]) > with_rows.find("Format example")
    assert without.endswith(compact_prompts.PROGRAM_ROUND_PART[1])


def test_formats_do_not_mix():
    with pytest.raises(PromptSetError, match="format 'guarded'"):
        compact_prompts.system(3, load_prompt_set("paper"))
    assert load_prompt_set("compact").answer_format == "guarded"
