"""Golden runs: a few tiny configurations whose stored arrays must come back bit for bit.

Results are keyed by their configuration and ``wtmlib.results.cache.NUMERICS_VERSION``, not by the
code: a change of code that moves any number must raise that version, or the cache would
hand out results the current code no longer makes. These tests catch the change nobody
meant. When one fails and the change is meant, raise ``NUMERICS_VERSION`` and regenerate:

    .venv/bin/python tests/test_golden.py

Bits are only promised on the machine kind and torch version that wrote the files (the
CPU's matrix library sums in its own order): elsewhere the arrays are compared to float32
rounding and the test says so.
"""

import json
import platform
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from wtmlib.results import cache
from wtmlib.config import Execution, ModelConfig, TrainConfig
from wtmlib.data import SyntheticConfig, make_synthetic
from wtmlib.training.loop import train, train_models

HERE = Path(__file__).resolve().parent / "golden"
DATA = SyntheticConfig(n_dim=40, l_pat=2, n_pat=6, n_train=300, n_test=60)
EXE = Execution(device="cpu", threads=1, engine="fast", progress=False)
H = ModelConfig(n_hidden=12)
SINGLE = {
    "layca_full_batch": (H, TrainConfig(epochs=6, lr_decay_epoch=4, snapshots=(0, 3),
                                        output_layer="sgd", output_lr=1.0)),
    "sgd_until_fit": (H, TrainConfig.section3(epochs=12, batch_size=64)),
    "linear": (ModelConfig(n_hidden=12, activation="linear"), TrainConfig(epochs=5)),
    "batch_norm": (ModelConfig(n_hidden=12, batchnorm=True),
                   TrainConfig(epochs=4, batch_size=100, biases="sgd", output_layer="sgd")),
}
STACK = "stacked"


def machine() -> dict:
    """What the bits depend on besides the code."""
    cpu = platform.processor() or platform.machine()
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                   if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {"cpu": cpu, "torch": torch.__version__}


def compute(name: str) -> list[dict]:
    """The arrays of golden run ``name`` (a list: one per model of a stack)."""
    torch.set_num_threads(1)
    if name == STACK:
        datas = [make_synthetic(replace(DATA, sigma_train=s, seed=i))
                 for i, s in enumerate((0.1, 0.8, 0.4))]
        cfgs = [TrainConfig.section3(epochs=8, batch_size=64, seed=i) for i in range(3)]
        return [o.arrays for o in train_models(datas, H, cfgs, EXE)]
    model_cfg, cfg = SINGLE[name]
    return [train(make_synthetic(DATA), model_cfg, cfg, EXE).arrays]


def regenerate() -> None:
    HERE.mkdir(exist_ok=True)
    for name in [*SINGLE, STACK]:
        for i, arrays in enumerate(compute(name)):
            np.savez_compressed(HERE / f"{name}_{i}.npz", **arrays)
    (HERE / "meta.json").write_text(json.dumps(
        {"numerics": cache.NUMERICS_VERSION, **machine()}, indent=1) + "\n")
    print(f"golden runs written to {HERE} for numerics version {cache.NUMERICS_VERSION}")


META = json.loads((HERE / "meta.json").read_text()) if (HERE / "meta.json").exists() else {}


def test_golden_files_belong_to_this_numerics_version():
    assert META.get("numerics") == cache.NUMERICS_VERSION, (
        f"tests/golden was written for numerics version {META.get('numerics')}, the code says "
        f"{cache.NUMERICS_VERSION}: regenerate them (python tests/test_golden.py)")


@pytest.mark.parametrize("name", [*SINGLE, STACK])
def test_golden_run_comes_back_bit_for_bit(name):
    got = compute(name)
    same_machine = machine() == {k: META.get(k) for k in ("cpu", "torch")}
    for i, arrays in enumerate(got):
        with np.load(HERE / f"{name}_{i}.npz", allow_pickle=False) as f:
            want = {k: f[k] for k in f.files}
        assert arrays.keys() == want.keys(), f"{name}: other arrays recorded"
        for key in want:
            if same_machine:
                same = np.array_equal(arrays[key], want[key], equal_nan=True)
            else:  # another CPU or torch: float rounding may differ
                same = np.allclose(arrays[key], want[key], rtol=1e-4, atol=1e-5, equal_nan=True)
            assert same, (
                f"golden run {name!r} (model {i}) recorded other {key!r} than stored"
                f"{'' if same_machine else ' (beyond float rounding: written on ' + str(META) + ')'}."
                " If the change of numbers is meant, raise NUMERICS_VERSION in wtmlib/results/cache.py"
                " and regenerate: python tests/test_golden.py")


if __name__ == "__main__":
    sys.exit(regenerate())
