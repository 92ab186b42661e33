"""Grids of runs: each run cached as soon as it ends, so a killed sweep resumes.

``noise_grid`` is Figure 1 (Section 3.1): one model per (sigma_train, seed), trained
until it fits its training set, then evaluated on test sets drawn at every sigma_test
with the same pattern masks.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace

import numpy as np
import torch
from tqdm.auto import tqdm

from .data import SyntheticConfig, make_synthetic
from .runs import run
from .train import ModelConfig, TrainConfig, evaluate_accuracy, model_from_arrays


def _bar(progress: bool, **kwargs):
    """A tqdm bar, off when asked or when ``$TQDM_DISABLE`` is set (papermill runs)."""
    return tqdm(disable=not progress or bool(os.environ.get("TQDM_DISABLE")), **kwargs)


def seeded(data_cfg, train_cfg, seed: int):
    """The data and training configurations of seed ``seed`` (masks, noise, init, order)."""
    return replace(data_cfg, seed=seed), replace(train_cfg, seed=seed)


@dataclass
class NoiseGrid:
    """Figure 1's numbers. Axes: seeds x sigma_train (x sigma_test)."""

    sigmas_train: list
    sigmas_test: list
    seeds: list
    acc: np.ndarray  # [n_seeds, n_sigma_train, n_sigma_test] test accuracy
    epochs: np.ndarray  # [n_seeds, n_sigma_train] epochs to fit (or the bound)
    hit_max: np.ndarray  # [n_seeds, n_sigma_train] bool: the bound was hit, not fitted
    wall_s: np.ndarray  # [n_seeds, n_sigma_train] training time of each run

    def mean_acc(self) -> np.ndarray:
        """``[n_sigma_train, n_sigma_test]`` mean test accuracy over seeds."""
        return self.acc.mean(0)


def noise_grid(data_cfg: SyntheticConfig, model_cfg: ModelConfig, train_cfg: TrainConfig,
               sigmas_train, sigmas_test, seeds, experiment: str = "noise",
               progress: bool = True) -> NoiseGrid:
    """Train (or load) every (seed, sigma_train) model and test it at every sigma_test."""
    shape = (len(seeds), len(sigmas_train))
    acc = np.zeros(shape + (len(sigmas_test),))
    epochs, hit, wall = np.zeros(shape, int), np.zeros(shape, bool), np.zeros(shape)
    bar = _bar(progress, total=acc[..., 0].size, desc="noise grid")
    for i, seed in enumerate(seeds):
        d_cfg, t_cfg = seeded(data_cfg, train_cfg, seed)
        tests = [make_synthetic(replace(d_cfg, sigma_test=s)) for s in sigmas_test]
        for j, s_train in enumerate(sigmas_train):
            res = run(replace(d_cfg, sigma_train=s_train), model_cfg, t_cfg, experiment)
            model = model_from_arrays(res.arrays, model_cfg)
            acc[i, j] = [evaluate_accuracy(model, t.x_test, t.y_test) for t in tests]
            epochs[i, j] = res.metrics["epochs_run"]
            hit[i, j] = res.metrics["hit_max_epochs"]
            wall[i, j] = res.metrics["wall_s"]
            bar.update()
    bar.close()
    return NoiseGrid(list(sigmas_train), list(sigmas_test), list(seeds), acc, epochs, hit, wall)


def best_sigma_train(grid: NoiseGrid) -> list[dict]:
    """For every sigma_test: the sigma_train with the best mean test accuracy, and its
    margin over its neighbours on the sigma_train axis (best minus the better
    neighbour; positive means a strict interior or edge maximum)."""
    mean = grid.mean_acc()
    rows = []
    for k, s_test in enumerate(grid.sigmas_test):
        col = mean[:, k]
        j = int(np.argmax(col))
        neighbours = [col[n] for n in (j - 1, j + 1) if 0 <= n < len(col)]
        rows.append(dict(sigma_test=s_test, best_sigma_train=grid.sigmas_train[j],
                         best_acc=float(col[j]),
                         margin=float(col[j] - max(neighbours)) if neighbours else float("nan"),
                         seed_sd=float(grid.acc[:, j, k].std())))
    return rows


def top_neurons(w2: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` hidden neurons with the largest |W2| (Section 3.2)."""
    return np.argsort(-np.abs(np.ravel(w2)), kind="stable")[:k]


def to_numpy(t) -> np.ndarray:
    return t.detach().cpu().numpy() if isinstance(t, torch.Tensor) else np.asarray(t)


def seed_runs(data_cfg, model_cfg: ModelConfig, train_cfg: TrainConfig, seeds,
              experiment: str = "runs", progress: bool = True) -> list:
    """One cached run per seed (data, initial weights and batch order all drawn from it)."""
    out = []
    for seed in _bar(progress, iterable=seeds, desc=experiment):
        d_cfg, t_cfg = seeded(data_cfg, train_cfg, seed)
        out.append(run(d_cfg, model_cfg, t_cfg, experiment))
    return out


def wtm_table(results: list, early_epoch: int, data: list | None = None) -> "pd.DataFrame":
    """``measures.wtm_summary`` of each run (rows: seeds), measured over all neurons.
    ``data``: the runs' data sets when already loaded (else regenerated / read)."""
    import pandas as pd  # noqa: PLC0415

    from .measures import wtm_summary  # noqa: PLC0415
    from .runs import load_data_of  # noqa: PLC0415

    rows = {}
    for i, res in enumerate(results):
        d = data[i] if data is not None else load_data_of(res)
        rows[res.config["train"]["seed"]] = dict(
            test_acc=res.metrics["test_acc"],
            **wtm_summary(res.arrays, d.y_train.numpy(), d.centroids.shape[0], early_epoch))
    return pd.DataFrame(rows).T.rename_axis("seed")


def mean_sd(table: "pd.DataFrame") -> "pd.DataFrame":
    """Mean and standard deviation over the rows (seeds) of a table of numbers."""
    import pandas as pd  # noqa: PLC0415

    t = table.astype(float)
    return pd.DataFrame({"mean": t.mean(), "sd": t.std(ddof=1) if len(t) > 1 else 0.0 * t.mean(),
                         "seeds": len(t)})


def section3_configs(params: dict):
    """(data, model, train) configurations of the Section 3 chapter's parameters."""
    from .report import configs  # noqa: PLC0415

    data_cfg, model_cfg = configs(params, SyntheticConfig, ModelConfig)
    return data_cfg, model_cfg, TrainConfig.section3(
        lr=params["lr"], batch_size=params["batch_size"], epochs=params["epochs"],
        threads=params["threads"], progress=False)


def section4_configs(params: dict, data_class=SyntheticConfig):
    """(data, model, train) configurations of the Section 4 chapters' parameters."""
    from .report import configs  # noqa: PLC0415

    data_cfg, model_cfg, train_cfg = configs(params, data_class, ModelConfig, TrainConfig)
    return data_cfg, model_cfg, replace(train_cfg, progress=False)
