"""Training with recording: one loop for one model or a stack of models (Section 2.2).

``train(data, model_cfg, train_cfg)`` is a pure function of the data and the two
configurations: the initial weights and the mini-batch order come from
``TrainConfig.seed``. ``Execution`` chooses the engine (``wtmlib.training.reference`` or
``wtmlib.training.fast``), the device and the threads, not the numbers (beyond float rounding).

``train_models`` trains several models of one shape together (a sweep's seeds): each
member follows the computation of ``train`` for its own configuration, stops on its own
(Section 3.1's until-fit rule) and is handed to ``on_done`` at once.
"""

from __future__ import annotations

import time
from dataclasses import asdict

import torch
# torch.optim.Optimizer imports torch._dynamo (seconds) the first time one is built;
# importing it here keeps that one-off cost out of a process's first run's wall_s
import torch._dynamo  # noqa: F401
from tqdm.auto import tqdm

from wtmlib.training.checkpoint import Checkpointer, fingerprint
from wtmlib.config import ConfigError
from wtmlib.config import Execution, ModelConfig, TrainConfig, default_execution
from wtmlib.training.engine import Engine, TrainOutput
from wtmlib.training.fast.engine import FastSingle, FastStack
from wtmlib.training.reference import ReferenceEngine

__all__ = ["train", "train_models", "check_stack", "TrainOutput"]


def check_stack(datas: list, model_cfg: ModelConfig, cfgs: list) -> None:
    """Refuse, before any work, models that cannot train together: they must differ only
    in their seed, have data of one shape, and follow Section 3's regime (SGD on
    mini-batches, no batch norm); a single model may be anything."""
    if not datas or len(datas) != len(cfgs):
        raise ConfigError(f"train_models: got {len(datas)} data sets and {len(cfgs)} "
                          "configurations; need the same number, at least one")
    if len(datas) == 1:
        return
    if model_cfg.batchnorm:
        raise ConfigError("batchnorm=True: stacked training has no batch norm; "
                          "train these models one by one")
    if any({**asdict(c), "seed": 0} != {**asdict(cfgs[0]), "seed": 0} for c in cfgs):
        raise ConfigError(f"train_models: the configurations may differ only in seed; got "
                          f"{cfgs[0]} and others")
    if cfgs[0].keep_dz_sign:
        raise ConfigError("keep_dz_sign=True: stacked training records no dL/dz signs; "
                          "train these models one by one")
    if cfgs[0].optimizer != "sgd":
        raise ConfigError(f"optimizer={cfgs[0].optimizer!r}: stacked training supports 'sgd' "
                          "(Section 3); train Layca runs one by one")
    shapes = {(tuple(d.x_train.shape), tuple(d.x_test.shape), d.centroids.shape[0])
              for d in datas}
    if len(shapes) != 1:
        raise ConfigError(f"train_models: the data sets differ in shape {sorted(shapes)}; "
                          "n_train, n_test, n_dim and n_pat must be equal")
    if not 0 < cfgs[0].batch_size < len(datas[0].x_train):
        raise ConfigError(f"batch_size={cfgs[0].batch_size}: stacked training needs "
                          f"mini-batches (1 <= batch_size < n_train={len(datas[0].x_train)})")


def make_engine(datas, model_cfg, cfgs, execution: Execution, callback=None) -> Engine:
    """The engine ``execution.engine`` names, for these models, on their device."""
    if callback is not None and len(datas) > 1:
        raise ConfigError("callback: only a single model's training takes a callback")
    kind = (ReferenceEngine if execution.engine == "reference"
            else FastStack if len(datas) > 1 else FastSingle)
    return kind(datas, model_cfg, cfgs, execution.torch_device(), callback)


def train_models(datas: list, model_cfg: ModelConfig, cfgs: list[TrainConfig],
                 execution: Execution | None = None, on_done=None, checkpoint=None,
                 callback=None) -> list[TrainOutput]:
    """Train model ``i`` on ``datas[i]`` with ``cfgs[i]``, all together; ``on_done(i, out)``
    as soon as model ``i`` stops. ``checkpoint``: a file for the training state (resumed
    from when it holds this run's; ``wtmlib.training.checkpoint``). ``callback(kind, index, model)``
    (tests, one model): ``("step", s, model)`` before step ``s``, ``("epoch", e, model)``
    at each recorded state (``e = 0``: the initialisation). ``execution``: default
    ``wtmlib.config.default_execution()``."""
    execution = execution or default_execution()
    check_stack(datas, model_cfg, cfgs)
    if execution.threads:
        torch.set_num_threads(execution.threads)
    start, n_epochs = time.perf_counter(), cfgs[0].epochs
    eng = make_engine(datas, model_cfg, cfgs, execution, callback)
    ckpt = Checkpointer(checkpoint, fingerprint(datas, model_cfg, cfgs),
                        execution.checkpoint_every, execution.checkpoint_every_s)
    saved, epoch, before = ckpt.load(), 0, 0.0  # before: seconds spent before a resume
    if saved is not None:
        eng.restore(saved["engine"])
        epoch, before = saved["epoch"], saved["elapsed"]
    first, outputs = epoch, [None] * len(datas)
    bar = tqdm(total=n_epochs, initial=epoch, disable=not execution.progress, leave=False,
               desc="train" if len(datas) == 1 else f"train {len(datas)} models")
    while True:
        eng.observe(epoch, grad=eng.full_batch and epoch < n_epochs)
        done = [i for i in eng.active if epoch == n_epochs or eng.fitted(i)]
        for i in done:
            outputs[i] = eng.output(i, epoch)
            outputs[i].metrics.update(
                wall_s=before + time.perf_counter() - start, resumed_from_epoch=first,
                device=str(eng.device), threads=torch.get_num_threads(),
                engine=execution.engine, **({"stacked_with": len(datas)} if len(datas) > 1 else {}))
            if on_done is not None:
                on_done(i, outputs[i])
        eng.drop(done)
        if not eng.active:
            break
        eng.step_epoch(epoch)
        epoch += 1
        bar.update()
        bar.set_postfix(training=len(eng.active), train_acc=eng.recs[eng.active[0]].train_acc())
        if epoch < n_epochs:
            ckpt.maybe_save(epoch, lambda: dict(engine=eng.state(), epoch=epoch,
                                                elapsed=before + time.perf_counter() - start))
    bar.close()
    return outputs


def train(data, model_cfg: ModelConfig = ModelConfig(), cfg: TrainConfig = TrainConfig(),
          execution: Execution | None = None, callback=None, checkpoint=None) -> TrainOutput:
    """Train the MLP of ``model_cfg`` on ``data`` (x/y/p train and test tensors) with ``cfg``
    and record everything (``wtmlib.record``); ``train_models`` with one model."""
    return train_models([data], model_cfg, [cfg], execution, checkpoint=checkpoint,
                        callback=callback)[0]
