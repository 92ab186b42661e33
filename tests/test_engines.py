"""The fast engine records what the reference engine records, regime by regime.

The reference engine is equation (1) as ``MLP.forward``, autograd, torch optimizers and
signals read at the hook points; the fast engine writes every pass out by hand and takes
the signals from closed forms. On small configurations both must give the same arrays
to float rounding (the integer counts exactly), the same metrics and the same stopping.
"""

from dataclasses import replace

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from wtmlib.config import ConfigError
from wtmlib.config import Execution, ModelConfig, TrainConfig
from wtmlib.data import SyntheticConfig, make_synthetic
from wtmlib.training.loop import train, train_models
from wtmlib.analysis import signs
from wtmlib.data import difficulty
from wtmlib.model import build_model
from wtmlib.training.fast.record import FastRecorder, group_grads

DATA = SyntheticConfig(n_dim=40, l_pat=2, n_pat=6, n_train=300, n_test=60)
FAST = Execution(device="cpu", progress=False, engine="fast")
REFERENCE = replace(FAST, engine="reference")
H = ModelConfig(n_hidden=12)
REGIMES = {
    "layca full batch, SGD output layer": (H, TrainConfig(
        epochs=6, lr_decay_epoch=4, snapshots=(0, 3), output_layer="sgd", output_lr=1.0)),
    "layca full batch, frozen biases": (H, TrainConfig(epochs=5)),
    "layca full batch, SGD output layer, norm fixed": (H, TrainConfig(
        epochs=6, lr_decay_epoch=4, output_layer="sgd", output_lr=1.0, output_norm="fixed")),
    "layca mini-batch, SGD output layer, norm fixed": (H, TrainConfig(
        epochs=3, batch_size=100, output_layer="sgd", output_lr=1.0, biases="sgd",
        output_norm="fixed")),
    "sgd until fit": (H, TrainConfig.section3(epochs=12, batch_size=64)),
    "linear, layca": (ModelConfig(n_hidden=12, activation="linear"), TrainConfig(epochs=5)),
    "linear, sgd": (ModelConfig(n_hidden=12, activation="linear"),
                    TrainConfig.section3(epochs=3, batch_size=64, until_fit=False)),
    "batch norm, layca mini-batch": (ModelConfig(n_hidden=12, batchnorm=True),
                                     TrainConfig(epochs=4, batch_size=100, biases="sgd")),
    "batch norm, layca full batch": (ModelConfig(n_hidden=12, batchnorm=True),
                                     TrainConfig(epochs=4)),
    "batch norm, sgd": (ModelConfig(n_hidden=12, batchnorm=True),
                        TrainConfig.section3(epochs=3, batch_size=64, until_fit=False)),
    "no probe": (H, TrainConfig(epochs=3, probe=False)),
    "dL/dz signs, layca full batch": (H, TrainConfig(epochs=5, output_layer="sgd",
                                                     output_lr=1.0, keep_dz_sign=True)),
    "dL/dz signs, sgd mini-batch": (H, TrainConfig.section3(epochs=3, batch_size=64,
                                                            keep_dz_sign=True)),
    "dL/dz signs, linear": (ModelConfig(n_hidden=12, activation="linear"),
                            TrainConfig(epochs=3, keep_dz_sign=True)),
    "gradient shares, layca full batch": (H, TrainConfig(epochs=5, output_layer="sgd",
                                                         output_lr=1.0, keep_grad_shares=True)),
    "gradient shares, linear": (ModelConfig(n_hidden=12, activation="linear"),
                                TrainConfig(epochs=3, keep_grad_shares=True)),
}
COUNTS = ("sign_total", "sign_count", "final_neurons", "dz_sign_total")  # integers: equal exactly


