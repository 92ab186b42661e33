"""The paper's ambiguous optimizer settings (Section 2.2), swept, and the reading chosen.

Section 2.2 says "Layca optimizer" and "learning rate of 3^-3". It does not say which
layers Layca rotates, at which rate a plain-SGD output layer learns, or whether the
output bias b2 trains. A *reading* is one answer, a ``TrainConfig`` derived from the
chapter's:

* the **literal** reading: Layca on W1 and W2, as in the Layca authors' code;
* the **output-rate grid**: Layca on W1, plain SGD on W2 at each rate of ``output_lrs``,
  with b2 frozen or trained at the output layer's rate;
* **Layca at 3e-3**: the other reading of "3^-3" (W2 by SGD at rate 1).

``wtmlib.claims.reading_rule.RULE`` chooses the reading that the book's main figures and
verdicts use. It was written before the sweep's first result was read (commit b821bb0) and
reads only each reading's stored metrics (test and training accuracy), so every chapter
applies it cheaply and identically (``choose``).

Appendix A.1 trains its Aggregated MNIST model "with the same settings" but its own
regime (batch size, epochs, batch norm): ``apply_reading`` gives it a reading's output
layer, and ``mnist`` its configurations under the reading and under the fixed setting its
chapter used before (W2 by SGD at rate 1, b2 frozen), shown beside.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from wtmlib.results import cache
from wtmlib.results.experiments import section4
from wtmlib.config import ConfigError
from wtmlib.config import Execution, TrainConfig
from wtmlib.claims.reading_rule import (
    FIT, LITERAL, OTHER_LR, PAPER_ACC_S, grid_name
)
from wtmlib.mnist import AggregatedMNISTConfig
from wtmlib.results.runs import key_of
from wtmlib.results.pool import prefetch, seed_jobs, seeded



def sweep_configs(train_cfg: TrainConfig, output_lrs) -> dict[str, TrainConfig]:
    """Every reading's training configuration, from the chapter's ``train_cfg`` (its
    Layca rate, epochs, decay, recording); the literal reading first."""
    if not output_lrs:
        raise ConfigError("output_lrs: empty; give at least one output-layer learning rate")
    out = {LITERAL: replace(train_cfg, output_layer="layca", output_lr=0.0, biases="frozen",
                            bias_lr=0.0)}
    for lr in output_lrs:
        if not lr > 0:
            raise ConfigError(f"output_lrs: {lr!r} is not a positive learning rate")
        for b2 in ("frozen", "trained"):
            out[grid_name(lr, b2)] = replace(
                train_cfg, output_layer="sgd", output_lr=float(lr),
                biases="frozen" if b2 == "frozen" else "sgd",
                # b2 at the output layer's rate (0.0 means "same as lr", keying it once)
                bias_lr=0.0 if b2 == "frozen" or math.isclose(lr, train_cfg.lr) else float(lr))
    out[OTHER_LR] = replace(train_cfg, lr=3e-3, output_layer="sgd", output_lr=1.0,
                            biases="frozen", bias_lr=0.0)
    return out


def sweep_jobs(data_cfg, model_cfg, configs: dict, seeds) -> list:
    """``(data, model, train)`` jobs of every reading and seed, seed-major: a killed sweep
    has every reading's first seeds before any reading's later ones."""
    return [job for seed in seeds for cfg in configs.values()
            for job in seed_jobs(data_cfg, model_cfg, cfg, [seed])]


def compute(data_cfg, model_cfg, configs: dict, seeds, experiment: str = "section4",
            execution: Execution | None = None) -> int:
    """Train and store every reading's runs not stored yet; how many were trained."""
    return prefetch(sweep_jobs(data_cfg, model_cfg, configs, seeds), experiment, execution)


def metrics(data_cfg, model_cfg, configs: dict, seeds, experiment: str = "section4") -> dict:
    """``{reading: {"test_acc": [...], "train_acc": [...]}}`` over ``seeds``, read from the
    stored results' JSON (all runs must be stored: ``compute`` first)."""
    out = {}
    for name, cfg in configs.items():
        got = {"test_acc": [], "train_acc": []}
        for seed in seeds:
            d, t = seeded(data_cfg, cfg, seed)
            m = cache.stored_metrics(experiment, key_of(d, model_cfg, t))
            if m is None:
                raise FileNotFoundError(f"reading {name!r}, seed {seed}: not stored; run "
                                        "readings.compute first")
            for k in got:
                got[k].append(float(m[k]))
        out[name] = got
    return out


def _grid_means(metrics_by_reading: dict) -> dict:
    grid = [n for n in metrics_by_reading if n not in (LITERAL, OTHER_LR)]
    if not grid:
        raise ValueError("metrics_by_reading: no grid reading to choose from")
    return {n: metrics_by_reading[n] for n in grid}


