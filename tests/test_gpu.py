"""The same code on a GPU (skipped where there is none): results agree with the CPU to
float32 rounding, not bit for bit (see the book's Guarantees page)."""

from dataclasses import replace

import numpy as np
import pytest
import torch

from wtmlib.data import SyntheticConfig, make_synthetic
from wtmlib.config import Execution, ModelConfig, TrainConfig
from wtmlib.training.loop import train, train_models

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")

DATA = SyntheticConfig(n_dim=60, l_pat=3, n_pat=6, n_train=600, n_test=120)
MODEL = ModelConfig(n_hidden=40)
LAYCA = TrainConfig(epochs=6, lr_decay_epoch=4, snapshots=(0, 3))
SGD = TrainConfig.section3(epochs=4, batch_size=64, until_fit=False)
CPU = Execution(device="cpu", progress=False)
CUDA = Execution(device="cuda", progress=False)
ENGINES = ["fast", "reference"]


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("cfg", [LAYCA, SGD], ids=["layca", "sgd"])
def test_cuda_matches_cpu_to_rounding(cfg, engine):
    data = make_synthetic(DATA)
    cpu = train(data, MODEL, cfg, replace(CPU, engine=engine))
    gpu = train(data, MODEL, cfg, replace(CUDA, engine=engine))
    assert gpu.metrics["device"].startswith("cuda")
    assert cpu.arrays.keys() == gpu.arrays.keys()
    for name in ("hidden.weight", "out.weight", "pattern_means_train", "history_loss"):
        np.testing.assert_allclose(gpu.arrays[name], cpu.arrays[name], rtol=1e-3, atol=1e-4,
                                   err_msg=name)
    assert abs(gpu.metrics["test_acc"] - cpu.metrics["test_acc"]) <= 0.02


@pytest.mark.parametrize("engine", ENGINES)
def test_cuda_twice_gives_the_same_bits(engine):
    data = make_synthetic(DATA)
    a = train(data, MODEL, LAYCA, replace(CUDA, engine=engine))
    b = train(data, MODEL, LAYCA, replace(CUDA, engine=engine))
    for name in a.arrays:
        np.testing.assert_array_equal(a.arrays[name], b.arrays[name], err_msg=name)


def test_stacked_on_cuda_matches_one_by_one_to_rounding():
    datas = [make_synthetic(replace(DATA, seed=s)) for s in range(3)]
    cfgs = [replace(SGD, seed=s) for s in range(3)]
    together = train_models(datas, MODEL, cfgs, CUDA)
    for d, c, t in zip(datas, cfgs, together):
        alone = train(d, MODEL, c, CUDA)
        np.testing.assert_allclose(t.arrays["hidden.weight"], alone.arrays["hidden.weight"],
                                   rtol=1e-3, atol=1e-4)
        assert t.metrics["epochs_run"] == alone.metrics["epochs_run"]
