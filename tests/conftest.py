"""Shared settings of the test suite: one torch thread (small tensors, reproducible
timings on a 2-core machine)."""

import torch

torch.set_num_threads(1)
