"""The recorder against a slow recomputation from saved weights, and the training loop."""

import copy
import math
import time
from dataclasses import replace

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from wtmlib.results.cache import history
from wtmlib.data import SyntheticConfig, difficulty, make_synthetic
from wtmlib.model import MLP
from wtmlib.training.fast import record
from wtmlib.training.fast.record import FastRecorder

from wtmlib.record import Recorder, pattern_average_matrix
from wtmlib.config import ModelConfig, TrainConfig
from wtmlib.model import model_from_arrays
from wtmlib.training.loop import train
from wtmlib.analysis.signs import active_class
from wtmlib.analysis.signs import active_class_of
from wtmlib.analysis.signs import mean_sign
from wtmlib.analysis.signs import sign_class_correlation
from wtmlib.analysis.signs import sign_class_correlation_of

TINY = SyntheticConfig(n_dim=40, l_pat=2, n_pat=6, n_train=300, n_test=60)
MODEL = ModelConfig(n_hidden=12)
KEEP = 5


@pytest.fixture(scope="module")
def tiny():
    return make_synthetic(TINY)


def _train_saving_states(data, model_cfg, cfg):
    states = {"epoch": {}, "step": {}}

    def callback(kind, index, model):
        assert index not in states[kind]
        states[kind][index] = copy.deepcopy(model.state_dict())

    return train(data, model_cfg, cfg, callback=callback), states


def _model(state, n_in, n_hidden):
    m = MLP(n_in, n_hidden)
    m.load_state_dict(state)
    return m


def _slow_pattern_means(x, p, w1, n_pat):
    z = x.double() @ w1.double().T  # [n, n_hidden]
    return torch.stack([z[p == k].mean(0) for k in range(n_pat)], dim=1)  # [n_hidden, n_pat]


def _logits(state, x):
    z = x.double() @ state["hidden.weight"].double().T
    return torch.relu(z) @ state["out.weight"][0].double() + state["out.bias"].double()


