"""A chapter's parameters (its papermill ``parameters`` cell) as library configurations.

A chapter's parameters are plain values; ``configs(P, SyntheticConfig, ...)`` hands them
to the dataclasses whose fields they name, unchanged. ``section3`` and ``section4`` add
the regime of each section, ``use_execution`` makes the chapter's execution settings
(threads, workers, stacked models) the process's default.
"""

from __future__ import annotations

import dataclasses
from dataclasses import replace

from .config import Execution, ModelConfig, TrainConfig, set_default_execution
from .data import SyntheticConfig


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
    """(data, model, train) configurations of Section 4: Layca, full batch. The probe
    set's pattern means are not kept (no Section 4 figure shows them)."""
    data_cfg, model_cfg, train_cfg = configs(params, data_class, ModelConfig, TrainConfig)
    return data_cfg, model_cfg, replace(train_cfg, keep_probe_means=False)


def use_execution(params: dict) -> Execution:
    """The chapter's execution settings (``threads``, ``workers``, ``batch_models`` when
    it has them; no progress bars inside a notebook) as the process's default."""
    return set_default_execution(replace(configs(params, Execution), progress=False))