def assert_same_record(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for name in a:
        if name in COUNTS:
            np.testing.assert_array_equal(a[name], b[name], err_msg=name)
        else:
            np.testing.assert_allclose(a[name], b[name], rtol=1e-4, atol=1e-5, err_msg=name)


@pytest.fixture(scope="module")
def data():
    return make_synthetic(DATA)


@pytest.mark.parametrize("regime", REGIMES)
def test_fast_engine_records_what_the_reference_records(data, regime):
    model_cfg, cfg = REGIMES[regime]
    fast = train(data, model_cfg, cfg, FAST)
    ref = train(data, model_cfg, cfg, REFERENCE)
    assert_same_record(fast.arrays, ref.arrays)
    for key in ("epochs_run", "steps", "train_acc", "test_acc", "fitted", "hit_max_epochs"):
        assert fast.metrics[key] == ref.metrics[key], key
    assert (fast.metrics["engine"], ref.metrics["engine"]) == ("fast", "reference")
    # the recorded signals are not trivial: both signs occur, the means move
    mean_signs = signs.mean_sign(fast.arrays)
    assert (mean_signs > 0).any() and (mean_signs < 0).any()
    means = fast.arrays["pattern_means_train"]
    assert not np.allclose(means[0], means[-1])


def test_until_fit_stops_both_engines_at_the_same_epoch():
    data = make_synthetic(replace(DATA, sigma_train=0.1))
    cfg = TrainConfig.section3(epochs=40, batch_size=64)
    fast, ref = (train(data, H, cfg, e) for e in (FAST, REFERENCE))
    assert fast.metrics["fitted"] and fast.metrics["epochs_run"] < cfg.epochs
    assert fast.metrics["epochs_run"] == ref.metrics["epochs_run"]


def test_a_stack_records_what_the_reference_records():
    datas = [make_synthetic(replace(DATA, sigma_train=s, seed=i))
             for i, s in enumerate((0.1, 0.8, 0.4))]
    cfgs = [TrainConfig.section3(epochs=10, batch_size=64, seed=i, snapshots=(0, 2))
            for i in range(3)]
    fast = train_models(datas, H, cfgs, FAST)
    ref = train_models(datas, H, cfgs, REFERENCE)
    assert len({o.metrics["epochs_run"] for o in fast}) > 1  # members stop on their own
    for f, r in zip(fast, ref):
        assert_same_record(f.arrays, r.arrays)
        assert f.metrics["epochs_run"] == r.metrics["epochs_run"]
        assert f.metrics["stacked_with"] == r.metrics["stacked_with"] == 3


def test_engine_is_an_execution_setting_with_a_clear_error():
    with pytest.raises(ConfigError, match=r"engine='gpu': must be one of \['fast', 'reference'\]"):
        Execution(engine="gpu")


def test_callback_is_refused_for_a_stack(data):
    cfgs = [TrainConfig.section3(epochs=2, seed=i) for i in range(2)]
    with pytest.raises(ConfigError, match="callback"):
        train_models([data, data], H, cfgs, FAST, callback=lambda *a: None)


def test_dz_signs_are_da_signs_gated_by_the_relu(data):
    """sign(dL/dz) is sign(dL/da) where the neuron is on and 0 where it is off: each sum
    is at most the dL/da sum in size, smaller where the neuron was off for some steps;
    a linear network has no gate (equal sums)."""
    cfg = TrainConfig(epochs=4, output_layer="sgd", output_lr=1.0, keep_dz_sign=True)
    relu = train(data, H, cfg, FAST).arrays
    dz, da = relu["dz_sign_total"].astype(int), relu["sign_total"].astype(int)
    assert (np.abs(dz) <= np.abs(da)).all() and (np.abs(dz) < np.abs(da)).any()
    assert ((dz == 0) | (np.sign(dz) == np.sign(da))).all()
    linear = train(data, ModelConfig(n_hidden=12, activation="linear"), cfg, FAST).arrays
    np.testing.assert_array_equal(linear["dz_sign_total"], linear["sign_total"])
    assert "dz_sign_total" not in train(data, H, replace(cfg, keep_dz_sign=False), FAST).arrays


def test_dz_signs_behind_batch_norm_are_refused_by_the_fast_engine(data):
    cfg = TrainConfig(epochs=2, keep_dz_sign=True)
    with pytest.raises(ConfigError, match="keep_dz_sign=True with batchnorm=True"):
        train(data, ModelConfig(n_hidden=12, batchnorm=True), cfg, FAST)


def test_gradient_shares_are_recorded_only_when_asked_and_refused_elsewhere(data):
    cfg = TrainConfig(epochs=3, output_layer="sgd", output_lr=1.0, keep_grad_shares=True)
    out = train(data, H, cfg, FAST).arrays
    share = out["history_grad_share_difficult"]
    assert share.shape == out["history_share_difficult"].shape == (4,)
    assert ((share > 0) & (share < 1)).all()
    assert "history_grad_share_difficult" not in train(
        data, H, replace(cfg, keep_grad_shares=False), FAST).arrays
    with pytest.raises(ConfigError, match="keep_grad_shares=True with optimizer='sgd'"):
        TrainConfig.section3(keep_grad_shares=True)
    with pytest.raises(ConfigError, match="keep_grad_shares=True with optimizer='layca', "
                                          "batch_size=100"):
        TrainConfig(batch_size=100, keep_grad_shares=True)
    for execution in (FAST, REFERENCE):
        with pytest.raises(ConfigError, match="keep_grad_shares=True with batchnorm=True"):
            train(data, ModelConfig(n_hidden=12, batchnorm=True), cfg, execution)


def test_gradient_share_at_initialization_is_autograd_on_each_group(data):
    """Row 0: |G_d| / (|G_d| + |G_r|) with G_g the W1 gradient of group g's summed
    losses, each group through autograd on its own samples only."""
    cfg = TrainConfig(epochs=1, keep_grad_shares=True)
    share = train(data, H, cfg, FAST).arrays["history_grad_share_difficult"][0]
    model = build_model(data.x_train.shape[1], H, cfg.seed)
    d = difficulty(data.x_train, data.y_train, data.centroids) > 0
    assert 0 < int(d.sum()) < len(d)
    norms = []
    for group in (d, ~d):
        loss = F.binary_cross_entropy_with_logits(
            model(data.x_train[group]), data.y_train[group].float(), reduction="sum")
        norms.append(float(torch.autograd.grad(loss, model.hidden.weight)[0].norm()))
    assert share == pytest.approx(norms[0] / sum(norms), rel=1e-4)


@pytest.mark.parametrize("relu", [True, False])
def test_gradient_share_of_a_constructed_case(relu):
    """One hidden neuron (W1 = [1, -1], W2 = 2, b2 = 0), two samples: x_1 = e_1 of class 1
    (difficult), x_2 = e_2 of class 0 (regular). Both logits are 2 * rho(z): z = 1 and -1.
    dL_i/dlogit_i = sigmoid(logit_i) - y_i, and dL_i/dW1 = that * W2 * rho'(z_i) * x_i.
    With the ReLU the regular sample's neuron is off: G_r = 0, share 1. Linear: logits 2
    and -2, |G_d| = 2 (1 - sigmoid(2)), |G_r| = 2 sigmoid(-2): share 1/2."""
    x = torch.eye(2)
    y = torch.tensor([1.0, 0.0])
    w1, w2 = torch.tensor([[1.0, -1.0]]), torch.tensor([2.0])
    z = x @ w1.T
    logits = (z.relu() if relu else z)[:, 0] * w2
    rec = FastRecorder(x, torch.tensor([0, 1]), y, torch.tensor([True, False]), 2, 1)
    rec.observe_grad_w(x, w1, w2, logits, relu)
    g_d, g_r = group_grads(x, w1, w2, logits, y, rec.groups[:, 1:], relu)
    s2 = torch.sigmoid(torch.tensor(2.0))
    torch.testing.assert_close(g_d, torch.tensor([[2 * (s2 - 1), 0.0]]))
    torch.testing.assert_close(g_r, torch.tensor([[0.0, 0.0 if relu else 2 * (1 - s2)]]))
    expected = 1.0 if relu else 0.5
    assert float(rec.history["grad_share_difficult"][0]) == pytest.approx(expected)
