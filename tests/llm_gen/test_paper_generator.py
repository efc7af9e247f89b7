"""The paper's generation loop with a scripted chat backend: requests, rounds, columns back, fills, failures."""

from __future__ import annotations

import hashlib
import json
from typing import Callable

import numpy as np
import pytest

from lsh_bench.data.schema import Column, FeatureSchema
from lsh_bench.errors import LLMOutputInvalid
from lsh_bench.samplers.llm.client import LLMClient
from lsh_bench.samplers.llm.config import LLMConfig
from lsh_bench.samplers.llm.paper_generator import generate_rows_paper, request_seed
from lsh_bench.samplers.llm.paper_prompts import data_csv, program_messages, report_messages, variables_messages
from lsh_bench.samplers.llm.paper_schemas import StateObjectOpSequence, VariableSpecs, response_schema
from lsh_bench.samplers.llm.prompt_files import PromptSetError, load_prompt_set
from lsh_bench.samplers.llm.types import ChatRequest, ChatResponse

SCHEMA = FeatureSchema((Column("a", "numeric"), Column("b", "numeric", integer=True), Column("c", "numeric")))
X_MIN = np.array([[1.0, 2, 3.5], [1.5, 4, 3.0], [2.0, 3, 2.5], [0.5, 5, 4.0], [1.2, 2, 3.3]])
X_TRAIN = np.vstack([X_MIN, np.array([[10.0, 20, 30.0], [12.0, 22, 31.0], [11.0, 18, 29.0]])])
MEANS = X_TRAIN.mean(axis=0)
REPORT = "The minority rows have small a, b around 3 and c around 3.3."


def var(name, dist="none", scale=1.0, vmin=0.0, vmax=1.0, units="any number"):
    return {"name": name, "units": units, "description": f"the {name}",
            "dist": {"name": dist, "scale": scale, "vmin": vmin, "vmax": vmax}}


def variables(*items) -> str:
    return json.dumps({"variables": list(items)})


GOOD_VARS = variables(var("a", "normal", 0.1), var("b", "uniform", 9.0, 2.0, 5.0, "integer"), var("c"),
                      var("NEW_LABEL", units="integer"))


def op(name, var_name=None, value=None):
    return {"op": {"name": name} if var_name is None else {"name": name, "var_name": var_name, "value": value}}


def prog(*ops) -> str:
    return json.dumps({"op_seq": list(ops)})


def counting_program(n_out: int, start: float = 0.0) -> str:
    """init, then c = start + 1, start + 2, ... one output each (rows are distinct and traceable)."""
    ops = [op("init"), op("set_to", "NEW_LABEL", 1)]
    for k in range(n_out):
        ops += [op("set_to", "c", start + k + 1), op("output")]
    return prog(*ops)


class PaperScripted:
    """Answers per step (report / variables / program), in order, repeating the last; logs requests."""

    model = "scripted"

    def __init__(self, report=(REPORT,), variables=(GOOD_VARS,), program=(counting_program(12),)):
        self.script: dict[str, list | Callable] = {"report": list(report), "variables": list(variables),
                                                   "program": program if callable(program) else list(program)}
        self.requests: list[ChatRequest] = []
        self.served = {"report": 0, "variables": 0, "program": 0}

    @staticmethod
    def step(req: ChatRequest) -> str:
        if req.json_schema is None:
            return "report"
        return "variables" if "variables" in req.json_schema["properties"] else "program"

    def chat(self, req: ChatRequest) -> ChatResponse:
        self.requests.append(req)
        step = self.step(req)
        answers = self.script[step]
        i = self.served[step]
        self.served[step] += 1
        text = answers(req, i) if callable(answers) else answers[min(i, len(answers) - 1)]
        key = hashlib.sha256(json.dumps(req.as_dict(), sort_keys=True).encode()).hexdigest()
        return ChatResponse(text=text, prompt_tokens=100, completion_tokens=20, seconds=0.01, cached=False,
                            key=key, model=self.model)


CFG = LLMConfig(max_retries=2, max_rounds=5, example_rows=30, min_outputs_per_round=10, max_tokens=4096)


def run(client, n_rows=20, seed=0, X_min=X_MIN, schema=SCHEMA, X_train=X_TRAIN, cfg=CFG, **kw):
    return generate_rows_paper(X_min, n_rows, schema=schema, cfg=cfg, seed=seed, client=client, X_train=X_train,
                               **kw)


