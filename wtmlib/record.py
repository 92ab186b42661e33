"""Neuron-level training signals of Sections 3.2, 4.1 and 4.2.2, aggregated on the fly.

The recorder never keeps a per-sample tensor per epoch. What it keeps:

* ``pattern_means_train [epochs+1, n_hidden, n_pat]``: the mean pre-activation
  z = W1^T x of each pattern's training samples in each hidden neuron, at
  initialisation (row 0) and after each epoch (Figures 2, 3, 4, 6);
* ``pattern_means_probe``: the same on a probe set (the test set; Figure 2);
* ``mean_sign [n_train, n_hidden]``: for each training sample and hidden neuron, the
  mean over all the training steps that used the sample of sign(dL/da), the
  derivative of the loss with respect to the neuron's activation (Section 4.1,
  Figure 3 row 4);
* ``final_pre [n_train, k]``: the final pre-activations in the ``k`` neurons with the
  largest |W2| (their indices in ``final_neurons``; Figure 3 row 3);
* per epoch: loss, train and probe accuracy, and the share of the total training loss
  carried by the difficult (d > 0, eq. 2) and the regular samples (Figure 5), with
  each group's accuracy and mean loss (Section 5.1).

Each ``observe_*`` call takes tensors the training loop has already computed, so
recording costs no extra forward pass. The pattern means cost almost nothing: z = W1^T x
is linear in x, so a pattern's mean pre-activation is W1^T times the mean of its
samples, one ``[n_pat, n_dim] @ [n_dim, n_hidden]`` product per epoch instead of a pass
over ``z [n_train, n_hidden]``. The derivative signs cost almost nothing too:
in equation (1) dL/da = dL/dlogit * W2, so sign(dL/da) of sample i at step k is
s_ik t_k, with s_k = sign(dL/dlogit) ``[batch]`` and t_k = sign(W2) ``[n_hidden]``.
A step keeps just these two vectors. At each recorded state (or after ``WINDOW``
steps) the window of steps since the last one is summed as

    sum_k s_k t_k^T = (sum_k s_k) t_0^T + sum_k s_k (t_k - t_0)^T

(s_k scattered to the rows of its batch): the first term is two vectors again (int8),
summed with the other windows' by one ``[n_train, windows] @ [windows, n_hidden]``
product at the end; the second is zero except in the neurons whose W2 changed sign
within the window (in a Section 3 run: 300 of 1000 neurons in the first window, a few
by the tenth epoch, none later), added now to those columns only. No step touches an
``[n_train, n_hidden]`` tensor (an SGD step at batch 64 used to add its
``[64, n_hidden]`` outer product: a tenth of the step's time). The sums are small integers, exact in float32: the same bits in any order.

``state()`` / ``restore()`` hand everything to a checkpoint and back (tensors and
lists of tensors only, so a checkpoint loads with ``torch.load(weights_only=True)``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

WINDOW = 127  # at most this many steps' derivative signs summed into one int8 vector


def pattern_average_matrix(p: torch.Tensor, n_pat: int) -> torch.Tensor:
    """``A [n_pat, n]`` with ``A @ z`` the per-pattern mean of ``z [n, ...]``.

    A pattern absent from ``p`` gets NaN means (it has no samples to average).
    """
    onehot = F.one_hot(p.long(), n_pat).T.float()  # [n_pat, n]
    counts = onehot.sum(1, keepdim=True)
    return onehot / torch.where(counts > 0, counts, torch.nan)


def _pattern_means(w1: torch.Tensor, xbar: torch.Tensor) -> torch.Tensor:
    """``[n_hidden, n_pat]``: W1 times each pattern's mean input (``xbar [n_pat, n_dim]``),
    the mean pre-activation of its samples (computed as ``(xbar W1^T)^T``: on a CPU about
    a third faster than ``W1 xbar^T``)."""
    return torch.mm(xbar, w1.detach().T).T


class Recorder:
    """Collects the signals listed in the module docstring during one training run."""

    def __init__(self, x_train: torch.Tensor, p_train: torch.Tensor, y_train: torch.Tensor,
                 difficult: torch.Tensor, n_pat: int, n_hidden: int,
                 x_probe: torch.Tensor | None = None, p_probe: torch.Tensor | None = None,
                 y_probe: torch.Tensor | None = None):
        device = p_train.device
        # pattern means of the inputs, [n_pat, n_dim] (NaN rows: patterns without samples)
        self.xbar_train = pattern_average_matrix(p_train, n_pat) @ x_train
        self.xbar_probe = (None if p_probe is None
                           else pattern_average_matrix(p_probe, n_pat) @ x_probe)
        self.y_train, self.is_1_train = y_train.float(), y_train.bool()
        self.y_probe = None if y_probe is None else y_probe.float()
        self.is_1_probe = None if y_probe is None else y_probe.bool()
        # the samples of each group (all, difficult, regular) as columns [n_train, 3]: one
        # product gives every group's summed loss and number correct
        difficult = difficult.bool()
        self.groups = torch.stack([torch.ones_like(difficult), difficult, ~difficult], 1).float()
        self.group_sizes = self.groups.sum(0)
        self.device, self.n_hidden = device, n_hidden
        # sum of sign(dL/da) [n_train, n_hidden], only where W2's sign moved within a window
        self.sign_sum: torch.Tensor | None = None
        self.sign_count = torch.zeros(len(p_train), device=device)  # steps that used each sample
        # the steps since the last window: (samples or None, sign(dL/dlogit), sign(W2))
        self.pending: list[tuple] = []
        # per window: the summed sign(dL/dlogit) [n_train] and its first sign(W2) [n_hidden]
        self.window_s: list[torch.Tensor] = []
        self.window_t: list[torch.Tensor] = []
        self.means_train: list[torch.Tensor] = []  # each [n_hidden, n_pat]
        self.means_probe: list[torch.Tensor] = []
        self.history: dict[str, list[torch.Tensor]] = {k: [] for k in (
            "loss", "train_acc", "share_difficult", "share_regular", "loss_difficult",
            "loss_regular", "acc_difficult", "acc_regular", "probe_acc", "probe_loss")}

    def observe_train(self, w1: torch.Tensor, logits: torch.Tensor) -> None:
        """State after one more epoch: hidden weights ``w1 [n_hidden, n_dim]`` and the
        ``logits [n_train]`` of a pass over the whole training set."""
        logits = logits.detach()
        self._close_window()
        self.means_train.append(_pattern_means(w1, self.xbar_train))
        losses = F.binary_cross_entropy_with_logits(logits, self.y_train, reduction="none")
        correct = ((logits > 0) == self.is_1_train).float()
        sums = torch.stack([losses, correct]) @ self.groups  # [2, 3]: loss / correct x group
        means = sums / self.group_sizes  # NaN for an empty group, like the mean of nothing
        shares = sums[0, 1:] / sums[0, 0]  # of the total loss (Figure 5)
        h = self.history
        for key, value in (("loss", means[0, 0]), ("train_acc", means[1, 0]),
                           ("share_difficult", shares[0]), ("share_regular", shares[1]),
                           ("loss_difficult", means[0, 1]), ("loss_regular", means[0, 2]),
                           ("acc_difficult", means[1, 1]), ("acc_regular", means[1, 2])):
            h[key].append(value)

    def observe_probe(self, w1: torch.Tensor, logits: torch.Tensor) -> None:
        """The same state on the probe set (``logits [n_probe]``)."""
        logits = logits.detach()
        self.means_probe.append(_pattern_means(w1, self.xbar_probe))
        self.history["probe_acc"].append(((logits > 0) == self.is_1_probe).float().mean())
        self.history["probe_loss"].append(
            F.binary_cross_entropy_with_logits(logits, self.y_probe))

    def observe_output_grad(self, grad_logits: torch.Tensor, w2: torch.Tensor,
                            idx: torch.Tensor | None = None) -> None:
        """One training step's dL/dlogit ``[batch]`` and the output weights W2
        ``[n_hidden]`` that produced it, for training samples ``idx`` (``None``: the full
        batch, in order; a batch holds each sample at most once). Only the sign of
        dL/da = dL/dlogit W2^T is kept, as the two vectors' signs (module docstring)."""
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
        """Sum over steps of sign(dL/da), ``[n_train, n_hidden]`` (exact: small integers)."""
        self._close_window()
        total = torch.zeros(len(self.sign_count), self.n_hidden, device=self.device)
        if self.sign_sum is not None:
            total += self.sign_sum
        if self.window_s:
            s = torch.stack(self.window_s).float()  # [windows, n_train]
            t = torch.stack(self.window_t).float()  # [windows, n_hidden]
            total.addmm_(s.T, t)
        return total

    def state(self) -> dict:
        """Everything recorded so far (for a checkpoint; the pending steps summed first)."""
        self._close_window()
        return {"sign_sum": self.sign_sum, "sign_count": self.sign_count,
                "window_s": self.window_s, "window_t": self.window_t, "means_train": self.means_train,
                "means_probe": self.means_probe, "history": self.history}

    def restore(self, state: dict) -> None:
        """Continue from ``state()`` of an interrupted run (tensors moved to this device)."""
        def move(v):
            if isinstance(v, dict):
                return {k: move(x) for k, x in v.items()}
            if isinstance(v, list):
                return [move(x) for x in v]
            return None if v is None else v.to(self.device)

        for name, value in state.items():
            setattr(self, name, move(value))

    def arrays(self, x_train: torch.Tensor, w1: torch.Tensor, w2: torch.Tensor,
               keep_neurons: int) -> dict:
        """Everything recorded, as numpy arrays; the final pre-activations z = W1^T x of
        the ``keep_neurons`` neurons with the largest |W2| come from the final weights
        ``w1 [n_hidden, n_dim]``, ``w2 [n_hidden]`` and ``x_train [n_train, n_dim]``."""
        k = min(keep_neurons, w2.numel())
        top = torch.argsort(w2.detach().abs(), descending=True, stable=True)[:k]
        out = {
            "pattern_means_train": torch.stack(self.means_train),
            "mean_sign": self.sign_totals() / self.sign_count.clamp_min(1)[:, None],
            "final_neurons": top,
            "final_pre": x_train @ w1.detach()[top].T,
        }
        if self.means_probe:
            out["pattern_means_probe"] = torch.stack(self.means_probe)
        for key, values in self.history.items():
            if values:
                out["history_" + key] = torch.stack(values)
        return {k: v.cpu().numpy() for k, v in out.items()}

