"""Bad input fails at construction with a ConfigError naming the parameter."""

import re

import pytest
import torch

from wtmlib.config import ConfigError
from wtmlib.data import SyntheticConfig
from wtmlib.model import MLP
from wtmlib.optim import Layca
from wtmlib.config import Execution, ModelConfig, TrainConfig

SMALL = dict(n_dim=60, l_pat=3, n_pat=6, n_train=600, n_test=120)


def S(**changes):
    return lambda: SyntheticConfig(**{**SMALL, **changes})


def M(**changes):
    return lambda: ModelConfig(**changes)


def T(**changes):
    return lambda: TrainConfig(**changes)


CASES = [
    # synthetic data (Algorithm 1)
    ("sigma_train", S(sigma_train=-0.1)),
    ("sigma_test", S(sigma_test=-1)),
    ("sigma_train", S(sigma_train="0.4")),
    ("delta", S(delta=-1.0)),
    ("n_pat", S(n_pat=5, n_train=600, n_test=120)),
    ("n_pat", S(n_pat=0)),
    ("n_pat * l_pat", S(n_dim=100, l_pat=5, n_pat=30, n_train=600, n_test=120)),
    ("n_train", S(n_train=601)),
    ("n_test", S(n_test=100)),
    ("n_train", S(n_train=0)),
    ("pattern_weights", S(pattern_weights=(1, 1, 1))),
    ("pattern_weights[2]", S(pattern_weights=(1, 1, -1, 1, 1, 1))),
    ("pattern_weights", S(pattern_weights=(0, 0, 0, 0, 0, 0))),
    ("pattern_weights", S(pattern_weights="111111")),
    ("pattern_weights[0]", S(pattern_weights=("1", 1, 1, 1, 1, 1))),
    ("n_dim", S(n_dim="500")),
    ("n_dim", S(n_dim=60.0)),
    ("n_dim", S(n_dim=True)),
    ("l_pat", S(l_pat=2.5)),
    ("l_pat", S(l_pat=0)),
    ("l_pat", S(l_pat=61)),
    ("overlap", S(overlap="yes")),
    ("overlap", S(overlap=1)),
    ("sigma_train", S(sigma_train=float("nan"))),
    ("sigma_test", S(sigma_test=float("inf"))),
    ("delta", S(delta=float("nan"))),
    ("pattern_weights[1]", S(pattern_weights=(1, float("inf"), 1, 1, 1, 1))),
    ("seed", S(seed=-1)),
    ("seed", S(seed=1.0)),
    ("n_train", S(n_train=False)),
    # model
    ("n_hidden", M(n_hidden=2.5)),
    ("n_hidden", M(n_hidden=0)),
    ("n_hidden", M(n_hidden=True)),
    ("n_hidden", M(n_hidden="1000")),
    ("activation", M(activation="tanh")),
    ("batchnorm", M(batchnorm="no")),
    ("n_in", lambda: MLP(0, 5)),
    ("n_hidden", lambda: MLP(10, 2.5)),
    ("activation", lambda: MLP(10, 5, activation="sigmoid")),
    ("batchnorm", lambda: MLP(10, 5, batchnorm=1)),
    # training
    ("lr", T(lr=0)),
    ("lr", T(lr=-0.1)),
    ("lr", T(lr="0.1")),
    ("lr", T(lr=True)),
    ("lr", T(lr=float("nan"))),
    ("lr", T(lr=float("inf"))),
    ("output_lr", T(output_lr=float("nan"))),
    ("optimizer", T(optimizer="adam")),
    ("batch_size", T(batch_size=-1)),
    ("batch_size", T(batch_size=64.0)),
    ("epochs", T(epochs=0)),
    ("epochs", T(epochs=True)),
    ("until_fit", T(until_fit="yes")),
    ("lr_decay_epoch", T(lr_decay_epoch=-2)),
    ("lr_decay_factor", T(lr_decay_factor=0)),
    ("biases", T(biases="train")),
    ("output_layer", T(output_layer="adam")),
    ("output_lr", T(output_lr=-1.0)),
    ("seed", T(seed=-3)),
    ("probe", T(probe=1)),
    ("keep_neurons", T(keep_neurons=-1)),
    ("keep_mean_sign", T(keep_mean_sign=0)),
    ("keep_probe_means", T(keep_probe_means="no")),
    ("output_norm", T(output_layer="sgd", output_norm="projected")),
    ("output_norm", T(output_norm="fixed")),  # Layca on W2 keeps its norm already
    ("output_norm", T(optimizer="sgd", output_layer="sgd", output_norm="fixed")),
    # execution settings
    ("device", lambda: Execution(device="tpu")),
    ("device", lambda: Execution(device=0)),
    ("threads", lambda: Execution(threads=-1)),
    ("progress", lambda: Execution(progress="no")),
    ("engine", lambda: Execution(engine="slow")),
    ("workers", lambda: Execution(workers=-1)),
    ("batch_models", lambda: Execution(batch_models=1.5)),
    ("checkpoint_every", lambda: Execution(checkpoint_every=-1)),
    ("epochs", lambda: TrainConfig.section3(epochs=0)),
    # optimizer
    ("lr", lambda: Layca([torch.nn.Parameter(torch.ones(2))], lr=0)),
    ("mode", lambda: Layca([torch.nn.Parameter(torch.ones(2))], lr=0.1, mode="adam")),
]


@pytest.mark.parametrize("name,make", CASES, ids=[f"{i}-{c[0]}" for i, c in enumerate(CASES)])
def test_bad_input_names_the_parameter(name, make):
    # the message starts with the parameter's name (not a longer name containing it)
    with pytest.raises(ConfigError, match=rf"^{re.escape(name)}(?![\w\[])"):
        make()


def test_config_error_is_a_value_error():
    assert issubclass(ConfigError, ValueError)
    with pytest.raises(ValueError):
        SyntheticConfig(sigma_train=-1)


def test_valid_configurations_pass():
    SyntheticConfig()
    SyntheticConfig(**{**SMALL, "overlap": True, "n_dim": 10})
    SyntheticConfig(**{**SMALL, "pattern_weights": [1, 0, 2, 0, 1, 1], "n_train": 7})
    SyntheticConfig(**{**SMALL, "sigma_train": 0, "sigma_test": 0.0, "delta": 2})
    ModelConfig(n_hidden=1, activation="linear", batchnorm=True)
    TrainConfig(lr=1, batch_size=0, lr_decay_epoch=-1, keep_mean_sign=False)
    Execution(device="cuda:1", threads=2, engine="reference", workers=2, batch_models=8)
    TrainConfig.section3()


def test_configs_are_frozen():
    cfg = SyntheticConfig()
    with pytest.raises(AttributeError):
        cfg.sigma_train = -1  # type: ignore[misc]


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA present")
def test_cuda_requested_without_cuda():
    with pytest.raises(ConfigError, match="^device="):
        Execution(device="cuda").torch_device()
    assert Execution(device="auto").torch_device() == torch.device("cpu")
