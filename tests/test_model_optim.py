"""The MLP of equation (1) and the Layca optimizer."""

import copy
import math

import pytest
import torch
import torch.nn.functional as F

from wtmlib.config import ConfigError
from wtmlib.data import SyntheticConfig, make_synthetic
from wtmlib.config import ModelConfig, TrainConfig
from wtmlib.model import MLP, build_model
from wtmlib.optim import Layca, build_optimizer, set_lr
from wtmlib.training.loop import train


def _x(n=9, d=7, seed=0):
    return torch.randn(n, d, generator=torch.Generator().manual_seed(seed))


# --------------------------------------------------------------------------- MLP

def test_mlp_shapes_and_biases():
    m = MLP(7, 5)
    assert m.hidden.weight.shape == (5, 7)
    assert m.hidden.bias is None  # hidden layer without bias (Section 2.2)
    assert m.out.weight.shape == (1, 5) and m.out.bias.shape == (1,)
    assert m(_x()).shape == (9,)
    assert m.w2.shape == (5,) and torch.equal(m.w2, m.out.weight[0])
    assert {n for n, _ in m.named_parameters()} == {"hidden.weight", "out.weight", "out.bias"}


def test_hook_points_expose_equation_1():
    m, x = MLP(7, 5), _x()
    seen = {}
    with m.hooks(fwd={name: (lambda t, name=name: seen.__setitem__(name, t.detach()))
                      for name in ("hook_pre", "hook_norm", "hook_post")}):
        logits = m(x)
    w1, w2, b2 = m.hidden.weight, m.out.weight[0], m.out.bias
    z = x @ w1.T
    torch.testing.assert_close(seen["hook_pre"], z)
    torch.testing.assert_close(seen["hook_norm"], z)  # identity without batch norm
    torch.testing.assert_close(seen["hook_post"], torch.relu(z))
    torch.testing.assert_close(logits, torch.relu(z) @ w2 + b2)
    assert (seen["hook_pre"] < 0).any()  # the ReLU had something to do


def test_linear_activation_is_affine():
    m, x = MLP(7, 5, activation="linear"), _x()
    seen = {}
    with m.hooks(fwd={"hook_pre": lambda t: seen.__setitem__("pre", t),
                      "hook_post": lambda t: seen.__setitem__("post", t)}):
        logits = m(x)
    assert torch.equal(seen["pre"], seen["post"])
    torch.testing.assert_close(logits, x @ m.hidden.weight.T @ m.out.weight[0] + m.out.bias)


def test_batchnorm_option():
    m, x = MLP(7, 5, batchnorm=True), _x(n=64)
    assert isinstance(m.norm, torch.nn.BatchNorm1d)
    assert not isinstance(MLP(7, 5).norm, torch.nn.BatchNorm1d)
    seen = {}
    with m.hooks(fwd={"hook_pre": lambda t: seen.__setitem__("pre", t.detach()),
                      "hook_norm": lambda t: seen.__setitem__("norm", t.detach())}):
        m(x)
    # training mode: batch statistics, so each neuron is centred and scaled
    torch.testing.assert_close(seen["norm"].mean(0), torch.zeros(5), rtol=0, atol=1e-5)
    torch.testing.assert_close(seen["norm"].var(0, unbiased=False), torch.ones(5),
                               rtol=0, atol=1e-3)
    assert not torch.allclose(seen["norm"], seen["pre"])


def test_hooks_removed_after_the_block():
    m, x = MLP(7, 5), _x()
    calls = []
    with m.hooks(fwd={"hook_pre": lambda t: calls.append("f")},
                 bwd={"hook_post": lambda g: calls.append("b")}):
        m(x).sum().backward()
    assert calls == ["f", "b"]
    m(x).sum().backward()
    assert calls == ["f", "b"]
    assert all(not mod._forward_hooks for mod in m.modules())
    with pytest.raises(RuntimeError), m.hooks(fwd={"hook_pre": lambda t: calls.append("f")}):
        raise RuntimeError("inside the block")
    m(x)
    assert calls == ["f", "b"] and all(not mod._forward_hooks for mod in m.modules())


def test_backward_hook_gives_dloss_dactivation():
    m, x = MLP(7, 5), _x()
    y = torch.tensor([0, 1, 1, 0, 1, 0, 0, 1, 1]).float()
    got = {}
    with m.hooks(bwd={"hook_post": lambda g: got.__setitem__("g", g)}):
        logits = m(x)
        F.binary_cross_entropy_with_logits(logits, y).backward()
    want = ((torch.sigmoid(logits) - y) / len(y))[:, None] * m.w2[None, :]
    torch.testing.assert_close(got["g"], want.detach())


