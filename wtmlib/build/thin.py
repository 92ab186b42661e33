"""What a build keeps of its runs' pattern means: the epochs its chapters read.

A run records the mean pre-activation of each pattern in each hidden neuron after every
epoch (``pattern_means_train [epochs+1, n_hidden, n_pat]``, and ``pattern_means_probe``
on the test set for Section 3's runs; ``wtmlib.record``). At the paper's size that is
401 x 1000 x 30 floats, 43 of the 46 MiB of a run, while most chapters read two or three
of its epochs. Once its runs are trained, and before any chapter reads them, a build
thins every run it lists to what its chapters read (``kept``, ``thin_stored``; the
format is ``wtmlib.results.cache.thin``'s: the kept numbers bit for bit, NaN for the
rest), and drops the per-sample derivative signs of the runs no figure draws. The key
and the numerics version do not change: thinning is storage, not numerics.

What the build's chapters read depends on its parameters and on the optimizer reading
the sweep chose (``Reads``, from ``reads``): a build whose
chapters read more of a thinned run than it kept (another reading drawn, another early
epoch, a larger onset factor) trains that run again first (``drop_insufficient``);
the numbers come out the same, whole.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass

import numpy as np

from wtmlib.analysis.measures import within_class_spread
from wtmlib.analysis.signs import active_class_of
from wtmlib.book.jobs import Plan
from wtmlib.book.params import notebook_names
from wtmlib.claims import readings
from wtmlib.claims.reading_rule import LITERAL
from wtmlib.data import pattern_class
from wtmlib.results import cache, experiments
from wtmlib.results.pool import seed_jobs
from wtmlib.results.runs import key_of

ARRAYS = ("pattern_means_train", "pattern_means_probe")  # the per-epoch arrays thinned


@dataclass(frozen=True)
class Reads:
    """What a build's chapters read of its runs, by run key (``reads``).

    ``epochs``: the early epochs the measures read in every run (Section 4.1's
    ``early_epoch`` and ``onset_epochs``, Appendix A.1's ``early_epoch``);
    ``onset_factor``: Figure 5's onset factor (the Section 4.2.2 chapter's);
    ``drawn``: the runs drawn at every epoch, over all neurons; ``scanned``: the runs
    whose spread onset is searched epoch by epoch (``evidence.figure5``); ``listed``:
    every run the build reads, ``{key: experiment}`` (others are left as they are)."""

    epochs: tuple
    onset_factor: float
    drawn: frozenset
    scanned: frozenset
    listed: dict


def reads(plan: Plan, root=None) -> Reads | None:
    """What the book's chapters read of their runs, with every chapter's parameters
    (``plan``'s, the profile's for the others), or ``None`` while the readings sweep is
    not stored in ``root`` (the runs drawn depend on the reading it chooses). Mirrors
    the chapters: the runs they draw over training (the readings page, Section 4.1's
    spread curves, the explorer) and those whose spread onset Figure 5 scans (every
    reading, the chosen one's seeds, the linear control). ``None`` too for a book without
    the Section 4.1 and Appendix A.1 chapters (a toy book in the tests): no reading to
    choose, nothing thinned."""
    if not {"wtm", "mnist"} <= set(notebook_names()):
        return None
    P4, PM = plan.P("wtm"), plan.P("mnist")
    data, model, train = experiments.section4(P4)
    configs = readings.sweep_configs(train, P4["output_lrs"])
    sweep = readings.sweep_jobs(data, model, configs, range(P4["reading_seeds"]))
    if not all(cache.paths("section4", key_of(*job), root)[1].exists() for job in sweep):
        return None
    data, model, chosen = plan.reading()
    everything = Plan({name: plan.P(name) for name in notebook_names()}, plan.profile)
    seeds = range(P4["reading_seeds"])
    drawn = (seed_jobs(data, model, chosen, seeds)
             + seed_jobs(data, model, configs[LITERAL], seeds)
             + experiments.norm_fixed_jobs(data, model, chosen, seeds)
             + seed_jobs(*plan.mnist_configs(PM, P4), [0]))
    scanned = (sweep + seed_jobs(data, model, chosen, range(P4["n_seeds"]))
               + seed_jobs(*experiments.linear_control(data, model, chosen),
                           range(plan.P("ablation")["ablation_seeds"])))
    return Reads(
        epochs=tuple(sorted({P4["early_epoch"], *P4["onset_epochs"], PM["early_epoch"]})),
        onset_factor=float(plan.P("difficulty")["onset_factor"]),
        drawn=frozenset(key_of(*job) for job in drawn),
        scanned=frozenset(key_of(*job) for job in scanned),
        listed={key_of(*job.configs): job.experiment
                for job in everything.first() + everything.under_reading()})


def spread_records(arrays: dict, cap: float) -> list[int]:
    """The epochs ``measures.spread_onset`` can answer with, for every factor up to
    ``cap``: the epochs at which S, the median over neurons of the active-class
    within-class spread of ``pattern_means_train`` (what ``evidence.figure5`` scans), is
    higher than at every earlier epoch, from epoch 0 up to the first at which S reaches
    ``cap`` times S[0]; every such epoch if S never does.

    Why these are enough: the onset for a factor f > 1 is the first epoch e with
    S[e] >= f S[0]. Every earlier S is below f S[0] <= S[e], so e is one of these
    records (and it comes no later than the first to reach ``cap`` S[0] when f <= cap);
    an epoch that is dropped is not a record, so below f S[0] as in the whole run, and
    NaN in the thinned one, which ``spread_onset`` never takes for the onset. For
    f <= 1 the onset is epoch 0. When S never reaches ``cap`` S[0] every record is
    kept, so the answer is the same for any factor, "never" included."""
    means = arrays["pattern_means_train"]
    spread = within_class_spread(means, pattern_class(means.shape[-1]).numpy(),
                                 active_class_of(arrays))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a neuron-less median is NaN
        s = np.nanmedian(spread, axis=1)
    records, high = [0], s[0]
    for e in range(1, len(s)):
        if s[e] > high:  # False for NaN: a NaN epoch is never the onset
            records.append(e)
            high = s[e]
            if s[e] >= cap * s[0]:
                break
    return records


def kept(key: str, arrays: dict, reads: Reads) -> tuple[dict, dict] | None:
    """What a run keeps of its per-epoch arrays (``ARRAYS``) and of its per-sample signs,
    as ``cache.thin`` takes it: ``({name: cache.Kept or None}, what is guaranteed)``, or
    ``None``: keep everything.

    Who reads which epochs (the chapters' readers of ``pattern_means_*``):

    * every epoch of every neuron: the runs drawn over training (``reads.drawn``): the
      readings page's output-scale figure (the median within-class spread of the chosen
      reading, the literal one and the chosen one with W2's norm fixed, every sweep
      seed), the Section 4.1 chapter's spread curves (the chosen reading, seed 0) and the
      neuron explorer (the same run, and the Appendix A.1 model's seed 0) - kept whole;
      so is a run the build does not read (not in ``reads.listed``);
    * epoch 0 and the last: every measure (``wtm_summary``, ``init_nulls``,
      ``spread_ratios`` on the probe set, the favourites of the causal test...);
    * ``reads.epochs``: the early epochs of the rank correlation, the falling shares and
      the onset table (``wtm_summary``, ``falling_shares``, ``onset_rows``);
    * the onset scan of Figure 5 (``evidence.figure5``, runs in ``reads.scanned``: every
      reading of the sweep, the chosen reading's seeds, the linear control):
      ``spread_records`` up to ``reads.onset_factor``, the same onset for every factor
      up to it;
    * the neurons with the largest |W2| (``final_neurons``, whose final pre-activations
      the run keeps too) at every epoch, read by ``Result.trajectory``: Figures 2 and 4
      draw one to four of them over training.

    A reader of anything else gets NaN: the rows of the epochs dropped are NaN at every
    neuron, those kept at every epoch included. The per-sample derivative signs
    (``sign_total [n_train, n_hidden]``, 34 of an Appendix A.1 run's 44 MiB) are read
    only by Figures 3 and 6 and the explorer (``signs.mean_sign``), on runs drawn whole:
    the others do not keep them (their class-level sums, ``sign_class_sums``, stay), and
    ``mean_sign`` says so."""
    if key in reads.drawn or key not in reads.listed:
        return None
    scanned = key in reads.scanned
    neurons = tuple(int(n) for n in arrays.get("final_neurons", ()))
    out = {}
    for name in ARRAYS:
        if name not in arrays:
            continue
        last = len(arrays[name]) - 1
        rows = {0, last, *(e for e in reads.epochs if 0 <= e < last)}
        if scanned and name == "pattern_means_train":
            rows.update(spread_records(arrays, reads.onset_factor))
        out[name] = cache.Kept(tuple(sorted(rows)), neurons)
    if "sign_total" in arrays:  # only mean_sign reads it, for Figures 3 and 6: drawn runs
        out["sign_total"] = None
    return out, dict(epochs=sorted(reads.epochs), neurons="final_neurons",
                     onset_factor=reads.onset_factor if scanned else None)


def sufficient(key: str, thinned: dict, reads: Reads) -> bool:
    """Whether a run thinned with ``thinned`` (its ``info["thinned"]``) keeps what a build
    reading ``reads`` reads of it."""
    if key in reads.drawn:
        return False
    if not set(reads.epochs) <= set(thinned.get("epochs", ())):
        return False
    return key not in reads.scanned or (thinned.get("onset_factor") or 0) >= reads.onset_factor


def drop_insufficient(reads: Reads, keys, root=None, log=print) -> list[str]:
    """Delete the stored results of ``keys`` (runs the build is about to train when
    missing) that are thinned and keep less than ``reads`` reads of them, so that the
    build trains them again, whole; their keys."""
    dropped = []
    for key in keys:
        experiment = reads.listed.get(key)
        info = cache.stored_info(experiment, key, root) if experiment else None
        if info is None or "thinned" not in info or sufficient(key, info["thinned"], reads):
            continue
        npz, meta = cache.paths(experiment, key, root)
        meta.unlink(missing_ok=True)  # the JSON first: the result is no longer complete
        npz.unlink(missing_ok=True)
        dropped.append(key)
    if dropped:
        log(f"[wtm] {len(dropped)} run(s) stored thinned keep less than this build reads; "
            "training them again (the same numbers, every epoch)")
    return dropped


def thin_stored(reads: Reads, root=None, log=print, every_s: float = 20.0) -> dict:
    """Thin every stored, whole result the build lists (``kept``), in place
    (``cache.thin``: atomic, checksums rewritten; a thinned result is left as it is, so
    this can run again at any time). Progress on ``log``; returns ``runs`` (thinned),
    ``before`` and ``after`` (their bytes)."""
    todo = []
    for key, experiment in sorted(reads.listed.items(), key=lambda kv: kv[::-1]):
        info = cache.stored_info(experiment, key, root)
        if info is not None and "thinned" not in info and key not in reads.drawn:
            todo.append((experiment, key))
    done, before, after, last = 0, 0, 0, time.monotonic()
    for i, (experiment, key) in enumerate(todo, 1):
        npz = cache.paths(experiment, key, root)[0]
        size = npz.stat().st_size
        if cache.thin(experiment, key, lambda res: kept(res.key, res.arrays, reads), root):
            done, before, after = done + 1, before + size, after + npz.stat().st_size
        if time.monotonic() - last >= every_s or i == len(todo):
            last = time.monotonic()
            log(f"[wtm]   thinning: {i}/{len(todo)} checked, {done} thinned, "
                f"{before / 2**20:.0f} MiB -> {after / 2**20:.0f} MiB")
    return dict(runs=done, before=before, after=after)
