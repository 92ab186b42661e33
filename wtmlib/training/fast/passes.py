"""Equation (1) without batch norm, its gradient written out by hand: the fast engine's
full-batch pass (Section 4) and the linear ablation's (Section 4.2.1).

The readable definition is ``wtmlib.model.MLP.forward`` with autograd; these passes give
the same logits and gradients to float rounding (``tests/test_fast.py``) with one reused
``[n, h]`` buffer and two large products per step.
"""

from __future__ import annotations

import torch


class Buffers:
    """Named scratch tensors reused from pass to pass (``get(name, shape, like)``).

    A fresh tensor of the hidden layer's size costs more in page faults on a CPU than the
    ReLU that fills it, so the engine keeps one buffer per kind of pass (the gradient
    pass, the evaluation pass, the probe pass) and reuses it.
    """

    def __init__(self):
        self._store: dict[tuple, torch.Tensor] = {}

    def get(self, name: str, shape, like: torch.Tensor) -> torch.Tensor:
        """The buffer ``name`` of this shape, with the dtype and device of ``like``."""
        key = (name, tuple(shape), like.dtype, like.device)
        if key not in self._store:
            self._store[key] = torch.empty(shape, dtype=like.dtype, device=like.device)
        return self._store[key]


def members(fn, stacked: bool, m: int) -> torch.Tensor:
    """``fn(k)`` for each member ``k`` of a stack of ``m`` models, stacked; ``fn(...)``
    (all of a single model's tensors) otherwise. A stack's members go through the
    kernels of a single model one by one: the same bits as one-by-one training."""
    return torch.stack([fn(k) for k in range(m)]) if stacked else fn(...)


def linear_logits(x, w1, w2, b2, stacked: bool, m: int) -> torch.Tensor:
    """The linear ablation's logits x (W1^T w2) + b2 (Section 4.2.1), its hidden layer
    never formed: two matrix-vector products per member."""
    return members(lambda k: torch.addmv(b2[k], x[k], torch.mv(w1[k].T, w2[k])), stacked, m)


def linear_grads(x, w1, g, stacked: bool, m: int) -> tuple[torch.Tensor, torch.Tensor]:
    """x^T g ``[.., d]`` and W1 x^T g ``[.., h]``: with ``w2``, the linear ablation's
    gradients dL/dW1 = w2 (x^T g)^T and dL/dw2 = W1 x^T g."""
    xg = members(lambda k: torch.mv(x[k].T, g[k]), stacked, m)
    return xg, members(lambda k: torch.mv(w1[k], xg[k]), stacked, m)


