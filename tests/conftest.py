"""Shared settings of the test suite: one torch thread (small tensors, reproducible
timings on a 2-core machine), runs on the CPU without progress bars."""

import torch

torch.set_num_threads(1)

import os  # noqa: E402
from pathlib import Path  # noqa: E402

from wtmlib.config import Execution, set_default_execution

set_default_execution(Execution(device="cpu", threads=1, progress=False))

# MNIST for the notebook tests: the shared offline copy when no data root is set
_SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
if "WTM_DATA" not in os.environ and (_SHARED / "MNIST" / "raw").exists():
    os.environ["WTM_DATA"] = str(_SHARED)


import pytest  # noqa: E402


@pytest.fixture
def results(tmp_path, monkeypatch):
    """An empty results folder for the paper profile's claims."""
    monkeypatch.setenv("WTM_RESULTS", str(tmp_path))
    monkeypatch.setenv("WTM_PROFILE", "paper")
    return tmp_path