# --------------------------------------------------------------------------- Layca

def layca_reference(w: torch.Tensor, g: torch.Tensor, lr: float) -> torch.Tensor:
    """The original (Keras) Layca update of one weight tensor."""
    g_perp = g - (g * w).sum() * w / (w * w).sum()
    g_perp = g_perp / g_perp.norm() * w.norm()
    w_new = w - lr * g_perp
    return w_new / w_new.norm() * w.norm()


def _one_step(w0, g, lr, **kw):
    w = torch.nn.Parameter(w0.clone())
    w.grad = g.clone()
    Layca([w], lr=lr, **kw).step()
    return w.detach()


def _wg(shape=(6, 4), dtype=torch.float64, seed=1):
    gen = torch.Generator().manual_seed(seed)
    return (torch.randn(shape, generator=gen, dtype=dtype),
            torch.randn(shape, generator=gen, dtype=dtype))


@pytest.mark.parametrize("lr", [0.01, 3.0**-3, 0.3, 1.0, 3.0])
def test_layca_keeps_the_norm_and_rotates_by_atan_lr(lr):
    w0, g = _wg()
    w1 = _one_step(w0, g, lr)
    assert w1.norm().item() == pytest.approx(w0.norm().item(), rel=1e-12)
    cos = (w0 * w1).sum() / (w0.norm() * w1.norm())
    assert math.acos(cos.item()) == pytest.approx(math.atan(lr), rel=1e-6)


@pytest.mark.parametrize("lr", [0.05, 0.5])
def test_layca_update_is_orthogonal_to_the_weights(lr):
    w0, g = _wg()
    w1 = _one_step(w0, g, lr)
    # undo the renormalisation: the step w' = w0 + u with u orthogonal to w0 has
    # <w', w0> = |w0|^2, so w' = w1 * |w0|^2 / <w1, w0>
    u = w1 * (w0 * w0).sum() / (w1 * w0).sum() - w0
    assert abs((u * w0).sum().item()) < 1e-10 * (u.norm() * w0.norm()).item()
    assert u.norm().item() == pytest.approx(lr * w0.norm().item(), rel=1e-9)
    g_perp = g - (g * w0).sum() / (w0 * w0).sum() * w0
    cos = (u * g_perp).sum() / (u.norm() * g_perp.norm())
    assert cos.item() == pytest.approx(-1.0, abs=1e-12)  # against the gradient
    torch.testing.assert_close(w1, layca_reference(w0, g, lr))


def test_layca_float32_matches_reference():
    w0, g = _wg(dtype=torch.float32)
    torch.testing.assert_close(_one_step(w0, g, 0.2), layca_reference(w0, g, 0.2))


def test_layca_no_rotation_for_zero_or_parallel_gradient():
    w0, _ = _wg()
    assert torch.equal(_one_step(w0, torch.zeros_like(w0), 0.3), w0)
    torch.testing.assert_close(_one_step(w0, 2.0 * w0, 0.3), w0, rtol=1e-12, atol=1e-12)


def test_layca_sgd_and_frozen_modes():
    w0, g = _wg()
    torch.testing.assert_close(_one_step(w0, g, 0.1, mode="sgd"), w0 - 0.1 * g)
    assert torch.equal(_one_step(w0, g, 0.1, mode="frozen"), w0)


def test_layca_skips_parameters_without_gradient():
    w = torch.nn.Parameter(torch.ones(3))
    Layca([w], lr=0.5).step()
    assert torch.equal(w.detach(), torch.ones(3))


@pytest.mark.parametrize("lr", [0, -0.1, True, "0.1", None])
def test_layca_rejects_bad_lr(lr):
    with pytest.raises(ConfigError, match="^lr="):
        Layca([torch.nn.Parameter(torch.ones(2))], lr=lr)


def test_layca_rejects_bad_mode():
    p = torch.nn.Parameter(torch.ones(2))
    with pytest.raises(ConfigError, match="^mode="):
        Layca([p], lr=0.1, mode="adam")
    with pytest.raises(ConfigError, match="^mode="):
        Layca([dict(params=[p], mode="rotate")], lr=0.1)
    with pytest.raises(ConfigError, match="^lr="):
        Layca([dict(params=[p], lr=0.0)], lr=0.1)


def _loss_step(model, x, y):
    model.zero_grad(set_to_none=True)
    F.binary_cross_entropy_with_logits(model(x), y.float()).backward()


@pytest.fixture(scope="module")
def tiny():
    return make_synthetic(SyntheticConfig(n_dim=40, l_pat=2, n_pat=6, n_train=300, n_test=60))


