"""Sections 4.2.3 and 4.2.4 measured: a pattern's share of a neuron's weight gradient
(checked against autograd), its rank correlation with the pattern's level, local
misclassification and the counterbalance gap, each on a case with a known answer,
including cases where the claim must fail."""

import numpy as np
import pytest
import torch

from wtmlib.analysis.measures import (counterbalance_gap, local_misclassification,
                                     pattern_gradient_shares, share_level_correlation)
from wtmlib.claims.registry import BY_ID, NOT, PARTLY, REPRODUCED
from wtmlib.model import MLP


@pytest.mark.parametrize("relu", [True, False])
def test_gradient_shares_equal_autograd(relu):
    g = torch.Generator().manual_seed(0)
    n, d, h, n_pat = 60, 7, 5, 4
    x, p = torch.randn(n, d, generator=g, dtype=torch.float64), torch.arange(n) % n_pat
    y = (p >= 2).double()
    model = MLP(d, h, "relu" if relu else "linear").double()
    norms = torch.zeros(h, n_pat, dtype=torch.float64)
    for k in range(n_pat):
        model.zero_grad()
        on = p == k
        torch.nn.functional.binary_cross_entropy_with_logits(
            model(x[on]), y[on], reduction="sum").backward()
        norms[:, k] = model.hidden.weight.grad.norm(dim=1)
    expected = (norms / norms.sum(1, keepdim=True)).numpy()
    got = pattern_gradient_shares(model.hidden.weight.detach(), model.w2.detach(),
                                  model.out.bias.detach(), x, y, p, n_pat, relu)
    np.testing.assert_allclose(got, expected, rtol=1e-10)
    np.testing.assert_allclose(got.sum(1), 1.0)


def test_relu_gate_orders_shares_by_level_and_linear_does_not():
    """One neuron, one class of four patterns along the neuron's weight at levels -1..2
    with noise: under ReLU a pattern activating the neuron more weighs more (rank
    correlation 1); without ReLU every sample counts and the level does not order the
    shares the same way."""
    rng = np.random.default_rng(0)
    w1 = np.array([[1.0, 0.0]])
    levels = np.array([-1.0, 0.0, 1.0, 2.0])
    p = np.repeat(np.arange(4), 500)
    x = np.stack([levels[p] + rng.normal(0, 1, len(p)), rng.normal(0, 1, len(p))], 1)
    y = np.ones(len(p))  # all of class 1; the neuron's active class
    means = np.array([[x[p == k] @ w1[0] for k in range(4)]]).mean(-1)
    act, classes = np.array([1]), np.ones(4, dtype=int)
    relu = share_level_correlation(means, pattern_gradient_shares(
        w1, [1.0], 0.0, x, y, p, 4, True), classes, act)
    linear = share_level_correlation(means, pattern_gradient_shares(
        w1, [1.0], 0.0, x, y, p, 4, False), classes, act)
    assert relu[0] == pytest.approx(1.0)
    assert linear[0] < 0.5  # |mean x| of the pattern, not its level, sets the linear share


def test_share_level_correlation_fails_when_shares_fall_with_level():
    means = np.array([[0.0, 1.0, 2.0, 3.0]])
    shares = np.array([[0.4, 0.3, 0.2, 0.1]])
    rho = share_level_correlation(means, shares, np.zeros(4, dtype=int), np.array([0]))
    assert rho[0] == pytest.approx(-1.0)
    assert BY_ID["S4-relu-proportional"].rule(rho[0], 0.0) == NOT
    assert BY_ID["S4-relu-proportional"].rule(0.9, 0.1) == REPRODUCED
    assert BY_ID["S4-relu-proportional"].rule(0.55, 0.4) == PARTLY  # not 0.3 above control


def test_local_misclassification_counts_own_class_neurons_off():
    z = np.array([[1.0, -1.0, 5.0, 0.0],     # class 0: own neurons 0, 1 -> one off
                  [-1.0, -2.0, 1.0, 1.0],    # class 0: both off
                  [3.0, 3.0, -1.0, 2.0]])    # class 1: own neurons 2, 3 -> one off
    ell = local_misclassification(z, np.array([0, 0, 1]), np.array([0, 0, 1, 1]))
    np.testing.assert_allclose(ell, [0.5, 1.0, 0.5])
    assert np.isnan(local_misclassification(z, np.array([0, 1, 1]), np.zeros(4, int))[1])


def test_counterbalance_gap_zero_when_all_right_negative_when_losses_become_errors():
    p = np.repeat(np.arange(8), 10)  # 8 patterns of 10 samples, lost more with the id
    ell = p / 7.0
    assert counterbalance_gap(ell, np.ones(80), p) == 0.0
    wrong_where_lost = p < 6  # the two most locally misclassified patterns are misclassified
    gap = counterbalance_gap(ell, wrong_where_lost, p)
    assert gap == pytest.approx(-100.0)  # top quarter (patterns 6, 7): 0 %; bottom: 100 %
    assert BY_ID["S4-counterbalance"].rule(gap) == NOT
    assert BY_ID["S4-counterbalance"].rule(-0.5) == REPRODUCED


def test_counterbalance_gap_by_pattern_ignores_which_samples_within_a_pattern_fail():
    """Within a pattern the samples most left off fail (noise towards the other class);
    every pattern has the same accuracy: no gap between patterns."""
    p = np.repeat(np.arange(4), 10)
    ell = np.tile(np.linspace(0, 1, 10), 4) + p * 0.01
    correct = np.tile(np.arange(10) < 8, 4)  # the two most left-off samples of each fail
    assert counterbalance_gap(ell, correct, p) == 0.0
