"""A chapter's parameters (its papermill ``parameters`` cell) as library configurations.

A chapter's parameters are plain values; ``configs(P, SyntheticConfig, ...)`` hands them
to the dataclasses whose fields they name, unchanged. ``section3`` and ``section4`` add
the regime of each section, ``use_execution`` makes the chapter's execution settings
(threads, workers, stacked models) the process's default. The ``*_jobs`` functions list
the ``(data, model, train)`` runs a chapter trains: its notebook and the build's plan
(``wtmlib.build.plan``) both call them.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, replace

import numpy as np

from wtmlib.config import (Execution, ModelConfig, TrainConfig, default_execution,
                           set_default_execution)
from wtmlib.data import SyntheticConfig, make_synthetic
from wtmlib.model import accuracy, model_from_arrays
from wtmlib.results.pool import prefetch, progress_bar, seed_jobs, seeded
from wtmlib.results.runs import run


def configs(params: dict, *classes):
    """One dataclass per class, built from the parameters whose names are its fields."""
    built = []
    for cls in classes:
        names = {f.name for f in dataclasses.fields(cls)}
        built.append(cls(**{k: v for k, v in params.items() if k in names}))
    return built[0] if len(built) == 1 else tuple(built)


def section3(params: dict):
    """(data, model, train) configurations of Section 3.1: SGD until fit. The grid's runs
    keep no per-sample derivative signs (the chapter reads their class-level sums)."""
    data_cfg, model_cfg = configs(params, SyntheticConfig, ModelConfig)
    return data_cfg, model_cfg, TrainConfig.section3(
        lr=params["lr"], batch_size=params["batch_size"], epochs=params["epochs"],
        keep_mean_sign=False)


def section4(params: dict, data_class=SyntheticConfig):
    """(data, model, train) configurations of Section 4: Layca, full batch. No probe
    of the test set during training (no Section 4 figure or claim reads the test set
    over training); the final test accuracy is one evaluation pass, the same number."""
    data_cfg, model_cfg, train_cfg = configs(params, data_class, ModelConfig, TrainConfig)
    return data_cfg, model_cfg, replace(train_cfg, probe=False, keep_probe_means=False)


def linear_control(data_cfg, model_cfg, train_cfg) -> tuple:
    """``(data, model, train)`` of the control without the mechanism: the same network
    without ReLU (Section 4.2.1's first ablation), trained the same way."""
    return data_cfg, replace(model_cfg, activation="linear"), train_cfg


def ablations(data_cfg, model_cfg, train_cfg, sigmas) -> dict:
    """Section 4.2.1's setups as ``{name: (data, model, train)}``: the full model, the
    model without ReLU, one hidden neuron with b2 trained at the output layer's rate and
    with b2 frozen, and the training noise at each of ``sigmas`` (the test set keeps its
    sigma)."""
    out_rate = train_cfg.output_lr if train_cfg.output_layer == "sgd" else 0.0
    one = replace(model_cfg, n_hidden=1)
    return {
        "full model": (data_cfg, model_cfg, train_cfg),
        "no ReLU (linear)": linear_control(data_cfg, model_cfg, train_cfg),
        "one hidden neuron, b2 trained": (data_cfg, one, replace(
            train_cfg, biases="sgd", bias_lr=0.0 if out_rate == train_cfg.lr else out_rate)),
        "one hidden neuron, b2 frozen": (data_cfg, one, replace(train_cfg, biases="frozen",
                                                                 bias_lr=0.0)),
        **{f"less noise (sigma_train={s:g})": (replace(data_cfg, sigma_train=s), model_cfg,
                                                train_cfg) for s in sigmas},
    }


def ablation_grid(data_cfg, model_cfg, train_cfg, sigmas, widths) -> dict:
    """Section 4.2.2's condition curves: ``{(sigma_train, width): (data, model, train)}``."""
    return {(s, w): (replace(data_cfg, sigma_train=s), replace(model_cfg, n_hidden=w), train_cfg)
            for s in sigmas for w in widths}


def noise_jobs(params: dict) -> list:
    """Section 3's runs: Figure 1's grid (every seed and sigma_train) and Figure 2's
    models (seed 0 at each of ``fig2_sigmas``)."""
    data_cfg, model_cfg, train_cfg = section3(params)
    d0, t0 = seeded(data_cfg, train_cfg, 0)
    return (grid_jobs(data_cfg, model_cfg, train_cfg, params["sigmas_train"],
                      range(params["n_seeds"]))
            + [(replace(d0, sigma_train=s), model_cfg, t0) for s in params["fig2_sigmas"]])


def causal_jobs(data_cfg, model_cfg, train_cfg, redraws: int,
                bases: int = 1) -> tuple[list, list]:
    """The causal test of "initialization decides", per base seed ``b < bases`` (the
    Section 4.1 runs of those seeds): the run from the same initial weights on
    ``redraws`` new draws of the training samples (``noise_seed``), and from ``redraws``
    new initial weights on the same samples; two lists of ``bases`` lists."""
    same, new = [], []
    for b in range(bases):
        d, t = seeded(data_cfg, train_cfg, b)
        same.append([(replace(d, noise_seed=1000 + k), model_cfg, t) for k in range(redraws)])
        new.append([(d, model_cfg, replace(t, seed=1000 + k)) for k in range(redraws)])
    return same, new


def wtm_jobs(data_cfg, model_cfg, train_cfg, params: dict) -> list:
    """Section 4.1's runs under one reading: seeds 0..n_seeds-1, the first ``dz_seeds``
    again recording sign(dL/dz), and the causal test's runs."""
    same, new = causal_jobs(data_cfg, model_cfg, train_cfg, params["causal_redraws"],
                            params["causal_bases"])
    return (seed_jobs(data_cfg, model_cfg, train_cfg, range(params["n_seeds"]))
            + seed_jobs(data_cfg, model_cfg, replace(train_cfg, keep_dz_sign=True),
                        range(params["dz_seeds"])) + sum(same, []) + sum(new, []))


def grad_jobs(data_cfg, model_cfg, train_cfg, grad_seeds: int) -> list:
    """Section 4.2.2's gradient-share runs under one reading: seeds 0..grad_seeds-1 of
    Section 4.1's runs again, recording the difficult samples' share of the hidden
    layer's gradient (``TrainConfig.keep_grad_shares``)."""
    return seed_jobs(data_cfg, model_cfg, replace(train_cfg, keep_grad_shares=True),
                     range(grad_seeds))


def ablation_jobs(data_cfg, model_cfg, train_cfg, params: dict) -> list:
    """Section 4.2's runs under one reading: every ablation (``ablation_seeds`` seeds)
    and every condition curve's point (``grid_seeds`` seeds)."""
    setups = ablations(data_cfg, model_cfg, train_cfg, params["ablation_sigmas"])
    grid = ablation_grid(data_cfg, model_cfg, train_cfg, params["grid_sigmas"], params["widths"])
    return ([job for d, m, t in setups.values()
             for job in seed_jobs(d, m, t, range(params["ablation_seeds"]))]
            + [job for d, m, t in grid.values()
               for job in seed_jobs(d, m, t, range(params["grid_seeds"]))])


def coherence_jobs(data_cfg, model_cfg, train_cfg, params: dict, n_seeds: int) -> list:
    """Section 5.2's runs: the first ``coherence_seeds`` of Section 4.1's ``n_seeds``
    seeds again, keeping the weights at ``snapshots``."""
    return seed_jobs(data_cfg, model_cfg, replace(train_cfg, snapshots=params["snapshots"]),
                     range(min(params["coherence_seeds"], n_seeds)))


def snapshot_jobs(data_cfg, model_cfg, train_cfg, params: dict, n_seeds: int) -> list:
    """Section 4.2.3's runs: the coherence runs (``coherence_jobs``, whose weights are kept
    at ``snapshots``) and the same seeds of the linear network (``linear_control``), the
    control of the ReLU argument."""
    return (coherence_jobs(data_cfg, model_cfg, train_cfg, params, n_seeds)
            + coherence_jobs(*linear_control(data_cfg, model_cfg, train_cfg), params, n_seeds))


def norm_fixed(train_cfg: TrainConfig) -> TrainConfig | None:
    """A reading whose W2 trains by plain SGD, with W2 projected back to its initial norm
    after every step (``TrainConfig.output_norm``): the controlled test of this book's
    condition that the output scale must grow (B-output-scale), which differs from the
    reading's own runs in W2's norm alone. ``None`` where W2 is not trained by SGD beside
    Layca (Layca on W2, the literal reading, keeps its norm already)."""
    if (train_cfg.optimizer, train_cfg.output_layer) != ("layca", "sgd"):
        return None
    return replace(train_cfg, output_norm="fixed")


def norm_fixed_jobs(data_cfg, model_cfg, train_cfg, seeds) -> list:
    """The ``norm_fixed`` runs of ``seeds`` (none for a reading without an SGD W2)."""
    fixed = norm_fixed(train_cfg)
    return [] if fixed is None else seed_jobs(data_cfg, model_cfg, fixed, seeds)


def use_execution(params: dict) -> Execution:
    """The chapter's execution settings (``threads``, ``workers``, ``batch_models`` when
    it has them; no progress bars inside a notebook) as the process's default."""
    return set_default_execution(replace(configs(params, Execution), progress=False))


# Figure 1's grid: every (seed, sigma_train) model tested at every sigma_test


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


def grid_jobs(data_cfg, model_cfg, train_cfg, sigmas_train, seeds) -> list:
    """``(data, model, train)`` of every (seed, sigma_train) model of ``noise_grid``."""
    return [(replace(d, sigma_train=s), model_cfg, t)
            for d, t in (seeded(data_cfg, train_cfg, seed) for seed in seeds)
            for s in sigmas_train]


def noise_grid(data_cfg: SyntheticConfig, model_cfg: ModelConfig, train_cfg: TrainConfig,
               sigmas_train, sigmas_test, seeds, experiment: str = "noise",
               execution: Execution | None = None, executor=None) -> NoiseGrid:
    """Train (or load) every (seed, sigma_train) model and test it at every sigma_test.
    ``execution``, ``executor``: how missing runs are computed (``prefetch``)."""
    execution = execution or default_execution()
    progress = execution.progress
    prefetch(grid_jobs(data_cfg, model_cfg, train_cfg, sigmas_train, seeds), experiment,
             execution, executor)
    shape = (len(seeds), len(sigmas_train))
    acc = np.zeros(shape + (len(sigmas_test),))
    epochs, hit, wall = np.zeros(shape, int), np.zeros(shape, bool), np.zeros(shape)
    bar = progress_bar(progress, total=acc[..., 0].size, desc="noise grid")
    for i, seed in enumerate(seeds):
        d_cfg, t_cfg = seeded(data_cfg, train_cfg, seed)
        tests = [make_synthetic(replace(d_cfg, sigma_test=s)) for s in sigmas_test]
        for j, s_train in enumerate(sigmas_train):
            res = run(replace(d_cfg, sigma_train=s_train), model_cfg, t_cfg, experiment)
            model = model_from_arrays(res.arrays, model_cfg)
            acc[i, j] = [accuracy(model, t.x_test, t.y_test) for t in tests]
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
