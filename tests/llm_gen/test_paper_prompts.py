"""The ``paper`` prompt set renders the paper's prompts and messages, placeholders filled as its code did.

The expected texts are built here the way the paper's ``config/load_config.py``
and ``oversampler.py`` built them (github doheonhan/LSH): the literal prompt
text copied from it, ``json5.dumps(Model.model_json_schema(), indent=2)``
inserted, ``|||n_out|||`` / ``|||data_example|||`` replaced and
``var_specs_to_text`` appended. Where the paper's code itself is on this
machine (``LSH_PAPER_CODE``, default ``../paper_code``), it is imported and
compared too.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import json5
import numpy as np
import pandas as pd
import pytest

from lsh_bench.samplers.llm.paper_prompts import (
    data_csv,
    program_messages,
    report_messages,
    variable_lines,
    variables_messages,
)
from lsh_bench.samplers.llm.paper_schemas import StateObjectOpSequence, VariableSpec, VariableSpecs
from lsh_bench.samplers.llm.prompt_files import PromptSetError, fill, load_prompt_set

# ---------------------------------------------------------------- the paper's literal texts (load_config.py)

DATA_DESCRIPTION_PROMPT = """
You're an expert data analyst at a large company. Your boss has asked you to analyze a dataset and provide a report on your findings.

You'll be provided with a dataset in CSV format with a header. You'll need to write a report that provides insights into the data. Focus on the key points that will help your boss make informed decisions. Put a scpecial emphasis on the relationships between the different variables in the dataset, the trends that you observe.

Make sure to try to extract the general meaning of the data, and not just the raw numbers. Your boss is looking for a high-level summary of the data, not a detailed analysis.

Your report should be clear, concise, and easy to understand. It should be written in plain English, and should not contain any technical jargon. At least 500 words.
""".strip()

VARIABLE_EXRACTION_PROMPT = ("""
You're an expert data analyst at a large company. Your boss has asked you to analyze a dataset and provide a report on your findings.

You'll be provided with a dataset in CSV format with a header. Your task is to extract the names, descriptions and possible distributions of the variables in the dataset.

You should provide your answer as a machine-readable JSON object. The object should follow this schema:

""" + json5.dumps(VariableSpec.model_json_schema(), indent=2)).strip()

OP_SEQUENCE_PROMPT = (
    """Your task is to control a synthetic data generator that creates synthetic data conforming to a report given to you.

The generator is a state machine that has an internal state which can be sent to the output, or that can be changed. You can use functions to control the state machine. Each output of the machine describes a single data point.

You will be given a report by the user that the synthetic data should follow as closely as possible. Ensure that you only use the variables provided to you by the user. Make sure that the synthetic data you generate is consistent with the report. Make sure to use the EXACT variable names provided in the report.

You should just output the sequence of operations without any text in natural language.

The change_by operation cannot be used on variables with units "true or false" or string variables.

Your output should be a single JSON object following the schema below:
"""
    + json5.dumps(StateObjectOpSequence.model_json_schema(), indent=2)
    + """

The sequence of operations should output at least |||n_out||| data points.

An example of the data that you should try to generate is:
```
|||data_example|||
```

(this is just an example, the actual data you generate should be consistent with the report and follow the schema above)

You have access to the following variables (their exact names between | symbols):
"""
).strip()


def var_specs_to_text(var_specs):  # the paper's function, as it is
    var_descs = ""
    for var in var_specs.variables:
        c_var_desc = f"""
        Variable: |{var.name}| (describes {var.description}) in units of "{str(var.units.value)}". The distribution of the variable is {var.dist.name.value} with a scale of {var.dist.scale}, a minimum value of {var.dist.vmin} and a maximum value of {var.dist.vmax}.""".strip()
        var_descs += "\n" + c_var_desc
    return var_descs


# ---------------------------------------------------------------- a small dataset, as the paper's notebook held it

NAMES = ["age", "nodes", "ratio", "code"]
X = np.array([[30, 1, 0.5, 2], [45, 0, 1.25, 1], [61, 7, 0.1, 3], [52, 3, 2.0, 1]], dtype=float)


def paper_frame(X: np.ndarray) -> pd.DataFrame:
    """The minority rows as the paper's DataFrame: integer columns stay integers, NEW_LABEL = 1."""
    df = pd.DataFrame({"age": X[:, 0].astype(int), "nodes": X[:, 1].astype(int), "ratio": X[:, 2],
                       "code": X[:, 3].astype(int)})
    df["NEW_LABEL"] = 1
    return df