def test_default_optimizer_freezes_biases_and_rotates_both_layers(tiny):
    cfg = TrainConfig()
    assert (cfg.optimizer, cfg.biases, cfg.output_layer) == ("layca", "frozen", "layca")
    model = build_model(40, ModelConfig(n_hidden=12), seed=0)
    before = copy.deepcopy(model.state_dict())
    opt = build_optimizer(model, cfg)
    assert [g["mode"] for g in opt.param_groups] == ["layca", "layca", "frozen"]
    _loss_step(model, tiny.x_train, tiny.y_train)
    assert model.out.bias.grad is not None and model.out.bias.grad.abs().item() > 0
    opt.step()
    after = model.state_dict()
    assert torch.equal(after["out.bias"], before["out.bias"])
    for name in ("hidden.weight", "out.weight"):
        assert not torch.equal(after[name], before[name])
        assert after[name].norm().item() == pytest.approx(before[name].norm().item(), rel=1e-5)


def test_optimizer_options_for_biases_and_output_layer(tiny):
    cfg = TrainConfig(lr=0.1, biases="sgd", output_layer="sgd", output_lr=0.7)
    model = build_model(40, ModelConfig(n_hidden=12), seed=0)
    before = copy.deepcopy(model.state_dict())
    opt = build_optimizer(model, cfg)
    _loss_step(model, tiny.x_train, tiny.y_train)
    grads = {n: p.grad.clone() for n, p in model.named_parameters()}
    opt.step()
    after = model.state_dict()
    torch.testing.assert_close(after["out.bias"], before["out.bias"] - 0.1 * grads["out.bias"])
    torch.testing.assert_close(after["out.weight"],
                               before["out.weight"] - 0.7 * grads["out.weight"])
    torch.testing.assert_close(after["hidden.weight"], layca_reference(
        before["hidden.weight"], grads["hidden.weight"], 0.1))
    # the decay scales every group, each from its own base rate
    set_lr(opt, TrainConfig(lr=0.1, output_lr=0.7, lr_decay_epoch=2, lr_decay_factor=4.0,
                            output_layer="sgd"), epoch=2)
    assert [g["lr"] for g in opt.param_groups] == pytest.approx([0.025, 0.175, 0.025])


def test_plain_sgd_optimizer(tiny):
    model = build_model(40, ModelConfig(n_hidden=12), seed=0)
    before = copy.deepcopy(model.state_dict())
    opt = build_optimizer(model, TrainConfig.section3())
    _loss_step(model, tiny.x_train, tiny.y_train)
    grads = {n: p.grad.clone() for n, p in model.named_parameters()}
    opt.step()
    for n, p in model.named_parameters():
        torch.testing.assert_close(p.detach(), before[n] - 1.0 * grads[n])


def test_training_matches_a_reference_layca_loop(tiny):
    """train() in full batch = the original Layca rule applied by hand, with the step
    decay of the learning rate, checked step by step and over the whole run."""
    model_cfg = ModelConfig(n_hidden=12)
    cfg = TrainConfig(epochs=6, lr=0.2, lr_decay_epoch=3, lr_decay_factor=5.0)
    steps = {}
    out = train(tiny, model_cfg, cfg,
                callback=lambda kind, i, m: kind == "step" and steps.__setitem__(
                    i, copy.deepcopy(m.state_dict())))
    assert sorted(steps) == list(range(6))
    x, y = tiny.x_train, tiny.y_train

    def update(state, lr):
        m = MLP(40, 12)
        m.load_state_dict(state)
        _loss_step(m, x, y)
        new = {k: v.clone() for k, v in state.items()}
        for name, p in (("hidden.weight", m.hidden.weight), ("out.weight", m.out.weight)):
            new[name] = layca_reference(state[name], p.grad, lr)
        return new  # the output bias stays frozen

    lrs = [cfg.lr_at(s) for s in range(6)]
    assert lrs == pytest.approx([0.2] * 3 + [0.04] * 3)
    final = {k: torch.as_tensor(out.arrays[k]) for k in ("hidden.weight", "out.weight", "out.bias")}
    # one step at a time from the recorded states
    for s in range(6):
        nxt = steps[s + 1] if s + 1 < 6 else final
        want = update(steps[s], lrs[s])
        for k in final:
            torch.testing.assert_close(nxt[k], want[k], rtol=1e-5, atol=1e-6)
    # the whole run from the initial weights
    state = steps[0]
    assert all(torch.equal(state[k], build_model(40, model_cfg, 0).state_dict()[k]) for k in final)
    for s in range(6):
        state = update(state, lrs[s])
    for k in final:
        torch.testing.assert_close(final[k], state[k], rtol=1e-4, atol=1e-5)
    # rotation per step: atan(lr) for each rotated layer
    for s in range(5):
        for k in ("hidden.weight", "out.weight"):
            a, b = steps[s][k].double(), steps[s + 1][k].double()
            angle = torch.atan2((b - (a * b).sum() / (a * a).sum() * a).norm(), (a * b).sum() / a.norm())
            assert angle.item() == pytest.approx(math.atan(lrs[s]), rel=1e-4)


