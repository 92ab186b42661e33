"""The same code on a GPU (skipped where there is none): results agree with the CPU to
float32 rounding, not bit for bit (see the book's Guarantees page)."""

from dataclasses import replace

import numpy as np
import pytest
import torch

from wtmlib.batched import train_many
from wtmlib.data import SyntheticConfig, make_synthetic
from wtmlib.train import ModelConfig, TrainConfig, train

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")

DATA = SyntheticConfig(n_dim=60, l_pat=3, n_pat=6, n_train=600, n_test=120)
MODEL = ModelConfig(n_hidden=40)
LAYCA = TrainConfig(epochs=6, lr_decay_epoch=4, snapshots=(0, 3), progress=False)
SGD = TrainConfig.section3(epochs=4, batch_size=64, until_fit=False, progress=False)


@pytest.mark.parametrize("cfg", [LAYCA, SGD], ids=["layca", "sgd"])
def test_cuda_matches_cpu_to_rounding(cfg):
    data = make_synthetic(DATA)
    cpu = train(data, MODEL, replace(cfg, device="cpu"))
    gpu = train(data, MODEL, replace(cfg, device="cuda"))
    assert gpu.metrics["device"].startswith("cuda")
    assert cpu.arrays.keys() == gpu.arrays.keys()
    for name in ("hidden.weight", "out.weight", "pattern_means_train", "history_loss"):
        np.testing.assert_allclose(gpu.arrays[name], cpu.arrays[name], rtol=1e-3, atol=1e-4,
                                   err_msg=name)
    assert abs(gpu.metrics["test_acc"] - cpu.metrics["test_acc"]) <= 0.02


def test_cuda_twice_gives_the_same_bits():
    data = make_synthetic(DATA)
    a = train(data, MODEL, replace(LAYCA, device="cuda"))
    b = train(data, MODEL, replace(LAYCA, device="cuda"))
    for name in a.arrays:
        np.testing.assert_array_equal(a.arrays[name], b.arrays[name], err_msg=name)


def test_batched_on_cuda_matches_one_by_one_to_rounding():
    datas = [make_synthetic(replace(DATA, seed=s)) for s in range(3)]
    cfgs = [replace(SGD, seed=s, device="cuda") for s in range(3)]
    together = train_many(datas, MODEL, cfgs, progress=False)
    for d, c, t in zip(datas, cfgs, together):
        alone = train(d, MODEL, c)
        np.testing.assert_allclose(t.arrays["hidden.weight"], alone.arrays["hidden.weight"],
                                   rtol=1e-3, atol=1e-4)
        assert t.metrics["epochs_run"] == alone.metrics["epochs_run"]
