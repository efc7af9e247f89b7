"""The guarded generator's prompts rendered from a prompt set (``llm.prompts=compact``, the default there).

The same functions, signatures and texts as ``prompts.py``, but the words
come from ``prompt_sets/compact/`` (or any set of answer format
``guarded``); only the assembly (which template, numbers formatted with
``:g``, the example program) is code. ``tests/llm_gen/test_compact_prompts.py``
checks that the ``compact`` set renders exactly what ``prompts.py`` renders,
so the guarded generator can switch to this module (and so to
``llm.prompts``) without changing a single request — and without
invalidating a replay cache.
"""

from __future__ import annotations

from functools import lru_cache

from lsh_bench.data.schema import FeatureSchema
from lsh_bench.samplers.llm.prompt_files import PromptSet, PromptSetError, load_prompt_set
from lsh_bench.samplers.llm.prompts import example_program
from lsh_bench.samplers.llm.schemas import DESCRIPTION_CHARS, data_units
from lsh_bench.samplers.llm.state_machine import Variable

DEFAULT_SET = "compact"


@lru_cache(maxsize=8)
def _cached(name: str) -> PromptSet:
    return load_prompt_set(name)


def prompt_set(ps: PromptSet | str | None = None) -> PromptSet:
    out = _cached(ps or DEFAULT_SET) if not isinstance(ps, PromptSet) else ps
    if out.answer_format != "guarded":
        raise PromptSetError(f"prompt set {out.name!r} asks for answer format {out.answer_format!r}; the guarded "
                             "generator needs a set of format 'guarded'")
    return out


def system(n_rows: int, ps: PromptSet | str | None = None) -> str:
    return prompt_set(ps).render("system", n_rows=n_rows)


def columns_text(schema: FeatureSchema, ps: PromptSet | str | None = None) -> str:
    p = prompt_set(ps)
    return "\n".join(p.render("columns.line", name=c.name, units=data_units(c)) for c in schema.columns)


def report(schema: FeatureSchema, csv: str, n_shown: int, n_total: int, words: int,
           ps: PromptSet | str | None = None) -> str:
    p = prompt_set(ps)
    if n_total == 0:
        rows = p.render("report.rows_none")
    else:
        shown = (p.render("report.shown_all", n_total=n_total) if n_shown == n_total
                 else p.render("report.shown_sample", n_shown=n_shown, n_total=n_total))
        rows = p.render("report.rows", shown=shown, csv=csv)
    return p.render("report.user", columns=columns_text(schema, p), rows=rows, words=words)


def variables(schema: FeatureSchema, report_text: str, ps: PromptSet | str | None = None) -> str:
    p = prompt_set(ps)
    return p.render("variables.user", columns=columns_text(schema, p), report=report_text,
                    description_chars=DESCRIPTION_CHARS)


def variables_text(variables_: list[Variable], descriptions: dict[str, str], ps: PromptSet | str | None = None) -> str:
    p = prompt_set(ps)
    lines = []
    for v in variables_:
        d = descriptions.get(v.name, "")
        lines.append(p.render("variables.line", name=v.name, kind=v.kind, low=f"{v.low:g}", high=f"{v.high:g}",
                              description=p.render("variables.line_description", description=d) if d else ""))
    return "\n".join(lines)


def program(schema: FeatureSchema, report_text: str, variables_: list[Variable], descriptions: dict[str, str],
            example_csv: str, n_outputs: int, ps: PromptSet | str | None = None) -> str:
    p = prompt_set(ps)
    rows = p.render("program.rows", csv=example_csv) if example_csv else p.render("program.rows_none")
    return p.render("program.user", report=report_text, variables=variables_text(variables_, descriptions, p),
                    rows=rows, n_outputs=n_outputs, example=example_program(schema, variables_, n_outputs))