def test_requests_are_the_papers_and_rows_come_from_the_programs():
    fake = PaperScripted()
    rows, stats = run(fake)
    ps = load_prompt_set("paper")
    csv = data_csv(X_MIN, SCHEMA.names)
    steps = [PaperScripted.step(r) for r in fake.requests]
    assert steps == ["report", "variables", "program", "program"]      # report once, variables once, 2 rounds
    report_req, vars_req, p0, p1 = fake.requests
    assert list(report_req.messages) == report_messages(ps, csv) and report_req.json_schema is None
    assert list(vars_req.messages) == variables_messages(ps, csv)
    assert vars_req.json_schema == response_schema(VariableSpecs)
    assert p0.json_schema == response_schema(StateObjectOpSequence)
    specs = VariableSpecs.model_validate_json(GOOD_VARS)
    system, user = p0.messages
    assert user == ("user", REPORT)
    # the round's sample: all 5 rows (fewer than 30), shuffled, label column included
    shown = system[1].split("```\n")[1][:-1]      # the CSV between the fences (the template adds one \n)
    assert sorted(shown.splitlines()[1:]) == sorted(csv.splitlines()[1:])
    assert list(p0.messages) == program_messages(ps, REPORT, shown, 10, specs)
    assert {r.seed for r in fake.requests} == {request_seed(0, 20)}
    assert (p0.draw, p1.draw) == (0, 1)
    assert all(r.temperature == 0.8 and r.top_p == 0.9 and r.max_tokens == 4096 for r in fake.requests)

    assert rows.shape == (20, 3)
    assert stats.rows_generated == 24 and stats.rounds == 2 and stats.sample_sizes == [5, 5]
    # c: "none" of set_to values 1..12 in each round; surplus cut to 20 rows
    assert set(rows[:, 2]) <= set(range(1, 13)) and len(rows) == 20
    # b: uniform(2, 5) ignoring its value (0 after init); a: normal around 0, nothing clipped or rounded
    assert np.all((rows[:, 1] >= 2) & (rows[:, 1] < 5)) and not np.all(rows[:, 1] == np.round(rows[:, 1]))
    assert abs(rows[:, 0].mean()) < 0.1 and rows[:, 0].min() < X_MIN[:, 0].min()
    assert stats.usage.calls == 4 and stats.usage.prompt_tokens == 400 and stats.usage.cache_hits == 0
    assert stats.repairs == {} and stats.rejected == {} and stats.report_words == len(REPORT.split())
    assert stats.variables[1]["dist"]["name"] == "uniform"


def test_seeded_and_a_new_request_per_ratio():
    a, _ = run(PaperScripted(), n_rows=20, seed=3)
    fake_b = PaperScripted()
    b, _ = run(fake_b, n_rows=20, seed=3)
    np.testing.assert_array_equal(a, b)
    c, _ = run(PaperScripted(), n_rows=20, seed=4)
    assert not np.array_equal(a, c)
    fake_d = PaperScripted()
    run(fake_d, n_rows=21, seed=3)     # another ratio: every request differs (the paper generated anew)
    assert fake_d.requests[0].seed != fake_b.requests[0].seed


def test_replay_cache_answers_everything(tmp_path):
    cfg = CFG.model_copy(update={"cache_dir": str(tmp_path), "cache_mode": "readwrite"})
    recorded, _ = run(LLMClient(cfg, backend=PaperScripted()), cfg=cfg)

    class Refuses:
        model = "scripted"

        def chat(self, req):
            raise AssertionError("the replay must not call the model")

    replay_cfg = cfg.model_copy(update={"cache_mode": "readonly"})
    replayed, stats = run(LLMClient(replay_cfg, backend=Refuses()), cfg=replay_cfg)
    np.testing.assert_array_equal(recorded, replayed)
    assert stats.usage.cache_hits == 4 and stats.usage.calls == 0


def test_missing_renamed_and_non_finite_values_are_filled_and_counted():
    renamed = variables(var("a"), var("bb", units="integer"), var("c"), var("NEW_LABEL"))
    program = prog(op("init"), op("set_to", "a", 1e308), op("change_by", "a", 1e308),   # a -> inf
                   *[op("output")] * 12)
    rows, stats = run(PaperScripted(variables=[renamed], program=[program]), n_rows=10)
    np.testing.assert_array_equal(rows[:, 0], MEANS[0])      # inf -> mean of the training part
    np.testing.assert_array_equal(rows[:, 1], MEANS[1])      # b never output ("bb" instead) -> mean
    np.testing.assert_array_equal(rows[:, 2], 0.0)           # init's 0, kept
    assert stats.missing_by_column == {"b": 10} and stats.non_finite_by_column == {"a": 10}
    assert stats.dropped_variables == {"bb": 12}               # all 12 outputs; NEW_LABEL is not counted
    assert stats.repairs == {"filled_missing": 10, "filled_non_finite": 10, "dropped_values": 12}
    assert np.all(np.isfinite(rows))


