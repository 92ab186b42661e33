"""The model M of equation (1): f(x) = sigmoid(W2^T rho(W1^T x) + b2).

A single hidden layer without bias, one output unit with bias. The model returns the
logit (the sigmoid lives in the loss: binary cross-entropy with logits). PyTorch's
default initialisation is kept, as in Section 2.2.

Named hook points (after TransformerLens) are where the paper's signals are read:
``hook_pre`` is the pre-activation z = W1^T x (Section 4.1: the pattern means), ``hook_norm``
its batch-normalised value (identity without batch norm), ``hook_post`` the activation
a = rho(.), whose gradient is the paper's dL/da (Section 4.1: its sign). The reference
engine (``wtmlib.training.reference``) records through them; the fast engine (``wtmlib.training.fast``)
computes the same signals in closed form and is tested equal to it.
"""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np
import torch
from torch import nn

from wtmlib.config import check_choice, check_int, check_type
from wtmlib.config import ACTIVATIONS, ModelConfig


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


def build_model(n_in: int, model_cfg: ModelConfig, seed: int) -> MLP:
    """The MLP with PyTorch's default initialisation drawn from ``seed`` (on the CPU)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return MLP(n_in, model_cfg.n_hidden, model_cfg.activation, model_cfg.batchnorm)


def model_from_arrays(arrays: dict, model_cfg: ModelConfig) -> MLP:
    """Rebuild a trained model from the weights stored in a run's arrays."""
    model = MLP(arrays["hidden.weight"].shape[1], model_cfg.n_hidden, model_cfg.activation,
                model_cfg.batchnorm)
    state = model.state_dict()
    for name in state:
        if name in arrays:
            state[name] = torch.as_tensor(np.asarray(arrays[name]))
    model.load_state_dict(state)
    return model


@torch.no_grad()
def accuracy(model: MLP, x: torch.Tensor, y: torch.Tensor) -> float:
    """Fraction of ``x [n, n_in]`` classified as ``y [n]`` (logit > 0 is class 1), with
    batch norm in evaluation mode."""
    was_training = model.training
    model.eval()
    logits = model(x)
    model.train(was_training)
    return ((logits > 0).long() == y.long()).float().mean().item()
