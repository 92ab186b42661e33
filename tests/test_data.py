"""The synthetic data set S (Algorithm 1) and the difficulty coefficient (eq. 2)."""

import math

import numpy as np
import pytest
import torch

from wtmlib.config import ConfigError
from wtmlib.data import SyntheticConfig, difficulty, make_synthetic, pattern_class

SMALL = dict(n_dim=60, l_pat=3, n_pat=6, n_train=600, n_test=120)


def small(**changes) -> SyntheticConfig:
    return SyntheticConfig(**{**SMALL, **changes})


@pytest.fixture(scope="module")
def data():
    return make_synthetic(small())


ARRAYS = ("x_train", "y_train", "p_train", "x_test", "y_test", "p_test", "masks", "centroids")


# --------------------------------------------------------------------------- generator

def test_shapes_and_dtypes(data):
    c = data.config
    assert data.x_train.shape == (c.n_train, c.n_dim) and data.x_train.dtype == torch.float32
    assert data.x_test.shape == (c.n_test, c.n_dim) and data.x_test.dtype == torch.float32
    for t, n in ((data.y_train, c.n_train), (data.p_train, c.n_train),
                 (data.y_test, c.n_test), (data.p_test, c.n_test)):
        assert t.shape == (n,) and t.dtype == torch.int64
    assert data.masks.shape == (c.n_pat, c.n_dim) and data.masks.dtype == torch.bool
    assert data.n_pat == c.n_pat
    assert set(data.p_train.tolist()) == set(range(c.n_pat))
    assert set(data.y_train.tolist()) == {0, 1}


def test_centroids_are_delta_on_the_masks():
    d = make_synthetic(small(delta=2.5))
    assert torch.equal(d.centroids, 2.5 * d.masks.float())


def test_unit_l2_norm(data):
    for x in (data.x_train, data.x_test):
        torch.testing.assert_close(x.norm(dim=1), torch.ones(len(x)), rtol=0, atol=1e-5)


def test_masks_disjoint_with_l_pat_components(data):
    c = data.config
    assert data.masks.sum(1).tolist() == [c.l_pat] * c.n_pat
    assert data.masks.sum(0).max().item() == 1  # no component shared by two patterns
    assert data.masks.sum().item() == c.n_pat * c.l_pat


def test_overlap_allowed_when_masks_cannot_be_disjoint():
    cfg = dict(n_dim=10, l_pat=4, n_pat=6, n_train=60, n_test=60)  # 24 > 10 components
    with pytest.raises(ConfigError, match="overlap"):
        SyntheticConfig(**cfg)
    d = make_synthetic(SyntheticConfig(**cfg, overlap=True))
    assert d.masks.sum(1).tolist() == [4] * 6
    assert d.masks.sum(0).max().item() > 1  # pigeonhole: some component is shared
    torch.testing.assert_close(d.x_train.norm(dim=1), torch.ones(60), rtol=0, atol=1e-5)


