"""Configuration fields added after results were stored: out of the key at their default,
in it when set, and doing what they say (b2's own rate, a noise-only redraw of S)."""

from dataclasses import replace

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
    keys = {key_of(SMALL, H, TrainConfig()), key_of(SMALL, H, TrainConfig(bias_lr=1.0)),
            key_of(SMALL, H, TrainConfig(keep_dz_sign=True)),
            key_of(replace(SMALL, noise_seed=1), H, TrainConfig())}
    assert len(keys) == 4
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
