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


def ablations(data_cfg, model_cfg, train_cfg, sigmas) -> dict:
    """Section 4.2.1's setups as ``{name: (data, model, train)}``: the full model, the
    model without ReLU, one hidden neuron with b2 trained at the output layer's rate and
    with b2 frozen, and the training noise at each of ``sigmas`` (the test set keeps its
    sigma)."""
    out_rate = train_cfg.output_lr if train_cfg.output_layer == "sgd" else 0.0
    one = replace(model_cfg, n_hidden=1)
    return {
        "full model": (data_cfg, model_cfg, train_cfg),
        "no ReLU (linear)": (data_cfg, replace(model_cfg, activation="linear"), train_cfg),
        "one hidden neuron, b2 trained": (data_cfg, one, replace(
            train_cfg, biases="sgd", bias_lr=0.0 if out_rate == train_cfg.lr else out_rate)),
        "one hidden neuron, b2 frozen": (data_cfg, one, replace(train_cfg, biases="frozen",
                                                                 bias_lr=0.0)),
        **{f"less noise (sigma_train={s:g})": (replace(data_cfg, sigma_train=s), model_cfg,
                                                train_cfg) for s in sigmas},
    }


def use_execution(params: dict) -> Execution:
    """The chapter's execution settings (``threads``, ``workers``, ``batch_models`` when
    it has them; no progress bars inside a notebook) as the process's default."""
    return set_default_execution(replace(configs(params, Execution), progress=False))
