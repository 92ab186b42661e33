"""Configuration fields added after results were stored: out of the key at their default,
in it when set, and doing what they say (b2's own rate, a noise-only redraw of S)."""

from dataclasses import replace

import numpy as np
import pytest
import torch

from wtmlib.config import ConfigError
from wtmlib.config import Execution, ModelConfig, TrainConfig
from wtmlib.data import SyntheticConfig, make_synthetic
from wtmlib.model import build_model
from wtmlib.results.runs import key_of, run_config
from wtmlib.training.loop import train

SMALL = SyntheticConfig(n_dim=40, l_pat=2, n_pat=6, n_train=120, n_test=60)
H = ModelConfig(n_hidden=8)


def test_added_fields_key_a_run_only_when_set():
    base = run_config(SMALL, H, TrainConfig())
    assert "bias_lr" not in base["train"] and "keep_dz_sign" not in base["train"]
    assert "noise_seed" not in base["data"]
    sgd_out = TrainConfig(output_layer="sgd", output_lr=1.0)
    assert "output_norm" not in run_config(SMALL, H, sgd_out)["train"]
    keys = {key_of(SMALL, H, TrainConfig()), key_of(SMALL, H, TrainConfig(bias_lr=1.0)),
            key_of(SMALL, H, TrainConfig(keep_dz_sign=True)),
            key_of(replace(SMALL, noise_seed=1), H, TrainConfig()), key_of(SMALL, H, sgd_out),
            key_of(SMALL, H, replace(sgd_out, output_norm="fixed"))}
    assert len(keys) == 6
    assert key_of(SMALL, H, replace(sgd_out, output_norm="free")) == key_of(SMALL, H, sgd_out)
    assert run_config(SMALL, H, TrainConfig(bias_lr=1.0))["train"]["bias_lr"] == 1.0


@pytest.mark.parametrize("bias_lr", [0.0, 3.0])
def test_b2_trains_at_its_own_rate(bias_lr):
    """One full-batch step: b2 moves by -rate * dL/db2, the rate bias_lr (0: lr)."""
    data = make_synthetic(SMALL)
    cfg = TrainConfig(epochs=1, output_layer="sgd", output_lr=1.0, biases="sgd",
                      bias_lr=bias_lr, lr_decay_epoch=-1)
    model = build_model(SMALL.n_dim, H, cfg.seed)
    logits = model(data.x_train)
    loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, data.y_train.float())
    grad_b2 = torch.autograd.grad(loss, model.out.bias)[0]
    out = train(data, H, cfg, Execution(progress=False))
    moved = torch.as_tensor(out.arrays["out.bias"]) - model.out.bias.detach()
    torch.testing.assert_close(moved, -(bias_lr or cfg.lr) * grad_b2, rtol=1e-4, atol=1e-7)


def test_noise_seed_redraws_the_samples_and_keeps_the_patterns():
    a, b = make_synthetic(SMALL), make_synthetic(replace(SMALL, noise_seed=7))
    assert torch.equal(a.masks, b.masks) and not torch.equal(a.x_train, b.x_train)
    assert torch.equal(make_synthetic(replace(SMALL, noise_seed=0)).x_train, a.x_train)
    with pytest.raises(ConfigError, match="noise_seed"):
        SyntheticConfig(noise_seed=-1)
    with pytest.raises(ConfigError, match="bias_lr"):
        TrainConfig(bias_lr=-1.0)


def _w2_norms(cfg, engine):
    """W2's norm at every recorded state (epoch 0: the initialization) of a run."""
    norms = []

    def callback(kind, _index, model):
        if kind == "epoch":
            norms.append(float(torch.linalg.vector_norm(model.out.weight.detach())))
    train(make_synthetic(SMALL), H, cfg, Execution(progress=False, engine=engine),
          callback=callback)
    return norms


@pytest.mark.parametrize("engine", ["fast", "reference"])
def test_output_norm_fixed_holds_w2_at_its_initial_norm(engine):
    """W2 by SGD at rate 1: its norm grows when free; with ``output_norm="fixed"`` it is
    projected back to its initial value after every step."""
    free = TrainConfig(epochs=8, output_layer="sgd", output_lr=1.0, lr_decay_epoch=-1)
    fixed = _w2_norms(replace(free, output_norm="fixed"), engine)
    free = _w2_norms(free, engine)
    assert len(fixed) == len(free) == 9 and fixed[0] == free[0]
    np.testing.assert_allclose(fixed, fixed[0], rtol=1e-6)
    assert abs(free[-1] - free[0]) > 0.05 * free[0]


def test_output_norm_fixed_changes_only_the_norm_of_the_first_step():
    """After one step from the same weights, the fixed run's W2 is the free run's rescaled
    to the initial norm, and W1 (Layca, from the same gradient) is the same."""
    data = make_synthetic(SMALL)
    free = TrainConfig(epochs=1, output_layer="sgd", output_lr=1.0, lr_decay_epoch=-1)
    a = train(data, H, free, Execution(progress=False)).arrays
    b = train(data, H, replace(free, output_norm="fixed"), Execution(progress=False)).arrays
    norm0 = torch.linalg.vector_norm(build_model(SMALL.n_dim, H, 0).out.weight.detach())
    w2 = torch.as_tensor(a["out.weight"])
    torch.testing.assert_close(torch.as_tensor(b["out.weight"]),
                               w2 * norm0 / torch.linalg.vector_norm(w2))
    np.testing.assert_array_equal(a["hidden.weight"], b["hidden.weight"])
