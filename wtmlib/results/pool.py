"""Grids of runs: each run cached as soon as it ends, so a killed sweep resumes.

``noise_grid`` is Figure 1 (Section 3.1): one model per (sigma_train, seed), trained
until it fits its training set, then evaluated on test sets drawn at every sigma_test
with the same pattern masks.

How the missing runs of a sweep are computed is an execution setting that leaves the
numbers alone (``prefetch``): one by one in this process (the default),
``Execution.batch_models`` at a time stacked (``wtmlib.training.loop.train_models``:
bit-identical on the CPU, worth it on a GPU), on ``Execution.workers`` local processes,
or handed to an ``executor`` - any object with ``submit(fn, *args)`` returning futures,
such as a ``dask.distributed.Client`` - whose workers write into the same results folder.

A local pool's workers never outlive the process that started them (``WorkerPool``): a
stop (an exception, Ctrl+C, SIGTERM) terminates them, and each worker stops by itself
within a second once its parent is gone, even killed by SIGKILL. A worker stopped in a
run unwinds it first: its temporary files are removed, its last checkpoint stays.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import gc
import multiprocessing
import os
import signal
import threading
import time
from dataclasses import replace

from tqdm.auto import tqdm

from wtmlib.results import cache
from wtmlib.config import ConfigError, check_int
from wtmlib.config import Execution, ModelConfig, TrainConfig, default_execution
from wtmlib.results.provenance import run_provenance
from wtmlib.results.runs import key_of, load_data, run, run_config
from wtmlib.training.loop import check_stack, train_models


def progress_bar(progress: bool, **kwargs):
    """A tqdm bar, off when asked or when ``$TQDM_DISABLE`` is set (papermill runs)."""
    return tqdm(disable=not progress or bool(os.environ.get("TQDM_DISABLE")), **kwargs)


def seeded(data_cfg, train_cfg, seed: int):
    """The data and training configurations of seed ``seed`` (masks, noise, init, order)."""
    return replace(data_cfg, seed=seed), replace(train_cfg, seed=seed)


def seed_jobs(data_cfg, model_cfg, train_cfg, seeds) -> list:
    """``(data, model, train)`` of each seed, for ``prefetch``: what ``seed_runs`` runs."""
    return [(d, model_cfg, t) for d, t in (seeded(data_cfg, train_cfg, s) for s in seeds)]


def store_run(data_cfg, model_cfg, train_cfg, experiment, root, execution) -> tuple[str, float]:
    """Worker side of ``prefetch`` and of the build's plan (``wtmlib.build.plan``): train and
    store one run; return only its key and training seconds (the arrays stay in the
    results folder instead of travelling back). In a ``WorkerPool`` worker, a stop
    unwinds the run (temporary files removed, the last checkpoint kept), then exits."""
    global _in_run
    try:
        _in_run = True
        res = run(data_cfg, model_cfg, train_cfg, experiment, root=root, execution=execution)
    except _Stop as stop:
        os._exit(128 + stop.signum)
    finally:
        _in_run = False
    return res.key, res.metrics.get("wall_s", 0.0)


_in_run = False  # in a WorkerPool worker: a run is in progress (a stop unwinds it)
WATCH_S = 0.2  # how often a worker checks that its parent is alive
GRACE_S = 5.0  # how long a stopping worker or pool waits before it kills


class _Stop(BaseException):
    """Raised in a worker's run by a stop signal, so that it unwinds (``store_run``)."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


def _on_stop(signum, frame) -> None:
    """A worker's SIGTERM/SIGHUP handler: unwind the run in progress, or exit at once."""
    if _in_run:
        raise _Stop(signum)
    os._exit(128 + signum)


def _watch_parent(parent: int) -> None:
    """A worker's watchdog thread: once the process that started it is gone (its parent
    pid changes: killed by SIGKILL, say), stop like on SIGTERM; exit if that is not
    done within ``GRACE_S`` (the main thread stuck in native code)."""
    while os.getppid() == parent:
        time.sleep(WATCH_S)
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(GRACE_S)
    os._exit(128 + signal.SIGTERM)


