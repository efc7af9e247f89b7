"""The guarded generator's prompts rendered from a prompt set (``llm.prompts=compact``, the default there).

The words come from ``prompt_sets/compact/`` (or any set of answer format
``guarded``); only the assembly (which template, numbers formatted with
``:g``, the example program) is code. The ``compact`` set holds, byte for
byte, the texts the former ``prompts.py`` wrote in code (this module was
checked against it text for text before it was deleted), so replay caches
recorded with it stay valid; ``tests/llm_gen/test_compact_prompts.py`` pins
the rendered texts by digest, since a changed text changes every request's
cache key.
"""

from __future__ import annotations

import json
from functools import lru_cache

from lsh_bench.data.schema import FeatureSchema
from lsh_bench.samplers.llm.prompt_files import PromptSet, PromptSetError, load_prompt_set
from lsh_bench.samplers.llm.schemas import DESCRIPTION_CHARS, data_units
from lsh_bench.samplers.llm.state_machine import Variable

DEFAULT_SET = "compact"

# Where a program prompt's per-round part (the example rows) begins: everything before it is the
# same in every round of a generation, so the local decoder evaluates it once (``decoding.py``).
# The opening of the ``compact`` set's program.rows.txt, and its program.rows_none.txt.
PROGRAM_ROUND_PART = ("Example rows of this class (CSV):", "No example rows are available.")


def prefix_until(step: str, ps: PromptSet | str | None = None) -> tuple[str, ...]:
    """Where ``step``'s prompt splits for the local decoder: the set's ``prefix_until`` for it.

    The program step of a set that declares none (``compact``) splits at
    ``PROGRAM_ROUND_PART`` as it always did; its other steps do not split.
    """
    p = prompt_set(ps)
    if step in p.prefix_until:
        return p.prefix_until[step]
    return PROGRAM_ROUND_PART if step == "program" else ()


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


def example_program(schema: FeatureSchema, variables: list[Variable], n_outputs: int = 10) -> str:
    """A program on this dataset's numeric columns with ``n_outputs`` outputs, to show the format.

    A 135M model copies the example's shape: an example with 3 outputs gave
    programs of 2-4 rows, so many rounds per generation. This one cycles
    through up to three numeric columns (change_by, output) and restarts from
    a fresh real row (init) every third output; init (a random real row) and
    jitter keep copied programs from giving identical rows.
    """
    num = [v for v in variables if v.kind != "categorical"][:3]
    ops: list[dict] = [{"op": "init"}, {"op": "output"}]
    outputs, i = 1, 0
    while outputs < n_outputs:
        if outputs % 3 == 0:
            ops.append({"op": "init"})
        if num:
            v = num[i % len(num)]
            step = float(f"{((v.high - v.low) / 10 or 1.0):.3g}")
            ops.append({"op": "change_by", "var": v.name, "delta": step if i % 2 == 0 else -step})
        ops.append({"op": "output"})
        outputs, i = outputs + 1, i + 1
    return json.dumps({"ops": ops}, separators=(",", ":"))   # compact: the grammars allow no whitespace


def program(schema: FeatureSchema, report_text: str, variables_: list[Variable], descriptions: dict[str, str],
            example_csv: str, n_outputs: int, ps: PromptSet | str | None = None) -> str:
    p = prompt_set(ps)
    rows = p.render("program.rows", csv=example_csv) if example_csv else p.render("program.rows_none")
    return p.render("program.user", report=report_text, variables=variables_text(variables_, descriptions, p),
                    rows=rows, n_outputs=n_outputs, example=example_program(schema, variables_, n_outputs))
