"""The LS ratio rule: LS scored above r0 only (the paper's adj_strategy), r0 back with score_r0, seed steps."""

from __future__ import annotations

import pytest

from lsh_bench.samplers.ls_ratios import ls_ratios

STRATEGY = [0.2, 0.4, 0.6, 0.8, 1.0]


def test_scored_above_r0_only_by_default():
    r = ls_ratios(STRATEGY)
    assert r.seed_ratio == 0.2 and r.scored == (0.4, 0.6, 0.8, 1.0)
    assert list(r.skipped) == [0.2] and "score_r0" in r.skipped[0.2]


def test_score_r0_restores_it():
    r = ls_ratios([1.0, 0.6, 0.8], score_r0=True)
    assert r.seed_ratio == 0.6 and r.scored == (0.6, 0.8, 1.0) and r.skipped == {}


@pytest.mark.parametrize("applicable,scored", [([0.8, 1.0], (1.0,)), ([1.0], ()), ([], ())])
def test_few_applicable_ratios(applicable, scored):
    """r0 = 0.8 leaves LS ratio 1.0 alone (5 of the paper's datasets); r0 = 1.0 leaves nothing."""
    assert ls_ratios(applicable).scored == scored


@pytest.mark.parametrize("q", [0.0, 0.05, 0.19, 0.25, 0.39, 0.5, 0.7, 0.85])
def test_same_as_the_papers_adj_strategy(q):
    """The paper: ind = int(q // 0.2); seeds to Strategy[ind]; LS at Strategy[ind + 1:]."""
    ind = int(q // 0.2)
    applicable = [r for r in STRATEGY if r > q]
    r = ls_ratios(applicable)
    assert r.seed_ratio == STRATEGY[ind] and list(r.scored) == STRATEGY[ind + 1:]


@pytest.mark.parametrize("a,seed,scored", [(0, 0.2, (0.4, 0.6, 0.8, 1.0)), (1, 0.4, (0.6, 0.8, 1.0)),
                                           (2, 0.6, (0.8, 1.0)), (3, 0.8, (1.0,))])
def test_seed_steps_s1_to_s4(a, seed, scored):
    """Seeds up to Strategy[ind + a], SMOTE (and scoring) from Strategy[ind + a + 1]."""
    r = ls_ratios(STRATEGY, seed_step=a)
    assert r.seed_ratio == seed and r.scored == scored
    assert all(x in r.skipped for x in STRATEGY if x <= seed)


def test_seed_step_beyond_the_ratios():
    r = ls_ratios([0.8, 1.0], seed_step=1)
    assert r.seed_ratio == 1.0 and r.scored == ()        # the paper's "S1: nothing" datasets
    r = ls_ratios([0.8, 1.0], seed_step=2)
    assert r.seed_ratio is None and r.scored == () and set(r.skipped) == {0.8, 1.0}


def test_bad_input():
    with pytest.raises(ValueError, match="repeat"):
        ls_ratios([0.2, 0.2])
    with pytest.raises(ValueError, match="seed_step"):
        ls_ratios(STRATEGY, seed_step=-1)
