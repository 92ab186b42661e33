"""The recorder of ``wtmlib.record`` fed from closed-form identities instead of hook points.

Pattern means: z = W1^T x is linear in x, so a pattern's mean pre-activation is W1^T
times the mean of its samples, one ``[n_pat, n_dim] @ [n_dim, n_hidden]`` product per
epoch instead of a pass over ``z [n_train, n_hidden]``.

Derivative signs: in equation (1) dL/da = dL/dlogit * W2, so sign(dL/da) of sample i at
step k is s_ik t_k, with s_k = sign(dL/dlogit) ``[batch]`` and t_k = sign(W2)
``[n_hidden]``. A step keeps just these two vectors. At each recorded state (or after
``WINDOW`` steps) the window of steps since the last one is summed as

    sum_k s_k t_k^T = (sum_k s_k) t_0^T + sum_k s_k (t_k - t_0)^T

(s_k scattered to the rows of its batch): the first term is two vectors again (int8),
summed with the other windows' by one ``[n_train, windows] @ [windows, n_hidden]``
product at the end; the second is zero except in the neurons whose W2 changed sign
within the window, added now to those columns only. No step touches an
``[n_train, n_hidden]`` tensor. The sums are small integers, exact in float32: the same
bits in any order, and the same as the reference recorder's.

Gradient shares (``TrainConfig.keep_grad_shares``, Section 4.2.2): sample i's loss has
dL_i/dlogit_i = sigmoid(logit_i) - y_i = g_i and dL_i/dz_i = g_i w2 (.) rho'(z_i), so a
group's W1 gradient is G = sum_i dL_i/dz_i x_i^T = w2 (.) (rho'(Z)^T (g (.) 1_group (.) X)),
one ``[h, n] @ [n, d]`` product per group (``group_grads``); without ReLU,
G = w2 (X^T (g (.) 1_group))^T.
"""

from __future__ import annotations

import torch

from wtmlib.record import Recorder

WINDOW = 127  # at most this many steps' derivative signs summed into one int8 vector


def gated_sign(grad_logits, w2, x, w1, relu: bool) -> torch.Tensor:
    """sign(dL/dz) ``[batch, n_hidden]`` of one step from dL/dlogit ``[batch]``, W2, the
    step's inputs ``x [batch, n_dim]`` and W1: sign(dL/dlogit) sign(W2) where z = W1^T x
    > 0 (the ReLU's derivative; everywhere for a linear network)."""
    signs = torch.outer(torch.sign(grad_logits.detach()), torch.sign(w2.detach().reshape(-1)))
    return signs * (torch.mm(x, w1.detach().T) > 0) if relu else signs


def group_grads(x, w1, w2, logits, y, groups, relu: bool) -> list[torch.Tensor]:
    """The W1 gradients ``[n_hidden, n_dim]`` of the summed per-sample losses of each
    group (module docstring), in closed form from the inputs ``x [n, d]``, W1 ``[h, d]``,
    W2 ``[h]``, the logits and labels ``[n]`` and the groups' indicators ``[n, k]``."""
    w1, w2 = w1.detach(), w2.detach().reshape(-1)
    g = torch.sigmoid(logits.detach()) - y  # dL_i/dlogit_i of the summed loss
    on = (torch.mm(x, w1.T) > 0).to(x.dtype).T if relu else None  # rho'(z) [h, n]
    out = []
    for k in range(groups.shape[1]):
        gk = g * groups[:, k]
        out.append(w2[:, None] * torch.mm(on, x * gk[:, None]) if relu
                   else torch.outer(w2, torch.mv(x.T, gk)))
    return out


