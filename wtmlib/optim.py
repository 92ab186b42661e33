"""Layca (Carbonnelle & De Vleeschouwer, 2019): layer-level control of the rotation.

For each weight tensor (a whole layer, not a neuron) Layca takes the SGD step g,
removes its component along the weights w, rescales it to ``lr * ||w||``, applies it,
and rescales the weights back to their norm before the step::

    g_perp = g - <g, w> w / ||w||^2
    w'     = w - lr * ||w|| * g_perp / ||g_perp||
    w_new  = w' * ||w|| / ||w'||

so every step rotates the layer by exactly ``atan(lr)`` radians. In the authors'
original code only kernels are updated: biases and batch-norm parameters keep their
initial values. Here each parameter group chooses its rule with ``mode``:

* ``"layca"`` - the update above;
* ``"sgd"``   - plain ``w - lr * g`` (e.g. biases trained rather than frozen, or an
  output layer left to SGD with its own learning rate);
* ``"sgd-fixed-norm"`` - the plain SGD step, then the weights rescaled to their norm at
  the first step (their initial norm), ``w <- w * ||w_0|| / ||w||``: SGD's direction with
  the norm held, the control that tells the output layer's norm from its optimizer
  (``TrainConfig.output_norm = "fixed"``);
* ``"frozen"`` - untouched (the original code's treatment of biases and batch norm).
"""

from __future__ import annotations

import torch

from wtmlib.config import ConfigError, check_choice

MODES = ("layca", "sgd", "sgd-fixed-norm", "frozen")


class Layca(torch.optim.Optimizer):
    """Layca applied to plain SGD, with a per-group ``mode`` (default ``"layca"``)."""

    def __init__(self, params, lr: float, mode: str = "layca", eps: float = 1e-12):
        if not (isinstance(lr, (int, float)) and not isinstance(lr, bool) and lr > 0):
            raise ConfigError(f"lr={lr!r}: must be a number > 0")
        check_choice("mode", mode, MODES)
        super().__init__(params, dict(lr=lr, mode=mode, eps=eps))
        for group in self.param_groups:
            check_choice("mode", group["mode"], MODES)
            if not group["lr"] > 0:
                raise ConfigError(f"lr={group['lr']!r}: must be > 0")

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            lr, mode = group["lr"], group["mode"]
            for w in group["params"]:
                if w.grad is None or mode == "frozen":
                    continue
                if mode == "sgd":
                    w.add_(w.grad, alpha=-lr)
                    continue
                if mode == "sgd-fixed-norm":
                    state = self.state[w]
                    if "norm0" not in state:  # the first step: w is still the initial one
                        state["norm0"] = torch.linalg.vector_norm(w)
                    w.add_(w.grad, alpha=-lr)
                    w.mul_(state["norm0"] / torch.linalg.vector_norm(w))  # back to ||w_0||
                    continue
                norm = torch.linalg.vector_norm(w)
                # the component of the gradient orthogonal to w, g - <g, w> w / ||w||^2
                along = torch.vdot(w.grad.reshape(-1), w.reshape(-1)) / -(norm * norm)
                g = torch.addcmul(w.grad, w, along)
                g_norm = torch.linalg.vector_norm(g)
                # a gradient parallel to w (or zero) gives no rotation; no host sync here
                scale = torch.where(g_norm > group["eps"], lr * norm / g_norm, 0.0)
                w.addcmul_(g, -scale)
                w.mul_(norm / torch.linalg.vector_norm(w))  # back to the norm before the step
        return loss


def build_optimizer(model: torch.nn.Module, cfg) -> torch.optim.Optimizer:
    """The optimizer of Section 2.2 for ``model`` (an ``MLP``) and ``cfg`` (``TrainConfig``):
    SGD on every parameter, or Layca on W1, W2 by ``cfg.output_layer`` (an "sgd" W2
    projected back to its initial norm when ``cfg.output_norm`` is "fixed") and the biases
    and batch norm by ``cfg.biases`` (groups in that order)."""
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(model.parameters(), lr=cfg.lr)
    others = [p for n, p in model.named_parameters() if n not in ("hidden.weight", "out.weight")]
    out_mode = "sgd-fixed-norm" if cfg.output_norm == "fixed" else cfg.output_layer
    return Layca([
        dict(params=[model.hidden.weight], mode="layca"),
        dict(params=[model.out.weight], mode=out_mode, lr=cfg.output_lr or cfg.lr),
        dict(params=others, mode=cfg.biases, lr=cfg.bias_lr or cfg.lr),
    ], lr=cfg.lr)


def set_lr(opt: torch.optim.Optimizer, cfg, epoch: int) -> None:
    """Each group's learning rate at 0-based ``epoch``: its base rate (``cfg.lr``, or
    ``cfg.output_lr`` / ``cfg.bias_lr`` for Layca's output / bias group when set) times
    the step decay."""
    scale = cfg.lr_at(epoch) / cfg.lr
    layca = cfg.optimizer == "layca"
    for i, group in enumerate(opt.param_groups):
        own = {1: cfg.output_lr, 2: cfg.bias_lr}.get(i, 0.0) if layca else 0.0
        group["lr"] = (own or cfg.lr) * scale
