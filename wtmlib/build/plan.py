"""The runs a build needs, gathered from the chapters' parameters before any notebook
runs, and trained in one pool of worker processes, longest first (``wtm book``, ``wtm
run``). Chapter by chapter, a pool idles at each chapter's last runs and a one-run
chapter leaves a core unused; one pool for the whole build does not. The notebooks
then load every run from the cache.

The jobs are those of ``wtmlib.book.jobs.Plan`` (from the functions the notebooks call
themselves): a run the plan does not list is still trained by its notebook, only later. The runs under the reading the sweep chooses are listed as soon
as the sweep is stored, while the workers train the rest. Chapters that stack runs
(``batch_models`` > 1, for GPUs) train their own.
"""

from __future__ import annotations

import concurrent.futures as cf
import os
import time
from dataclasses import replace

from wtmlib.book.jobs import READING_CHAPTERS, Job, Plan, cost, kind, missing
from wtmlib.build import thin
from wtmlib.results import cache
from wtmlib.results.runs import key_of, run
from wtmlib.build.pipeline import Stopped
from wtmlib.build.progress import duration
from wtmlib.results.pool import local_pool, store_run


def train_plan(params: dict[str, dict], profile: str = "paper", root=None, log=print,
          every_s: float = 20.0) -> int:
    """Train every run the chapters of ``params`` need that is not stored, on the most
    ``workers`` any of them asks for (one by one in this process for 0 or 1); how many
    were trained. Each run is stored as it ends: a killed build keeps them, and an
    error in one stops the build before any notebook runs. Then every run is thinned
    to what the chapters read (``thin.thin_stored``); a run stored thinned that they
    read more of is dropped first, to be trained again."""
    plan, seen = Plan(params, profile), set()
    later = bool(set(params) & set(READING_CHAPTERS))
    reads = thin.reads(plan, root)  # known here when the sweep is stored already
    if reads is not None:
        mine = plan.first() + plan.under_reading()
        thin.drop_insufficient(reads, {key_of(*job.configs) for job in mine}, root, log)
    first = missing(plan.first(), plan, root, seen)
    workers = max((plan.P(n).get("workers", 0) for n in params), default=0)
    status = _Status(log, every_s, workers)
    status.add(first, later)
    try:
        with local_pool(workers) as pool:  # a stop terminates its workers (WorkerPool)
            if pool is None:
                for job in first:
                    status.done(job, _train_here(job, plan, root))
                second = missing(plan.under_reading(), plan, root, seen) if later else []
                status.add(second)
                for job in second:
                    status.done(job, _train_here(job, plan, root))
            else:
                _train_in(pool, workers, plan, first, later, seen, status, root)
    except Stopped as stop:
        stop.notes.append(status.stopped(root))
        raise
    status.finish()
    reads = thin.reads(plan, root)
    if reads is not None:
        thin.thin_stored(reads, root, log)
    return status.n_done


def _train_here(job: Job, plan: Plan, root) -> float:
    """Train one job in this process; its training seconds."""
    res = run(*job.configs, job.experiment, root=root, execution=plan.execution(job.chapter))
    return res.metrics.get("wall_s", 0.0)