class FastRecorder(Recorder):
    """``Recorder`` with ``observe_train_w`` / ``observe_probe_w`` (pattern means from
    W1 and the patterns' mean inputs) and ``observe_output_grad`` (signs as vector pairs)."""

    def __init__(self, x_train, p_train, y_train, difficult, n_pat, n_hidden,
                 x_probe=None, p_probe=None, y_probe=None):
        super().__init__(x_train, p_train, y_train, difficult, n_pat, n_hidden,
                         x_probe, p_probe, y_probe)
        # pattern means of the inputs, [n_pat, n_dim] (NaN rows: patterns without samples)
        self.xbar_train = self.avg_train @ x_train
        self.xbar_probe = None if x_probe is None else self.avg_probe @ x_probe
        # the steps since the last window: (samples or None, sign(dL/dlogit), sign(W2))
        self.pending: list[tuple] = []
        # per window: the summed sign(dL/dlogit) [n_train] and its first sign(W2) [n_hidden]
        self.window_s: list[torch.Tensor] = []
        self.window_t: list[torch.Tensor] = []

    def observe_train_w(self, w1: torch.Tensor, logits: torch.Tensor) -> None:
        """State after one more epoch from the hidden weights ``w1 [n_hidden, n_dim]``
        (computed as ``(xbar W1^T)^T``, the faster layout on a CPU)."""
        self._close_window()
        self.observe_train_means(torch.mm(self.xbar_train, w1.detach().T).T, logits)

    def observe_grad_w(self, x: torch.Tensor, w1: torch.Tensor, w2: torch.Tensor,
                       logits: torch.Tensor, relu: bool) -> None:
        """G_d and G_r of the state with weights W1, W2 and training ``logits`` from
        ``group_grads`` (the reference engine takes them from autograd)."""
        self.observe_group_grads(*group_grads(x, w1, w2, logits, self.y_train,
                                              self.groups[:, 1:], relu))

    def observe_probe_w(self, w1: torch.Tensor, logits: torch.Tensor) -> None:
        """The same state on the probe set."""
        self.observe_probe_means(torch.mm(self.xbar_probe, w1.detach().T).T, logits)

    def observe_output_grad(self, grad_logits: torch.Tensor, w2: torch.Tensor,
                            idx: torch.Tensor | None = None) -> None:
        """One step's dL/dlogit ``[batch]`` and the W2 ``[n_hidden]`` that produced it, for
        training samples ``idx`` (``None``: the full batch, in order)."""
        self.pending.append((idx, torch.sign(grad_logits.detach()), torch.sign(w2.detach())))
        if len(self.pending) == WINDOW:
            self._close_window()

    def _close_window(self) -> None:
        """Sum the pending steps' derivative signs (module docstring): one vector pair,
        and the columns of the neurons whose W2 changed sign within the window."""
        if not self.pending:
            return
        idxs, ss, ts = zip(*self.pending)
        self.pending = []
        n = len(self.sign_count)
        idx = torch.cat([torch.arange(n, device=self.device) if i is None else i for i in idxs])
        s, t = torch.cat(ss), torch.stack(ts)  # [samples used], [steps, n_hidden]
        self.sign_count.index_add_(0, idx, torch.ones_like(s))
        self.window_s.append(s.new_zeros(n).index_add_(0, idx, s).to(torch.int8))
        self.window_t.append(t[0].to(torch.int8))
        moved = (t != t[0]).any(0).nonzero()[:, 0]
        if len(moved):  # s_k (t_k - t_0) in those columns, for each step's samples
            step = torch.arange(len(ss), device=self.device).repeat_interleave(
                torch.tensor([len(v) for v in ss], device=self.device))
            if self.sign_sum is None:
                self.sign_sum = torch.zeros(n, self.n_hidden, device=self.device)
            self.sign_sum.index_put_((idx[:, None], moved),
                                     (t[:, moved] - t[0, moved])[step] * s[:, None],
                                     accumulate=True)

    def sign_totals(self) -> torch.Tensor:
        self._close_window()
        total = super().sign_totals()
        if self.window_s:
            s = torch.stack(self.window_s).float()  # [windows, n_train]
            t = torch.stack(self.window_t).float()  # [windows, n_hidden]
            total.addmm_(s.T, t)
        return total

    def state(self) -> dict:
        self._close_window()
        return {**super().state(), "window_s": self.window_s, "window_t": self.window_t}
