"""The fast engine: the training loop's moves (``wtmlib.training.engine``) through hand-written passes.

* One model (``FastSingle``): the model's parameters and torch optimizer (Layca, or SGD
  with batch norm) with the written-out passes of ``passes`` and ``batchnorm``; plain SGD
  on mini-batches without batch norm goes through ``sgd.sgd_step_`` (no autograd at all).
  A Layca run's update is the reference engine's own optimizer (``wtmlib.optim.Layca``),
  each layer's rule included: W2 by SGD with its norm free or projected back to its
  initial norm (``TrainConfig.output_norm``) steps the same in both engines.
* A stack of models (``FastStack``, Section 3's SGD only): weights stacked
  (``W1 [M, h, d]``), each mini-batch step of all members at once through ``sgd_step_``
  on the stack. On the CPU every slice of a ``bmm`` (``baddbmm_``) is the ``mm``
  (``addmm_``) of the single model, so a stack records the bits of training its members
  one by one; on a GPU the kernels may differ in the last bits.

Signals come from ``record.FastRecorder`` (closed forms), not from hook points. Every
regime is tested equal to the reference engine (``tests/test_engines.py``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from wtmlib.config import ConfigError
from wtmlib.training.engine import Engine
from wtmlib.model import build_model
from wtmlib.optim import build_optimizer
from wtmlib.training.fast.batchnorm import bn_eval_logits, bn_mlp_logits
from wtmlib.training.fast.passes import Buffers, mlp_logits
from wtmlib.training.fast.record import FastRecorder, gated_sign
from wtmlib.training.fast.sgd import sgd_step_


class FastSingle(Engine):
    """One model: written-out passes, the model's own optimizer (or ``sgd_step_``)."""

    recorder_class = FastRecorder

    def __init__(self, datas, model_cfg, cfgs, device, callback=None):
        super().__init__(datas, model_cfg, cfgs, device, callback)
        self.model = build_model(self.x[0].shape[1], model_cfg, self.cfg.seed).to(device)
        self.opt = build_optimizer(self.model, self.cfg)
        self.norm = self.model.norm if model_cfg.batchnorm else None
        if self.norm is not None and self.cfg.keep_dz_sign:
            raise ConfigError("keep_dz_sign=True with batchnorm=True: the fast engine has no "
                              "dL/dz behind batch norm; use Execution(engine='reference')")
        self.buffers = Buffers()
        self.kept = None  # full batch: the logits of the last pass, for the next step
        # plain SGD on mini-batches without batch norm: the whole step written out
        self.hand_sgd = self.norm is None and self.cfg.optimizer == "sgd"

    def _logits(self, x, kind: str, grad: bool = False, on_grad=None):
        """``[n]`` logits of ``x`` for a pass of ``kind`` ("step", "train", "probe"); with
        batch norm, a pass with ``grad`` is in training mode, one without in evaluation
        mode (as ``MLP.forward`` after ``model.train()`` / ``model.eval()``)."""
        m, get = self.model, self.buffers.get
        shape = (len(x), self.model_cfg.n_hidden)
        with torch.set_grad_enabled(grad):
            if self.norm is None:
                logits = mlp_logits(x, m.hidden.weight, m.out.weight, m.out.bias, self.relu,
                                    get(kind, shape, x), get(f"{kind} g x", x.shape, x) if grad
                                    else None)
            elif grad:
                logits = bn_mlp_logits(x, m.hidden.weight, self.norm, m.out.weight, m.out.bias,
                                       self.relu, [get(f"{kind} {i}", shape, x) for i in range(3)])
            else:
                logits = bn_eval_logits(x, m.hidden.weight, self.norm, m.out.weight, m.out.bias,
                                        self.relu, get(kind, shape, x))
        if on_grad is not None:
            logits.register_hook(on_grad)
        return logits

    def _on_grad(self, idx=None):
        rec, m = self.recs[0], self.model
        if not self.cfg.keep_dz_sign:
            return lambda g: rec.observe_output_grad(g, m.w2, idx)

        def both(g):  # before any weight moves: W1 is the one of this step's forward
            rec.observe_output_grad(g, m.w2, idx)
            x = self.x[0] if idx is None else self.x[0][idx]
            rec.observe_dz_signs(gated_sign(g, m.w2, x, m.hidden.weight, self.relu), idx)
        return both

    def observe(self, epoch: int, grad: bool) -> None:
        rec, w1 = self.recs[0], self.model.hidden.weight
        self.kept = self._logits(self.x[0], "train", grad, self._on_grad() if grad else None)
        rec.observe_train_w(w1, self.kept)
        if self.cfg.keep_grad_shares:
            rec.observe_grad_w(self.x[0], w1, self.model.w2, self.kept, self.relu)
        self.snapshot(0, epoch)
        if self.cfg.probe:
            rec.observe_probe_w(w1, self._logits(self.xt[0], "probe"))
        self.callback("epoch", epoch, self.model)

    def _step(self, epoch: int, loss_fn) -> None:
        self.optimizer_step(self.opt, self.model, epoch, loss_fn)
        self.steps += 1

    def step_epoch(self, epoch: int) -> None:
        x, y = self.x[0], self.y[0]
        if self.full_batch:
            logits, self.kept = self.kept, None
            self._step(epoch, lambda: F.binary_cross_entropy_with_logits(logits, y))
            return
        perm, get, b = self.order(0), self.buffers.get, self.cfg.batch_size
        # the epoch's samples in batch order, gathered once: each step's batch is a slice
        xs = torch.index_select(x, 0, perm, out=get("epoch x", x.shape, x))
        ys = torch.index_select(y, 0, perm, out=get("epoch y", y.shape, y))
        m = self.model
        for first in range(0, len(x), b):
            batch, idx = slice(first, first + b), perm[first:first + b]
            if self.hand_sgd:
                self.callback("step", self.steps, m)
                sgd_step_(xs[batch], ys[batch], m.hidden.weight.detach(), m.w2.detach(),
                          m.out.bias.detach(), self.cfg.lr_at(epoch), self.relu,
                          get("step", (self.model_cfg.n_hidden, len(idx)), x), self._on_grad(idx))
                self.steps += 1
            else:
                self._step(epoch, lambda batch=batch, idx=idx: F.binary_cross_entropy_with_logits(
                    self._logits(xs[batch], "step", True, self._on_grad(idx)), ys[batch]))

    def weights(self, i: int) -> dict[str, torch.Tensor]:
        return {k: t for k, t in self.model.state_dict().items() if t.dtype.is_floating_point}

    def state(self) -> dict:
        return dict(super().state(), models=[self.model.state_dict()],
                    optimizers=[self.opt.state_dict()])

    def restore(self, state: dict) -> None:
        super().restore(state)
        self.model.load_state_dict(state["models"][0])
        self.opt.load_state_dict(state["optimizers"][0])


