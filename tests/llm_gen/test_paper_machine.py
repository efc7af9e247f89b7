"""The paper's state machine on hand-written programs: exactly the paper's distributions and semantics.

``_PaperStateObject`` and ``_PAPER_MC`` below are the paper's
``mcutil/state_obj_ops.py`` and ``mcutil/dists.py`` (github doheonhan/LSH)
copied as they are, drawing from numpy's global RandomState as the paper
did. ``paper_machine`` fed a ``RandomState`` with the same seed must give
the same values, value for value; with the harness's seeded ``Generator``
the same distributions (moments, KS).
"""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest
import scipy.stats as stats

from lsh_bench.samplers.llm.paper_machine import (
    PaperProgramError,
    PaperStateMachine,
    degenerate_reason,
    run_program,
)
from lsh_bench.samplers.llm.paper_schemas import StateObjectOpSequence, VariableSpec, VariableSpecs


# ---------------------------------------------------------------- the paper's code, for comparison only

def _exp_dist_mc(prev, dparams):
    return prev + np.random.exponential(dparams.scale)


def _normal_dist_mc(prev, dparams):
    r = np.random.normal(loc=prev, scale=dparams.scale)
    return r


def _tnormal_dict_mc(prev, dparams):
    dobj = stats.truncnorm(
        (dparams.vmin - prev) / dparams.scale,
        (dparams.vmax - prev) / dparams.scale,
        loc=prev,
        scale=dparams.scale,
    )
    r = float(dobj.rvs(1).squeeze())
    return r


def _none_dist_mc(prev, dparams):
    return prev


def _uniform_dist_mc(prev, dparams):
    return np.random.uniform(dparams.vmin, dparams.vmax)


_PAPER_MC = {"exponential": _exp_dist_mc, "normal": _normal_dist_mc, "truncated normal": _tnormal_dict_mc,
             "uniform": _uniform_dist_mc, "none": _none_dist_mc}


class _PaperStateObject:
    def __init__(self, vars):
        self.state = {}
        self._OP_FN_MAP = {"init": self._init_op, "output": self._output_op,
                           "change_by": self._change_by_op, "set_to": self._set_to_op}
        self._vars = vars
        self._var_dict = {v.name: v for v in vars.variables}

    def _init_op(self, args, out):
        self.state = {}
        for v in self._vars.variables:
            if v.units == "true or false":
                self.state[v.name] = False
            else:
                self.state[v.name] = 0
        return out

    def _change_by_op(self, args, out):
        self.state[args.var_name] += args.value
        return copy.copy(out)

    def _set_to_op(self, args, out):
        self.state[args.var_name] = args.value
        return copy.copy(out)

    def _output_op(self, args, out):
        out_dct = copy.copy(self.state)
        for var in out_dct:
            var_desc = self._var_dict[var]
            dist_fn = _PAPER_MC[var_desc.dist.name.value]
            dist_params = var_desc.dist
            out_dct[var] = dist_fn(out_dct[var], dist_params)
        out.append(copy.copy(out_dct))
        return copy.copy(out)

    def execute_seq(self, seq):
        out = []
        for s in seq.op_seq:
            s = s.op
            op_fn = self._OP_FN_MAP[s.name]
            out = op_fn(s, out)
        return out


# ---------------------------------------------------------------- helpers

def spec(name, dist="none", scale=1.0, vmin=0.0, vmax=1.0, units="any number"):
    return {"name": name, "units": units, "description": f"the {name}",
            "dist": {"name": dist, "scale": scale, "vmin": vmin, "vmax": vmax}}


def specs(*items) -> VariableSpecs:
    return VariableSpecs.model_validate({"variables": list(items)})


def program(*ops) -> StateObjectOpSequence:
    """ops: "init", "output", ("set_to", var, value), ("change_by", var, value)."""
    seq = []
    for op in ops:
        if isinstance(op, str):
            seq.append({"op": {"name": op}})
        else:
            seq.append({"op": {"name": op[0], "var_name": op[1], "value": op[2]}})
    return StateObjectOpSequence.model_validate_json(json.dumps({"op_seq": seq}))


def paper_run(prog, variables, seed):
    np.random.seed(seed)
    return _PaperStateObject(variables).execute_seq(prog)


