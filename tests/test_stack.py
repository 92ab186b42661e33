"""Models trained together (``train_models``: stacked weights, bmm) equal models trained
one by one, bit for bit on the CPU."""

from dataclasses import replace

import numpy as np
import pytest

from wtmlib.config import ConfigError
from wtmlib.data import SyntheticConfig, make_synthetic
from wtmlib.config import ModelConfig, TrainConfig
from wtmlib.training.loop import train, train_models

DATA = SyntheticConfig(n_dim=40, l_pat=2, n_pat=6, n_train=300, n_test=60)
MODEL = ModelConfig(n_hidden=16)
SGD = TrainConfig.section3(epochs=25, batch_size=64, snapshots=(0, 2, 5), keep_neurons=4)


def _members(sigmas_seeds):
    datas = [make_synthetic(replace(DATA, sigma_train=s, seed=seed)) for s, seed in sigmas_seeds]
    cfgs = [replace(SGD, seed=seed) for _, seed in sigmas_seeds]
    return datas, cfgs


@pytest.mark.parametrize("model_cfg", [MODEL, ModelConfig(n_hidden=16, activation="linear")])
def test_stacked_equals_one_by_one_bit_for_bit(model_cfg):
    # the first member fits within a few epochs, a noisy one takes longer or hits the bound
    datas, cfgs = _members([(0.1, 0), (1.0, 1), (0.4, 2), (2.0, 0)])
    done = []
    together = train_models(datas, model_cfg, cfgs, on_done=lambda i, out: done.append(i))
    alone = [train(d, model_cfg, c) for d, c in zip(datas, cfgs)]
    assert sorted(done) == [0, 1, 2, 3]
    epochs = [a.metrics["epochs_run"] for a in alone]
    assert len(set(epochs)) > 1, "the per-model stopping rule is not exercised"
    # models handed over in the order they stopped
    assert [epochs[i] for i in done] == sorted(epochs[i] for i in done)
    for t, a in zip(together, alone):
        assert t.arrays.keys() == a.arrays.keys()
        for name in a.arrays:
            np.testing.assert_array_equal(t.arrays[name], a.arrays[name], err_msg=name)
        for key in ("epochs_run", "steps", "train_acc", "test_acc", "fitted", "hit_max_epochs"):
            assert t.metrics[key] == a.metrics[key], key
        assert t.metrics["stacked_with"] == 4


def test_stacked_without_probe_reports_test_accuracy():
    datas, cfgs = _members([(0.4, 0), (0.4, 1)])
    cfgs = [replace(c, probe=False, epochs=3, snapshots=()) for c in cfgs]
    together = train_models(datas, MODEL, cfgs)
    alone = [train(d, MODEL, c) for d, c in zip(datas, cfgs)]
    assert [t.metrics["test_acc"] for t in together] == [a.metrics["test_acc"] for a in alone]


@pytest.mark.parametrize("change, match", [
    (dict(model=ModelConfig(n_hidden=16, batchnorm=True)), "batchnorm"),
    (dict(train=TrainConfig()), "optimizer='layca'"),
    (dict(train=TrainConfig.section3(batch_size=0)), "batch_size=0"),
    (dict(other=replace(SGD, lr=0.5)), "differ only in seed"),
    (dict(data=replace(DATA, n_train=240)), "differ in shape"),
])
def test_stacked_refuses_what_it_cannot_train(change, match):
    datas, cfgs = _members([(0.4, 0), (0.4, 1)])
    model = change.get("model", MODEL)
    if "train" in change:
        cfgs = [replace(change["train"], seed=c.seed) for c in cfgs]
    if "other" in change:
        cfgs[1] = change["other"]
    if "data" in change:
        datas[1] = make_synthetic(change["data"])
    with pytest.raises(ConfigError, match=match):
        train_models(datas, model, cfgs)
    with pytest.raises(ConfigError, match="same number"):
        train_models(datas, MODEL, cfgs[:1])
