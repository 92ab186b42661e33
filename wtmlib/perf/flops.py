"""What training costs in matrix-product FLOPs, and the floor that sets on its time.

The book's cost is almost all matrix multiplies of known size: ``run_flops`` counts
them for a stored run (tested against PyTorch's FLOP counter), ``stored_summary`` adds
up the runs in a results folder and divides by a matmul rate (``wtm bench``).
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path

from wtmlib.results import cache
from wtmlib.training.fast.record import WINDOW

N, D, H, N_TEST = 15000, 500, 1000, 6000  # the paper's shapes (Section 2.1)


def pass_flops(rows: int, d: int, h: int, linear: bool = False, k: int = 1) -> float:
    """Matrix-product FLOPs of a forward pass over ``rows`` samples, z = W1^T x (2 rows dh),
    or of the W1 gradient of a step on them (the same). ``linear``: the linear model
    x (W1^T w2) + b2 of ``mlp_logits`` / ``sgd_step_``, whose hidden layer is never
    formed: 2 rows d (x v, or x^T g) plus 2dh (v = W1^T w2, or W1 x^T g) for each of
    the ``k`` steps the pass is split into, all matrix-vector products."""
    return 2 * rows * d + 2 * k * d * h if linear else 2 * rows * d * h


def epoch_flops(n: int, d: int, h: int, n_test: int, mini_batch: bool, probe: bool,
                linear: bool = False, steps: int = 1) -> float:
    """Matrix-product FLOPs of one epoch of ``steps`` training steps (``pass_flops``):
    the forward passes and the W1 gradients of the steps; the end-of-epoch pass over the
    training set of mini-batch training (full batch reuses the training pass); the
    probe pass on the test set."""
    return (2 * pass_flops(n, d, h, linear, steps) + (pass_flops(n, d, h, linear) if mini_batch
                                                      else 0)
            + (pass_flops(n_test, d, h, linear) if probe else 0))


def run_flops(config: dict, metrics: dict) -> float:
    """Matrix-product FLOPs of one stored run (``epoch_flops`` per epoch run, plus the
    recorded state at initialisation and, for full batch, the last state's pass)."""
    data, model, t = config["data"], config["model"], config["train"]
    n, n_test, h = data["n_train"], data["n_test"], model["n_hidden"]
    d = data.get("n_dim", 784)  # Aggregated MNIST: 28 x 28 inputs
    mini = 0 < t["batch_size"] < n
    linear = model["activation"] == "linear" and not model["batchnorm"]
    steps = -(-n // t["batch_size"]) if mini else 1
    per_epoch = epoch_flops(n, d, h, n_test, mini, t["probe"], linear, steps)
    # one more recorded state than epochs: the initial pass (mini-batch) or the last one
    state = pass_flops(n, d, h, linear) + (pass_flops(n_test, d, h, linear) if t["probe"] else 0)
    # each recorded state's pattern means, W1 times the mean input of each pattern (the
    # probe set's too): negligible beside a pass (0.2 %), not beside a linear one
    means = 2 * h * d * data.get("n_pat", 10) * (2 if t["probe"] else 1)
    # the derivative signs of each window of steps (an epoch, or WINDOW steps) are kept as
    # two vectors, summed by one product at the end, [n, windows] @ [windows, h]
    signs = 2 * n * h * -(-steps // WINDOW)
    return (metrics["epochs_run"] * (per_epoch + signs) + state
            + (metrics["epochs_run"] + 1) * means)


def stored_summary(rate_gflops: float, root: Path | None = None) -> dict:
    """Per experiment folder: the stored runs of the current numerics version, their
    FLOPs, the floor at ``rate_gflops`` and their summed training time (``wall_s``)."""
    root = Path(root) if root else cache.results_root()
    out = {}
    for meta in sorted(root.glob("*/*.json")):
        try:
            doc = json.loads(meta.read_text())
            if (doc.get("info", {}).get("numerics") != cache.NUMERICS_VERSION
                    or "epochs_run" not in doc["metrics"]):
                continue
            flop = run_flops(doc["config"], doc["metrics"])
        except (OSError, ValueError, KeyError):
            continue
        row = out.setdefault(meta.parent.name, {"runs": 0, "gflop": 0.0, "wall_s": 0.0,
                                                "probed": 0, "probed_floor_s": 0.0,
                                                "probed_wall_s": 0.0})
        row["runs"] += 1
        row["gflop"] += flop / 1e9
        row["wall_s"] += doc["metrics"]["wall_s"]
        rates = doc["metrics"].get("matmul_gflops")
        if rates:  # the machine's rate around this run (RateProbe): its own floor
            row["probed"] += 1
            row["probed_floor_s"] += flop / 1e9 / statistics.mean(rates)
            row["probed_wall_s"] += doc["metrics"]["wall_s"]
    for row in out.values():
        row["floor_s"] = row["gflop"] / rate_gflops
    return out
