"""One plain SGD step of equation (1) on a mini-batch (Section 3.1), written out: the
fast engine's step for one model or a stack of models.

The readable definition is autograd through ``wtmlib.model.MLP.forward`` followed by
``torch.optim.SGD``; this step gives the same weights to float rounding
(``tests/test_fast.py``).
"""

from __future__ import annotations

import torch

from wtmlib.training.fast.passes import linear_grads, linear_logits, members


@torch.no_grad()
def sgd_step_(x: torch.Tensor, y: torch.Tensor, w1: torch.Tensor, w2: torch.Tensor,
              b2: torch.Tensor, lr: float, relu: bool, buf: torch.Tensor,
              on_grad=None) -> None:
    """One plain SGD step of equation (1) on a mini-batch (Section 3.1), written out and
    applied to ``w1``, ``w2``, ``b2`` in place.

    With the loss L = binary cross-entropy averaged over the batch of ``n`` samples,
    g = dL/dlogit = (sigmoid(logit) - y) / n, and the gradients of ``_MLPLogits``:

        W1 <- W1 - lr * (rho'(z) (.) w2) (g (.) x)      (one ``addmm_``: the update is
                                                         folded into the product)
        w2 <- w2 - lr * a g,     b2 <- b2 - lr * sum g

    with the hidden layer held transposed, ``z = W1 x^T [h, n]`` in ``buf`` (for a batch
    of 64 this layout runs both products faster than ``x W1^T``). ``x`` is
    overwritten with g (.) x. ``on_grad(g)`` sees dL/dlogit ``[.., n]`` before any weight
    moves (the recorder's derivative signs). The same step as ``torch.optim.SGD`` on
    autograd's gradient, to float rounding (tested), without autograd's graph or the
    optimizer: a step costs its two products and about ten small kernels. With the
    linear activation the hidden layer is never formed (as in ``_MLPLogits``):
    W1 <- W1 - lr * w2 (x^T g)^T and w2 <- w2 - lr * W1 (x^T g), matrix-vector products.

    One model (``x [n, d]``, ``y [n]``, ``w1 [h, d]``, ``w2 [h]``, ``b2 [1]``,
    ``buf [h, n]``) or a stack (``x [M, n, d]``, ``y [M, n]``, ``w1 [M, h, d]``,
    ``w2 [M, h]``, ``b2 [M]``, ``buf [M, h, n]``); each member of a stack goes through the
    kernels of one model (``bmm`` / ``baddbmm_`` slices are ``mm`` / ``addmm_`` on the
    CPU), so batched and one-by-one training agree bit for bit.
    """
    stacked, m = x.dim() == 3, len(x)
    if relu:
        a = (torch.bmm if stacked else torch.mm)(w1, x.transpose(-1, -2), out=buf).relu_()
        logits = members(lambda k: torch.addmv(b2[k], a[k].T, w2[k]), stacked, m)
    else:  # the linear model x (W1^T w2) + b2; the hidden layer is never formed
        logits = linear_logits(x, w1, w2, b2, stacked, m)
    # member by member: vectorised and scalar sigmoid kernels differ in the last bit,
    # and where a row's scalar tail falls depends on the tensor it is in
    g = members(lambda k: logits[k].sigmoid_(), stacked, m)
    g = g.sub_(y).div_(x.shape[-2])  # dL/dlogit
    if on_grad is not None:
        on_grad(g)
    g_b2 = g.sum(-1)
    if relu:
        g_w2 = members(lambda k: torch.mv(a[k], g[k]), stacked, m)
        gx = x.mul_(g[..., None])  # g (.) x [.., n, d]
        scaled = a.sign_().mul_(w2[..., :, None])  # rho'(z) (.) w2, [.., h, n]
        if stacked:
            w1.baddbmm_(scaled, gx, alpha=-lr)
        else:
            w1.addmm_(scaled, gx, alpha=-lr)
    else:  # rank one: W1 -= lr w2 (x^T g)^T, w2 -= lr W1 (x^T g)
        xg, g_w2 = linear_grads(x, w1, g, stacked, m)
        for k in range(m) if stacked else (...,):
            w1[k].addr_(w2[k], xg[k], alpha=-lr)
    w2.sub_(g_w2, alpha=lr)
    b2.sub_(g_b2.reshape(b2.shape), alpha=lr)
