"""Long single runs checkpoint every N epochs and resume with identical results
(Reliability): interrupted by an exception here, by SIGKILL in ``test_resume``."""

from dataclasses import replace

import numpy as np
import pytest
import torch

from wtmlib.results import cache, runs
from wtmlib.data import SyntheticConfig, make_synthetic
from wtmlib.config import Execution, ModelConfig, TrainConfig
from wtmlib.training.loop import train

TINY = SyntheticConfig(n_dim=40, l_pat=2, n_pat=6, n_train=300, n_test=60)
MODEL = ModelConfig(n_hidden=12)
REGIMES = {
    "layca full batch": TrainConfig(epochs=9, lr_decay_epoch=5, snapshots=(0, 3, 9)),
    # W2's initial norm travels in the optimizer's state
    "W2 by SGD, norm fixed": TrainConfig(epochs=9, lr_decay_epoch=5, output_layer="sgd",
                                         output_lr=1.0, output_norm="fixed"),
    "sgd mini-batch": TrainConfig.section3(epochs=9, batch_size=64, until_fit=False,
                                           snapshots=(1, 6)),
    "sgd small batches": TrainConfig.section3(epochs=9, batch_size=4, until_fit=False),
}
EXE = Execution(device="cpu", progress=False, checkpoint_every=2, checkpoint_every_s=0)


class Stop(Exception):
    pass


def _interrupt_at(epoch):
    def callback(kind, index, _model):
        if kind == "epoch" and index == epoch:
            raise Stop
    return callback


def _assert_same_arrays(a, b):
    assert a.keys() == b.keys()
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)


@pytest.mark.parametrize("regime", REGIMES)
def test_interrupted_run_resumes_from_its_checkpoint(tmp_path, regime):
    cfg = REGIMES[regime]
    data = make_synthetic(TINY)
    whole = train(data, MODEL, cfg)
    assert whole.metrics["resumed_from_epoch"] == 0
    ckpt = tmp_path / "run.ckpt.pt"
    with pytest.raises(Stop):
        train(data, MODEL, cfg, callback=_interrupt_at(7), checkpoint=ckpt, execution=EXE)
    assert ckpt.exists()
    # the derivative signs travel as one int8 vector pair per window of steps (here an
    # epoch: 6 before the checkpoint), no steps left pending
    rec = torch.load(ckpt, weights_only=True)["engine"]["recorders"][0]
    assert len(rec["window_s"]) == len(rec["window_t"]) == 6 and "pending" not in rec
    assert all(v.dtype == torch.int8 and v.shape == (TINY.n_train,) for v in rec["window_s"])
    resumed = train(data, MODEL, cfg, checkpoint=ckpt, execution=EXE)
    assert resumed.metrics["resumed_from_epoch"] == 6  # the last multiple of 2 before 7
    _assert_same_arrays(whole.arrays, resumed.arrays)
    for key in ("epochs_run", "steps", "train_acc", "test_acc"):
        assert whole.metrics[key] == resumed.metrics[key]


def test_checkpoints_are_spaced_in_time(tmp_path):
    """``checkpoint_every_s``: no checkpoint until that much time has passed."""
    cfg = REGIMES["sgd mini-batch"]
    data = make_synthetic(TINY)
    ckpt = tmp_path / "run.ckpt.pt"
    with pytest.raises(Stop):
        train(data, MODEL, cfg, replace(EXE, checkpoint_every_s=3600.0),
              callback=_interrupt_at(7), checkpoint=ckpt)
    assert not ckpt.exists()
    resumed = train(data, MODEL, cfg, EXE, checkpoint=ckpt)
    assert resumed.metrics["resumed_from_epoch"] == 0


def test_checkpoint_of_another_configuration_is_ignored(tmp_path):
    cfg = REGIMES["layca full batch"]
    data = make_synthetic(TINY)
    ckpt = tmp_path / "run.ckpt.pt"
    with pytest.raises(Stop):
        train(data, MODEL, cfg, EXE, callback=_interrupt_at(5), checkpoint=ckpt)
    other = TrainConfig(**{**cfg.__dict__, "seed": 1})
    with pytest.warns(UserWarning, match="another configuration"):
        out = train(data, MODEL, other, EXE, checkpoint=ckpt)
    assert out.metrics["resumed_from_epoch"] == 0
    with pytest.raises(Stop), pytest.warns(UserWarning, match="another configuration"):
        train(data, MODEL, cfg, EXE, callback=_interrupt_at(5), checkpoint=ckpt)  # seed 0 again
    with pytest.warns(UserWarning, match="another configuration"):  # same config, other data
        out = train(make_synthetic(TINY.__class__(**{**TINY.__dict__, "seed": 3})), MODEL, cfg,
                    EXE, checkpoint=ckpt)
    assert out.metrics["resumed_from_epoch"] == 0


class Boom:
    def __reduce__(self):
        import os
        return (os.system, ("touch PWNED",))


def test_crafted_pickle_checkpoint_is_refused_not_executed(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    ckpt = tmp_path / "run.ckpt.pt"
    torch.save({"fingerprint": Boom()}, ckpt)  # torch.save pickles; weights_only must refuse
    hostile = ckpt.read_bytes()  # (the run overwrites its checkpoint as it goes)
    with pytest.warns(UserWarning, match="ignoring checkpoint"):
        out = train(make_synthetic(TINY), MODEL, REGIMES["layca full batch"], EXE,
                    checkpoint=ckpt)
    assert out.metrics["resumed_from_epoch"] == 0
    assert not (tmp_path / "PWNED").exists()
    ckpt.write_bytes(hostile)
    torch.load(ckpt, weights_only=False)  # the file is really hostile: unsafe loading runs it
    assert (tmp_path / "PWNED").exists()


def test_unwritable_checkpoint_warns_and_training_goes_on(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    with pytest.warns(UserWarning, match="could not write checkpoint"):
        out = train(make_synthetic(TINY), MODEL, REGIMES["layca full batch"], EXE,
                    checkpoint=blocker / "run.ckpt.pt")
    assert out.metrics["epochs_run"] == 9


def test_run_removes_its_checkpoint_once_stored(tmp_path):
    cfg = REGIMES["sgd mini-batch"]
    res = runs.run(TINY, MODEL, cfg, experiment="exp", root=tmp_path)
    assert not cache.checkpoint_path("exp", res.key, tmp_path).exists()
    assert (tmp_path / "exp" / f"{res.key}.npz").exists()