class FastStack(Engine):
    """M models of Section 3's regime (SGD, mini-batches, no batch norm), stacked."""

    recorder_class = FastRecorder

    def __init__(self, datas, model_cfg, cfgs, device, callback=None):
        super().__init__(datas, model_cfg, cfgs, device, callback)
        models = [build_model(self.x[0].shape[1], model_cfg, c.seed) for c in cfgs]
        self.w1 = torch.stack([m.hidden.weight.detach() for m in models]).to(device)
        self.w2 = torch.stack([m.w2.detach() for m in models]).to(device)
        self.b2 = torch.stack([m.out.bias.detach()[0] for m in models]).to(device)
        self.buffers = Buffers()
        self._stack_data()

    def _stack_data(self) -> None:
        """The active members' data, stacked (copied again only when the stack shrinks)."""
        self.xa = torch.stack([self.x[i] for i in self.active])
        self.ya = torch.stack([self.y[i] for i in self.active])
        self.xta = torch.stack([self.xt[i] for i in self.active])

    def _logits(self, x, kind: str) -> torch.Tensor:
        """``x [A, B, d]`` -> logits ``[A, B]`` (each member through the single model's kernels)."""
        with torch.no_grad():
            buf = self.buffers.get(kind, (*x.shape[:2], self.w1.shape[1]), x)
            return mlp_logits(x, self.w1, self.w2, self.b2, self.relu, buf)

    def observe(self, epoch: int, grad: bool) -> None:
        logits = self._logits(self.xa, "train")
        logits_t = self._logits(self.xta, "probe") if self.cfg.probe else None
        for k, i in enumerate(self.active):
            self.recs[i].observe_train_w(self.w1[k], logits[k])
            self.snapshot(i, epoch)
            if self.cfg.probe:
                self.recs[i].observe_probe_w(self.w1[k], logits_t[k])

    def step_epoch(self, epoch: int) -> None:
        perms = torch.stack([self.order(i) for i in self.active])
        rows = torch.arange(len(self.active), device=self.device)[:, None]
        for idx in perms.split(self.cfg.batch_size, dim=1):  # idx [A, B]
            x, y = self.xa[rows, idx], self.ya[rows, idx]
            buf = self.buffers.get("step", (len(x), self.w1.shape[1], x.shape[1]), x)

            def on_grad(g, idx=idx):  # dL/dlogit [A, B], with the W2 that produced it
                for k, i in enumerate(self.active):
                    self.recs[i].observe_output_grad(g[k], self.w2[k], idx[k])

            sgd_step_(x, y, self.w1, self.w2, self.b2, self.cfg.lr_at(epoch), self.relu, buf,
                      on_grad)
            self.steps += 1

    def drop(self, done: list[int]) -> None:
        keep = [k for k, i in enumerate(self.active) if i not in done]
        super().drop(done)
        if len(keep) < len(self.w1) and keep:
            self.w1, self.w2, self.b2 = self.w1[keep], self.w2[keep], self.b2[keep]
            self._stack_data()

    def weights(self, i: int) -> dict[str, torch.Tensor]:
        k = self.active.index(i)
        return {"hidden.weight": self.w1[k].detach().cpu().clone(),
                "out.weight": self.w2[k][None].detach().cpu().clone(),
                "out.bias": self.b2[k][None].detach().cpu().clone()}