@pytest.mark.parametrize("n_pat", range(2, 62, 2))
def test_class_rule_matches_algorithm_1(n_pat):
    # Algorithm 1: C = floor(p / (n_pat/2 + 1)) with 1-based pattern labels p
    paper = [math.floor(p / (n_pat / 2 + 1)) for p in range(1, n_pat + 1)]
    halves = [0] * (n_pat // 2) + [1] * (n_pat // 2)
    assert paper == halves
    assert pattern_class(n_pat).tolist() == paper


def test_labels_follow_patterns(data):
    cls = data.pattern_class()
    assert torch.equal(data.y_train, cls[data.p_train])
    assert torch.equal(data.y_test, cls[data.p_test])


def test_balanced_counts(data):
    c = data.config
    for p, y, n in ((data.p_train, data.y_train, c.n_train), (data.p_test, data.y_test, c.n_test)):
        assert torch.bincount(p, minlength=c.n_pat).tolist() == [n // c.n_pat] * c.n_pat
        assert torch.bincount(y, minlength=2).tolist() == [n // 2, n // 2]


def test_samples_are_shuffled(data):
    # patterns are not in blocks: a random order changes pattern often
    changes = (data.p_train[1:] != data.p_train[:-1]).float().mean().item()
    assert changes > 0.5


@pytest.mark.parametrize("weights", [(1, 2, 3, 4, 5, 6), (0, 1, 0, 2.5, 7, 0.5)])
def test_pattern_weights_give_proportional_counts(weights):
    cfg = small(pattern_weights=weights, n_train=601, n_test=97)
    d = make_synthetic(cfg)
    w = np.asarray(weights, dtype=float)
    for p, n in ((d.p_train, 601), (d.p_test, 97)):
        counts = np.bincount(p.numpy(), minlength=6)
        exact = w / w.sum() * n
        assert counts.sum() == n
        assert np.all(np.abs(counts - exact) < 1)  # floor or ceil of the exact share
        assert np.all(counts[w == 0] == 0)
    assert torch.equal(d.y_train, pattern_class(6)[d.p_train])


def test_pattern_weights_accept_a_list_and_store_a_tuple():
    cfg = small(pattern_weights=[1, 1, 1, 1, 1, 2], n_train=70)
    assert cfg.pattern_weights == (1.0, 1.0, 1.0, 1.0, 1.0, 2.0)
    counts = np.bincount(make_synthetic(cfg).p_train.numpy(), minlength=6)
    assert counts.tolist() == [10, 10, 10, 10, 10, 20]


def test_deterministic_in_seed():
    a, b = make_synthetic(small(seed=3)), make_synthetic(small(seed=3))
    for name in ARRAYS:
        assert torch.equal(getattr(a, name), getattr(b, name)), name
    c = make_synthetic(small(seed=4))
    assert not torch.equal(a.x_train, c.x_train)
    assert not torch.equal(a.x_test, c.x_test)
    assert not torch.equal(a.masks, c.masks)


def test_sigma_test_zero_gives_the_normalised_centroids(data):
    d = make_synthetic(small(sigma_test=0.0))
    c = d.centroids
    unit = c / c.norm(dim=1, keepdim=True)
    torch.testing.assert_close(d.x_test, unit[d.p_test], rtol=0, atol=1e-7)
    # the training split keeps its noise: no training sample sits on its centroid
    dist = (d.x_train - unit[d.p_train]).norm(dim=1)
    assert dist.min().item() > 0.1
    # the masks and the training split do not depend on sigma_test
    assert torch.equal(d.masks, data.masks)
    for name in ("x_train", "y_train", "p_train", "p_test", "y_test"):
        assert torch.equal(getattr(d, name), getattr(data, name)), name
    assert not torch.equal(d.x_test, data.x_test)


def test_test_split_and_masks_do_not_depend_on_the_training_split(data):
    d = make_synthetic(small(n_train=1200, sigma_train=0.1))
    for name in ("masks", "x_test", "y_test", "p_test"):
        assert torch.equal(getattr(d, name), getattr(data, name)), name


def _noise_estimates(x, masks, p, delta):
    """Per-sample estimate of sigma from a normalised sample x = u / |u| with
    u = delta * mask + sigma * z: the scale |u| cancels in
    delta * rms(off-mask x) / mean(on-mask x)."""
    on = masks[p]  # [n, n_dim]
    mean_on = (x * on).sum(1) / on.sum(1)
    rms_off = ((x**2 * ~on).sum(1) / (~on).sum(1)).sqrt()
    mean_off = (x * ~on).sum(1) / (~on).sum(1)
    return delta * rms_off / mean_on, mean_off / rms_off


@pytest.mark.parametrize("sigma_train,sigma_test", [(0.1, 1.0), (0.4, 0.4), (1.5, 0.25)])
def test_noise_has_standard_deviation_sigma(sigma_train, sigma_test):
    # long masks (200 components) make mean(on-mask x) a precise estimate of delta / |u|
    cfg = SyntheticConfig(n_dim=4000, l_pat=200, n_pat=2, n_train=400, n_test=200,
                          delta=1.0, sigma_train=sigma_train, sigma_test=sigma_test)
    d = make_synthetic(cfg)
    for x, p, sigma in ((d.x_train, d.p_train, sigma_train), (d.x_test, d.p_test, sigma_test)):
        est, centred = _noise_estimates(x.double(), d.masks, p, cfg.delta)
        assert est.mean().item() == pytest.approx(sigma, rel=0.05)
        assert centred.abs().mean().item() < 0.05  # zero-mean noise off the mask


# --------------------------------------------------------------------------- difficulty

def _slow_difficulty(x, y, centroids, classes):
    """Equation (2), one sample and one centroid at a time."""
    out = []
    for i in range(len(x)):
        other = own = 0.0
        for k in range(len(centroids)):
            corr = float(sum(float(a) * float(b) for a, b in zip(x[i], centroids[k])))
            if int(classes[k]) == int(y[i]):
                own += corr
            else:
                other += corr
        out.append(other - own)
    return torch.tensor(out, dtype=torch.float64)


def test_difficulty_hand_made_cases():
    c = torch.eye(4)  # patterns 0, 1 -> class 0; patterns 2, 3 -> class 1
    x = torch.stack([c[0], c[1], c[3], c[2], c[0], torch.zeros(4),
                     (c[0] + c[2]) / 2**0.5, (c[0] + c[1]) / 2**0.5])
    y = torch.tensor([0, 0, 1, 0, 1, 0, 0, 1])
    want = torch.tensor([-1.0, -1.0, -1.0, 1.0, 1.0, 0.0, 0.0, 2**0.5])
    torch.testing.assert_close(difficulty(x, y, c), want)
    # delta scales the centroids and hence d
    torch.testing.assert_close(difficulty(x, y, 3.0 * c), 3.0 * want)


def test_difficulty_with_explicit_classes():
    c = torch.eye(4)
    classes = torch.tensor([1, 0, 1, 0])
    x = torch.stack([c[0], c[1], c[0]])
    y = torch.tensor([1, 1, 0])
    torch.testing.assert_close(difficulty(x, y, c, classes), torch.tensor([-1.0, 1.0, 1.0]))


def test_difficulty_matches_a_slow_loop(data):
    g = torch.Generator().manual_seed(0)
    x = data.x_test[:40]
    c = data.centroids
    y = data.y_test[:40]
    want = _slow_difficulty(x, y, c, pattern_class(data.n_pat))
    torch.testing.assert_close(difficulty(x, y, c).double(), want, rtol=1e-5, atol=1e-6)
    # random centroids, labels and class assignment
    x = torch.randn(30, 7, generator=g)
    c = torch.rand(6, 7, generator=g)
    y = torch.randint(0, 2, (30,), generator=g)
    classes = torch.tensor([1, 0, 0, 1, 1, 0])
    want = _slow_difficulty(x, y, c, classes)
    torch.testing.assert_close(difficulty(x, y, c, classes).double(), want, rtol=1e-5, atol=1e-5)


def test_difficult_samples_exist_and_are_rarer_with_less_noise():
    def share(sigma):
        d = make_synthetic(small(sigma_train=sigma))
        return (difficulty(d.x_train, d.y_train, d.centroids) > 0).float().mean().item()
    noisy, clean = share(0.4), share(0.05)
    assert 0 < noisy < 0.5
    assert clean < noisy
