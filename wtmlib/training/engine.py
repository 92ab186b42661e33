"""What every training engine shares: the models' data, recorders, batch orders, snapshots.

An engine trains a stack of M >= 1 models of one shape (one model is a stack of one)
and answers the training loop (``wtmlib.training.loop``) with four moves:

* ``observe(epoch, grad)``: record the state of every active model after ``epoch``
  epochs (pattern means, losses, probe); with ``grad`` (full batch) the pass is kept
  for the next step, so one forward pass per epoch serves both;
* ``step_epoch(epoch)``: one epoch of optimizer steps (full batch: one step);
* ``drop(done)``: models that stopped leave the stack;
* ``weights(i)``: model ``i``'s parameters under ``MLP.state_dict``'s names.

Two engines implement them: ``wtmlib.training.reference`` (``MLP.forward``, autograd, torch
optimizers, signals read at the hook points) and ``wtmlib.training.fast`` (hand-written passes).
The choice is an execution setting (``Execution.engine``), never part of a result's key.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from wtmlib.config import ConfigError, ModelConfig, TrainConfig
from wtmlib.data import difficulty
from wtmlib.model import accuracy, model_from_arrays
from wtmlib.optim import set_lr
from wtmlib.record import Recorder


@dataclass
class TrainOutput:
    """What training returns for one model: recorded arrays, final weights, metrics."""

    arrays: dict  # name -> numpy array (see wtmlib.record), weights "hidden.weight", ...
    metrics: dict  # scalars: final accuracies, epochs_run, hit_max_epochs, wall_s, ...


class Engine:
    """The bookkeeping shared by the engines (module docstring)."""

    recorder_class = Recorder

    def __init__(self, datas: list, model_cfg: ModelConfig, cfgs: list[TrainConfig],
                 device: torch.device, callback=None):
        self.model_cfg, self.cfgs, self.cfg, self.device = model_cfg, cfgs, cfgs[0], device
        self.relu = model_cfg.activation == "relu"
        if self.cfg.keep_grad_shares and model_cfg.batchnorm:
            raise ConfigError("keep_grad_shares=True with batchnorm=True: behind batch norm a "
                              "sample's loss depends on the whole batch, so the gradient has "
                              "no per-sample split into difficult and regular parts")

        def on(t):
            return t.to(device)

        self.x = [on(d.x_train) for d in datas]  # each [n_train, n_dim]
        self.y = [on(d.y_train).float() for d in datas]  # each [n_train]
        self.xt = [on(d.x_test) for d in datas]
        self.yt = [on(d.y_test) for d in datas]
        probe = self.cfg.probe
        self.recs = [self.recorder_class(
            x, on(d.p_train), on(d.y_train), difficulty(x, on(d.y_train), on(d.centroids)) > 0,
            d.centroids.shape[0], model_cfg.n_hidden,
            *((xt, on(d.p_test), on(d.y_test)) if probe else ()))
            for d, x, xt in zip(datas, self.x, self.xt)]
        self.gens = [torch.Generator().manual_seed(c.seed) for c in cfgs]
        self.snaps: list[dict] = [{} for _ in cfgs]
        self.active = list(range(len(datas)))  # model index of each member still training
        self.steps = 0
        n = len(self.x[0])
        self.full_batch = self.cfg.batch_size == 0 or self.cfg.batch_size >= n
        self.callback = callback or (lambda *a: None)

    def order(self, i: int) -> torch.Tensor:
        """Model ``i``'s sample order for the next epoch (its own generator, on the CPU)."""
        return torch.randperm(len(self.x[i]), generator=self.gens[i]).to(self.device)

    def snapshot(self, i: int, epoch: int) -> None:
        """Keep model ``i``'s weights after ``epoch`` if the configuration asks for them."""
        if epoch in self.cfg.snapshots:
            for name, t in self.weights(i).items():
                self.snaps[i].setdefault(name, []).append(t.detach().cpu().clone())
            self.snaps[i].setdefault("epochs", []).append(torch.tensor(epoch))

    def fitted(self, i: int) -> bool:
        """Section 3.1's stopping rule: every training sample classified correctly."""
        return self.cfg.until_fit and self.recs[i].train_acc() == 1.0

    def drop(self, done: list[int]) -> None:
        """Models ``done`` (model indices) leave the stack."""
        self.active = [i for i in self.active if i not in done]

    def test_accuracy(self, i: int) -> float:
        """Final test accuracy of model ``i``: the probe's, or one evaluation pass."""
        if self.cfg.probe:
            return float(self.recs[i].history["probe_acc"][-1])
        model = model_from_arrays({k: t.cpu().numpy() for k, t in self.weights(i).items()},
                                  self.model_cfg)
        return accuracy(model.to(self.device), self.xt[i], self.yt[i])

    def output(self, i: int, epochs_run: int) -> TrainOutput:
        """Model ``i``'s recorded arrays, weights, snapshots and metrics."""
        w = self.weights(i)
        arrays = self.recs[i].arrays(self.x[i], w["hidden.weight"], w["out.weight"].reshape(-1),
                                     self.cfg.keep_neurons, self.cfg.keep_mean_sign,
                                     self.cfg.keep_probe_means)
        arrays.update({name: t.detach().cpu().numpy().copy() for name, t in w.items()})
        arrays.update({f"snapshot_{name}": torch.stack(v).numpy()
                       for name, v in self.snaps[i].items()})
        train_acc = float(arrays["history_train_acc"][-1])
        metrics = dict(epochs_run=epochs_run, steps=self.steps, train_acc=train_acc,
                       fitted=train_acc == 1.0,
                       hit_max_epochs=bool(self.cfg.until_fit and train_acc < 1.0),
                       test_acc=self.test_accuracy(i))
        return TrainOutput(arrays, metrics)

    def optimizer_step(self, opt, model, epoch: int, loss_fn) -> None:
        """One step of ``opt`` on ``loss_fn()`` at ``epoch``'s learning rates; the callback
        sees the weights that produce the gradient."""
        set_lr(opt, self.cfg, epoch)
        opt.zero_grad(set_to_none=True)
        self.callback("step", self.steps, model)
        loss_fn().backward()
        opt.step()

    def state(self) -> dict:
        """The shared part of a checkpoint (engines add their weights and optimizers)."""
        return dict(recorders=[r.state() for r in self.recs], snapshots=self.snaps,
                    gens=[g.get_state() for g in self.gens], active=self.active,
                    steps=self.steps)

    def restore(self, state: dict) -> None:
        for rec, s in zip(self.recs, state["recorders"]):
            rec.restore(s)
        for gen, s in zip(self.gens, state["gens"]):
            gen.set_state(s)
        self.snaps = [{k: list(v) for k, v in s.items()} for s in state["snapshots"]]
        self.active, self.steps = list(state["active"]), int(state["steps"])

    # -- implemented by each engine ----------------------------------------------------
    def observe(self, epoch: int, grad: bool) -> None:
        raise NotImplementedError

    def step_epoch(self, epoch: int) -> None:
        raise NotImplementedError

    def weights(self, i: int) -> dict[str, torch.Tensor]:
        raise NotImplementedError
