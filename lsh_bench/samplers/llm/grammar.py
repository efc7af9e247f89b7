"""Answer grammars for the local decoder: small, bounded, whitespace-free, ending at the closing brace.

Why our own grammars and not llama.cpp's conversion of the JSON schema:
the conversion allows a space after every token and falls back, silently,
to an unbounded generic JSON grammar when a schema construct is not
supported; and llama.cpp's grammar sampler checks all 49,152 tokens of the
vocabulary at every step (~22 completion tokens/s on flare). These grammars
are written for exactly the answers the generator reads:

* **bounded**: every list has a maximum length, every string and number a
  maximum number of characters, so :func:`max_bytes` is an upper bound of
  the answer's length — a ``max_tokens`` of that size can never cut an
  answer (a token is at least one byte);
* **no whitespace** at all, and nothing after the closing brace: the answer
  ends the moment the JSON is complete (the decoder stops there, which is
  EOS forced after ``}``);
* **data-bound**: column names, units, distributions, operations and
  category values are literals, so they can only be real ones; text inside
  a description is printable ASCII without quote or backslash (no escapes
  to go wrong).

Every answer a grammar accepts is valid against the pydantic models of
``schemas.py`` (tests walk the grammars to check it), so replay, parsing and
repair work on them exactly as on any other answer.

A grammar is a tree of five node kinds. It travels inside the request as
plain JSON (``to_json``/``from_json``), so the replay-cache key covers it;
``to_gbnf`` renders it in llama.cpp's GBNF notation for reading and for a
check with llama.cpp's own parser.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Union

from lsh_bench.data.schema import FeatureSchema
from lsh_bench.samplers.llm.state_machine import DISTRIBUTIONS

# Byte classes of Chars nodes.
BYTE_CLASSES: dict[str, frozenset[int]] = {
    "digit": frozenset(b"0123456789"),
    "digit19": frozenset(b"123456789"),
    # printable ASCII without '"' and '\\': a JSON string body that needs no escape
    "text": frozenset(b for b in range(0x20, 0x7F) if b not in b'"\\'),
}
INT_DIGITS = 10      # integer part of a number: up to 10 digits (values below 1e10)
FRAC_DIGITS = 6      # fractional part: up to 6 digits


@dataclass(frozen=True)
class Lit:
    """A fixed byte string."""

    data: bytes


@dataclass(frozen=True)
class Chars:
    """``lo`` to ``hi`` bytes, each from the byte class ``cls``."""

    cls: str
    lo: int
    hi: int


@dataclass(frozen=True)
class Seq:
    items: tuple["Node", ...]


@dataclass(frozen=True)
class Alt:
    options: tuple["Node", ...]


@dataclass(frozen=True)
class Rep:
    """``item (sep item)*`` with ``lo`` to ``hi`` items (lo >= 1)."""

    item: "Node"
    sep: "Node"
    lo: int
    hi: int


Node = Union[Lit, Chars, Seq, Alt, Rep]


def lit(text: str) -> Lit:
    return Lit(text.encode("utf-8"))


def seq(*items: Node | str) -> Seq:
    return Seq(tuple(lit(i) if isinstance(i, str) else i for i in items))


def alt(*options: Node | str) -> Alt:
    return Alt(tuple(lit(o) if isinstance(o, str) else o for o in options))


def optional(node: Node) -> Alt:
    return Alt((node, Lit(b"")))


def json_string(text: str) -> Lit:
    """The JSON literal of ``text`` (quotes and escapes included), as ``json.dumps`` writes it."""
    return lit(json.dumps(text, ensure_ascii=False))


def number() -> Seq:
    """A JSON number without exponent: ``-?(0|[1-9][0-9]{0,9})(.[0-9]{1,6})?``."""
    integral = alt("0", seq(Chars("digit19", 1, 1), Chars("digit", 0, INT_DIGITS - 1)))
    return seq(optional(lit("-")), integral, optional(seq(".", Chars("digit", 1, FRAC_DIGITS))))


def text(max_chars: int) -> Seq:
    """A JSON string of at most ``max_chars`` printable characters without escapes."""
    return seq('"', Chars("text", 0, max_chars), '"')


# ---------------------------------------------------------------- the answers


def variables_grammar(schema: FeatureSchema, units: list[list[str]], description_chars: int) -> Seq:
    """``{"variables":[...]}``: one item per column, in order, with its name (the form of ``variables_model``).

    ``units[j]`` are the allowed units texts of column j.
    """
    items: list[Node] = []
    for col, allowed in zip(schema.columns, units):
        items.append(seq(
            '{"name":', json_string(col.name), ',"description":', text(description_chars),
            ',"units":', alt(*(json_string(u) for u in allowed)),
            ',"jitter":', alt(*(json_string(d) for d in DISTRIBUTIONS)),
            ',"scale":', number(), ',"min":', number(), ',"max":', number(), "}",
        ))
    body: list[Node | str] = []
    for j, item in enumerate(items):
        body += ([","] if j else []) + [item]
    return seq('{"variables":[', *body, "]}")


def program_grammar(schema: FeatureSchema, max_ops: int, min_outputs: int = 0, max_between: int = 2) -> Seq:
    """``{"ops":[...]}`` with 1 to ``max_ops`` operations (the form of ``program_model``).

    ``set_to`` takes a number for a numeric column and one of the category
    values for a categorical one; ``change_by`` exists for numeric columns only.

    With ``min_outputs`` the list is a run of *steps*, each at most
    ``max_between`` other operations and then ``output``, at least
    ``min_outputs`` steps (as many as fit in ``max_ops``): the answer is
    still a plain ``program_model`` list, but every operation leads to a row
    and the program asks for no more tokens than its rows need. Without it
    the 135M model wrote ~1,000-token programs of ``change_by`` chains with
    one or two outputs (haberman: 5 rounds of 40 operations for 8 outputs).
    """
    set_to = []
    for col in schema.columns:
        value: Node = number() if col.kind != "categorical" else alt(*(json_string(c) for c in col.categories))
        set_to.append(seq(json_string(col.name), ',"value":', value))
    ops: list[Node] = [lit('"init"}'), seq('"set_to","var":', alt(*set_to), "}")]
    numeric = [schema.columns[i].name for i in schema.numeric_indices]
    if numeric:
        change = [seq(json_string(name), ',"delta":', number()) for name in numeric]
        ops.append(seq('"change_by","var":', alt(*change), "}"))
    if min_outputs < 1:
        op = seq('{"op":', alt(ops[0], lit('"output"}'), *ops[1:]))     # the order of the plain form's keys
        return seq('{"ops":[', Rep(op, lit(","), 1, max_ops), "]}")
    other = seq('{"op":', alt(*ops))
    output = lit('{"op":"output"}')
    step = alt(output, *(seq(*([other, ","] * k), output) for k in range(1, max_between + 1)))
    most = max(1, max_ops // (max_between + 1))
    return seq('{"ops":[', Rep(step, lit(","), min(min_outputs, most), most), "]}")


# ---------------------------------------------------------------- size, JSON form, GBNF


def max_bytes(node: Node) -> int:
    """The longest answer the grammar accepts, in bytes (an upper bound of its tokens)."""
    if isinstance(node, Lit):
        return len(node.data)
    if isinstance(node, Chars):
        return node.hi
    if isinstance(node, Seq):
        return sum(max_bytes(i) for i in node.items)
    if isinstance(node, Alt):
        return max(max_bytes(o) for o in node.options)
    return node.hi * max_bytes(node.item) + (node.hi - 1) * max_bytes(node.sep)


def to_json(node: Node) -> list[Any]:
    if isinstance(node, Lit):
        return ["lit", node.data.decode("utf-8")]
    if isinstance(node, Chars):
        return ["chars", node.cls, node.lo, node.hi]
    if isinstance(node, Seq):
        return ["seq", [to_json(i) for i in node.items]]
    if isinstance(node, Alt):
        return ["alt", [to_json(o) for o in node.options]]
    return ["rep", to_json(node.item), to_json(node.sep), node.lo, node.hi]


def from_json(data: list[Any]) -> Node:
    """The inverse of :func:`to_json`; anything else is a ValueError naming the part."""
    kind = data[0] if isinstance(data, list) and data else None
    if kind == "lit":
        return Lit(str(data[1]).encode("utf-8"))
    if kind == "chars":
        if data[1] not in BYTE_CLASSES:
            raise ValueError(f"grammar: unknown byte class {data[1]!r}; expected one of {sorted(BYTE_CLASSES)}")
        return Chars(data[1], int(data[2]), int(data[3]))
    if kind == "seq":
        return Seq(tuple(from_json(i) for i in data[1]))
    if kind == "alt":
        return Alt(tuple(from_json(o) for o in data[1]))
    if kind == "rep":
        if not 1 <= int(data[3]) <= int(data[4]):
            raise ValueError(f"grammar: repetition needs 1 <= lo <= hi, got {data[3]}, {data[4]}")
        return Rep(from_json(data[1]), from_json(data[2]), int(data[3]), int(data[4]))
    raise ValueError(f"grammar: not a grammar node: {str(data)[:80]!r}")


def _gbnf_class(cls: str) -> str:
    if cls == "digit":
        return "[0-9]"
    if cls == "digit19":
        return "[1-9]"
    return '[ !#-[\\]-~]'   # 0x20-0x7E without '"' (0x22) and '\' (0x5C)


def to_gbnf(node: Node) -> str:
    """The grammar in llama.cpp's GBNF notation (one ``root`` rule; repetitions written out)."""

    def expr(n: Node) -> str:
        if isinstance(n, Lit):
            return json.dumps(n.data.decode("utf-8"), ensure_ascii=False) if n.data else '""'
        if isinstance(n, Chars):
            return f"{_gbnf_class(n.cls)}{{{n.lo},{n.hi}}}"
        if isinstance(n, Seq):
            return "(" + " ".join(expr(i) for i in n.items) + ")"
        if isinstance(n, Alt):
            return "(" + " | ".join(expr(o) for o in n.options) + ")"
        return f"({expr(n.item)} ({expr(n.sep)} {expr(n.item)}){{{n.lo - 1},{n.hi - 1}}})"

    return f"root ::= {expr(node)}\n"
