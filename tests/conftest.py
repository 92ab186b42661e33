"""Shared settings of the test suite: one torch thread (small tensors, reproducible
timings on a 2-core machine)."""

import torch

torch.set_num_threads(1)

import os  # noqa: E402
from pathlib import Path  # noqa: E402

# MNIST for the notebook tests: the shared offline copy when no data root is set
_SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
if "WTM_DATA" not in os.environ and (_SHARED / "MNIST" / "raw").exists():
    os.environ["WTM_DATA"] = str(_SHARED)
