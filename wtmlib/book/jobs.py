"""The runs each chapter needs, listed before any of them trains: the build's plan
(``wtmlib.build.plan`` trains them in one pool) and a chapter run by hand, which says
what it will train and about how long before it starts (``estimate``, ``run_note``).

The jobs come from the functions the notebooks call themselves (``experiments.*_jobs``,
``readings.sweep_jobs``). The runs under the optimizer reading the Section 4.1 chapter
chooses are known once the readings sweep is stored (``Plan.under_reading``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from typing import NamedTuple

from wtmlib.book.params import resolve
from wtmlib.book.report import EXECUTION_PARAMETERS
from wtmlib.claims import readings
from wtmlib.config import Execution
from wtmlib.mnist import AggregatedMNISTConfig
from wtmlib.results import cache, experiments
from wtmlib.results.pool import seed_jobs
from wtmlib.results.runs import key_of

# chapters that read the Section 4.1 reading (``readings.main``), hence the sweep
# (Appendix A.1's runs take the output layer of a reading of it)
READING_CHAPTERS = ("wtm", "ablation", "difficulty", "related", "readings", "explorer", "mnist")


class Job(NamedTuple):
    """One run to train: the chapter that asks for it, its cache folder, its configs."""

    chapter: str
    experiment: str
    configs: tuple  # (data, model, train)


def cost(job: Job) -> float:
    """Multiply-adds of one epoch's forward pass times the epochs (the bound, for a run
    that stops once it fits): the order of the pool, and the ETA's weight of a run
    within its chapter."""
    data, model, train = job.configs
    return data.n_train * getattr(data, "n_dim", 784) * model.n_hidden * train.epochs


def kind(job: Job) -> tuple:
    """The runs the ETA prices alike: one chapter, one model (width, activation, ...).
    Seconds are not proportional to ``cost`` across models: a narrow model's epoch has
    work that does not scale with its width, and a linear one trains faster than its
    multiply-adds say (the speed page has the figures)."""
    return (job.chapter, *job.configs[1:2])


class Plan:
    """The jobs of the chapters in ``params`` (``{chapter: parameters}``); a chapter's
    parameters not in ``params`` come from ``profile`` (as ``chapter_parameters`` does)."""

    def __init__(self, params: dict[str, dict], profile: str = "paper"):
        self.params, self.profile = params, profile

    def P(self, name: str) -> dict:
        return self.params.get(name) or resolve(self.profile, names=[name])[name]

    def reading(self) -> tuple:
        """``(data, model, train)`` of the Section 4.1 chapter's reading (the sweep stored)."""
        return readings.main(self.P("wtm"))[:3]

    def first(self) -> list[Job]:
        """Runs that need no other run: Section 3's grid, the readings sweep, Appendix
        A.1's runs under the chapter's own output-layer setting (shown beside the reading)."""
        names, jobs = set(self.params), []
        if names & {"noise", "related"}:
            jobs += [Job("noise", "noise", j) for j in experiments.noise_jobs(self.P("noise"))]
        if names & set(READING_CHAPTERS):
            P4 = self.P("wtm")
            data, model, train = experiments.section4(P4)
            configs = readings.sweep_configs(train, P4["output_lrs"])
            jobs += [Job("wtm", "section4", j) for j in readings.sweep_jobs(
                data, model, configs, range(P4["reading_seeds"]))]
        if "mnist" in names:
            PM = self.P("mnist")
            data, model, fixed = experiments.section4(PM, AggregatedMNISTConfig)
            jobs += [Job("mnist", "mnist", j)
                     for j in seed_jobs(data, model, fixed, range(PM["n_seeds"]))]
        return jobs

    def under_reading(self) -> list[Job]:
        """Runs under the chosen reading: Section 4.1's seeds and tests, the ablations,
        Section 4.2.2's gradient-share runs, the coherence runs (and their linear controls), the readings chapter's runs with W2's norm fixed, Appendix
        A.1's seeds (the explorer's seed 0) with the reading's output layer (call once the
        sweep is stored)."""
        names = set(self.params)
        if not names & set(READING_CHAPTERS):
            return []
        P4, (data, model, train) = self.P("wtm"), self.reading()
        if "wtm" in names:
            jobs = experiments.wtm_jobs(data, model, train, P4)
        elif names & {"difficulty", "related"}:
            jobs = seed_jobs(data, model, train, range(P4["n_seeds"]))
        else:  # the explorer's seed 0 (the readings chapter reads the sweep and its own runs)
            jobs = seed_jobs(data, model, train, [0]) if "explorer" in names else []
        jobs = [Job("wtm", "section4", j) for j in jobs]
        if "readings" in names:  # the chosen reading with W2's norm fixed, the sweep's seeds
            jobs += [Job("readings", "section4", j) for j in experiments.norm_fixed_jobs(
                data, model, train, range(P4["reading_seeds"]))]
        if "difficulty" in names:
            jobs += [Job("difficulty", "section4", j) for j in experiments.grad_jobs(
                data, model, train, self.P("difficulty")["grad_seeds"])]
            jobs += [Job("difficulty", "section4", j) for j in experiments.snapshot_jobs(
                data, model, train, self.P("related"), P4["n_seeds"])]
            jobs += [Job("difficulty", "section4", j) for j in seed_jobs(  # Figure 5's control
                *experiments.linear_control(data, model, train),
                range(self.P("ablation")["ablation_seeds"]))]
        if "ablation" in names:
            jobs += [Job("ablation", "section4", j)
                     for j in experiments.ablation_jobs(data, model, train, self.P("ablation"))]
        if "related" in names:
            jobs += [Job("related", "section4", j) for j in experiments.coherence_jobs(
                data, model, train, self.P("related"), P4["n_seeds"])]
        if "mnist" in names or ("explorer" in names and self.P("explorer")["mnist"]):
            PM = self.P("mnist")
            data, model, train = self.mnist_configs(PM, P4)
            seeds = range(PM["n_seeds"] if "mnist" in names else 1)
            jobs += [Job("mnist", "mnist", j) for j in seed_jobs(data, model, train, seeds)]
            if "mnist" in names:  # the control: the same network without ReLU
                jobs += [Job("mnist", "mnist", j) for j in seed_jobs(
                    *experiments.linear_control(data, model, train), seeds)]
        return jobs

    def mnist_configs(self, PM: dict, P4: dict) -> tuple:
        """``(data, model, train)`` of Appendix A.1's runs under the reading its chapter
        (``PM``) takes from the Section 4.1 chapter's sweep (``P4``)."""
        return readings.mnist(PM, P4)[:3]

    def execution(self, name: str) -> Execution:
        """The execution settings of the chapter that asks for a run (no progress bars)."""
        return replace(experiments.configs(self.P(name), Execution), progress=False)