def _check_epoch_signals(out, states, data, epochs):
    """pattern means, losses, accuracies and loss shares of every recorded state."""
    a = out.arrays
    n_pat = data.n_pat
    x, y, p = data.x_train, data.y_train, data.p_train
    xt, yt, pt = data.x_test, data.y_test, data.p_test
    hard = difficulty(x, y, data.centroids) > 0
    assert hard.any() and (~hard).any()
    assert sorted(states["epoch"]) == list(range(epochs + 1))
    assert a["pattern_means_train"].shape == (epochs + 1, MODEL.n_hidden, n_pat)
    assert a["pattern_means_probe"].shape == (epochs + 1, MODEL.n_hidden, n_pat)
    want = {k: [] for k in ("loss", "train_acc", "probe_acc", "probe_loss", "share_difficult",
                            "share_regular", "loss_difficult", "loss_regular",
                            "acc_difficult", "acc_regular")}
    for e in range(epochs + 1):
        s = states["epoch"][e]
        np.testing.assert_allclose(a["pattern_means_train"][e],
                                   _slow_pattern_means(x, p, s["hidden.weight"], n_pat),
                                   rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(a["pattern_means_probe"][e],
                                   _slow_pattern_means(xt, pt, s["hidden.weight"], n_pat),
                                   rtol=1e-5, atol=1e-6)
        logits = _logits(s, x)
        losses = F.binary_cross_entropy_with_logits(logits, y.double(), reduction="none")
        correct = ((logits > 0).long() == y).double()
        want["loss"].append(losses.mean())
        want["train_acc"].append(correct.mean())
        want["share_difficult"].append(losses[hard].sum() / losses.sum())
        want["share_regular"].append(losses[~hard].sum() / losses.sum())
        want["loss_difficult"].append(losses[hard].mean())
        want["loss_regular"].append(losses[~hard].mean())
        want["acc_difficult"].append(correct[hard].mean())
        want["acc_regular"].append(correct[~hard].mean())
        lt = _logits(s, xt)
        want["probe_acc"].append(((lt > 0).long() == yt).double().mean())
        want["probe_loss"].append(F.binary_cross_entropy_with_logits(lt, yt.double()))
    hist = history(a)
    assert set(hist) == set(want)
    for k, v in want.items():
        np.testing.assert_allclose(hist[k], torch.stack(v).numpy(), rtol=1e-5, atol=1e-6,
                                   err_msg=k)
    np.testing.assert_allclose(hist["share_difficult"] + hist["share_regular"], 1.0, rtol=1e-6)
    # the metrics are the last recorded state
    assert out.metrics["train_acc"] == pytest.approx(float(hist["train_acc"][-1]))
    assert out.metrics["test_acc"] == pytest.approx(float(hist["probe_acc"][-1]))


def _check_final(out, states, data, epochs):
    a = out.arrays
    last = states["epoch"][epochs]
    for k in ("hidden.weight", "out.weight", "out.bias"):
        np.testing.assert_array_equal(a[k], last[k].numpy())
    w2 = last["out.weight"][0]
    top = sorted(range(len(w2)), key=lambda j: -abs(float(w2[j])))[:KEEP]
    assert a["final_neurons"].tolist() == top
    z = data.x_train @ last["hidden.weight"].T
    np.testing.assert_allclose(a["final_pre"], z[:, top].numpy(), rtol=1e-5, atol=1e-6)


def _sign_dl_da(state, x, y):
    """sign(dL/da) [n, n_hidden]: dL/da_ij = (sigmoid(logit_i) - y_i) * W2_j / batch."""
    err = torch.sigmoid(_logits(state, x)) - y.double()
    return torch.sign(err)[:, None] * torch.sign(state["out.weight"][0].double())[None, :]


def test_recorder_exact_full_batch(tiny):
    epochs = 5
    cfg = TrainConfig(epochs=epochs, lr_decay_epoch=3, keep_neurons=KEEP)
    out, states = _train_saving_states(tiny, MODEL, cfg)
    assert out.metrics["epochs_run"] == epochs and out.metrics["steps"] == epochs
    assert sorted(states["step"]) == list(range(epochs))
    for s in range(epochs):  # full batch: step s uses the state after s epochs
        for k, v in states["step"][s].items():
            assert torch.equal(v, states["epoch"][s][k])
    _check_epoch_signals(out, states, tiny, epochs)
    _check_final(out, states, tiny, epochs)
    want = sum(_sign_dl_da(states["step"][s], tiny.x_train, tiny.y_train)
               for s in range(epochs)) / epochs
    got = mean_sign(out.arrays)
    assert got.shape == (TINY.n_train, MODEL.n_hidden)
    assert out.arrays["sign_total"].dtype == np.int16  # exact counts, stored small
    np.testing.assert_array_equal(got, want.float().numpy())
    assert set(np.unique(got).tolist()) >= {-1.0, 1.0}


def test_recorder_exact_mini_batch(tiny):
    epochs, bs = 3, 64  # 300 samples: four batches of 64 and one of 44 per epoch
    cfg = TrainConfig.section3(epochs=epochs, batch_size=bs, until_fit=False, seed=5,
                               keep_neurons=KEEP)
    out, states = _train_saving_states(tiny, MODEL, cfg)
    n = TINY.n_train
    per_epoch = math.ceil(n / bs)
    assert out.metrics["epochs_run"] == epochs
    assert out.metrics["steps"] == epochs * per_epoch == len(states["step"])
    _check_epoch_signals(out, states, tiny, epochs)
    _check_final(out, states, tiny, epochs)
    # the batch order of train.py: one generator seeded with cfg.seed, a permutation per epoch
    gen = torch.Generator().manual_seed(cfg.seed)
    x, y = tiny.x_train, tiny.y_train
    sign_sum = torch.zeros(n, MODEL.n_hidden, dtype=torch.float64)
    count = torch.zeros(n, dtype=torch.float64)
    step = 0
    for epoch in range(epochs):
        perm = torch.randperm(n, generator=gen)
        for idx in perm.split(bs):
            state = states["step"][step]
            sign_sum[idx] += _sign_dl_da(state, x[idx], y[idx])
            count[idx] += 1
            # the SGD step that followed used exactly this batch
            m = _model(state, TINY.n_dim, MODEL.n_hidden)
            F.binary_cross_entropy_with_logits(m(x[idx]), y[idx].float()).backward()
            nxt = states["step"].get(step + 1) or states["epoch"][epoch + 1]
            for name, prm in m.named_parameters():
                torch.testing.assert_close(nxt[name], state[name] - cfg.lr * prm.grad)
            step += 1
    assert torch.equal(count, torch.full((n,), float(epochs)))  # each sample once per epoch
    got = mean_sign(out.arrays)
    np.testing.assert_array_equal(got, (sign_sum / count[:, None]).float().numpy())
    # sums of epochs signs: integers of the parity of epochs within [-epochs, epochs]
    total = got * epochs
    np.testing.assert_allclose(total, np.round(total), atol=1e-5)
    assert np.all(np.abs(total) <= epochs) and np.all(np.round(total) % 2 == epochs % 2)
    assert set(np.unique(np.round(total)).tolist()) >= {-epochs, epochs}


@pytest.mark.parametrize("window", [1, 2, record.WINDOW])  # steps summed per window
@pytest.mark.parametrize("w2_second", [[0.5, -0.7], [-1.0, 0.0]])  # W2's signs kept / moved
def test_recorder_sign_accumulation_by_hand(monkeypatch, window, w2_second):
    monkeypatch.setattr(record, "WINDOW", window)
    rec = FastRecorder(torch.zeros(4, 3), torch.tensor([0, 1, 0, 1]),
                       torch.tensor([0, 1, 0, 1]), torch.zeros(4, dtype=torch.bool), n_pat=2,
                       n_hidden=2)
    # sign(dL/da) = sign(dL/dlogit) sign(W2)^T: two mini-batch steps, then a full batch
    rec.observe_output_grad(torch.tensor([1.0, -0.5]), torch.tensor([0.3, -0.2]),
                            torch.tensor([0, 1]))  # rows 0, 1: [[1, -1], [-1, 1]]
    rec.observe_output_grad(torch.tensor([-4.0, 2.0]), torch.tensor(w2_second),
                            torch.tensor([1, 2]))  # rows 1, 2: [-1, 1]^T sign(w2_second)
    t2 = torch.sign(torch.tensor(w2_second)).tolist()
    moved = t2 != [1.0, -1.0] and window > 1  # a window whose W2 changed sign
    rec.observe_train_w(torch.zeros(2, 3), torch.zeros(4))  # a recorded state ends a window
    assert len(rec.window_s) == (1 if window > 1 else 2) and not rec.pending
    assert (rec.sign_sum is None) == (not moved)  # no [n, h] sum unless W2 moved
    rec.observe_output_grad(torch.ones(4), torch.tensor([2.0, 3.0]))  # [[1, 1]] * 4
    x = torch.arange(12.0).reshape(4, 3)
    w1 = torch.tensor([[1.0, 0.0, 0.0], [0.0, 2.0, -1.0]])
    got = rec.arrays(x, w1, torch.tensor([0.1, -0.3]), keep_neurons=1)
    want = np.array([[(1 + 1) / 2, (-1 + 1) / 2],
                     [(-1 - t2[0] + 1) / 3, (1 - t2[1] + 1) / 3],
                     [(t2[0] + 1) / 2, (t2[1] + 1) / 2],
                     [1.0, 1.0]])
    np.testing.assert_allclose(mean_sign(got), want)
    assert got["final_neurons"].tolist() == [1]
    np.testing.assert_allclose(got["final_pre"][:, 0], [2 * 1 - 2, 2 * 4 - 5, 2 * 7 - 8, 2 * 10 - 11])


def test_reference_recorder_by_hand():
    """What the hook points hand the reference recorder, summed as the paper defines it."""
    y = torch.tensor([0, 1, 0, 1])
    rec = Recorder(torch.zeros(4, 3), torch.tensor([0, 1, 0, 1]), y,
                   torch.tensor([True, False, False, False]), n_pat=2, n_hidden=2)
    rec.observe_signs(torch.tensor([[0.2, -0.1], [-3.0, 0.0]]), torch.tensor([0, 1]))
    rec.observe_signs(torch.tensor([[1.0, 1.0], [-1.0, -2.0], [0.5, -0.5], [2.0, 2.0]]))
    z = torch.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0], [7.0, 8.0]])
    rec.observe_train(z, torch.tensor([1.0, -1.0, -2.0, 3.0]))
    np.testing.assert_allclose(rec.means_train[0].numpy(), [[3.0, 5.0], [4.0, 6.0]])  # [h, pat]
    assert rec.history["train_acc"][0].item() == 0.5  # samples 2 and 3 right, 0 and 1 wrong
    got = rec.arrays(torch.eye(4, 3), torch.ones(2, 3), torch.tensor([1.0, -2.0]), 1)
    want = np.array([[2 / 2, 0 / 2], [-2 / 2, -1 / 2], [1.0, -1.0], [1.0, 1.0]])
    np.testing.assert_allclose(mean_sign(got), want)
    np.testing.assert_array_equal(got["sign_count"], [2, 2, 1, 1])
    # the per-class sums give the class-level measures without the per-sample array
    assert active_class_of(got).tolist() == active_class(want, y.numpy()).tolist()
    np.testing.assert_allclose(sign_class_correlation_of(got),
                               sign_class_correlation(want, y.numpy()))
    shares = rec.history["share_difficult"][0] + rec.history["share_regular"][0]
    assert shares.item() == pytest.approx(1.0)