def choose(metrics_by_reading: dict, configs: dict) -> str:
    """The reading ``RULE`` chooses from ``metrics`` of the grid readings (the literal
    and the 3e-3 readings are sensitivity columns, not candidates): the smallest output
    rate at which every seed fits its training set; training accuracy only."""
    grid = _grid_means(metrics_by_reading)
    order = {n: (configs[n].output_lr, configs[n].biases != "frozen") for n in grid}
    fits = [n for n, m in grid.items() if min(m["train_acc"]) >= 1.0]
    if fits:
        return min(fits, key=lambda n: order[n])
    return max(grid, key=lambda n: (float(np.mean(grid[n]["train_acc"])),
                                    [-x for x in order[n]]))


def choose_closest(metrics_by_reading: dict, configs: dict) -> str:
    """The reading the replaced rule (``reading_rule.CLOSEST_RULE``) chose: among those
    that fit on average, the test accuracy closest to the paper's (shown beside)."""
    grid = _grid_means(metrics_by_reading)
    mean = {n: {k: float(np.mean(v)) for k, v in m.items()} for n, m in grid.items()}
    fits = [n for n in grid if mean[n]["train_acc"] >= FIT]
    order = {n: (configs[n].output_lr, configs[n].biases != "frozen") for n in grid}
    if not fits:
        return max(grid, key=lambda n: (mean[n]["train_acc"], [-x for x in order[n]]))
    return min(fits, key=lambda n: (round(abs(mean[n]["test_acc"] - PAPER_ACC_S), 6), order[n]))


def main(params: dict, execution: Execution | None = None):
    """``(data_cfg, model_cfg, train_cfg, name, configs)`` of the Section 4 chapters: the
    sweep's configurations (its missing runs trained first), and the reading that
    ``params["reading"]`` names, or that ``RULE`` chooses for ``"chosen"``."""
    data_cfg, model_cfg, train_cfg = section4(params)
    configs = sweep_configs(train_cfg, params["output_lrs"])
    seeds = range(params["reading_seeds"])
    compute(data_cfg, model_cfg, configs, seeds, execution=execution)
    name = params["reading"]
    if name == "chosen":
        name = choose(metrics(data_cfg, model_cfg, configs, seeds), configs)
    elif name not in configs:
        raise ConfigError(f"reading={name!r}: not a reading of this sweep; choose 'chosen' "
                          f"or one of {list(configs)}")
    return data_cfg, model_cfg, configs[name], name, configs



# The fields of a ``TrainConfig`` that say how the output layer learns: what a reading of
# the output-rate grid (or the literal reading) sets. The other reading of "3^-3"
# (``OTHER_LR``) sets the hidden layer's Layca rate ``lr`` too, which is no output-layer
# setting: a chapter with its own ``lr`` parameter keeps it.
READING_FIELDS = ("output_layer", "output_lr", "biases", "bias_lr")


def apply_reading(train_cfg: TrainConfig, reading_cfg: TrainConfig) -> TrainConfig:
    """``train_cfg`` (another chapter's regime: epochs, decay, batch size, Layca rate)
    with the output layer of ``reading_cfg`` (``READING_FIELDS``). A rate of 0 means "the
    Layca rate"; where the two Layca rates differ, it is written out, so that W2 and b2
    learn at the reading's rates and a rate equal to ``train_cfg.lr`` is keyed as 0, as
    ``sweep_configs`` keys it."""
    same_lr = math.isclose(reading_cfg.lr, train_cfg.lr)
    output_lr, bias_lr = reading_cfg.output_lr, reading_cfg.bias_lr
    if not same_lr and reading_cfg.output_layer == "sgd":
        output_lr = output_lr or reading_cfg.lr
    if not same_lr and reading_cfg.biases == "sgd":
        bias_lr = bias_lr or reading_cfg.lr
        bias_lr = 0.0 if math.isclose(bias_lr, train_cfg.lr) else bias_lr
    return replace(train_cfg, output_layer=reading_cfg.output_layer, output_lr=output_lr,
                   biases=reading_cfg.biases, bias_lr=bias_lr)


def mnist(params: dict, wtm: dict, execution: Execution | None = None) -> tuple:
    """``(data, model, train, fixed, name, configs)`` of Appendix A.1 (``params``: its
    chapter's parameters): ``train`` its regime with the output layer of the reading
    ``params["reading"]`` of the Section 4.1 chapter's sweep (``wtm``: that chapter's
    parameters; "chosen": the one ``RULE`` chooses there, the sweep's missing runs
    trained first); ``fixed`` its regime with its own output-layer parameters
    (``output_layer``, ``output_lr``, ``biases``), the setting it used before."""
    name = params["reading"]
    if name == OTHER_LR:
        raise ConfigError(f"reading={name!r}: a reading of the Layca rate, which the "
                          "Appendix A.1 chapter sets with its own lr; choose 'chosen' or "
                          "an output-layer reading")
    data, model, fixed = section4(params, AggregatedMNISTConfig)
    _, _, reading_cfg, name, configs = main({**wtm, "reading": name}, execution)
    return data, model, apply_reading(fixed, reading_cfg), fixed, name, configs
