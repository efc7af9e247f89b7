"""A free-text answer that ends in a loop: found, stopped by the local decoder, rejected by the report parser."""

from __future__ import annotations

from collections import Counter

import pytest

from lsh_bench.samplers.llm.decoding import _Prose, decoding_request
from lsh_bench.samplers.llm.parse import AnswerInvalid, parse_report, repeated_tail

# The start of the embedded model's vertebra-column report (fold 0, seed 0), which ran to its 2,314-token cap.
VERTEBRA = "This is a class named `Mixed_C118_D268" + "_Mixed_C118" * 30
PROSE = ("The minority rows describe older patients with many positive nodes. Most were operated "
         "in the early sixties, and survival was shorter than five years for all of them. ") * 3


def test_a_fragment_repeated_without_spaces_is_a_loop() -> None:
    assert repeated_tail(VERTEBRA) >= 64
    assert repeated_tail(VERTEBRA) % len("_Mixed_C118") == 0


@pytest.mark.parametrize("text", ["!" * 64, "ab" * 40, "the same words again " * 8])
def test_short_units_repeated_to_64_characters_are_loops(text: str) -> None:
    assert repeated_tail(text) >= 64


@pytest.mark.parametrize("text", ["!" * 63, "ab" * 31, "no loop here at all, just a sentence that ends."])
def test_below_the_limits_nothing_is_a_loop(text: str) -> None:
    assert repeated_tail(text) == 0


def test_ordinary_prose_is_not_a_loop_until_a_paragraph_repeats_four_times() -> None:
    assert repeated_tail(PROSE) == 0                           # three times: a unit over 200 characters anyway
    sentence = "Survival was short. "
    assert repeated_tail("Intro. " + sentence * 3) == 0      # 3 repeats of 20 chars: 60 < 64
    assert repeated_tail("Intro. " + sentence * 4) == 80


def test_the_decoder_stops_prose_at_a_loop_and_says_why() -> None:
    spec = decoding_request(prose=(500, 750))["prose"]
    prose = _Prose(**spec)
    assert prose.done(VERTEBRA[:40]) is None
    assert prose.done(VERTEBRA) == "loop"
    words = [f"w{i}" for i in range(750)]
    assert prose.done(" ".join(words)) == "stop"
    assert prose.done(" ".join(words[:499]) + " end") is None
    assert prose.done(" ".join(words[:499]) + " end.") == "stop"


def test_a_request_without_the_loop_field_decodes_as_before() -> None:
    prose = _Prose(min_words=500, max_words=750)
    assert prose.done(VERTEBRA) is None


def test_the_report_parser_rejects_a_loop_so_the_step_is_retried() -> None:
    with pytest.raises(AnswerInvalid) as err:
        parse_report(VERTEBRA, 500, Counter())
    assert err.value.reason == "repetitive_report"
    assert parse_report(PROSE, 500, Counter()).startswith("The minority rows")
