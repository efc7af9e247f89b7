"""The messages of the paper's generator, built as its code built them (``llm.generator=paper``).

The paper's ``oversampler.py`` sends three kinds of request; the texts come
from a prompt set (``prompt_files``, default ``paper``), the assembly is
here:

1. report: system = the report prompt, user = the minority rows as CSV
   (``df.to_csv(index=False)``, the label column included);
2. variables: system = the variables prompt, user = the same CSV;
3. program (one per round): system = the program prompt with
   ``|||n_out|||`` = ``round_n`` and ``|||data_example|||`` = the round's
   sample as CSV, then one line per variable appended (``var_specs_to_text``:
   a newline before each line); user = the report.

The CSV is what the classifiers see (categoricals as their codes, as in the
paper's integer-coded files): a column whose values are all whole numbers is
written as integers, like pandas wrote the paper's integer columns; the
label column (``NEW_LABEL`` in the paper's notebooks) holds the minority
label, 1. Lines end with ``\\n`` (the paper's used the OS's line separator).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from lsh_bench.samplers.llm.paper_schemas import VariableSpecs
from lsh_bench.samplers.llm.prompt_files import PromptSet, PromptSetError

LABEL_NAME = "NEW_LABEL"     # the paper's notebooks renamed the target column to this
LABEL_VALUE = 1              # ... and coded the minority as 1

Messages = list[tuple[str, str]]


def data_csv(X: np.ndarray, names: Sequence[str], label_name: str = LABEL_NAME, label_value: int = LABEL_VALUE) -> str:
    """The minority rows ``X`` (encoded) plus the label column, as the paper's ``df2csvstring`` wrote them."""
    X = np.asarray(X, dtype=float).reshape(-1, len(names))
    if label_name in names:
        raise ValueError(f"the label column name {label_name!r} is also a feature name")
    cols: dict[str, np.ndarray] = {}
    for j, name in enumerate(names):
        v = X[:, j]
        whole = (len(v) > 0 and bool(np.all(np.isfinite(v))) and bool(np.all(v == np.round(v)))
                 and bool(np.all(np.abs(v) < 2.0**53)))
        cols[name] = v.astype(np.int64) if whole else v
    cols[label_name] = np.full(len(X), label_value, dtype=np.int64)
    return pd.DataFrame(cols, columns=[*names, label_name]).to_csv(index=False, lineterminator="\n")


def _check(ps: PromptSet) -> None:
    if ps.answer_format != "paper":
        raise PromptSetError(f"prompt set {ps.name!r} asks for answer format {ps.answer_format!r}; the paper's "
                             "generator needs a set of format 'paper'")


def report_messages(ps: PromptSet, csv: str) -> Messages:
    _check(ps)
    return [("system", ps.render("report.system")), ("user", ps.render("report.user", data_csv=csv))]


def variables_messages(ps: PromptSet, csv: str) -> Messages:
    _check(ps)
    return [("system", ps.render("variables.system")), ("user", ps.render("variables.user", data_csv=csv))]


def variable_lines(ps: PromptSet, specs: VariableSpecs) -> str:
    """The paper's ``var_specs_to_text``: ``"\\n" + line`` per variable, floats as ``str(float)``."""
    out = ""
    for v in specs.variables:
        out += "\n" + ps.render(
            "program.variable_line", name=v.name, description=v.description, units=str(v.units.value),
            dist_name=v.dist.name.value, scale=v.dist.scale, vmin=v.dist.vmin, vmax=v.dist.vmax,
        )
    return out


def program_messages(ps: PromptSet, report: str, sample_csv: str, n_out: int, specs: VariableSpecs) -> Messages:
    _check(ps)
    system = ps.render("program.system", n_out=str(n_out), data_example=sample_csv) + variable_lines(ps, specs)
    return [("system", system), ("user", ps.render("program.user", report=report))]
