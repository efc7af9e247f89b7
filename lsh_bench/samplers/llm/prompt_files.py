"""Prompt sets read from files (``llm.prompts``): the words the LLM reads live in text, not code.

A set is a directory (``prompt_sets/<name>/`` in this package, or any
directory of the same shape): ``set.json`` says which answer format the set
asks for (``paper``: the paper's generator and schemas; ``guarded``: the
guarded generator's), and one ``<step>.<part>.txt`` file per message
template. See ``prompt_sets/README.md``.

Why files: a reviewer compares the ``paper`` set with the paper's appendix
by reading it, a user adapts a set without touching code, and a run records
the set's digest (``PromptSet.digest``) so a result says which words were
sent.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Mapping

PLACEHOLDER = re.compile(r"\|\|\|([a-z_]+)\|\|\|")

# Template -> the placeholders it must hold, per answer format.
REQUIRED: dict[str, dict[str, frozenset[str]]] = {
    "paper": {
        "report.system": frozenset(),
        "report.user": frozenset({"data_csv"}),
        "variables.system": frozenset(),
        "variables.user": frozenset({"data_csv"}),
        "program.system": frozenset({"n_out", "data_example"}),
        "program.variable_line": frozenset({"name", "description", "units", "dist_name", "scale", "vmin", "vmax"}),
        "program.user": frozenset({"report"}),
    },
    "guarded": {
        "system": frozenset({"n_rows"}),
        "columns.line": frozenset({"name", "units"}),
        "report.user": frozenset({"columns", "rows", "words"}),
        "report.rows": frozenset({"shown", "csv"}),
        "report.rows_none": frozenset(),
        "report.shown_all": frozenset({"n_total"}),
        "report.shown_sample": frozenset({"n_shown", "n_total"}),
        "variables.user": frozenset({"columns", "report", "description_chars"}),
        "variables.line": frozenset({"name", "kind", "low", "high", "description"}),
        "variables.line_description": frozenset({"description"}),
        "program.user": frozenset({"report", "variables", "rows", "n_outputs", "example"}),
        "program.rows": frozenset({"csv"}),
        "program.rows_none": frozenset(),
    },
}


class PromptSetError(ValueError):
    """A prompt set that is missing, malformed or rendered with the wrong values."""


def placeholders(template: str) -> set[str]:
    return set(PLACEHOLDER.findall(template))


def fill(template: str, values: Mapping[str, object], where: str = "template") -> str:
    """``template`` with every ``|||name|||`` replaced by ``str(values[name])``, in one pass.

    Every placeholder needs a value and every value a placeholder: a typo in
    a file or in the code fails here, naming ``where``.
    """
    wanted = placeholders(template)
    missing = wanted - set(values)
    unused = set(values) - wanted
    if missing or unused:
        raise PromptSetError(f"{where}: placeholders without a value {sorted(missing)}, values without a "
                             f"placeholder {sorted(unused)}")
    return PLACEHOLDER.sub(lambda m: str(values[m.group(1)]), template)


@dataclass(frozen=True)
class PromptSet:
    name: str
    answer_format: str
    source: str                       # directory the templates were read from
    templates: Mapping[str, str]      # "report.system" -> text
    # step -> texts where the prompt's shared prefix ends for the local decoder (set.json
    # "prefix_until"; decoding.py): what comes before is evaluated once and kept in the KV cache.
    prefix_until: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def render(self, key: str, **values: object) -> str:
        if key not in self.templates:
            raise PromptSetError(f"prompt set {self.name!r} ({self.source}) has no template {key!r}")
        return fill(self.templates[key], values, f"prompt set {self.name!r}, {key}.txt")

    @property
    def digest(self) -> str:
        """sha256 over the templates (names and texts): recorded with every result."""
        h = hashlib.sha256()
        for key in sorted(self.templates):
            h.update(key.encode() + b"\0" + self.templates[key].encode() + b"\0")
        return h.hexdigest()[:16]


def _directory(name: str) -> Path:
    if "/" in name or name.startswith("."):
        return Path(name)
    return Path(str(resources.files("lsh_bench.samplers.llm"))) / "prompt_sets" / name


def load_prompt_set(name: str) -> PromptSet:
    """The set ``name`` (a set of this package, or a directory path), checked against its format."""
    directory = _directory(name)
    manifest = directory / "set.json"
    if not manifest.is_file():
        raise PromptSetError(f"prompt set {name!r}: no {manifest} (llm.prompts names a directory under "
                             f"lsh_bench/samplers/llm/prompt_sets/ or a path to one)")
    try:
        meta = json.loads(manifest.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise PromptSetError(f"{manifest}: not JSON ({exc})") from None
    fmt = meta.get("answer_format") if isinstance(meta, dict) else None
    if fmt not in REQUIRED:
        raise PromptSetError(f"{manifest}: answer_format must be one of {sorted(REQUIRED)}, got {fmt!r}")
    prefix_until = meta.get("prefix_until", {})
    if not (isinstance(prefix_until, dict) and all(
            isinstance(v, list) and all(isinstance(m, str) and m for m in v) for v in prefix_until.values())):
        raise PromptSetError(f"{manifest}: prefix_until must map a step to a list of non-empty texts, "
                             f"got {prefix_until!r}")
    templates: dict[str, str] = {}
    for key, expected in REQUIRED[fmt].items():
        path = directory / f"{key}.txt"
        if not path.is_file():
            raise PromptSetError(f"prompt set {name!r}: missing {path}")
        with open(path, encoding="utf-8", newline="") as f:
            text = f.read()
        if text.endswith("\n"):
            text = text[:-1]
        found = placeholders(text)
        if found != expected:
            raise PromptSetError(f"{path}: placeholders {sorted(found)}, expected {sorted(expected)}")
        templates[key] = text
    return PromptSet(name=name, answer_format=fmt, source=str(directory), templates=templates,
                     prefix_until={k: tuple(v) for k, v in prefix_until.items()})