def missing(jobs: list[Job], plan: "Plan", root=None, seen: set | None = None) -> list[Job]:
    """The jobs whose result is not stored (nor in ``seen``, updated), each once, longest
    first; jobs of chapters that stack runs (``batch_models`` > 1) are left to them."""
    seen = set() if seen is None else seen
    out = []
    for job in jobs:
        key = key_of(*job.configs)
        if (key in seen or plan.execution(job.chapter).batch_models > 1
                or cache.paths(job.experiment, key, root)[1].exists()):
            continue
        seen.add(key)
        out.append(job)
    return sorted(out, key=cost, reverse=True)


# ------------------------------------------------------- a chapter run by hand: its runs

# Training seconds of a paper-size run of each chapter on the Speed page's machine
# (book/speed.md, "The paper book from a fresh clone": 2 vCPU AMD EPYC, torch 2.14.1,
# two one-thread workers, 2026-12-02): ``(runs, their training seconds summed)``.
# The chapters that build did not train for (difficulty, readings) train runs of the
# Section 4.1 size, priced as the wtm chapter's.
SPEED_PAGE = {"noise": (55, 454.0), "wtm": (36 + 9, 5103.0 + 1666.0), "ablation": (57, 2464.0),
              "mnist": (3, 1065.0), "related": (1, 145.0)}
# each of those runs had one thread: a chapter that trains on k cores (``workers`` x
# ``threads``) takes about 1/k of their summed seconds (the Speed page: two one-thread
# workers train as fast as one two-thread process)


def speed_page_seconds(chapter: str) -> float:
    """Seconds a run the ``chapter`` asks for took on the Speed page's machine."""
    runs, seconds = SPEED_PAGE.get(chapter, SPEED_PAGE["wtm"])
    return seconds / runs


class _StandIn(Plan):
    """``plan`` before the readings sweep is stored, which ``reading`` would train: the
    runs under the reading the Section 4.1 chapter names, or for "chosen" under a
    stand-in, the first reading of the grid (any of them has as many runs)."""

    def __init__(self, plan: Plan):
        super().__init__(plan.params, plan.profile)
        P4 = self.P("wtm")
        self._configs = experiments.section4(P4)
        configs = readings.sweep_configs(self._configs[2], P4["output_lrs"])
        grid = [n for n in configs if n not in (readings.LITERAL, readings.OTHER_LR)]
        self._train = configs.get(P4["reading"], configs[grid[0]])

    def reading(self) -> tuple:
        return (*self._configs[:2], self._train)

    def mnist_configs(self, PM: dict, P4: dict) -> tuple:
        data, model, fixed = experiments.section4(PM, AggregatedMNISTConfig)
        return data, model, readings.apply_reading(fixed, self._train)


