"""The local decoder's grammars and their matcher: bounded, whitespace-free, complete at the closing brace."""

from __future__ import annotations

import json
import random
from collections import Counter

import pytest

from lsh_bench.data.schema import Column, FeatureSchema
from lsh_bench.samplers.llm import grammar as g
from lsh_bench.samplers.llm.matcher import DEAD, Matcher
from lsh_bench.samplers.llm.parse import strict_ok
from lsh_bench.samplers.llm.repair import parse_program
from lsh_bench.samplers.llm.schemas import (
    program_grammar, program_model, units_choices, variables_grammar, variables_model,
)
from lsh_bench.samplers.llm.state_machine import Variable

SCHEMA = FeatureSchema((
    Column("age", "numeric", integer=True),
    Column("dose \"mg\"", "numeric"),                       # a quote in a name: escaped in the literal
    Column("sex", "categorical", categories=("f", "m")),
    Column("smoker", "numeric", integer=True, boolean=True),
))


def walk(m: Matcher, rng: random.Random, limit: int = 100_000) -> bytes:
    """A random answer of the grammar: random allowed bytes until it is complete."""
    out, s = bytearray(), m.start
    while not m.complete(s):
        b = rng.choice(sorted(m.allowed(s)))
        s = m.step(s, b)
        assert s != DEAD
        out.append(b)
        assert len(out) < limit
    return bytes(out)


@pytest.mark.parametrize("seed", range(20))
def test_every_program_the_grammar_accepts_is_a_valid_program_answer(seed: int) -> None:
    node = program_grammar(SCHEMA, 12)
    m = Matcher(node)
    text = walk(m, random.Random(seed))
    assert len(text) <= g.max_bytes(node)
    assert strict_ok(program_model(SCHEMA, 12), text.decode())
    variables = [Variable("age", "integer", 0, 99), Variable('dose "mg"', "number", 0, 5),
                 Variable("sex", "categorical", 0, 1), Variable("smoker", "boolean", 0, 1)]
    reps: Counter = Counter()
    try:
        parse_program(text.decode(), SCHEMA, variables, 12, reps)
    except ValueError as e:   # a walk may write only inits: rejected as no_output, like any such answer
        assert "no_output" in str(e)
    assert not reps["bad_op"] and not reps["unknown_column"] and not reps["unknown_category"]


@pytest.mark.parametrize("seed", range(10))
def test_every_variables_answer_the_grammar_accepts_is_valid(seed: int) -> None:
    node = variables_grammar(SCHEMA)
    text = walk(Matcher(node), random.Random(seed)).decode()
    assert strict_ok(variables_model(SCHEMA), text)
    names = [v["name"] for v in json.loads(text)["variables"]]
    assert names == SCHEMA.names


def test_answer_ends_at_the_closing_brace_and_nothing_may_follow() -> None:
    m = Matcher(program_grammar(SCHEMA, 3))
    s = m.feed(m.start, b'{"ops":[{"op":"init"},{"op":"output"}]}')
    assert m.complete(s) and m.allowed(s) == frozenset()      # EOS is the only continuation
    assert m.feed(s, b" ") == DEAD and m.feed(s, b"\n") == DEAD


def test_no_whitespace_anywhere_and_names_are_literals() -> None:
    m = Matcher(program_grammar(SCHEMA, 3))
    assert m.feed(m.start, b'{ "ops"') == DEAD
    assert m.feed(m.start, b'{"ops": [') == DEAD
    assert m.feed(m.start, b'{"ops":[{"op":"set_to","var":"height"') == DEAD
    assert m.feed(m.start, b'{"ops":[{"op":"change_by","var":"sex"') == DEAD       # categorical: no change_by
    assert m.feed(m.start, b'{"ops":[{"op":"set_to","var":"sex","value":"x"') == DEAD
    assert m.feed(m.start, b'{"ops":[{"op":"set_to","var":"dose \\"mg\\"","value":-0.25}') != DEAD


def test_lists_numbers_and_strings_are_bounded() -> None:
    m = Matcher(program_grammar(SCHEMA, 2))
    s = m.feed(m.start, b'{"ops":[{"op":"init"},{"op":"output"}')
    assert m.allowed(s) == frozenset(b"]") and m.forced(s) == b"]}"   # two of two: the list must close
    num = Matcher(g.seq(g.number(), "}"))
    assert num.feed(num.start, b"1234567890") != DEAD and num.feed(num.start, b"12345678901") == DEAD
    assert num.feed(num.start, b"0.123456") != DEAD and num.feed(num.start, b"0.1234567") == DEAD
    assert num.feed(num.start, b"01") == DEAD and num.feed(num.start, b"1e5") == DEAD
    text = Matcher(g.seq(g.text(5), "}"))
    assert text.feed(text.start, b'"abcde"}') != DEAD and text.feed(text.start, b'"abcdef') == DEAD
    assert text.feed(text.start, b'"a\\') == DEAD and text.feed(text.start, b'"a\n') == DEAD


