"""One call per experiment: configuration in, cached result out.

``run(data_cfg, model_cfg, train_cfg)`` draws the data, trains with recording and
stores the result under its configuration's hash; the same call again loads it.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, replace

from . import cache
from .bench import PROBE_ENV, RateProbe
from .data import SyntheticConfig, make_synthetic
from .train import EXECUTION_FIELDS, ModelConfig, TrainConfig, resolve_device, train


# where data files lie and whether to fetch them: they do not change the arrays
DATA_LOCATION_FIELDS = ("root", "download")
_PROBE = RateProbe()  # one per process: its rate is re-measured at most every two minutes


def load_data(data_cfg):
    """The data set a data configuration describes (S, or Aggregated MNIST)."""
    if isinstance(data_cfg, SyntheticConfig):
        return make_synthetic(data_cfg)
    from .mnist import AggregatedMNISTConfig, load_aggregated_mnist  # noqa: PLC0415
    if isinstance(data_cfg, AggregatedMNISTConfig):
        return load_aggregated_mnist(data_cfg)
    raise TypeError(f"data_cfg: unknown data configuration {type(data_cfg).__name__}")


def run_config(data_cfg, model_cfg: ModelConfig, train_cfg: TrainConfig) -> dict:
    """The JSON configuration that keys a run (execution settings left out)."""
    t = {k: v for k, v in asdict(train_cfg).items() if k not in EXECUTION_FIELDS}
    d = {k: v for k, v in asdict(data_cfg).items() if k not in DATA_LOCATION_FIELDS}
    config = {"data": {"kind": type(data_cfg).__name__, **d}, "model": asdict(model_cfg),
              "train": t}
    return json.loads(json.dumps(config))  # as stored: tuples become lists


def run(data_cfg=SyntheticConfig(), model_cfg: ModelConfig = ModelConfig(),
        train_cfg: TrainConfig = TrainConfig(), experiment: str = "runs",
        refresh: bool = False, root=None) -> cache.Result:
    """Train (or load) one model and return its recorded arrays and metrics.

    While it trains, the run checkpoints (``checkpoint_every`` epochs and
    ``checkpoint_every_s`` seconds apart, ``wtmlib.train.train``)
    beside its future result; a killed run started again resumes from there.
    With ``$WTM_PROBE_RATE=1`` the metrics also hold the machine's matmul rate before
    and after the run (``wtmlib.bench.RateProbe``; not part of the result's key).
    """
    config = run_config(data_cfg, model_cfg, train_cfg)
    ckpt = cache.checkpoint_path(experiment, cache.config_key(config), root)
    if refresh:
        ckpt.unlink(missing_ok=True)

    def compute():
        data = load_data(data_cfg)
        probe = os.environ.get(PROBE_ENV) == "1"
        dev = resolve_device(train_cfg.device)
        before = _PROBE.rate(dev) if probe else None  # the machine around the run
        out = train(data, model_cfg, train_cfg, checkpoint=ckpt)
        if probe:
            out.metrics["matmul_gflops"] = [before, _PROBE.rate(dev)]
        return out.arrays, out.metrics

    result = cache.cached(experiment, config, compute, root=root, refresh=refresh)
    ckpt.unlink(missing_ok=True)
    return result


def seeds(cfgs: tuple, n_seeds: int):
    """``(data_cfg, train_cfg)`` pairs for seeds 0..n_seeds-1 (data and init both vary)."""
    data_cfg, train_cfg = cfgs
    return [(replace(data_cfg, seed=s), replace(train_cfg, seed=s)) for s in range(n_seeds)]


def data_config_of(result: cache.Result):
    """The data configuration a stored result was trained on."""
    from .mnist import AggregatedMNISTConfig  # noqa: PLC0415

    kinds = {"SyntheticConfig": SyntheticConfig, "AggregatedMNISTConfig": AggregatedMNISTConfig}
    fields = dict(result.config["data"])
    cls = kinds[fields.pop("kind")]
    if "pattern_weights" in fields and fields["pattern_weights"] is not None:
        fields["pattern_weights"] = tuple(fields["pattern_weights"])
    return cls(**fields)


def load_data_of(result: cache.Result):
    """The data set a stored result was trained on (regenerated, or read from disk)."""
    return load_data(data_config_of(result))