SPECS = VariableSpecs.model_validate({"variables": [
    {"name": "age", "units": "integer", "description": "age in years",
     "dist": {"name": "normal", "scale": 5, "vmin": 18, "vmax": 90}},
    {"name": "ratio", "units": "any number", "description": "a ratio {with braces} and |||n_out|||",
     "dist": {"name": "truncated normal", "scale": 0.25, "vmin": 0.0, "vmax": 1e-05}},
    {"name": "flag", "units": "true or false", "description": "", "dist": {"name": "none", "scale": 0,
                                                                           "vmin": 0, "vmax": 1}},
]})


@pytest.fixture(scope="module")
def ps():
    return load_prompt_set("paper")


def test_system_prompts_are_the_papers(ps):
    assert ps.answer_format == "paper"
    assert ps.templates["report.system"] == DATA_DESCRIPTION_PROMPT
    assert ps.templates["variables.system"] == VARIABLE_EXRACTION_PROMPT
    assert ps.templates["program.system"] == OP_SEQUENCE_PROMPT


def test_csv_is_the_papers_df_to_csv():
    csv = data_csv(X, NAMES)
    assert csv == paper_frame(X).to_csv(index=False)
    assert csv.splitlines()[0] == "age,nodes,ratio,code,NEW_LABEL"
    assert csv.splitlines()[1] == "30,1,0.5,2,1"
    assert data_csv(np.empty((0, 4)), NAMES) == "age,nodes,ratio,code,NEW_LABEL\n"  # zero-shot: header only
    with pytest.raises(ValueError, match="NEW_LABEL"):
        data_csv(X, ["a", "b", "c", "NEW_LABEL"])


def test_report_and_variables_messages(ps):
    csv = paper_frame(X).to_csv(index=False)
    assert report_messages(ps, data_csv(X, NAMES)) == [("system", DATA_DESCRIPTION_PROMPT), ("user", csv)]
    assert variables_messages(ps, data_csv(X, NAMES)) == [("system", VARIABLE_EXRACTION_PROMPT), ("user", csv)]


def test_program_messages(ps):
    sample = X[[2, 0]]
    sample_csv = paper_frame(sample).to_csv(index=False)
    report = "A report with |||n_out||| in it.\n"
    expected_system = (OP_SEQUENCE_PROMPT.replace("|||n_out|||", str(10)).replace("|||data_example|||", sample_csv)
                       + var_specs_to_text(SPECS))
    got = program_messages(ps, report, data_csv(sample, NAMES), 10, SPECS)
    assert got == [("system", expected_system), ("user", report)]
    assert variable_lines(ps, SPECS) == var_specs_to_text(SPECS)
    assert "Variable: |ratio| (describes a ratio {with braces} and |||n_out|||)" in got[0][1]
    assert "a scale of 5.0, a minimum value of 18.0" in got[0][1]          # str(float), as the f-string
    assert "a maximum value of 1e-05." in got[0][1]


