"""Equation (1) with batch normalization (Appendix A.1's model), written out by hand:
the fast engine's training-mode pass with its gradient, and the evaluation-mode pass.

The readable definition is ``wtmlib.model.MLP`` with ``batchnorm=True`` under autograd;
these passes give its values and gradients to float rounding (``tests/test_fast.py``).
"""

from __future__ import annotations

import torch
from torch import nn


def column_sums(t: torch.Tensor, ones: torch.Tensor) -> torch.Tensor:
    """``t.sum(0)`` of an ``[n, h]`` tensor as ``t^T 1``: a matrix-vector product, several
    faster on a CPU than the column reduction (``sum``/``var_mean`` over dim 0)."""
    return torch.mv(t.T, ones)


class _BNMLPLogits(torch.autograd.Function):
    """Equation (1) with batch normalization on the pre-activations, in training mode
    (batch statistics), with its gradient written out by hand (Appendix A.1's model).

    Forward, for z = x W1^T ``[n, h]``: mu = mean_i z, var = mean_i (z - mu)^2,
    zhat = (z - mu) / sqrt(var + eps), u = gamma (.) zhat + beta, a = rho(u),
    logit = a w2 + b2; the running statistics move as ``nn.BatchNorm1d``'s do
    (momentum, unbiased variance, ``num_batches_tracked``).
    Backward, from g = dL/dlogit, with D = rho'(u) (.) g 1^T and its column sums
    s1 = D^T 1, s2 = (D (.) zhat)^T 1:

        dL/dbeta = w2 (.) s1,   dL/dgamma = w2 (.) s2,
        dL/dw2 = a^T g = D^T u = gamma (.) s2 + beta (.) s1   (no pass over [n, h]),
        dL/dz = c (.) (D - s1/n - zhat (.) s2/n),   c = gamma (.) w2 / sqrt(var + eps),
        dL/dW1 = c (.) ((D - s1/n - zhat (.) s2/n)^T x)      (one [h, n] @ [n, d] product)

    (the batch-norm backward of Ioffe & Szegedy, 2015, for this one-output network).
    Three reused ``[n, h]`` buffers (``bufs``: z - mu, a and then D, a scratch); zhat
    itself is never formed (invstd is folded into the scale and the sums); the column
    sums are matrix-vector products. Autograd through ``MLP.forward`` builds the same
    numbers with about ten allocated ``[n, h]`` tensors and reduces columns with
    ``var_mean``, several times slower than the product here.
    """

    @staticmethod
    def forward(ctx, x, w1, gamma, beta, w2, b2, norm, relu: bool, bufs):
        n = x.shape[0]
        zbuf, abuf, tmp = bufs
        ones = x.new_ones(n)
        z = torch.mm(x, w1.T, out=zbuf)
        mean = column_sums(z, ones).div_(n)
        zc = z.sub_(mean)
        var = column_sums(torch.mul(zc, zc, out=tmp), ones).div_(n)
        with torch.no_grad():  # nn.BatchNorm1d's running statistics, training mode
            m = norm.momentum
            norm.running_mean.mul_(1 - m).add_(mean, alpha=m)
            norm.running_var.mul_(1 - m).add_(var, alpha=m * n / max(n - 1, 1))
            norm.num_batches_tracked.add_(1)
        invstd = (var + norm.eps).rsqrt_()
        a = torch.addcmul(beta, zc, gamma * invstd, out=abuf)  # u = gamma zhat + beta
        if relu:
            a.relu_()
        ctx.shapes = w2.shape, b2.shape  # the output layer's own ([1, h], [1]) or flat
        w2 = w2.reshape(-1)
        logits = torch.addmv(b2, a, w2)
        ctx.save_for_backward(x, gamma, beta, w2, invstd)
        ctx.bufs, ctx.relu, ctx.versions = bufs, relu, [b._version for b in bufs[:2]]
        return logits

    @staticmethod
    def backward(ctx, g):
        x, gamma, beta, w2, invstd = ctx.saved_tensors
        zc, a, tmp = ctx.bufs  # z - mu (zhat = invstd (.) zc is never formed), a
        if [b._version for b in (zc, a)] != ctx.versions:
            raise RuntimeError("the training buffer was overwritten between a forward pass "
                               "and its backward (run backward before the next forward)")
        n = x.shape[0]
        ones = x.new_ones(n)
        d = (a.sign_() if ctx.relu else a.fill_(1.0)).mul_(g[:, None])  # D = rho'(u) g
        s1 = column_sums(d, ones)
        s2 = column_sums(torch.mul(d, zc, out=tmp), ones).mul_(invstd)
        g_w2 = gamma * s2 + beta * s1  # a^T g = D^T u, u = gamma zhat + beta
        d.sub_(s1 / n).addcmul_(zc, (invstd * s2 / n).expand_as(zc), value=-1.0)
        c = invstd * w2 * gamma
        g_w1 = torch.mm(d.T, x).mul_(c[:, None])
        ctx.bufs = None
        w2_shape, b2_shape = ctx.shapes
        return (None, g_w1, w2 * s2, w2 * s1, g_w2.reshape(w2_shape), g.sum().reshape(b2_shape),
                None, None, None)


def bn_mlp_logits(x: torch.Tensor, w1: torch.Tensor, norm: nn.BatchNorm1d, w2: torch.Tensor,
                  b2: torch.Tensor, relu: bool, bufs) -> torch.Tensor:
    """Training-mode logits of equation (1) with batch normalization ``norm`` (the
    model's ``nn.BatchNorm1d``, whose running statistics are updated) through
    ``_BNMLPLogits``: the values and gradients of ``MLP.forward`` to rounding (tested).
    ``bufs``: three ``[n, h]`` tensors, untouched between the forward and its backward."""
    if norm.momentum is None:
        raise ValueError("bn_mlp_logits: batch norm with momentum=None (cumulative "
                         "average) is not written out; use MLP.forward")
    return _BNMLPLogits.apply(x, w1, norm.weight, norm.bias, w2, b2, norm, relu, bufs)


@torch.no_grad()
def bn_eval_logits(x: torch.Tensor, w1: torch.Tensor, norm: nn.BatchNorm1d, w2: torch.Tensor,
                   b2: torch.Tensor, relu: bool, buf: torch.Tensor) -> torch.Tensor:
    """Evaluation-mode logits of equation (1) with batch normalization (running
    statistics): the normalization is an affine map per neuron, s (.) z + t with
    s = gamma / sqrt(running_var + eps), t = beta - s (.) running_mean, folded into the
    hidden weights: a = rho(x (s (.) W1)^T + t), one product into ``buf [n, h]``."""
    s = norm.weight * (norm.running_var + norm.eps).rsqrt()
    t = norm.bias - s * norm.running_mean
    a = torch.addmm(t, x, (w1 * s[:, None]).T, out=buf)
    if relu:
        a.relu_()
    return torch.addmv(b2, a, w2.reshape(-1))
