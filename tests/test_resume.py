"""A sweep killed with SIGKILL resumes: finished runs are loaded, the rest recomputed,
and the results equal those of an uninterrupted sweep (Reliability)."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

SWEEP = """
import sys
from wtmlib.results import experiments
from wtmlib.data import SyntheticConfig
from wtmlib.config import Execution, ModelConfig, TrainConfig, set_default_execution
set_default_execution(Execution(threads=1, progress=False))
data = SyntheticConfig(n_dim=60, l_pat=3, n_pat=6, n_train=600, n_test=120)
train = TrainConfig.section3(epochs=30, batch_size=32)
grid = experiments.noise_grid(data, ModelConfig(n_hidden=40), train, [0.1, 0.3, 0.6, 1.0],
                              [0.2, 0.5], [0, 1])
import numpy as np
np.save(sys.argv[1], grid.acc)
"""


def _sweep(results: Path, out: Path, wait=True):
    env = dict(os.environ, WTM_RESULTS=str(results))
    proc = subprocess.Popen([sys.executable, "-c", SWEEP, str(out)], env=env)
    if wait:
        assert proc.wait(timeout=600) == 0
    return proc


def _stored(results: Path) -> dict:
    return {p.stem: json.loads(p.read_text())["info"]["npz_sha256"]
            for p in (results / "noise").glob("*.json")}


@pytest.mark.slow
def test_killed_sweep_resumes_with_identical_results(tmp_path):
    full = tmp_path / "full"
    _sweep(full, tmp_path / "full.npy")
    reference = _stored(full)
    assert len(reference) == 8

    killed = tmp_path / "killed"
    proc = _sweep(killed, tmp_path / "killed.npy", wait=False)
    deadline = time.time() + 300
    while len(list((killed / "noise").glob("*.json"))) < 3 and time.time() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    before = _stored(killed)
    assert 3 <= len(before) < 8, "the sweep should have been killed in the middle"
    mtimes = {p.name: p.stat().st_mtime_ns for p in (killed / "noise").glob("*.json")}

    _sweep(killed, tmp_path / "killed.npy")
    after = _stored(killed)
    assert after == reference  # same keys, bit-identical arrays
    for name, t in mtimes.items():  # finished runs were loaded, not recomputed
        assert (killed / "noise" / name).stat().st_mtime_ns == t
    np.testing.assert_array_equal(np.load(tmp_path / "full.npy"), np.load(tmp_path / "killed.npy"))


LONG_RUN = """
from wtmlib.results import runs
from wtmlib.data import SyntheticConfig
from wtmlib.config import Execution, ModelConfig, TrainConfig
data = SyntheticConfig(n_dim=200, l_pat=10, n_pat=10, n_train=3000, n_test=600)
runs.run(data, ModelConfig(n_hidden=300), TrainConfig(epochs=120, lr_decay_epoch=100,
         snapshots=[0, 50, 120]), experiment="long",
         execution=Execution(threads=1, progress=False, checkpoint_every=10,
                             checkpoint_every_s=0))
"""


def _long_run(results: Path, wait=True):
    env = dict(os.environ, WTM_RESULTS=str(results))
    proc = subprocess.Popen([sys.executable, "-c", LONG_RUN], env=env)
    if wait:
        assert proc.wait(timeout=600) == 0
    return proc


@pytest.mark.slow
def test_killed_long_run_resumes_from_its_checkpoint(tmp_path):
    _long_run(tmp_path / "full")
    (reference,) = (tmp_path / "full" / "long").glob("*.json")

    killed = tmp_path / "killed"
    proc = _long_run(killed, wait=False)
    deadline = time.time() + 300
    while not list((killed / "long").glob("*.ckpt.pt")) and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)  # let it run on past the checkpoint
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not list((killed / "long").glob("*.json")), "killed too late: the run had finished"

    _long_run(killed)
    (resumed,) = (killed / "long").glob("*.json")
    assert not list((killed / "long").glob("*.ckpt.pt"))  # removed once the result is stored
    ref, got = json.loads(reference.read_text()), json.loads(resumed.read_text())
    assert got["metrics"]["resumed_from_epoch"] > 0
    assert got["metrics"]["resumed_from_epoch"] % 10 == 0
    assert got["info"]["npz_sha256"] == ref["info"]["npz_sha256"]  # bit-identical arrays
    for key in ("epochs_run", "steps", "train_acc", "test_acc"):
        assert got["metrics"][key] == ref["metrics"][key]