@dataclass(frozen=True)
class Estimate:
    """What a chapter will train: ``runs`` it reads (its own and those of the chapters it
    builds on), ``stored`` of them already in the results folder, ``seconds`` to train
    the others on ``parallel`` cores (``measured`` of them priced by stored
    runs of their kind, the rest at the Speed page's per-run times); ``reading_known``:
    False while the readings sweep is not stored (the runs under the reading it will
    choose are counted, at any reading, as not stored)."""

    runs: int
    stored: int
    seconds: float
    parallel: int
    measured: int
    reading_known: bool = True
    by_chapter: dict = field(default_factory=dict)  # runs left, by the chapter asking

    @property
    def left(self) -> int:
        return self.runs - self.stored


def estimate(name: str, params: dict, profile: str = "paper") -> Estimate:
    """The runs chapter ``name`` reads with ``params`` (other chapters' parameters from
    ``profile``) and about how long the missing ones take to train: each at the mean
    training seconds of the stored runs of its kind (``kind``), else at the Speed page's
    per-run time of its chapter (``SPEED_PAGE``), over as many runs at a time as the
    chapter's ``workers`` and ``threads`` use of this machine's cores. Trains nothing
    (the runs under the chosen reading are listed from the stored sweep, or counted at a
    stand-in reading while it is not stored: ``_StandIn``)."""
    plan = Plan({name: params}, profile)
    jobs = plan.first()
    known = True
    if name in READING_CHAPTERS:  # the reading is chosen from the sweep once it is stored
        stored = all(cache.paths(j.experiment, key_of(*j.configs))[1].exists()
                     for j in jobs if j.chapter == "wtm")
        known = stored or plan.P("wtm")["reading"] != "chosen"
        jobs += (plan if stored else _StandIn(plan)).under_reading()
    unique = {}
    for job in jobs:
        unique.setdefault((job.experiment, key_of(*job.configs)), job)
    spent: dict[tuple, list] = {}
    left = []
    for (experiment, key), job in unique.items():
        if cache.paths(experiment, key)[1].exists():
            wall = (cache.stored_metrics(experiment, key) or {}).get("wall_s")
            if wall:
                spent.setdefault(kind(job), []).append(float(wall))
        else:
            left.append(job)
    measured = sum(kind(j) in spent for j in left)
    seconds = sum(sum(spent[kind(j)]) / len(spent[kind(j)]) if kind(j) in spent
                  else speed_page_seconds(j.chapter) for j in left)
    cores = os.cpu_count() or 1
    threads = params.get("threads", 0) or cores
    parallel = max(1, min(cores, max(params.get("workers", 0), 1) * threads))
    by_chapter = {}
    for job in left:
        by_chapter[job.chapter] = by_chapter.get(job.chapter, 0) + 1
    return Estimate(len(unique), len(unique) - len(left), seconds / parallel, parallel,
                    measured, known, by_chapter)


def _duration(seconds: float) -> str:
    """``seconds`` rounded for an estimate: "under a minute", "12 min", "2 h 05 min"."""
    minutes = round(seconds / 60)
    if minutes < 1:
        return "under a minute"
    return f"{minutes} min" if minutes < 60 else f"{minutes // 60} h {minutes % 60:02d} min"


RESULTS_ARCHIVE = "wtm-results-paper.tar"  # what a paper build publishes (wtm results pack)


def run_note(name: str, params: dict, defaults: dict) -> str:
    """What chapter ``name``, run by hand with ``params`` (``defaults``: its paper
    settings), will train and about how long it takes, and how to take the published
    results instead; "" for a chapter that reads no run."""
    est = estimate(name, params, "paper")
    if not est.runs:
        return ""
    changed = [k for k, v in params.items() if k in defaults and defaults[k] != v
               and k not in EXECUTION_PARAMETERS]
    where = cache.results_root()
    start = ("This chapter, run by hand, starts from the paper's settings" if not changed
             else "This chapter, run by hand, differs from the paper's settings in "
             + ", ".join(changed))
    lines = [f"{start}: it reads {est.runs} training run(s), {est.stored} of them stored "
             f"in {where}."]
    if not est.left:
        lines.append("Nothing to train: every run comes from the results folder.")
        return "\n".join(lines)
    priced = ("the run times of the stored runs of each kind" if est.measured == est.left
              else "the per-run times measured on the Speed page's 2-vCPU machine"
              + (", and of the stored runs of a kind where there are some" if est.measured
                 else "") + (" (at the paper's sizes)" if changed else ""))
    chapters = ", ".join(f"{n} for {c}" for c, n in est.by_chapter.items())
    lines.append(f"Training the other {est.left} ({chapters}) takes about "
                 f"{_duration(est.seconds)} on {est.parallel} core(s), at {priced}.")
    if not est.reading_known:
        lines.append("The readings sweep is not stored yet: the runs under the reading it "
                     "chooses are counted at any reading.")
    lines.append(f"To take the published results instead: wtm results fetch <archive> "
                 f"(or make book RESULTS=<archive>), <archive> being the URL of "
                 f"{RESULTS_ARCHIVE} or a downloaded copy.")
    return "\n".join(lines)
