"""One call per experiment: configuration in, cached result out.

``run(data_cfg, model_cfg, train_cfg)`` draws the data, trains with recording and
stores the result under its configuration's key (``wtmlib.results.cache``); the same call
again loads it. ``execution`` says where and how it trains, never what.
"""

from __future__ import annotations

import json
import os
from wtmlib.results import cache
from wtmlib.config import Execution, ModelConfig, TrainConfig, default_execution, keyed
from wtmlib.data import SyntheticConfig, make_synthetic
from wtmlib.results.probe import PROBE_ENV, RateProbe
from wtmlib.results.provenance import run_provenance
from wtmlib.mnist import AggregatedMNISTConfig, load_aggregated_mnist
from wtmlib.training.loop import train

# where data files lie and whether to fetch them: they do not change the arrays
DATA_LOCATION_FIELDS = ("root", "download")
DATA_KINDS = {"SyntheticConfig": SyntheticConfig, "AggregatedMNISTConfig": AggregatedMNISTConfig}
_PROBE = RateProbe()  # one per process: its rate is re-measured at most every two minutes


def load_data(data_cfg):
    """The data set a data configuration describes (S, or Aggregated MNIST)."""
    if isinstance(data_cfg, SyntheticConfig):
        return make_synthetic(data_cfg)
    if isinstance(data_cfg, AggregatedMNISTConfig):
        return load_aggregated_mnist(data_cfg)
    raise TypeError(f"data_cfg: unknown data configuration {type(data_cfg).__name__}")


def run_config(data_cfg, model_cfg: ModelConfig, train_cfg: TrainConfig) -> dict:
    """The JSON configuration that keys a run (fields added later count only when set:
    ``wtmlib.config.added_field``)."""
    d = {k: v for k, v in keyed(data_cfg).items() if k not in DATA_LOCATION_FIELDS}
    config = {"data": {"kind": type(data_cfg).__name__, **d}, "model": keyed(model_cfg),
              "train": keyed(train_cfg)}
    return json.loads(json.dumps(config))  # as stored: tuples become lists


def key_of(data_cfg, model_cfg: ModelConfig, train_cfg: TrainConfig) -> str:
    """The key a run is stored under."""
    return cache.config_key(run_config(data_cfg, model_cfg, train_cfg))


def run(data_cfg=SyntheticConfig(), model_cfg: ModelConfig = ModelConfig(),
        train_cfg: TrainConfig = TrainConfig(), experiment: str = "runs",
        refresh: bool = False, root=None, execution: Execution | None = None) -> cache.Result:
    """Train (or load) one model and return its recorded arrays and metrics.

    While it trains, the run checkpoints beside its future result
    (``wtmlib.training.checkpoint``); a killed run started again resumes from there. With
    ``$WTM_PROBE_RATE=1`` the metrics also hold the machine's matmul rate before and
    after the run (``wtmlib.results.probe.RateProbe``).
    """
    execution = execution or default_execution()
    config = run_config(data_cfg, model_cfg, train_cfg)
    ckpt = cache.checkpoint_path(experiment, cache.config_key(config), root)
    if refresh:
        ckpt.unlink(missing_ok=True)
    dev = execution.torch_device()

    def compute():
        data = load_data(data_cfg)
        probe = os.environ.get(PROBE_ENV) == "1"
        before = _PROBE.rate(dev) if probe else None  # the machine around the run
        out = train(data, model_cfg, train_cfg, execution, checkpoint=ckpt)
        if probe:
            out.metrics["matmul_gflops"] = [before, _PROBE.rate(dev)]
        return out.arrays, out.metrics

    result = cache.cached(experiment, config, compute, root=root, refresh=refresh,
                          info=lambda: run_provenance(execution, dev))
    ckpt.unlink(missing_ok=True)
    return result


def data_config_of(result: cache.Result):
    """The data configuration a stored result was trained on."""
    fields = dict(result.config["data"])
    cls = DATA_KINDS[fields.pop("kind")]
    if "pattern_weights" in fields and fields["pattern_weights"] is not None:
        fields["pattern_weights"] = tuple(fields["pattern_weights"])
    return cls(**fields)


def load_data_of(result: cache.Result):
    """The data set a stored result was trained on (regenerated, or read from disk)."""
    return load_data(data_config_of(result))