def _worker_init(parent: int) -> None:
    """Initializer of a ``WorkerPool`` worker: stop signals unwind the run in progress,
    Ctrl+C is left to the parent (which stops the pool), and a watchdog stops the
    worker when its parent is gone."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # tqdm's default lock is a multiprocessing one, which a stopped worker would leave
    # to the resource tracker ("leaked semaphore"); a worker's bars need a thread lock
    tqdm.set_lock(threading.RLock())
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _on_stop)
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True,
                     name="wtm-parent-watch").start()


class WorkerPool(concurrent.futures.ProcessPoolExecutor):
    """``workers`` spawned processes (not forked: a forked torch can hang in its thread
    pool) that never outlive this process. Leaving the ``with`` block by an exception
    (a failed run, Ctrl+C, a stop signal turned into an exception) calls ``stop``: the
    workers are terminated, not waited for."""

    def __init__(self, workers: int):
        super().__init__(workers, mp_context=multiprocessing.get_context("spawn"),
                         initializer=_worker_init, initargs=(os.getpid(),))

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            self.stop()
            return False
        return super().__exit__(exc_type, exc, tb)

    def stop(self, grace_s: float = GRACE_S) -> None:
        """Cancel what has not started, send SIGTERM to every worker (a run in progress
        unwinds: temporary files removed, last checkpoint kept), SIGKILL to those alive
        after ``grace_s``."""
        procs = list((self._processes or {}).values())
        manager = self._executor_manager_thread
        self.shutdown(wait=False, cancel_futures=True)
        for p in procs:
            with contextlib.suppress(Exception):
                p.terminate()
        deadline = time.monotonic() + grace_s
        for p in procs:
            p.join(max(0.0, deadline - time.monotonic()))
        for p in procs:
            if p.is_alive():
                p.kill()
                p.join(1.0)
        if manager is not None and manager is not threading.current_thread():
            manager.join(grace_s)  # it sees the workers gone, closes the queues and ends
        del manager, procs
        gc.collect()  # frees the queues (held in cycles): no "leaked semaphore" warning


def local_pool(workers: int):
    """A context giving ``workers`` local worker processes as an executor for ``prefetch``
    (a ``WorkerPool``), or ``None`` (this process) when ``workers`` is 0 or 1. Notebooks
    need nothing more; a script must keep its top-level code under
    ``if __name__ == "__main__":``, as for any spawned pool."""
    check_int("workers", workers, 0)
    if workers <= 1:
        return contextlib.nullcontext(None)
    return WorkerPool(workers)


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


def _train_together(chunk: list, experiment: str, root, bar, execution: Execution) -> bool:
    """Train a chunk stacked (``train_models``) and store each run as it stops; ``False``
    (nothing done) when the chunk cannot be stacked (e.g. Layca, batch norm)."""
    datas = [load_data(job[0]) for job, _ in chunk]
    model_cfg, cfgs = chunk[0][0][1], [job[2] for job, _ in chunk]
    try:
        check_stack(datas, model_cfg, cfgs)
    except ConfigError:
        return False
    info = run_provenance(execution, execution.torch_device())

    def store(i, out):
        job, key = chunk[i]
        cache.save(cache.Result(run_config(*job), out.arrays, out.metrics, key, dict(info)),
                   experiment, root)
        bar.update()

    train_models(datas, model_cfg, cfgs, execution, on_done=store)
    return True


def prefetch(jobs: list, experiment: str, execution: Execution | None = None,
             executor=None, root=None) -> int:
    """Compute and store every ``(data_cfg, model_cfg, train_cfg)`` of ``jobs`` whose result
    is not stored yet; return how many were computed. The sweep then only loads.

    ``executor``: runs the jobs on its workers (they need the same results folder:
    ``root``, else ``$WTM_RESULTS`` or ``results/``, on a shared file system); without
    one, ``execution.workers`` local processes when more than one.
    ``execution.batch_models``: train up to this many jobs stacked; only groups that can
    train together (same model and settings but the seed: Section 3's SGD) are stacked,
    the rest go one by one.
    """
    execution = execution or default_execution()
    root = root or cache.results_root()
    todo = {key_of(*job): job for job in jobs}  # a job listed twice is trained once
    todo = [(job, key) for key, job in todo.items()
            if not cache.paths(experiment, key, root)[1].exists()]
    if not todo:
        return 0
    bar = progress_bar(execution.progress, total=len(todo), desc=f"{experiment}: compute")
    with (contextlib.nullcontext(executor) if executor is not None
          else local_pool(execution.workers)) as pool:
        if pool is not None:
            futures = [pool.submit(store_run, *job, experiment, str(root), execution)
                       for job, _ in todo]
            try:
                for future in futures:
                    future.result()  # re-raises a worker's error here
                    bar.update()
            except BaseException:  # stopped or failed: what has not started never will
                for future in futures:
                    future.cancel()
                raise
        else:
            for chunk in _chunks(todo, execution.batch_models):
                if len(chunk) > 1 and _train_together(chunk, experiment, root, bar, execution):
                    continue
                for job, _ in chunk:
                    run(*job, experiment, root=root, execution=execution)
                    bar.update()
    bar.close()
    return len(todo)


def seed_runs(data_cfg, model_cfg: ModelConfig, train_cfg: TrainConfig, seeds,
              experiment: str = "runs", execution: Execution | None = None,
              executor=None) -> list:
    """One cached run per seed (data, initial weights and batch order all drawn from it).
    ``execution``, ``executor``: how missing runs are computed (``prefetch``)."""
    execution = execution or default_execution()
    prefetch(seed_jobs(data_cfg, model_cfg, train_cfg, seeds), experiment, execution, executor)
    out = []
    for seed in progress_bar(execution.progress, iterable=seeds, desc=experiment):
        d_cfg, t_cfg = seeded(data_cfg, train_cfg, seed)
        out.append(run(d_cfg, model_cfg, t_cfg, experiment, execution=execution))
    return out