ALL_FIVE = specs(
    spec("n", "normal", 2.0, units="integer"),
    spec("e", "exponential", 0.5),
    spec("u", "uniform", 9.0, -3.0, 7.0),
    spec("t", "truncated normal", 1.5, -1.0, 4.0),
    spec("z", "none", units="true or false"),
)


# ---------------------------------------------------------------- value for value against the paper's code

@pytest.mark.parametrize("seed", [0, 1, 12345])
def test_same_draws_as_the_papers_code(seed):
    prog = program("init", "output", ("set_to", "n", 10), ("change_by", "e", -2.5), "output",
                   ("set_to", "t", 30.0), ("change_by", "u", 100), "output", "init", ("change_by", "n", 3),
                   "output", ("set_to", "z", 1), "output")
    expected = paper_run(prog, ALL_FIVE, seed)
    got = run_program(prog, ALL_FIVE, np.random.RandomState(seed))
    assert len(got) == len(expected) == 5
    for g, e in zip(got, expected):
        assert list(g) == list(e)                       # same columns, same order
        for k in e:
            assert g[k] == e[k], (k, g[k], e[k])       # bit for bit
            assert type(g[k]) is type(e[k]) or float(g[k]) == float(e[k])


def test_uniform_low_above_high_as_the_paper():
    """The paper's np.random.uniform(vmin, vmax) accepts vmin > vmax (Generator.uniform would raise)."""
    v = specs(spec("u", "uniform", 1.0, 5.0, 1.0))
    prog = program("init", *["output"] * 50)
    expected = paper_run(prog, v, 3)
    got = run_program(prog, v, np.random.RandomState(3))
    assert [r["u"] for r in got] == [r["u"] for r in expected]
    rows = run_program(prog, v, np.random.default_rng(3))
    assert all(1.0 < r["u"] <= 5.0 for r in rows)


# ---------------------------------------------------------------- semantics

def test_init_is_zeros_and_false_not_a_real_row():
    v = specs(spec("a", units="integer"), spec("b", units="true or false"), spec("c"))
    rows = run_program(program("init", "output"), v, np.random.default_rng(0))
    assert rows == [{"a": 0, "b": False, "c": 0}]
    assert rows[0]["b"] is False


def test_set_to_change_by_and_no_clipping_no_rounding():
    v = specs(spec("a", units="integer", vmin=0, vmax=1), spec("c", vmin=0, vmax=1))
    rows = run_program(program("init", ("set_to", "a", 100.7), ("change_by", "c", -5.25), "output",
                               ("change_by", "a", 0.1), "output"), v, np.random.default_rng(0))
    assert rows == [{"a": 100.7, "c": -5.25}, {"a": pytest.approx(100.8), "c": -5.25}]


def test_set_to_before_init_gives_partial_rows():
    """The paper's state is {} before init: an output then holds only what set_to put there (NaN columns)."""
    v = specs(spec("a"), spec("b"))
    rows = run_program(program(("set_to", "b", 2.0), "output"), v, np.random.default_rng(0))
    assert rows == [{"b": 2.0}]


def test_each_round_starts_empty():
    v = specs(spec("a"))
    m = PaperStateMachine(v, np.random.default_rng(0))
    m.run(program("init", ("set_to", "a", 4.0)))
    with pytest.raises(PaperProgramError):  # a fresh machine (the paper's one per round) has state {}
        run_program(program(("change_by", "a", 1.0), "output"), v, np.random.default_rng(0))


@pytest.mark.parametrize("prog,reason,paper_error", [
    (program(("change_by", "a", 1.0), "output"), "change_by_before_init", KeyError),
    (program("init", ("change_by", "nope", 1.0), "output"), "unknown_variable", KeyError),
    (program("init", ("set_to", "nope", 1.0), "output"), "unknown_variable", KeyError),
])
def test_errors_where_the_paper_raised(prog, reason, paper_error):
    v = specs(spec("a"))
    with pytest.raises(paper_error):
        paper_run(prog, v, 0)
    with pytest.raises(PaperProgramError) as info:
        run_program(prog, v, np.random.default_rng(0))
    assert info.value.reason == reason


def test_unknown_set_to_without_output_is_no_error():
    v = specs(spec("a"))
    prog = program("init", ("set_to", "nope", 1.0), ("change_by", "nope", 1.0))
    assert paper_run(prog, v, 0) == []
    assert run_program(prog, v, np.random.default_rng(0)) == []