class _MLPLogits(torch.autograd.Function):
    """Equation (1) without batch norm, with its gradient written out by hand.

    ReLU: forward ``a = rho(x W1^T)`` into ``buf`` (ReLU in place), ``logit = a w2 + b2``.
    Backward, from g = dL/dlogit: db2 = sum g and, since dL/dz = g w2^T (.) rho'(z),
    both weight gradients from one ``[h, n] @ [n, d]`` product G = rho'(z)^T (g (.) x):

        dL/dW1 = w2 (.) G,      dL/dw2 = a^T g = (G (.) W1) 1

    (the second because a = rho'(z) (.) z and z = x W1^T: row j of G dotted with row j
    of W1 is sum_i g_i rho'(z_ij) z_ij; no pass over ``[n, h]`` for it). rho'(z) =
    sign(a) is written over ``buf`` (so ``buf`` must not be reused between this forward
    and its backward; checked). Of the two element-wise products, g (.) x ``[n, d]`` (into
    ``gx_buf`` when given, for the reason ``Buffers`` gives) or rho'(z) (.) g ``[n, h]`` (in place), the smaller is formed. The
    obvious autograd graph makes four more passes over ``[n, h]`` (dL/dW2, dL/da, the ReLU mask, dL/dz)
    and allocates three. ``x`` gets no gradient.

    Linear activation (the ablation of Section 4.2.1): the network is the linear model
    logit = x v + b2 with v = W1^T w2, and the hidden layer is never formed:

        dL/dW1 = w2 (x^T g)^T,   dL/dw2 = W1 (x^T g),   dL/db2 = sum g

    (all O(n d + h d) per pass instead of O(n d h); ``buf`` is not used and may be None).

    Works on one model (``x [n, d]``, ``w1 [h, d]``, ``w2 [h]`` or ``[1, h]``, ``b2 [1]``)
    or on a stack
    (``x [M, n, d]``, ``w1 [M, h, d]``, ``w2 [M, h]``, ``b2 [M]``): each member of a stack
    goes through exactly the kernels of a single model (``bmm`` slices are ``mm`` on the
    CPU; the matrix-vector products run member by member), so batched and one-by-one
    training agree bit for bit.
    """

    @staticmethod
    def forward(ctx, x, w1, w2, b2, relu: bool, buf, gx_buf=None):
        ctx.shapes = w2.shape, b2.shape  # the output layer's own ([1, h], [1]) or flat
        w2, b2 = w2.reshape(*w1.shape[:-2], -1), b2.reshape(*w1.shape[:-2], 1)
        stacked = x.dim() == 3
        ctx.relu, ctx.gx_buf = relu, gx_buf
        ctx.save_for_backward(x, w1, w2)
        if not relu:  # x (W1^T w2) + b2
            return linear_logits(x, w1, w2, b2, stacked, len(x))
        a = (torch.bmm if stacked else torch.mm)(x, w1.transpose(-1, -2), out=buf).relu_()
        logits = members(lambda k: torch.mv(a[k], w2[k]), stacked, len(x)) + b2
        ctx.a, ctx.version = a, a._version
        return logits

    @staticmethod
    def backward(ctx, g):
        stacked = g.dim() == 2
        w2_shape, b2_shape = ctx.shapes
        g_b2 = g.sum(-1).reshape(b2_shape)
        x, w1, w2 = ctx.saved_tensors
        if not ctx.relu:
            xg, g_w2 = linear_grads(x, w1, g, stacked, len(x))
            g_w1 = members(lambda k: torch.outer(w2[k], xg[k]), stacked, len(x))
            return None, g_w1, g_w2.reshape(w2_shape), g_b2, None, None, None
        a = ctx.a
        if a._version != ctx.version:
            raise RuntimeError("the training buffer was overwritten between a forward pass "
                               "and its backward (run backward before the next forward)")
        mm = torch.bmm if stacked else torch.mm
        mask = a.sign_()  # rho'(z): 1 where z > 0, else 0
        if a.shape[-1] <= x.shape[-1]:  # fewer neurons than inputs: scale the mask
            big_g = mm(mask.mul_(g[..., None]).transpose(-1, -2), x)
        else:
            big_g = mm(mask.transpose(-1, -2), torch.mul(x, g[..., None], out=ctx.gx_buf))
        ctx.a = ctx.gx_buf = None
        g_w2 = members(lambda k: (big_g[k] * w1[k]).sum(-1), stacked, len(a))
        return None, big_g * w2[..., None], g_w2.reshape(w2_shape), g_b2, None, None, None


def mlp_logits(x: torch.Tensor, w1: torch.Tensor, w2: torch.Tensor, b2: torch.Tensor,
               relu: bool, buf: torch.Tensor, gx_buf: torch.Tensor | None = None
               ) -> torch.Tensor:
    """The logits of equation (1) (no batch norm) through ``_MLPLogits``: the same values
    as ``MLP.forward`` to rounding, one ``[n, h]`` buffer and two large products per
    training step. ``buf`` has the shape of the hidden layer (``[.., n, h]``), ``gx_buf``
    (optional, for the backward) that of ``x``."""
    return _MLPLogits.apply(x, w1, w2, b2, relu, buf, gx_buf)