def test_keep_flags_choose_what_is_stored(tiny):
    full = train(tiny, MODEL, TrainConfig(epochs=3))
    lean = train(tiny, MODEL, TrainConfig(epochs=3, keep_mean_sign=False,
                                          keep_probe_means=False))
    assert {"sign_total", "sign_count", "pattern_means_probe"} <= set(full.arrays)
    assert set(full.arrays) - set(lean.arrays) == {"sign_total", "sign_count",
                                                   "pattern_means_probe"}
    for name in lean.arrays:  # what is kept is the same
        np.testing.assert_array_equal(lean.arrays[name], full.arrays[name], err_msg=name)
    y = tiny.y_train.numpy()
    assert (active_class_of(lean.arrays) == active_class(mean_sign(full.arrays), y)).all()
    np.testing.assert_allclose(sign_class_correlation_of(lean.arrays),
                               sign_class_correlation(mean_sign(full.arrays), y), atol=1e-9)
    with pytest.raises(KeyError, match="keep_mean_sign"):
        mean_sign(lean.arrays)


def test_pattern_average_matrix():
    p = torch.tensor([2, 0, 2, 2, 0])
    a = pattern_average_matrix(p, 4)
    z = torch.tensor([[1.0], [2.0], [3.0], [5.0], [4.0]])
    got = (a @ z)[:, 0]
    torch.testing.assert_close(got[[0, 2]], torch.tensor([3.0, 3.0]))
    assert torch.isnan(got[[1, 3]]).all()  # absent patterns have no mean