@pytest.mark.parametrize("activation", ["relu", "linear"])
def test_sgd_training_matches_a_reference_autograd_loop(tiny, activation):
    """train() with mini-batch SGD (Section 3.1, through ``sgd_step_``) = autograd through
    ``MLP.forward`` plus ``torch.optim.SGD``, step by step from the recorded states, on
    the batches of the run's own order (its seed's generator, one permutation an epoch;
    300 samples: four batches of 64 and one of 44)."""
    model_cfg = ModelConfig(n_hidden=12, activation=activation)
    cfg = TrainConfig.section3(epochs=3, until_fit=False)
    steps = {}
    out = train(tiny, model_cfg, cfg,
                callback=lambda kind, i, m: kind == "step" and steps.__setitem__(
                    i, copy.deepcopy(m.state_dict())))
    gen = torch.Generator().manual_seed(cfg.seed)
    batches = [idx for _ in range(cfg.epochs)
               for idx in torch.randperm(len(tiny.x_train), generator=gen).split(64)]
    assert sorted(steps) == list(range(len(batches))) == list(range(out.metrics["steps"]))
    final = {k: torch.as_tensor(out.arrays[k]) for k in ("hidden.weight", "out.weight", "out.bias")}
    for s, idx in enumerate(batches):
        m = MLP(40, 12, activation)
        m.load_state_dict(steps[s])
        _loss_step(m, tiny.x_train[idx], tiny.y_train[idx])
        torch.optim.SGD(m.parameters(), lr=cfg.lr).step()
        nxt = steps[s + 1] if s + 1 < len(batches) else final
        for k in final:
            torch.testing.assert_close(nxt[k], m.state_dict()[k], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("biases", ["frozen", "sgd"])
def test_batchnorm_training_matches_a_reference_autograd_loop(tiny, biases):
    """train() with batch norm and mini-batch Layca (Appendix A.1's set-up, through
    ``bn_mlp_logits``) = autograd through ``MLP.forward`` plus the same optimizer, step
    by step from the recorded states on the run's own batch order, running statistics
    included; and its recorded training accuracy is the model's own in evaluation mode.
    ``biases="sgd"`` trains the batch-norm scale and shift too (their gradients)."""
    model_cfg = ModelConfig(n_hidden=12, batchnorm=True)
    cfg = TrainConfig(batch_size=100, epochs=3, lr_decay_epoch=2, biases=biases,
                      output_layer="sgd", output_lr=1.0)
    steps, states = {}, {}
    out = train(tiny, model_cfg, cfg, callback=lambda kind, i, m: (
        steps if kind == "step" else states).__setitem__(i, copy.deepcopy(m.state_dict())))
    gen = torch.Generator().manual_seed(cfg.seed)
    batches = [(e, idx) for e in range(cfg.epochs)
               for idx in torch.randperm(len(tiny.x_train), generator=gen).split(100)]
    assert sorted(steps) == list(range(len(batches))) == list(range(out.metrics["steps"]))
    for s, (epoch, idx) in enumerate(batches):
        m = MLP(40, 12, batchnorm=True)
        m.load_state_dict(steps[s])
        opt = build_optimizer(m, cfg)
        set_lr(opt, cfg, epoch)
        _loss_step(m, tiny.x_train[idx], tiny.y_train[idx])
        opt.step()
        nxt = steps[s + 1] if s + 1 < len(batches) else states[cfg.epochs]
        for k, v in m.state_dict().items():
            torch.testing.assert_close(nxt[k], v, rtol=1e-5, atol=1e-6, msg=k)
    moved = [not torch.equal(states[0][k], states[cfg.epochs][k])
             for k in ("norm.weight", "norm.bias")]
    assert moved == [biases == "sgd"] * 2
    for e, state in states.items():
        m = MLP(40, 12, batchnorm=True)
        m.load_state_dict(state)
        m.eval()
        acc = ((m(tiny.x_train) > 0).long() == tiny.y_train).double().mean().item()
        assert out.arrays["history_train_acc"][e] == pytest.approx(acc, abs=1.5 / 300)