def _train_in(pool, workers: int, plan: Plan, first: list, later: bool, seen: set,
              status: "_Status", root) -> None:
    """``train`` on a pool: one run of each other chapter (so that the ETA knows its
    rate early), the sweep, the other first runs; the runs under the chosen reading are
    submitted as soon as the sweep is stored (the other first runs keep the workers busy)."""
    def submit(jobs):
        out = {}
        for job in jobs:
            e = plan.execution(job.chapter)
            if not e.threads:  # a chapter that lets torch use every core shares them here
                e = replace(e, threads=max(1, (os.cpu_count() or 1) // workers))
            out[pool.submit(store_run, *job.configs, job.experiment,
                            str(root or cache.results_root()), e)] = job
        return out
    others = [j for j in first if j.chapter != "wtm"]
    pilots = list({j.chapter: j for j in reversed(others)}.values())  # each one's longest
    pending = submit(pilots)
    sweep = submit([j for j in first if j.chapter == "wtm"])
    pending.update(sweep)
    pending.update(submit([j for j in others if j not in pilots]))
    try:
        while True:
            if later and not sweep:  # the sweep is stored: the reading is known
                second = missing(plan.under_reading(), plan, root, seen)
                status.add(second)
                pending.update(submit(second))
                later = False
            if not pending:
                return
            done, _ = cf.wait(pending, return_when=cf.FIRST_COMPLETED)
            for future in done:
                _, wall_s = future.result()  # a worker's error stops the build here
                status.done(pending.pop(future), wall_s)
                sweep.pop(future, None)
    except BaseException:
        for future in pending:
            future.cancel()
        raise


class _Status:
    """Progress of the build's training on ``log``: run i of n, the chapter, and an ETA:
    the cost left of each kind of run (``kind``) at the seconds per unit of cost its
    finished runs took; a kind with none finished yet at its chapter's rate, a chapter
    with none at the mean over all finished runs; over the workers. The runs under the
    chosen reading are counted once they are listed."""

    def __init__(self, log, every_s: float, workers: int):
        self.log, self.every_s, self.workers = log, every_s, max(workers, 1)
        self.n_total = self.n_done = 0
        self.later = False  # the runs under the chosen reading are not listed yet
        self.jobs: list[Job] = []  # every run listed
        self.left: dict[tuple, float] = {}  # kind: cost not yet trained
        self.spent: dict[tuple, list] = {}  # kind: [training seconds, cost] trained
        self.start, self.last = time.monotonic(), -1e9

    def add(self, jobs: list[Job], later: bool = False) -> None:
        self.n_total += len(jobs)
        self.later = later
        self.jobs += jobs
        for job in jobs:
            self.left[kind(job)] = self.left.get(kind(job), 0.0) + cost(job)
        if jobs or later:
            chapters = sorted({j.chapter for j in jobs})
            more = " (and the runs under the chosen reading, once the sweep is stored)" if later else ""
            self.log(f"[wtm] training {len(jobs)} run(s) for {', '.join(chapters) or 'no chapter'}"
                     f" on {self.workers} worker(s){more}")

    def eta(self) -> float:
        """Seconds until the listed runs are trained, at the rates measured so far."""
        def rate(spent: list) -> float | None:  # seconds per unit of cost, None: unknown
            seconds, costs = (sum(v[i] for v in spent) for i in (0, 1))
            return seconds / costs if costs else None

        def rate_of(k: tuple) -> float:
            for r in (rate([self.spent[k]] if k in self.spent else []),
                      rate([v for j, v in self.spent.items() if j[0] == k[0]]),
                      rate(list(self.spent.values()))):
                if r is not None:
                    return r
            return 0.0
        return sum(left * rate_of(k) for k, left in self.left.items()) / self.workers

    def done(self, job: Job, wall_s: float) -> None:
        self.n_done += 1
        self.left[kind(job)] -= cost(job)
        spent = self.spent.setdefault(kind(job), [0.0, 0.0])
        spent[0] += wall_s
        spent[1] += cost(job)
        now = time.monotonic()
        if now - self.last >= self.every_s or self.n_done == self.n_total:
            self.last = now
            self.log(f"[wtm]   training: run {self.n_done}/{self.n_total} ({job.chapter}), "
                     f"{duration(now - self.start)} so far, ETA {duration(self.eta())}")

    def stopped(self, root=None) -> str:
        """What a stop leaves: the listed runs stored (counted in the results folder: a
        worker may have stored one the pool had not reported yet) and left; a run in
        progress keeps its last checkpoint."""
        stored = sum(cache.paths(j.experiment, key_of(*j.configs), root)[1].exists()
                     for j in self.jobs)
        more = " and the runs under the chosen reading" if self.later else ""
        return (f"training stopped: {stored} of {len(self.jobs)} run(s) stored, "
                f"{len(self.jobs) - stored}{more} left (a run in progress resumes from "
                f"its last checkpoint)")

    def finish(self) -> None:
        if self.n_done:
            self.log(f"[wtm] trained {self.n_done} run(s) in {duration(time.monotonic() - self.start)}")