# --------------------------------------------------------------------------- training

E2E = SyntheticConfig(n_dim=100, l_pat=5, n_pat=10, n_train=2000, n_test=1000,
                      sigma_train=0.4, sigma_test=0.4)


def test_end_to_end_training_learns():
    out = train(make_synthetic(E2E), ModelConfig(n_hidden=60),
                TrainConfig(epochs=20))
    h = history(out.arrays)
    assert len(h["loss"]) == 21 and out.metrics["epochs_run"] == 20
    assert h["probe_acc"][0] < 0.7  # the initialisation is near chance
    assert out.metrics["test_acc"] > 0.85
    assert out.metrics["train_acc"] > 0.85
    assert h["loss"][-1] < h["loss"][0]
    assert not out.metrics["hit_max_epochs"]  # only meaningful with until_fit
    # the stored weights rebuild the trained model
    model = model_from_arrays(out.arrays, ModelConfig(n_hidden=60))
    data = make_synthetic(E2E)
    with torch.no_grad():
        acc = ((model(data.x_test) > 0).long() == data.y_test).float().mean().item()
    assert acc == pytest.approx(out.metrics["test_acc"])


@pytest.mark.parametrize("batch_size", [0, 50])
def test_until_fit_stops_at_the_first_fitted_epoch(batch_size):
    data = make_synthetic(SyntheticConfig(n_dim=60, l_pat=3, n_pat=6, n_train=300, n_test=60,
                                          sigma_train=0.05))
    cfg = TrainConfig.section3(epochs=100, batch_size=batch_size)
    out = train(data, ModelConfig(n_hidden=30), cfg)
    acc = history(out.arrays)["train_acc"]
    m = out.metrics
    assert m["fitted"] and not m["hit_max_epochs"] and m["train_acc"] == 1.0
    assert 0 < m["epochs_run"] < 100
    assert len(acc) == m["epochs_run"] + 1
    assert acc[-1] == 1.0 and np.all(acc[:-1] < 1.0)


@pytest.mark.parametrize("batch_size", [0, 50])
def test_until_fit_reports_hitting_the_bound(batch_size):
    data = make_synthetic(SyntheticConfig(n_dim=60, l_pat=3, n_pat=6, n_train=600, n_test=60,
                                          sigma_train=3.0))
    cfg = TrainConfig.section3(epochs=2, batch_size=batch_size)
    out = train(data, ModelConfig(n_hidden=30), cfg)
    m = out.metrics
    assert m["hit_max_epochs"] and not m["fitted"] and m["train_acc"] < 1.0
    assert m["epochs_run"] == 2
    assert len(history(out.arrays)["train_acc"]) == 3


def test_lr_schedule():
    cfg = TrainConfig(lr=0.3, lr_decay_epoch=4, lr_decay_factor=5.0)
    assert [cfg.lr_at(e) for e in range(7)] == pytest.approx([0.3] * 4 + [0.06] * 3)
    never = TrainConfig(lr=0.3, lr_decay_epoch=-1)
    assert {never.lr_at(e) for e in range(500)} == {0.3}
    always = TrainConfig(lr=0.3, lr_decay_epoch=0, lr_decay_factor=3.0)
    assert always.lr_at(0) == pytest.approx(0.1)
    paper = TrainConfig()
    assert paper.lr == pytest.approx(1 / 27) and paper.epochs == 400
    assert paper.lr_at(374) == paper.lr and paper.lr_at(375) == pytest.approx(paper.lr / 5)


