"""Measures of wtmlib.analysis.measures on constructed cases with known answers."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from wtmlib.analysis import measures
from wtmlib.data import SyntheticConfig, make_synthetic, pattern_class
from wtmlib.model import MLP
from wtmlib.analysis import selectivity
from wtmlib.analysis import signs
from wtmlib.analysis import stats

CLASSES6 = np.array([0, 0, 0, 1, 1, 1])


# --- rank statistics ----------------------------------------------------------------------


def test_rankdata_average_ties():
    assert stats.rankdata([3, 1, 3, 2]).tolist() == [3.5, 1.0, 3.5, 2.0]
    assert stats.rankdata([5, 5, 5]).tolist() == [2.0, 2.0, 2.0]


def test_spearman_hand_computed():
    assert stats.spearman([1, 2, 3], [3, 1, 2]) == pytest.approx(-0.5)
    assert stats.spearman([1, 2, 3, 4], [10, 20, 30, 1000]) == pytest.approx(1.0)
    # ties: ranks [1, 2.5, 2.5, 4] and [1, 3, 2, 4] -> 4.5 / sqrt(4.5 * 5)
    assert stats.spearman([1, 2, 2, 3], [1, 3, 2, 4]) == pytest.approx(4.5 / math.sqrt(22.5))


def test_spearman_undefined_is_nan():
    assert math.isnan(stats.spearman([1, 2, 3], [2, 2, 2]))  # constant side
    assert math.isnan(stats.spearman([1, np.nan, 3], [1, 2, np.nan]))  # < 2 finite pairs
    assert stats.spearman([1, np.nan, 2, 3], [1, 5, 2, 3]) == pytest.approx(1.0)  # NaN pair dropped


# --- Section 4.1 --------------------------------------------------------------------------


def _trajectories():
    """[3 epochs, 2 neurons, 6 patterns]. Neuron 0: class 0 rich get richer (changes
    -1, 2, 5 from means 1, 2, 3), class 1 all +2. Neuron 1: class 0 poor get richer."""
    m = np.zeros((3, 2, 6))
    m[0, 0] = [0.5, 0.4, 0.6, 1, 2, 3]
    m[1, 0] = [1, 2, 3, 1, 2, 3]
    m[2, 0] = [0, 4, 8, 3, 4, 5]
    m[1, 1] = [1, 2, 3, 0, 0, 0]
    m[2, 1] = [3, 3, 3, 0, 0, 0]
    return m


def test_wtm_rank_correlation():
    m = _trajectories()
    r0 = measures.wtm_rank_correlation(m, CLASSES6, np.array([0, 0]), early_epoch=1)
    assert r0 == pytest.approx([1.0, -1.0])
    r1 = measures.wtm_rank_correlation(m, CLASSES6, np.array([1, 1]), early_epoch=1)
    assert np.isnan(r1).all()  # all moved together (neuron 0) / constant (neuron 1)


def test_within_class_spread_and_growth():
    m = _trajectories()
    s = measures.within_class_spread(m, CLASSES6, np.array([0, 1]))
    assert s.shape == (3, 2)
    assert s[1, 0] == pytest.approx(math.sqrt(2 / 3))
    assert s[2, 0] == pytest.approx(4 * math.sqrt(2 / 3))
    g = measures.spread_growth(m, CLASSES6, np.array([0, 1]), early_epoch=1)
    assert g[0] == pytest.approx(4.0)
    assert np.isnan(g[1])  # zero early spread
    assert measures.spread_growth(m, CLASSES6, np.array([1, 0]), 1)[0] == pytest.approx(1.0)


def test_intraclass_exceeds_interclass():
    final = np.array([
        [0, 10, 5, 4, 6, 5],  # range 10 vs gap 0; strict: 10 > max(6, 6)
        [0, 1, 2, 10, 11, 12],  # range 2 vs gap 10
        [0, 10, 10, 5, 6, 11],  # range 10 vs gap 2/3; strict: 10 < 11
    ], dtype=float)
    assert measures.intraclass_exceeds_interclass(final, CLASSES6).tolist() == [True, False, True]
    assert measures.intraclass_exceeds_interclass(final, CLASSES6, strict=True).tolist() == \
        [True, False, False]


def test_active_class_and_sign_correlation():
    y = np.array([0, 0, 1, 1])
    mean_sign = np.array([[0.8, -1.0], [1.0, -0.6], [-1.0, 1.0], [-0.9, 0.2]])
    assert signs.active_class(mean_sign, y).tolist() == [1, 0]
    clean = np.where(y[:, None] == 1, -1.0, 1.0) * np.array([1.0, -1.0])
    assert signs.sign_class_correlation(clean, y) == pytest.approx([-1.0, 1.0])
    assert np.isnan(signs.sign_class_correlation(np.ones((4, 1)), y)[0])


# --- Section 4.2.4 ------------------------------------------------------------------------


def test_favoured_pattern():
    final = np.array([[1, 5, 2, 9, 0, 0], [3, 1, 2, 0, 7, 1]], dtype=float)
    assert measures.favoured_pattern(final, CLASSES6, np.array([0, 1])).tolist() == [1, 4]
    assert measures.favoured_pattern(final, CLASSES6, np.array([1, 0])).tolist() == [3, 0]


def test_favoured_spread():
    assert measures.favoured_spread([2, 2, 2, 2], 3) == (0.0, 1)
    e, d = measures.favoured_spread([0, 1, 2], 3)
    assert (e, d) == (pytest.approx(1.0), 3)
    assert measures.favoured_spread([0, 1, 2, 0, 1, 2], 3)[0] == pytest.approx(1.0)
    assert measures.favoured_spread([0, 2], 15)[0] == pytest.approx(1.0)  # fewer neurons than patterns
    assert measures.favoured_spread([0, 0, 0, 1], 2)[0] == pytest.approx(
        -(0.75 * math.log(0.75) + 0.25 * math.log(0.25)) / math.log(2))
    assert math.isnan(measures.favoured_spread([4], 3)[0])


def test_init_predicts_winner():
    m = np.zeros((2, 2, 6))
    m[0] = [[3, 1, 2, 0, 0, 0], [3, 1, 2, 0, 0, 0]]  # both neurons lead with pattern 0
    m[1] = [[9, 1, 5, 0, 0, 0], [1, 9, 0, 0, 0, 0]]  # neuron 1 changes winner
    out = measures.init_predicts_winner(m, CLASSES6, np.array([0, 0]))
    assert out["fraction"] == pytest.approx(0.5)
    assert out["chance"] == pytest.approx(1 / 3)
    assert out["spearman_init_final"] == pytest.approx((1.0 + -0.5) / 2)


def test_wtm_summary_constructed():
    m = _trajectories()  # neuron 0 active class 0; neuron 1 active class 1 (constant there)
    y = np.array([0, 0, 1, 1])
    mean_sign = np.array([[-1.0, 1.0], [-1.0, 1.0], [1.0, -1.0], [1.0, -1.0]])
    sums = np.stack([np.stack([np.full(2, (y == c).sum()), mean_sign[y == c].sum(0),
                               (mean_sign[y == c] ** 2).sum(0)]) for c in (0, 1)])
    s = measures.wtm_summary({"pattern_means_train": m, "sign_class_sums": sums}, early_epoch=1)
    assert s["n_neurons"] == 2
    assert s["active_class1_share"] == 0.5
    assert s["rank_corr_active_median"] == pytest.approx(1.0)
    assert s["rank_corr_active_defined"] == 1
    assert s["rank_corr_other_median"] == pytest.approx(-1.0)
    assert s["spread_growth_active_median"] == pytest.approx(4.0)
    assert s["sign_class_abs_corr_median"] == pytest.approx(1.0)
    assert s["favoured_candidates"] == 6


def test_wtm_summary_on_a_tiny_run():
    from wtmlib.config import ModelConfig, TrainConfig
    from wtmlib.training.loop import train

    data = make_synthetic(SyntheticConfig(n_dim=60, n_pat=6, n_train=600, n_test=60))
    out = train(data, ModelConfig(n_hidden=8),
                TrainConfig(epochs=5, lr_decay_epoch=-1))
    s = measures.wtm_summary(out.arrays, early_epoch=1)
    assert s["n_neurons"] == 8
    assert 0.0 <= s["init_winner_chance"] <= 1.0
    assert all(isinstance(v, (int, float)) for v in s.values())


# --- Section 4.2.2 ------------------------------------------------------------------------


def test_loss_share_crossing():
    assert measures.loss_share_crossing([0.1, 0.3, 0.5, 0.6], [0.9, 0.7, 0.5, 0.4]) == 2
    assert measures.loss_share_crossing([0.1, 0.2], [0.9, 0.8]) is None


def test_spread_onset():
    assert measures.spread_onset([1.0, 1.2, 1.6, 3.0]) == 2
    assert measures.spread_onset([1.0, 1.2, 1.6, 3.0], factor=2.0) == 3
    assert measures.spread_onset([1.0, 1.1, 1.0]) is None
    two_d = np.array([[1, 1, 1], [1, 2, 2], [3, 3, 3]], dtype=float)  # medians 1, 2, 3
    assert measures.spread_onset(two_d) == 1


# --- Section 5.3 --------------------------------------------------------------------------


def test_c1_subclass_selectivity():
    p = np.array([0, 0, 1, 1, 2, 2, 3, 3])
    y = pattern_class(4).numpy()[p]
    z = np.array([
        [1, 3, 0, 0, 0, 0, 0, 0],  # fires only for subclass 0: sel(0) = 2, sel(1) = -2
        [0, 1, 0, 1, 0, 1, 0, 1],  # same in every subclass: sel = 0
        [0, 0, 0, 0, 2, 4, 1, 1],  # sel(2) = (3 - 1) / (1 + 0) = 2, sel(3) = -2
    ], dtype=float).T
    # max over neurons per subclass: [2, 0, 2, 0] -> median 1
    assert selectivity.c1_subclass_selectivity(z, y, p) == pytest.approx(1.0)
    # only the subclass-0 neuron: maxima [2, -2, nan, nan] -> median 0
    assert selectivity.c1_subclass_selectivity(z[:, :1], y, p) == pytest.approx(0.0)


def test_c3_intraclass_selectivity():
    y = np.array([0, 0, 1, 1])
    z = np.array([
        [0, 0, 2, 2],  # class-separating: ratios 0, 0
        [0, 2, 1, 1],  # class 0 std 1 / total std sqrt(.5): ratios sqrt(2), 0
        [1, 1, 0, 4],  # class 1 std 2 / total std 1.5: ratios 0, 4/3
    ], dtype=float).T
    # k = round(3 / 2) = 2 (half up): class 0 mean(sqrt2, 0), class 1 mean(4/3, 0)
    expected = (math.sqrt(2) / 2 + 2 / 3) / 2
    assert selectivity.c3_intraclass_selectivity(z, y) == pytest.approx(expected)


# --- Sections 4.2.3 / 5.2 -----------------------------------------------------------------


def test_gradient_coherence_limits():
    g = np.tile([1.0, -2.0, 0.5], (7, 1))
    assert selectivity.gradient_coherence(g) == pytest.approx(1.0)
    assert selectivity.gradient_coherence(3 * np.eye(4)) == pytest.approx(0.25)
    assert math.isnan(selectivity.gradient_coherence(np.zeros((3, 2))))


def _autograd_per_sample(model, x, y):
    """Brute force: one backward per sample, flattened as (W1, W2, b2)."""
    rows = []
    for i in range(len(x)):
        model.zero_grad()
        F.binary_cross_entropy_with_logits(model(x[i:i + 1]), y[i:i + 1]).backward()
        rows.append(torch.cat([model.hidden.weight.grad.flatten(),
                               model.out.weight.grad.flatten(), model.out.bias.grad]))
    return torch.stack(rows).double()


@pytest.mark.parametrize("activation", ["relu", "linear"])
def test_coherence_mlp_matches_autograd(activation):
    torch.manual_seed(0)
    model = MLP(7, n_hidden=5, activation=activation)
    x = torch.randn(20, 7)
    y = (torch.rand(20) > 0.5).float()
    w = (model.hidden.weight, model.w2, model.out.bias)
    brute = _autograd_per_sample(model, x, y)
    closed = selectivity.mlp_per_sample_grads(*w, x, y, activation)
    assert torch.allclose(closed, brute, atol=1e-6)
    assert selectivity.coherence_mlp(*w, x, y, activation) == pytest.approx(
        selectivity.gradient_coherence(brute), rel=1e-5)
    mask = torch.arange(20) % 3 == 0
    assert selectivity.coherence_mlp(*w, x, y, activation, mask=mask) == pytest.approx(
        selectivity.gradient_coherence(brute[mask]), rel=1e-5)
    per_neuron = selectivity.coherence_per_neuron(*w, x, y, activation, mask=mask)
    g_w1 = brute[mask, :35].reshape(-1, 5, 7)
    expected = [selectivity.gradient_coherence(g_w1[:, j]) for j in range(5)]
    assert per_neuron == pytest.approx(expected, rel=1e-5, nan_ok=True)


def test_coherence_per_neuron_dead_neuron_is_nan():
    w1 = torch.tensor([[1.0, 0.0], [-1.0, -1.0]])
    x = torch.tensor([[1.0, 0.5], [2.0, 0.1]])  # neuron 1 never active
    out = selectivity.coherence_per_neuron(w1, torch.tensor([1.0, 1.0]), 0.0, x, torch.tensor([0.0, 1.0]))
    assert np.isfinite(out[0]) and np.isnan(out[1])


@pytest.mark.parametrize("activation", ["relu", "linear"])
@pytest.mark.parametrize("partition", [True, False])
def test_coherence_by_group_is_the_separate_measures(activation, partition):
    rng = np.random.default_rng(3)
    w = (rng.normal(size=(7, 5)), rng.normal(size=7), 0.3)
    x, y = rng.normal(size=(40, 5)), (rng.random(40) > 0.5).astype(float)
    hard = rng.random(40) > 0.7
    groups = {"regular": ~hard, "difficult": hard} if partition else {"some": hard}
    got = selectivity.coherence_by_group(*w, x, y, groups, activation)
    assert got["all"] == pytest.approx(selectivity.coherence_mlp(*w, x, y, activation), rel=1e-10)
    for name, mask in groups.items():
        assert got[name] == pytest.approx(
            selectivity.coherence_mlp(*w, x, y, activation, mask=mask), rel=1e-10)
    assert got["per-neuron median"] == pytest.approx(
        float(np.nanmedian(selectivity.coherence_per_neuron(*w, x, y, activation))), rel=1e-10)


def test_c1_from_moments_is_the_direct_definition():
    """c1 from per-pattern moments against the definition computed sample by sample."""
    rng = np.random.default_rng(5)
    p = rng.integers(0, 6, size=300)
    y = (p >= 3).astype(int)  # patterns 0-2: class 0, 3-5: class 1
    z = rng.normal(size=(300, 8)) + p[:, None] * rng.normal(size=8)
    z[:, 0] = 2.0  # a constant neuron: no selectivity
    best = []
    for s in np.unique(p):
        in_s = p == s
        rest = (y == y[in_s][0]) & ~in_s
        den = z[in_s].std(0) + z[rest].std(0)
        with np.errstate(divide="ignore", invalid="ignore"):
            sel = np.where(den > 0, (z[in_s].mean(0) - z[rest].mean(0)) / den, np.nan)
        best.append(np.nanmax(sel))
    assert selectivity.c1_subclass_selectivity(z, y, p) == pytest.approx(float(np.median(best)),
                                                                rel=1e-9)
    with pytest.raises(ValueError, match="one class"):
        selectivity.c1_subclass_selectivity(z, np.r_[1 - y[:1], y[1:]], p)
