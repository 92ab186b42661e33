"""Grids of runs: each run cached as soon as it ends, so a killed sweep resumes.

``noise_grid`` is Figure 1 (Section 3.1): one model per (sigma_train, seed), trained
until it fits its training set, then evaluated on test sets drawn at every sigma_test
with the same pattern masks.

How the missing runs of a sweep are computed is a choice that leaves the numbers
alone (``prefetch``): one by one in this process (the default), ``batch_models`` at a
time stacked in one model (``wtmlib.batched``: bit-identical on the CPU, worth it on a
GPU), or handed to an ``executor`` - any object with ``submit(fn, *args)`` returning
futures, such as ``concurrent.futures.ProcessPoolExecutor`` or a
``dask.distributed.Client`` - whose workers write into the same results folder.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace

import numpy as np
import torch
from tqdm.auto import tqdm

from . import cache
from .data import SyntheticConfig, make_synthetic
from .runs import load_data, run, run_config
from .train import ModelConfig, TrainConfig, evaluate_accuracy, model_from_arrays


def _bar(progress: bool, **kwargs):
    """A tqdm bar, off when asked or when ``$TQDM_DISABLE`` is set (papermill runs)."""
    return tqdm(disable=not progress or bool(os.environ.get("TQDM_DISABLE")), **kwargs)


def seeded(data_cfg, train_cfg, seed: int):
    """The data and training configurations of seed ``seed`` (masks, noise, init, order)."""
    return replace(data_cfg, seed=seed), replace(train_cfg, seed=seed)


def _compute(data_cfg, model_cfg, train_cfg, experiment, root) -> str:
    """Worker side of ``prefetch``: train and store one run; return only its key (the
    arrays stay in the results folder instead of travelling back)."""
    return run(data_cfg, model_cfg, train_cfg, experiment, root=root).key


def local_pool(workers: int):
    """A context giving ``workers`` local worker processes as an executor for ``prefetch``
    (spawned, not forked: a forked torch can hang in its thread pool), or ``None`` (this
    process) when ``workers`` is 0 or 1. Notebooks need nothing more; a script must
    keep its top-level code under ``if __name__ == "__main__":``, as for any spawned pool."""
    import concurrent.futures  # noqa: PLC0415
    import contextlib  # noqa: PLC0415
    import multiprocessing  # noqa: PLC0415

    from .checks import check_int  # noqa: PLC0415

    check_int("workers", workers, 0)
    if workers <= 1:
        return contextlib.nullcontext(None)
    return concurrent.futures.ProcessPoolExecutor(
        workers, mp_context=multiprocessing.get_context("spawn"))


def _chunks(todo: list, batch_models: int) -> list:
    """``(job, key)`` pairs in chunks of up to ``batch_models`` that could train together:
    the same model and training settings but the seed, data of the same shape."""
    if batch_models <= 1:
        return [[item] for item in todo]
    groups: dict[str, list] = {}
    for job, key in todo:
        data_cfg, model_cfg, train_cfg = job
        shared = run_config(data_cfg, model_cfg, replace(train_cfg, seed=0))
        shared["data"] = {k: shared["data"].get(k) for k in ("kind", "n_train", "n_test", "n_dim")}
        groups.setdefault(repr(shared), []).append((job, key))
    return [group[i:i + batch_models] for group in groups.values()
            for i in range(0, len(group), batch_models)]


def _train_together(chunk: list, experiment: str, root, bar, progress: bool) -> bool:
    """Train a chunk with ``wtmlib.batched`` and store each run as it stops; ``False``
    (nothing done) when the chunk is not batchable (e.g. Layca, batch norm)."""
    from .batched import check_batchable, train_many  # noqa: PLC0415
    from .checks import ConfigError  # noqa: PLC0415

    datas = [load_data(job[0]) for job, _ in chunk]
    model_cfg, cfgs = chunk[0][0][1], [job[2] for job, _ in chunk]
    try:
        check_batchable(datas, model_cfg, cfgs)
    except ConfigError:
        return False

    def store(i, out):
        job, key = chunk[i]
        cache.save(cache.Result(run_config(*job), out.arrays, out.metrics, key), experiment,
                   root)
        bar.update()

    train_many(datas, model_cfg, cfgs, on_done=store, progress=progress)
    return True


def prefetch(jobs: list, experiment: str, executor=None, batch_models: int = 0,
             progress: bool = True, root=None) -> int:
    """Compute and store every ``(data_cfg, model_cfg, train_cfg)`` of ``jobs`` whose result
    is not stored yet; return how many were computed. The sweep then only loads.

    ``executor``: runs the jobs on its workers (they need the same results folder:
    ``root``, else ``$WTM_RESULTS`` or ``results/``, on a shared file system).
    ``batch_models``: train up to this many jobs together (``wtmlib.batched``); only
    groups it can train (same model and settings but the seed: Section 3's SGD) are
    batched, the rest go one by one.
    """
    from .checks import check_int  # noqa: PLC0415

    check_int("batch_models", batch_models, 0)
    root = root or cache.results_root()
    todo = []
    for job in jobs:
        key = cache.config_key(run_config(*job))
        if not cache.paths(experiment, key, root)[1].exists():
            todo.append((job, key))
    if not todo:
        return 0
    bar = _bar(progress, total=len(todo), desc=f"{experiment}: compute")
    if executor is not None:
        futures = [executor.submit(_compute, *job, experiment, str(root)) for job, _ in todo]
        for future in futures:
            future.result()  # re-raises a worker's error here
            bar.update()
    else:
        for chunk in _chunks(todo, batch_models):
            if len(chunk) > 1 and _train_together(chunk, experiment, root, bar, progress):
                continue
            for job, _ in chunk:
                run(*job, experiment, root=root)
                bar.update()
    bar.close()
    return len(todo)


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
               progress: bool = True, executor=None, batch_models: int = 0) -> NoiseGrid:
    """Train (or load) every (seed, sigma_train) model and test it at every sigma_test.
    ``executor``, ``batch_models``: how missing runs are computed (``prefetch``)."""
    jobs = [(replace(d, sigma_train=s), model_cfg, t)
            for d, t in (seeded(data_cfg, train_cfg, seed) for seed in seeds)
            for s in sigmas_train]
    prefetch(jobs, experiment, executor, batch_models, progress)
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
              experiment: str = "runs", progress: bool = True, executor=None,
              batch_models: int = 0) -> list:
    """One cached run per seed (data, initial weights and batch order all drawn from it).
    ``executor``, ``batch_models``: how missing runs are computed (``prefetch``)."""
    jobs = [(d, model_cfg, t) for d, t in (seeded(data_cfg, train_cfg, s) for s in seeds)]
    prefetch(jobs, experiment, executor, batch_models, progress)
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
