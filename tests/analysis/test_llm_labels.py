"""Table 3 and Table 6 say which generator (and prompt set) wrote the LM/LS rows of each row."""

from __future__ import annotations

import pandas as pd

from lsh_bench.analysis.llm_labels import llm_generator_column
from lsh_bench.analysis.load_records import provenance_rows
from lsh_bench.analysis.tables import table3, table6


def _rec(dataset: str, scenario: str, method: str, llm: dict | None) -> dict:
    return {"dataset": dataset, "scenario": scenario, "method": method, "status": "done", "config_hash": "h",
            "provenance": {"llm": llm} if llm is not None else {}}


PROV = provenance_rows([
    _rec("a", "general", "lm", {"backend": "openai", "generator": "paper", "prompts": "paper"}),
    _rec("a", "general", "ls", {"backend": "openai", "generator": "paper", "prompts": "paper"}),
    # general: the range option cannot change rows, so the label leaves it out
    _rec("b", "general", "lm", {"backend": "local", "generator": "guarded", "prompts": "compact",
                                "zero_shot_range": "training"}),
    _rec("b", "general", "ls", {"backend": "openai", "generator": "paper", "prompts": "paper"}),
    _rec("c", "general", "lm", {"backend": "local"}),                      # recorded before the keys
    _rec("d", "general", "sm", None),
    _rec("a", "fewshot", "lm", {"backend": "local", "generator": "guarded", "prompts": "compact"}),
    _rec("a", "zeroshot", "lm", {"backend": "local", "generator": "guarded", "prompts": "lean",
                                 "zero_shot_range": "training"}),
    _rec("a", "zeroshot", "ls", {"backend": "local", "generator": "guarded", "prompts": "lean",
                                 "zero_shot_range": "declared"}),
])


def test_label_per_row_and_per_method_when_they_differ() -> None:
    table = pd.DataFrame({"dataset": ["a", "b", "c", "d"], "scenario": "general"})
    assert list(llm_generator_column(table, PROV)) == [
        "paper/paper", "LM guarded/compact; LS paper/paper", "guarded/compact", ""]
    assert list(llm_generator_column(table, None)) == ["unknown"] * 4     # a scores CSV records no provenance


def test_tables_3_and_6_carry_the_label() -> None:
    general = pd.DataFrame({"dataset": ["a", "b"], "scenario": "general", "ir": [2.0, 3.0], "LM_t": [0.5, 0.6]})
    assert dict(zip(table6(general, PROV)["dataset"], table6(general, PROV)["llm_generator"])) == {
        "a": "paper/paper", "b": "LM guarded/compact; LS paper/paper"}
    few = pd.DataFrame({"dataset": ["a"], "scenario": "fewshot", "ir": [2.0], "LM_t": [0.4]})
    assert table3(few, PROV)["llm_generator"].tolist() == ["guarded/compact"]
    assert table3(few)["llm_generator"].tolist() == ["unknown"]


def test_guarded_few_and_zero_shot_rows_name_their_range_option() -> None:
    """Declared vs training-part ranges change zero-shot rows: LM and LS that differ in it are told apart."""
    zero = pd.DataFrame({"dataset": ["a"], "scenario": "zeroshot"})
    assert list(llm_generator_column(zero, PROV)) == [
        "LM guarded/lean, training ranges; LS guarded/lean, declared ranges"]