@pytest.mark.parametrize("bad,paper_error", [
    (spec("a", "truncated normal", 0.0, 0.0, 1.0), ZeroDivisionError),
    (spec("a", "truncated normal", 1.0, 2.0, 1.0), ValueError),
    (spec("a", "truncated normal", 1.0, 1.0, 1.0), ValueError),
    (spec("a", "truncated normal", -1.0, 0.0, 1.0), ValueError),
    (spec("a", "normal", -1.0), ValueError),
    (spec("a", "exponential", -0.5), ValueError),
    (spec("a", "uniform", 1.0, -1e308, 1e308), OverflowError),
])
def test_degenerate_distributions(bad, paper_error):
    v = specs(bad)
    prog = program("init", "output")
    with pytest.raises(paper_error):
        paper_run(prog, v, 0)
    with pytest.raises(PaperProgramError) as info:
        run_program(prog, v, np.random.default_rng(0))
    assert info.value.reason == "degenerate_distribution"
    assert degenerate_reason(VariableSpec.model_validate(bad)) is not None


@pytest.mark.parametrize("ok", [
    spec("a", "normal", 0.0), spec("a", "exponential", 0.0), spec("a", "uniform", 0.0, 3.0, 3.0),
    spec("a", "truncated normal", 0.1, -5.0, 5.0), spec("a", "none", -7.0, 5.0, -5.0),
])
def test_valid_distributions_are_not_degenerate(ok):
    assert degenerate_reason(VariableSpec.model_validate(ok)) is None
    paper_run(program("init", "output"), specs(ok), 0)  # the paper's code runs it


# ---------------------------------------------------------------- distributions (harness Generator)

def draws(dist, scale, vmin, vmax, start, n=4000, seed=7):
    v = specs(spec("x", dist, scale, vmin, vmax))
    rows = run_program(program("init", ("set_to", "x", start), *["output"] * n), v, np.random.default_rng(seed))
    return np.array([r["x"] for r in rows], dtype=float)


def test_normal_around_the_value():
    d = draws("normal", 2.0, 0.0, 1.0, 10.0)
    assert abs(d.mean() - 10.0) < 0.1 and abs(d.std() - 2.0) < 0.1
    assert d.min() < 0.0 or d.max() > 1.0   # vmin/vmax are not used: nothing is clipped


def test_exponential_is_one_sided():
    d = draws("exponential", 0.5, 0.0, 1.0, 10.0)
    assert d.min() >= 10.0
    assert abs(d.mean() - 10.5) < 0.03
    assert stats.kstest(d - 10.0, stats.expon(scale=0.5).cdf).pvalue > 0.01


def test_uniform_ignores_the_value():
    d = draws("uniform", 99.0, -2.0, 3.0, 1000.0)
    assert d.min() >= -2.0 and d.max() < 3.0
    assert abs(d.mean() - 0.5) < 0.1
    assert stats.kstest(d, stats.uniform(loc=-2.0, scale=5.0).cdf).pvalue > 0.01


@pytest.mark.parametrize("start,vmin,vmax,scale", [(0.0, -1.0, 2.0, 1.0), (5.0, 0.0, 1.0, 2.0), (0.0, 3.0, 4.0, 0.5)])
def test_truncated_normal_within_bounds_around_the_value(start, vmin, vmax, scale):
    """scipy's truncnorm((vmin - value)/scale, (vmax - value)/scale, loc=value, scale), also when the
    value lies outside [vmin, vmax] (init 0 with vmin 3)."""
    d = draws("truncated normal", scale, vmin, vmax, start, n=1500)
    assert d.min() >= vmin and d.max() <= vmax
    ref = stats.truncnorm((vmin - start) / scale, (vmax - start) / scale, loc=start, scale=scale)
    assert abs(d.mean() - ref.mean()) < 4 * ref.std() / np.sqrt(len(d))
    assert abs(d.var() - ref.var()) < 0.15 * ref.var()
    assert stats.kstest(d, ref.cdf).pvalue > 0.01


def test_none_keeps_the_value():
    assert set(draws("none", 5.0, 0.0, 1.0, 42.5, n=20)) == {42.5}


def test_seeded_generator_repeats():
    prog = program("init", *["output"] * 20)
    a = run_program(prog, ALL_FIVE, np.random.default_rng(11))
    b = run_program(prog, ALL_FIVE, np.random.default_rng(11))
    c = run_program(prog, ALL_FIVE, np.random.default_rng(12))
    assert a == b and a != c