def test_section3_preset():
    cfg = TrainConfig.section3(epochs=7)
    assert (cfg.optimizer, cfg.lr, cfg.batch_size, cfg.until_fit, cfg.epochs) == \
        ("sgd", 1.0, 64, True, 7)
    assert cfg.lr_at(10_000) == 1.0


@pytest.mark.parametrize("model_cfg, cfg", [
    (MODEL, TrainConfig(epochs=3)),
    (MODEL, TrainConfig.section3(epochs=2, batch_size=64, until_fit=False)),  # the written-out SGD step
    (ModelConfig(n_hidden=12, batchnorm=True),  # mini-batches through autograd
     TrainConfig(epochs=2, batch_size=100)),
])
def test_wall_time_is_the_time_train_took(tiny, model_cfg, cfg):
    """``wall_s`` (the training time the Speed page adds up) lies within the call."""
    start = time.perf_counter()
    out = train(tiny, model_cfg, cfg)
    assert 0 < out.metrics["wall_s"] <= time.perf_counter() - start


@pytest.mark.parametrize("cfg", [
    TrainConfig(epochs=4),
    TrainConfig.section3(epochs=2, batch_size=64, until_fit=False),
])
def test_training_is_deterministic(tiny, cfg):
    a, b = train(tiny, MODEL, cfg), train(tiny, MODEL, cfg)
    assert a.arrays.keys() == b.arrays.keys()
    for k in a.arrays:
        assert a.arrays[k].dtype == b.arrays[k].dtype
        np.testing.assert_array_equal(a.arrays[k], b.arrays[k], err_msg=k)
    strip = lambda m: {k: v for k, v in m.items() if k != "wall_s"}  # noqa: E731
    assert strip(a.metrics) == strip(b.metrics)
    c = train(tiny, MODEL, TrainConfig(**{**cfg.__dict__, "seed": 1}))
    assert not np.array_equal(a.arrays["hidden.weight"], c.arrays["hidden.weight"])


def test_probe_off_still_reports_test_accuracy(tiny):
    out = train(tiny, MODEL, TrainConfig(epochs=2, probe=False))
    assert "pattern_means_probe" not in out.arrays and "history_probe_acc" not in out.arrays
    model = model_from_arrays(out.arrays, MODEL)
    with torch.no_grad():
        acc = ((model(tiny.x_test) > 0).long() == tiny.y_test).float().mean().item()
    assert out.metrics["test_acc"] == pytest.approx(acc)


@pytest.mark.parametrize("model_cfg, cfg", [
    (MODEL, TrainConfig(epochs=5, lr_decay_epoch=3)),
    (MODEL, TrainConfig(epochs=5, output_layer="sgd", output_lr=3.0, keep_probe_means=False)),
    (ModelConfig(n_hidden=12, batchnorm=True), TrainConfig(epochs=3, batch_size=100)),
])
def test_the_probe_records_and_changes_no_other_number(tiny, model_cfg, cfg):
    # Section 4's runs train without it: the same weights, records and test accuracy
    on, off = train(tiny, model_cfg, cfg), train(tiny, model_cfg, replace(cfg, probe=False))
    probe_keys = {"pattern_means_probe", "history_probe_acc", "history_probe_loss"}
    assert set(on.arrays) - probe_keys == set(off.arrays)
    for k in off.arrays:
        np.testing.assert_array_equal(on.arrays[k], off.arrays[k], err_msg=k)
    strip = lambda m: {k: v for k, v in m.items() if k != "wall_s"}  # noqa: E731
    assert strip(on.metrics) == strip(off.metrics)


def test_snapshots_store_the_weights_after_the_chosen_epochs(tiny):
    cfg = TrainConfig(epochs=4, lr_decay_epoch=-1, snapshots=(3, 0, 3))
    out, states = _train_saving_states(tiny, ModelConfig(n_hidden=12), cfg)
    assert list(out.arrays["snapshot_epochs"]) == [0, 3]
    for k, epoch in enumerate((0, 3)):
        np.testing.assert_array_equal(out.arrays["snapshot_hidden.weight"][k],
                                      states["epoch"][epoch]["hidden.weight"].numpy())
    with pytest.raises(ValueError, match="snapshots"):
        TrainConfig(epochs=4, snapshots=(5,))
