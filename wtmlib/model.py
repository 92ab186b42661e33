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


class Buffers:
    """Named scratch tensors reused from pass to pass (``get(name, shape, like)``).

    A fresh ``[15000, 1000]`` float32 tensor costs ~30 ms of page faults on a CPU: more
    than the ReLU that fills it (3 ms in place). The training loop keeps one buffer per
    kind of pass instead (the gradient pass, the evaluation pass, the probe pass).
    """

    def __init__(self):
        self._store: dict[tuple, torch.Tensor] = {}

    def get(self, name: str, shape, like: torch.Tensor) -> torch.Tensor:
        """The buffer ``name`` of this shape, with the dtype and device of ``like``."""
        key = (name, tuple(shape), like.dtype, like.device)
        if key not in self._store:
            self._store[key] = torch.empty(shape, dtype=like.dtype, device=like.device)
        return self._store[key]


def _members(fn, stacked: bool, m: int) -> torch.Tensor:
    """``fn(k)`` for each member ``k`` of a stack of ``m`` models, stacked; ``fn(...)``
    (all of a single model's tensors) otherwise. A stack's members go through the
    kernels of a single model one by one: the same bits as one-by-one training."""
    return torch.stack([fn(k) for k in range(m)]) if stacked else fn(...)


def _linear_logits(x, w1, w2, b2, stacked: bool, m: int) -> torch.Tensor:
    """The linear ablation's logits x (W1^T w2) + b2 (Section 4.2.1), its hidden layer
    never formed: two matrix-vector products per member."""
    return _members(lambda k: torch.addmv(b2[k], x[k], torch.mv(w1[k].T, w2[k])), stacked, m)


def _linear_grads(x, w1, g, stacked: bool, m: int) -> tuple[torch.Tensor, torch.Tensor]:
    """x^T g ``[.., d]`` and W1 x^T g ``[.., h]``: with ``w2``, the linear ablation's
    gradients dL/dW1 = w2 (x^T g)^T and dL/dw2 = W1 x^T g."""
    xg = _members(lambda k: torch.mv(x[k].T, g[k]), stacked, m)
    return xg, _members(lambda k: torch.mv(w1[k], xg[k]), stacked, m)


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
    ``gx_buf`` when given: a fresh ``[15000, 500]`` tensor costs 10 ms of page faults, more
    than the product) or rho'(z) (.) g ``[n, h]`` (in place), the smaller is formed. The
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
            return _linear_logits(x, w1, w2, b2, stacked, len(x))
        a = (torch.bmm if stacked else torch.mm)(x, w1.transpose(-1, -2), out=buf).relu_()
        logits = _members(lambda k: torch.mv(a[k], w2[k]), stacked, len(x)) + b2
        ctx.a, ctx.version = a, a._version
        return logits

    @staticmethod
    def backward(ctx, g):
        stacked = g.dim() == 2
        w2_shape, b2_shape = ctx.shapes
        g_b2 = g.sum(-1).reshape(b2_shape)
        x, w1, w2 = ctx.saved_tensors
        if not ctx.relu:
            xg, g_w2 = _linear_grads(x, w1, g, stacked, len(x))
            g_w1 = _members(lambda k: torch.outer(w2[k], xg[k]), stacked, len(x))
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
        g_w2 = _members(lambda k: (big_g[k] * w1[k]).sum(-1), stacked, len(a))
        return None, big_g * w2[..., None], g_w2.reshape(w2_shape), g_b2, None, None, None


def mlp_logits(x: torch.Tensor, w1: torch.Tensor, w2: torch.Tensor, b2: torch.Tensor,
               relu: bool, buf: torch.Tensor, gx_buf: torch.Tensor | None = None
               ) -> torch.Tensor:
    """The logits of equation (1) (no batch norm) through ``_MLPLogits``: the same values
    as ``MLP.forward`` to rounding, one ``[n, h]`` buffer and two large products per
    training step. ``buf`` has the shape of the hidden layer (``[.., n, h]``), ``gx_buf``
    (optional, for the backward) that of ``x``."""
    return _MLPLogits.apply(x, w1, w2, b2, relu, buf, gx_buf)


def _column_sums(t: torch.Tensor, ones: torch.Tensor) -> torch.Tensor:
    """``t.sum(0)`` of an ``[n, h]`` tensor as ``t^T 1``: a matrix-vector product, several
    times faster on a CPU than the column reduction (``sum``/``var_mean`` over dim 0)."""
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
        mean = _column_sums(z, ones).div_(n)
        zc = z.sub_(mean)
        var = _column_sums(torch.mul(zc, zc, out=tmp), ones).div_(n)
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
        s1 = _column_sums(d, ones)
        s2 = _column_sums(torch.mul(d, zc, out=tmp), ones).mul_(invstd)
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
    of 64 this layout runs both products about 10 % faster than ``x W1^T``). ``x`` is
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
        logits = _members(lambda k: torch.addmv(b2[k], a[k].T, w2[k]), stacked, m)
    else:  # the linear model x (W1^T w2) + b2; the hidden layer is never formed
        logits = _linear_logits(x, w1, w2, b2, stacked, m)
    # member by member: vectorised and scalar sigmoid kernels differ in the last bit,
    # and where a row's scalar tail falls depends on the tensor it is in
    g = _members(lambda k: logits[k].sigmoid_(), stacked, m)
    g = g.sub_(y).div_(x.shape[-2])  # dL/dlogit
    if on_grad is not None:
        on_grad(g)
    g_b2 = g.sum(-1)
    if relu:
        g_w2 = _members(lambda k: torch.mv(a[k], g[k]), stacked, m)
        gx = x.mul_(g[..., None])  # g (.) x [.., n, d]
        scaled = a.sign_().mul_(w2[..., :, None])  # rho'(z) (.) w2, [.., h, n]
        if stacked:
            w1.baddbmm_(scaled, gx, alpha=-lr)
        else:
            w1.addmm_(scaled, gx, alpha=-lr)
    else:  # rank one: W1 -= lr w2 (x^T g)^T, w2 -= lr W1 (x^T g)
        xg, g_w2 = _linear_grads(x, w1, g, stacked, m)
        for k in range(m) if stacked else (...,):
            w1[k].addr_(w2[k], xg[k], alpha=-lr)
    w2.sub_(g_w2, alpha=lr)
    b2.sub_(g_b2.reshape(b2.shape), alpha=lr)