def test_against_the_papers_own_code_when_present(ps):
    root = Path(os.environ.get("LSH_PAPER_CODE", Path(__file__).resolve().parents[3] / "paper_code"))
    pkg = root / "datagen"
    if not (pkg / "datagen" / "config" / "load_config.py").is_file():
        pytest.skip(f"the paper's code is not at {root} (set LSH_PAPER_CODE)")
    sys.path.insert(0, str(pkg))
    try:
        from datagen.config import data_model, load_config as paper  # type: ignore[import-not-found]
    finally:
        sys.path.remove(str(pkg))
    assert ps.templates["report.system"] == paper.DATA_DESCRIPTION_PROMPT
    assert ps.templates["variables.system"] == paper.VARIABLE_EXRACTION_PROMPT
    assert ps.templates["program.system"] == paper.OP_SEQUENCE_PROMPT
    paper_specs = data_model.VariableSpecs.model_validate(SPECS.model_dump(mode="json"))
    assert variable_lines(ps, SPECS) == paper.var_specs_to_text(paper_specs)


def test_schemas_are_the_papers_models():
    """Field for field what the paper's data_model.py declared (its JSON schema is in the prompts)."""
    s = VariableSpecs.model_json_schema()
    assert s["properties"]["variables"]["description"] == "The list of variables in the dataset"
    v = s["$defs"]["VariableSpec"]
    assert list(v["properties"]) == ["name", "units", "dist", "description"]
    assert s["$defs"]["VariableDistributionName"]["enum"] == ["normal", "uniform", "exponential", "truncated normal",
                                                              "none"]
    op = StateObjectOpSequence.model_json_schema()["$defs"]["StateObjectOp"]["properties"]["op"]
    assert [x["$ref"].rsplit("/", 1)[1] for x in op["anyOf"]] == ["ChangeByOp", "SetToOp", "OutputOp", "InitOp"]
    prog = StateObjectOpSequence.model_validate_json(json.dumps({"op_seq": [
        {"op": {"name": "init"}}, {"op": {"name": "set_to", "var_name": "age", "value": 3}},
        {"op": {"name": "output", "var_name": "ignored"}}]}))
    assert [type(o.op).__name__ for o in prog.op_seq] == ["InitOp", "SetToOp", "OutputOp"]


# ---------------------------------------------------------------- the loader

def write_set(tmp_path: Path, fmt: str = "paper", **over: str) -> Path:
    d = tmp_path / "myset"
    d.mkdir()
    (d / "set.json").write_text(json.dumps({"answer_format": fmt}))
    src = load_prompt_set("paper")
    for key, text in src.templates.items():
        (d / f"{key}.txt").write_text(over.get(key, text) + "\n")
    return d


def test_a_set_from_a_directory(tmp_path):
    d = write_set(tmp_path, **{"report.system": "Short."})
    ps = load_prompt_set(str(d))
    assert report_messages(ps, "a,b\n1,2\n")[0] == ("system", "Short.")
    assert ps.digest != load_prompt_set("paper").digest


@pytest.mark.parametrize("problem,match", [
    ({"report.user": "no placeholder"}, r"report\.user\.txt: placeholders \[\], expected \['data_csv'\]"),
    ({"program.system": "|||n_out||| only"}, "program.system.txt"),
])
def test_loader_names_the_bad_file(tmp_path, problem, match):
    with pytest.raises(PromptSetError, match=match):
        load_prompt_set(str(write_set(tmp_path, **problem)))


def test_loader_errors(tmp_path):
    with pytest.raises(PromptSetError, match="no .*set.json"):
        load_prompt_set("no_such_set")
    d = write_set(tmp_path)
    (d / "variables.user.txt").unlink()
    with pytest.raises(PromptSetError, match="missing .*variables.user.txt"):
        load_prompt_set(str(d))
    (d / "set.json").write_text('{"answer_format": "other"}')
    with pytest.raises(PromptSetError, match="answer_format"):
        load_prompt_set(str(d))


def test_fill_is_one_pass_and_strict():
    assert fill("||||name|||| and |||x|||", {"name": "|||x|||", "x": 1}) == "||||x|||| and 1"
    with pytest.raises(PromptSetError, match="without a value"):
        fill("|||a|||", {})
    with pytest.raises(PromptSetError, match="without a placeholder"):
        fill("text", {"a": 1})