def test_forced_text_is_what_every_continuation_starts_with() -> None:
    m = Matcher(program_grammar(SCHEMA, 5))
    assert m.forced(m.start) == b'{"ops":[{"op":"'
    s = m.feed(m.start, b'{"ops":[{"op":"ch')
    assert m.forced(s) == b'ange_by","var":"'                # the only op starting "ch"
    s = m.feed(s, m.forced(s) + b"a")
    assert m.forced(s) == b'ge","delta":'
    v = Matcher(variables_grammar(SCHEMA))
    assert v.forced(v.start) == b'{"variables":[{"name":"age","description":"'


def test_max_bytes_bounds_every_answer() -> None:
    node = program_grammar(SCHEMA, 4)
    longest = max(len(walk(Matcher(node), random.Random(s))) for s in range(30))
    assert longest <= g.max_bytes(node)
    assert g.max_bytes(g.number()) == 1 + g.INT_DIGITS + 1 + g.FRAC_DIGITS


def test_json_form_round_trips_and_rejects_junk() -> None:
    node = variables_grammar(SCHEMA)
    assert g.from_json(json.loads(json.dumps(g.to_json(node)))) == node
    with pytest.raises(ValueError, match="byte class"):
        g.from_json(["chars", "anything", 0, 3])
    with pytest.raises(ValueError, match="not a grammar node"):
        g.from_json({"lit": "x"})


def test_units_choices_follow_the_column_kinds() -> None:
    assert units_choices(SCHEMA)[0] == ["true or false", "integer", "any number"]
    assert units_choices(SCHEMA)[2] == ["one of: f, m"]


def test_gbnf_rendering_is_accepted_by_llama_cpp() -> None:
    llama_grammar = pytest.importorskip("llama_cpp.llama_grammar")
    for node in (program_grammar(SCHEMA, 40), variables_grammar(SCHEMA)):
        text = g.to_gbnf(node)
        assert text.startswith("root ::= ")
        llama_grammar.LlamaGrammar.from_string(text, verbose=False)   # raises on a syntax error


# ------------------------------------------------------------ step form (guarded generator) ---
def _program(*ops: str) -> bytes:
    return ('{"ops":[' + ",".join(ops) + "]}").encode()


OUT, CHANGE, INIT = '{"op":"output"}', '{"op":"change_by","var":"age","delta":1.5}', '{"op":"init"}'


def _accepts(m: Matcher, text: bytes) -> bool:
    s = m.feed(m.start, text)
    return s != DEAD and m.complete(s)


def test_step_form_needs_min_outputs_and_at_most_two_operations_before_each_output() -> None:
    m = Matcher(program_grammar(SCHEMA, 40, 10))
    assert _accepts(m, _program(*[OUT] * 10)) and not _accepts(m, _program(*[OUT] * 9))
    assert _accepts(m, _program(INIT, CHANGE, OUT, *[CHANGE, OUT] * 9))
    assert not _accepts(m, _program(INIT, CHANGE, CHANGE, OUT, *[OUT] * 9))     # three before an output
    assert not _accepts(m, _program(*[OUT] * 10, CHANGE))                       # a last op with no row
    assert _accepts(m, _program(*[OUT] * 13)) and not _accepts(m, _program(*[OUT] * 14))   # 40 // 3 steps


@pytest.mark.parametrize("seed", range(5))
def test_every_step_form_answer_is_a_valid_program_with_enough_outputs(seed: int) -> None:
    text = walk(Matcher(program_grammar(SCHEMA, 40, 10)), random.Random(seed)).decode()
    assert strict_ok(program_model(SCHEMA, 40), text)
    ops = [o["op"] for o in json.loads(text)["ops"]]
    assert ops.count("output") >= 10 and ops[-1] == "output"


def test_the_step_form_is_shorter_than_the_plain_form() -> None:
    assert g.max_bytes(program_grammar(SCHEMA, 40, 10)) < g.max_bytes(program_grammar(SCHEMA, 40))
