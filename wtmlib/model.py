"""The model M of equation (1): f(x) = sigmoid(W2^T rho(W1^T x) + b2).

A single hidden layer without bias, one output unit with bias. The model returns the
logit (the sigmoid lives in the loss: binary cross-entropy with logits). PyTorch's
default initialisation is kept, as in Section 2.2.

Named hook points (after TransformerLens) mark the signals the paper records:
``hook_pre`` is the pre-activation z = W1^T x (Section 4.1), ``hook_norm`` its batch-
normalised value (identity without batch norm), ``hook_post`` the activation a = rho(.).
"""

from __future__ import annotations

from contextlib import contextmanager

import torch
from torch import nn

from .checks import check_choice, check_int, check_type

ACTIVATIONS = ("relu", "linear")


class HookPoint(nn.Identity):
    """An identity module whose forward hooks expose a named intermediate tensor."""


class MLP(nn.Module):
    """Equation (1). ``activation="linear"`` is the ablation of Section 4.2.1.

    ``batchnorm=True`` inserts batch normalization on the hidden pre-activations, before
    the activation (our reading of "models trained on Aggregated MNIST also use batch
    normalization"; the paper does not say where it sits).
    """

    def __init__(self, n_in: int, n_hidden: int = 1000, activation: str = "relu",
                 batchnorm: bool = False):
        super().__init__()
        check_int("n_in", n_in, 1)
        check_int("n_hidden", n_hidden, 1)
        check_choice("activation", activation, ACTIVATIONS)
        check_type("batchnorm", batchnorm, bool, "True or False")
        self.hidden = nn.Linear(n_in, n_hidden, bias=False)  # W1^T: weight [n_hidden, n_in]
        self.hook_pre = HookPoint()  # z [batch, n_hidden]
        self.norm = nn.BatchNorm1d(n_hidden) if batchnorm else nn.Identity()
        self.hook_norm = HookPoint()  # [batch, n_hidden]
        self.act = nn.ReLU() if activation == "relu" else nn.Identity()
        self.hook_post = HookPoint()  # a [batch, n_hidden]
        self.out = nn.Linear(n_hidden, 1)  # W2: weight [1, n_hidden], b2: bias [1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x [batch, n_in] -> logits [batch]
        z = self.hook_pre(self.hidden(x))
        a = self.hook_post(self.act(self.hook_norm(self.norm(z))))
        return self.out(a).squeeze(-1)

    def hidden_pre(self, x: torch.Tensor) -> torch.Tensor:
        """Pre-activations z = W1^T x ``[batch, n_hidden]`` without the rest of the network."""
        return self.hidden(x)

    @property
    def w2(self) -> torch.Tensor:
        """Output weights ``[n_hidden]``: the neurons' influence on the prediction."""
        return self.out.weight[0]

    @contextmanager
    def hooks(self, fwd: dict | None = None, bwd: dict | None = None):
        """Attach hooks by hook-point name for the duration of a ``with`` block.

        ``fwd[name](tensor)`` sees each forward value of hook point ``name``;
        ``bwd[name](grad)`` sees the gradient of the loss with respect to it (the
        paper's dL/da for ``hook_post``). Hooks are removed when the block exits.
        """
        handles = []
        points = dict(self.named_modules())
        try:
            for name, fn in (fwd or {}).items():
                handles.append(points[name].register_forward_hook(
                    lambda _m, _i, out, fn=fn: fn(out)))
            for name, fn in (bwd or {}).items():
                def on_forward(_m, _i, out, fn=fn):
                    if out.requires_grad:
                        out.register_hook(fn)
                handles.append(points[name].register_forward_hook(on_forward))
            yield self
        finally:
            for h in handles:
                h.remove()
