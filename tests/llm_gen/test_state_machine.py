"""The state machine on hand-written programs: exact rows, jitter statistics, clipping, rejection."""

from __future__ import annotations

import numpy as np
import pytest

from lsh_bench.samplers.llm.state_machine import Op, ProgramError, Variable, run_program

START = np.array([[10.0, 2.5, 1.0, 0.0]])


def variables(dist="none", scale=0.0):
    return [
        Variable("n", "integer", 0, 20, dist, scale),
        Variable("x", "number", 0, 5, dist, scale),
        Variable("flag", "boolean", 0, 1, dist, scale),
        Variable("c", "categorical", 0, 2, dist, scale),
    ]


def rng(seed=0):
    return np.random.default_rng(seed)


def test_exact_rows_without_jitter():
    ops = [Op("output"), Op("change_by", "n", 3), Op("set_to", "x", 4.25), Op("output"),
           Op("set_to", "c", 2), Op("set_to", "flag", 0), Op("output"), Op("init"), Op("output")]
    rows = run_program(ops, variables(), START, rng())
    np.testing.assert_array_equal(rows, [[10, 2.5, 1, 0], [13, 4.25, 1, 0], [13, 4.25, 0, 2], [10, 2.5, 1, 0]])


def test_clipping_rounding_and_state_clip():
    ops = [Op("change_by", "n", 100), Op("output"), Op("change_by", "n", -3), Op("output"),
           Op("set_to", "x", -7), Op("set_to", "n", 3.6), Op("output")]
    rows = run_program(ops, variables(), START, rng())
    np.testing.assert_array_equal(rows[:, 0], [20, 17, 4])    # state clipped at 20, then 17; 3.6 -> 4
    assert rows[2, 1] == 0


@pytest.mark.parametrize("dist,check", [
    ("normal", lambda d: abs(d.mean()) < 0.03 and abs(d.std() - 0.5) < 0.03),
    ("uniform", lambda d: d.min() >= -0.5 and d.max() <= 0.5 and abs(d.std() - 0.5 / np.sqrt(3)) < 0.02),
    ("exponential", lambda d: abs(d.mean()) < 0.04 and abs(np.abs(d).mean() - 0.5) < 0.03),
    ("truncated normal", lambda d: d.min() >= -2.5 and d.max() <= 2.5 and abs(d.std() - 0.5) < 0.05),
])
def test_jitter_statistics(dist, check):
    v = [Variable("x", "number", -100, 100, dist, 0.5)]
    rows = run_program([Op("output")] * 4000, v, np.array([[0.0]]), rng(1))
    assert check(rows[:, 0])


def test_jitter_respects_bounds_and_types():
    v = variables("normal", 3.0)
    rows = run_program([Op("output")] * 500, v, START, rng(2))
    assert rows[:, 0].min() >= 0 and rows[:, 0].max() <= 20 and np.all(rows[:, 0] == np.round(rows[:, 0]))
    assert rows[:, 1].min() >= 0 and rows[:, 1].max() <= 5
    assert set(np.unique(rows[:, 2])) <= {0.0, 1.0}
    assert np.all(rows[:, 3] == 0)            # categoricals are never jittered
    assert len(np.unique(rows[:, 1])) > 100   # and numbers are


def test_seeded():
    v = variables("normal", 1.0)
    a = run_program([Op("output")] * 10, v, START, rng(5))
    b = run_program([Op("output")] * 10, v, START, rng(5))
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("op", [Op("set_to", "nope", 1), Op("change_by", "c", 1), Op("set_to", "x", float("nan")),
                                Op("jump", "x", 1)])  # type: ignore[arg-type]
def test_invalid_programs_rejected(op):
    with pytest.raises(ProgramError):
        run_program([op, Op("output")], variables(), START, rng())


def test_invalid_variable_rejected():
    with pytest.raises(ProgramError):
        Variable("x", "number", 5, 1)
    with pytest.raises(ProgramError):
        Variable("x", "number", 0, 1, "normal", float("inf"))
