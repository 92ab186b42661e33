"""The reference engine: equation (1) as ``MLP.forward``, autograd, torch optimizers, and
the paper's signals read where the model exposes them.

The optimizer is ``wtmlib.optim.build_optimizer``'s (Section 2.2's Layca, each layer by
its rule: an SGD output layer with its norm free or projected back to its initial norm,
``TrainConfig.output_norm``), the same object the fast engine steps.

Per training pass the hook points hand the recorder (``wtmlib.record``) what Section 4.1
records: ``hook_pre``'s forward value is the pre-activation z (its pattern means), the
gradient at ``hook_post`` is dL/da (its sign). With ``TrainConfig.keep_grad_shares``
each recorded state also hands it G_d and G_r (Section 4.2.2's difficult and regular
samples' parts of the W1 gradient), by autograd on the summed losses of each group. This is the path a reader checks against
the paper; ``wtmlib.training.fast`` computes the same signals faster and is tested equal to it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from wtmlib.training.engine import Engine
from wtmlib.model import build_model
from wtmlib.optim import build_optimizer


class ReferenceEngine(Engine):
    """Each model of the stack an ``MLP`` with its own optimizer, trained one after the
    other within each epoch."""

    def __init__(self, datas, model_cfg, cfgs, device, callback=None):
        super().__init__(datas, model_cfg, cfgs, device, callback)
        n_in = self.x[0].shape[1]
        self.models = [build_model(n_in, model_cfg, c.seed).to(device) for c in cfgs]
        self.opts = [build_optimizer(m, self.cfg) for m in self.models]
        self.kept: dict[int, torch.Tensor] = {}  # full batch: each model's loss of its last pass

    def _pass(self, i: int, x: torch.Tensor, grad: bool, idx=None):
        """Logits of model ``i`` on ``x`` and the pre-activations z seen at ``hook_pre``;
        with ``grad``, the backward later hands dL/da at ``hook_post`` to the recorder."""
        model, seen = self.models[i], {}
        rec = self.recs[i]
        bwd = {"hook_post": lambda g: rec.observe_signs(g, idx)} if grad else {}
        if grad and self.cfg.keep_dz_sign:
            bwd["hook_pre"] = lambda g: rec.observe_dz_signs(g, idx)
        model.train(grad)  # batch norm: batch statistics with a gradient, running ones without
        with torch.set_grad_enabled(grad), model.hooks(
                fwd={"hook_pre": lambda z: seen.__setitem__("z", z.detach())}, bwd=bwd):
            logits = model(x)
        return logits, seen["z"]

    def observe(self, epoch: int, grad: bool) -> None:
        for i in self.active:
            logits, z = self._pass(i, self.x[i], grad)
            self.recs[i].observe_train(z, logits)
            if grad:
                self.kept[i] = F.binary_cross_entropy_with_logits(logits, self.y[i])
            if self.cfg.keep_grad_shares:
                self._group_grads(i)
            self.snapshot(i, epoch)
            if self.cfg.probe:
                logits, z = self._pass(i, self.xt[i], False)
                self.recs[i].observe_probe(z, logits)
            self.callback("epoch", epoch, self.models[i])

    def _group_grads(self, i: int) -> None:
        """G_d and G_r of model ``i`` now (``wtmlib.record``): the W1 gradients of the sum
        of the per-sample losses over the difficult and over the regular samples, from a
        pass of its own (no hooks: the recorded derivative signs are the steps' alone)."""
        model, rec = self.models[i], self.recs[i]
        w1 = model.hidden.weight
        with torch.enable_grad():
            losses = F.binary_cross_entropy_with_logits(model(self.x[i]), self.y[i],
                                                        reduction="none")
            grads = [torch.autograd.grad(losses[group].sum(), w1, retain_graph=True)[0]
                     for group in (rec.difficult, ~rec.difficult)]
        rec.observe_group_grads(*grads)

    def _step(self, i: int, epoch: int, loss_fn) -> None:
        self.optimizer_step(self.opts[i], self.models[i], epoch, loss_fn)

    def step_epoch(self, epoch: int) -> None:
        if self.full_batch:
            for i in self.active:
                self._step(i, epoch, lambda i=i: self.kept.pop(i))
            self.steps += 1
            return
        orders = {i: self.order(i) for i in self.active}
        batches = range(0, len(self.x[0]), self.cfg.batch_size)
        for first in batches:
            for i in self.active:
                idx = orders[i][first:first + self.cfg.batch_size]

                def loss(i=i, idx=idx):
                    logits, _ = self._pass(i, self.x[i][idx], True, idx)
                    return F.binary_cross_entropy_with_logits(logits, self.y[i][idx])

                self._step(i, epoch, loss)
            self.steps += 1

    def weights(self, i: int) -> dict[str, torch.Tensor]:
        return {k: t for k, t in self.models[i].state_dict().items() if t.dtype.is_floating_point}

    def state(self) -> dict:
        return dict(super().state(), models=[m.state_dict() for m in self.models],
                    optimizers=[o.state_dict() for o in self.opts])

    def restore(self, state: dict) -> None:
        super().restore(state)
        for m, s in zip(self.models, state["models"]):
            m.load_state_dict(s)
        for o, s in zip(self.opts, state["optimizers"]):
            o.load_state_dict(s)
