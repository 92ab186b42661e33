"""A run's whole training state on disk, so that a killed run resumes where it was.

The state (weights, optimizers, recorders, batch-order generators, snapshots, where the
loop stands) is written every ``Execution.checkpoint_every`` epochs, once
``checkpoint_every_s`` seconds have passed since the last write (spacing writes in time
bounds their cost on long runs and what a kill loses on short epochs). A run
started again with the same configuration and data resumes from it and ends with the
arrays of an uninterrupted run; a checkpoint of anything else is ignored with a warning.
Files are read with ``torch.load(weights_only=True)``: loading runs no code.
"""

from __future__ import annotations

import hashlib
import json
import time
import warnings
from dataclasses import asdict
from pathlib import Path

import torch

from wtmlib.training.files import atomic_write


def fingerprint(datas: list, model_cfg, cfgs: list) -> dict:
    """What a checkpoint must match to be resumed: the configurations and the data."""
    h = hashlib.sha256()
    for d in datas:
        for t in (d.x_train, d.y_train, d.p_train, d.x_test, d.y_test):
            h.update(t.detach().cpu().contiguous().numpy().tobytes())
    return json.loads(json.dumps(dict(model=asdict(model_cfg), train=[asdict(c) for c in cfgs],
                                      data=h.hexdigest())))


class Checkpointer:
    """Saves and loads one run's training state at ``path`` (``None``: never)."""

    def __init__(self, path, fp: dict, every: int, every_s: float):
        self.path = None if path is None else Path(path)
        self.fp, self.every, self.every_s = fp, every, every_s
        self.last = time.perf_counter()

    def load(self) -> dict | None:
        """The saved state if it belongs to this run, else ``None`` (with a warning when
        a file exists but cannot be used)."""
        if self.path is None or not self.path.exists():
            return None
        try:
            state = torch.load(self.path, map_location="cpu", weights_only=True)
            if state.get("fingerprint") != self.fp:
                raise ValueError("it belongs to another configuration")
            return state
        except Exception as err:  # noqa: BLE001 - any damage means start from scratch
            warnings.warn(f"ignoring checkpoint {self.path} ({type(err).__name__}: {err}); "
                          "starting from epoch 0", stacklevel=3)
            return None

    def maybe_save(self, epoch: int, state) -> None:
        """Save ``state()`` before ``epoch`` when the cadence says so. A failed write warns
        and training goes on (the run itself does not depend on its checkpoint)."""
        if self.path is None or not self.every or epoch % self.every:
            return
        if time.perf_counter() - self.last < self.every_s:
            return
        self.last = time.perf_counter()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            doc = dict(state(), fingerprint=self.fp)
            atomic_write(self.path, lambda f: torch.save(doc, f))
        except OSError as err:
            warnings.warn(f"could not write checkpoint {self.path} ({err.strerror or err}); "
                          "training goes on without it", stacklevel=3)