def test_output_before_init_gives_partial_rows_filled_with_means():
    program = prog(op("set_to", "c", 7.0), *[op("output")] * 10)
    rows, stats = run(PaperScripted(program=[program]), n_rows=10)
    np.testing.assert_array_equal(rows, np.tile([MEANS[0], MEANS[1], 7.0], (10, 1)))
    assert stats.missing_by_column == {"a": 10, "b": 10}


def test_categorical_values_are_kept_and_counted():
    schema = FeatureSchema((Column("a", "numeric"), Column("k", "categorical", categories=("x", "y", "z"))))
    X = np.array([[1.0, 0], [2.0, 2], [1.5, 1]])
    vars_ = variables(var("a"), var("k", units="integer"))
    program = prog(op("init"), *[x for v in (1, 2.5, 7, -1, 2) for x in (op("set_to", "k", v), op("output"))])
    rows, stats = run(PaperScripted(variables=[vars_], program=[program]), n_rows=5, X_min=X, schema=schema,
                      X_train=np.vstack([X, [[3.0, 0]]]))
    assert sorted(rows[:, 1]) == [-1, 1, 2, 2.5, 7]            # not snapped to codes, not clipped
    assert stats.not_a_code_by_column == {"k": 3}


@pytest.mark.parametrize("bad,reason", [
    ("not json", "variables:schema_invalid"),
    (variables(var("a", units="kg")), "variables:schema_invalid"),
    (variables(var("a", "truncated normal", 0.0)), "variables:degenerate_distribution"),
    (variables(var("a", "truncated normal", 1.0, 5.0, 5.0)), "variables:degenerate_distribution"),
    (variables(var("x"), var("NEW_LABEL")), "variables:no_column"),
])
def test_variables_rejected_then_asked_again(bad, reason):
    fake = PaperScripted(variables=[bad, GOOD_VARS])
    rows, stats = run(fake)
    assert stats.rejected == {reason: 1}
    vars_reqs = [r for r in fake.requests if PaperScripted.step(r) == "variables"]
    assert [r.draw for r in vars_reqs] == [0, 1]
    assert rows.shape == (20, 3)


def test_variables_give_up_with_a_clear_error():
    with pytest.raises(LLMOutputInvalid, match=r"step 'variables'.*schema_invalid': 3.*columns \['a', 'b', 'c'\]"):
        run(PaperScripted(variables=["{}"]))


@pytest.mark.parametrize("bad,reason", [
    (prog(op("change_by", "c", 1.0), op("output")), "change_by_before_init"),
    (prog(op("init"), op("set_to", "zz", 1.0), op("output")), "unknown_variable"),
    (prog(op("init"), op("set_to", "c", 1.0)), "no_output"),
    ('{"op_seq": [{"op": {"name": "jump"}}]}', "schema_invalid"),
])
def test_failed_rounds_are_counted_and_the_next_round_asked(bad, reason):
    fake = PaperScripted(program=[bad, counting_program(12), counting_program(12)])
    rows, stats = run(fake)
    assert stats.rejected == {f"program:{reason}": 1}
    assert stats.rounds == 2 and stats.rounds_asked == 3 and rows.shape == (20, 3)


def test_rounds_in_a_row_failing_raise():
    bad = prog(op("change_by", "c", 1.0), op("output"))
    with pytest.raises(LLMOutputInvalid, match="3 rounds in a row"):
        run(PaperScripted(program=[bad]))


def test_round_budget():
    # 1 row per program, 20 rows needed: budget = max_rounds 5 + ceil(20 / 10) = 7 rounds
    with pytest.raises(LLMOutputInvalid, match="only 7 of 20 rows after 7 rounds"):
        run(PaperScripted(program=[counting_program(1)]))


def test_zero_shot_shows_the_header_only():
    fake = PaperScripted()
    rows, stats = run(fake, X_min=np.empty((0, 3)))
    assert stats.zero_shot and stats.sample_sizes == [0, 0]
    assert fake.requests[0].messages[1] == ("user", "a,b,c,NEW_LABEL\n")
    assert "```\na,b,c,NEW_LABEL\n\n```" in fake.requests[2].messages[0][1]
    assert rows.shape == (20, 3)


def test_needs_the_training_part_and_a_paper_prompt_set():
    with pytest.raises(ValueError, match="X_train"):
        run(PaperScripted(), X_train=None)
    with pytest.raises(PromptSetError, match="answer format 'guarded'"):
        run(PaperScripted(), prompt_set="compact")
