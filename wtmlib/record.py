"""Neuron-level training signals of Sections 3.2, 4.1 and 4.2.2, aggregated on the fly.

The recorder never keeps a per-sample tensor per epoch. What it keeps:

* ``pattern_means_train [epochs+1, n_hidden, n_pat]``: the mean pre-activation
  z = W1^T x (hook point ``hook_pre``) of each pattern's training samples in each hidden
  neuron, at initialisation (row 0) and after each epoch (Figures 2, 3, 4, 6);
* ``pattern_means_probe``: the same on a probe set (the test set; Figure 2);
* ``sign_total [n_train, n_hidden]`` (int16) and ``sign_count [n_train]``: for each
  training sample and hidden neuron, the sum over the training steps that used the
  sample of sign(dL/da), the derivative of the loss with respect to the neuron's
  activation (the gradient at hook point ``hook_post``), and how many steps used it.
  Their ratio is the mean sign of Section 4.1, Figure 3 row 4 (``measures.mean_sign``).
  Per class and neuron, ``sign_class_sums [2, 3, n_hidden]`` keeps the number of
  samples, the sum and the sum of squares of the mean sign: what the class-level
  measures need when a run does not keep the per-sample array
  (``TrainConfig.keep_mean_sign``);
* ``dz_sign_total [n_train, n_hidden]`` (with ``TrainConfig.keep_dz_sign``): the same sum
  for sign(dL/dz), the derivative at ``hook_pre``: dL/da gated by the ReLU, zero in the
  steps where the neuron is off for the sample. dL/da's sign is fixed by the class and
  sign(W2) in any network; dL/dz's also says where the neuron acts;
* ``final_pre [n_train, k]``: the final pre-activations in the ``k`` neurons with the
  largest |W2| (their indices in ``final_neurons``; Figure 3 row 3);
* per epoch: loss, train and probe accuracy, and the share of the total training loss
  carried by the difficult (d > 0, eq. 2) and the regular samples (Figure 5), with
  each group's accuracy and mean loss (Section 5.1);
* per epoch, with ``TrainConfig.keep_grad_shares``: ``grad_share_difficult``, the
  difficult samples' share of the hidden layer's gradient (Section 4.2.2: they "become
  the dominant force driving the gradient directions"). With L_i sample i's loss and
  G_g = sum over the samples i of group g of dL_i/dW1 (so G_d + G_r is the W1 gradient
  of the summed loss), the share is |G_d| / (|G_d| + |G_r|), Frobenius norms, at the
  same states as the loss shares (row 0: initialisation). The reference engine takes
  G_d and G_r from autograd on the model (``observe_group_grads``).

This module is the readable definition: the reference engine hands it what the hook
points see. The fast engine's recorder (``wtmlib.training.fast.record``) computes the same
signals from closed-form identities and is tested equal to it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

HISTORY = ("loss", "train_acc", "share_difficult", "share_regular", "loss_difficult",
           "loss_regular", "acc_difficult", "acc_regular", "probe_acc", "probe_loss",
           "grad_share_difficult")


def pattern_average_matrix(p: torch.Tensor, n_pat: int) -> torch.Tensor:
    """``A [n_pat, n]`` with ``A @ z`` the per-pattern mean of ``z [n, ...]``.

    A pattern absent from ``p`` gets NaN means (it has no samples to average).
    """
    onehot = F.one_hot(p.long(), n_pat).T.float()  # [n_pat, n]
    counts = onehot.sum(1, keepdim=True)
    return onehot / torch.where(counts > 0, counts, torch.nan)


class Recorder:
    """Collects the signals listed in the module docstring during one training run."""

    def __init__(self, x_train: torch.Tensor, p_train: torch.Tensor, y_train: torch.Tensor,
                 difficult: torch.Tensor, n_pat: int, n_hidden: int,
                 x_probe: torch.Tensor | None = None, p_probe: torch.Tensor | None = None,
                 y_probe: torch.Tensor | None = None):
        self.device, self.n_hidden, self.n_pat = p_train.device, n_hidden, n_pat
        self.avg_train = pattern_average_matrix(p_train, n_pat)  # [n_pat, n_train]
        self.avg_probe = None if p_probe is None else pattern_average_matrix(p_probe, n_pat)
        self.y_train, self.is_1_train = y_train.float(), y_train.bool()
        self.y_probe = None if y_probe is None else y_probe.float()
        self.is_1_probe = None if y_probe is None else y_probe.bool()
        # the samples of each group (all, difficult, regular) as columns [n_train, 3]: one
        # product gives every group's summed loss and number correct
        difficult = difficult.bool()
        self.difficult = difficult
        self.groups = torch.stack([torch.ones_like(difficult), difficult, ~difficult], 1).float()
        self.group_sizes = self.groups.sum(0)
        self.sign_sum: torch.Tensor | None = None  # sum of sign(dL/da) [n_train, n_hidden]
        self.dz_sum: torch.Tensor | None = None  # sum of sign(dL/dz), when recorded
        self.sign_count = torch.zeros(len(p_train), device=self.device)  # steps per sample
        self.means_train: list[torch.Tensor] = []  # each [n_hidden, n_pat]
        self.means_probe: list[torch.Tensor] = []
        self.history: dict[str, list[torch.Tensor]] = {k: [] for k in HISTORY}

    # -- what the hook points see --------------------------------------------------------
    def observe_train(self, z: torch.Tensor, logits: torch.Tensor) -> None:
        """State after one more epoch: the pre-activations ``z [n_train, n_hidden]`` and
        ``logits [n_train]`` of a pass over the whole training set."""
        self.observe_train_means((self.avg_train @ z.detach()).T, logits)

    def observe_probe(self, z: torch.Tensor, logits: torch.Tensor) -> None:
        """The same state on the probe set (``z [n_probe, n_hidden]``, ``logits [n_probe]``)."""
        self.observe_probe_means((self.avg_probe @ z.detach()).T, logits)

    def observe_signs(self, dl_da: torch.Tensor, idx: torch.Tensor | None = None) -> None:
        """One training step's dL/da ``[batch, n_hidden]`` for training samples ``idx``
        (``None``: the full batch, in order; a batch holds each sample at most once)."""
        n = len(self.sign_count)
        idx = torch.arange(n, device=self.device) if idx is None else idx
        if self.sign_sum is None:
            self.sign_sum = torch.zeros(n, self.n_hidden, device=self.device)
        self.sign_sum.index_add_(0, idx, torch.sign(dl_da.detach()))
        self.sign_count.index_add_(0, idx, torch.ones(len(idx), device=self.device))

    def observe_dz_signs(self, dl_dz: torch.Tensor, idx: torch.Tensor | None = None) -> None:
        """One training step's dL/dz ``[batch, n_hidden]`` (its sign is what is summed)."""
        n = len(self.sign_count)
        idx = torch.arange(n, device=self.device) if idx is None else idx
        if self.dz_sum is None:
            self.dz_sum = torch.zeros(n, self.n_hidden, device=self.device)
        self.dz_sum.index_add_(0, idx, torch.sign(dl_dz.detach()))

    # -- the per-epoch state -----------------------------------------------------------
    def observe_train_means(self, means: torch.Tensor, logits: torch.Tensor) -> None:
        """Pattern means ``[n_hidden, n_pat]`` and the training logits of one state."""
        logits = logits.detach()
        self.means_train.append(means)
        losses = F.binary_cross_entropy_with_logits(logits, self.y_train, reduction="none")
        correct = ((logits > 0) == self.is_1_train).float()
        sums = torch.stack([losses, correct]) @ self.groups  # [2, 3]: loss / correct x group
        means_ = sums / self.group_sizes  # NaN for an empty group, like the mean of nothing
        shares = sums[0, 1:] / sums[0, 0]  # of the total loss (Figure 5)
        h = self.history
        for key, value in (("loss", means_[0, 0]), ("train_acc", means_[1, 0]),
                           ("share_difficult", shares[0]), ("share_regular", shares[1]),
                           ("loss_difficult", means_[0, 1]), ("loss_regular", means_[0, 2]),
                           ("acc_difficult", means_[1, 1]), ("acc_regular", means_[1, 2])):
            h[key].append(value)

    def observe_group_grads(self, grad_difficult: torch.Tensor,
                            grad_regular: torch.Tensor) -> None:
        """G_d and G_r ``[n_hidden, n_dim]`` of one state (module docstring): the W1
        gradients of the summed per-sample losses of the difficult and the regular
        samples. Records the difficult share of the gradient norm (NaN if both are 0)."""
        norms = torch.stack([grad_difficult.detach().double().norm(),
                             grad_regular.detach().double().norm()])
        self.history["grad_share_difficult"].append((norms[0] / norms.sum()).float())

    def observe_probe_means(self, means: torch.Tensor, logits: torch.Tensor) -> None:
        """Pattern means and logits of the probe set at one state."""
        logits = logits.detach()
        self.means_probe.append(means)
        self.history["probe_acc"].append(((logits > 0) == self.is_1_probe).float().mean())
        self.history["probe_loss"].append(
            F.binary_cross_entropy_with_logits(logits, self.y_probe))

    def train_acc(self) -> float:
        """Training accuracy of the last recorded state."""
        return float(self.history["train_acc"][-1])

    def sign_totals(self) -> torch.Tensor:
        """Sum over steps of sign(dL/da), ``[n_train, n_hidden]`` (exact: small integers)."""
        if self.sign_sum is None:
            return torch.zeros(len(self.sign_count), self.n_hidden, device=self.device)
        return self.sign_sum.clone()

    # -- checkpoints and the stored arrays ---------------------------------------------
    def state(self) -> dict:
        """Everything recorded so far (tensors and lists of tensors only, so a checkpoint
        loads with ``torch.load(weights_only=True)``)."""
        return {"sign_sum": self.sign_sum, "sign_count": self.sign_count, "dz_sum": self.dz_sum,
                "means_train": self.means_train, "means_probe": self.means_probe,
                "history": self.history}

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
        self.history = {k: self.history.get(k, []) for k in HISTORY}

    def arrays(self, x_train: torch.Tensor, w1: torch.Tensor, w2: torch.Tensor,
               keep_neurons: int, keep_mean_sign: bool = True,
               keep_probe_means: bool = True) -> dict:
        """Everything recorded, as numpy arrays; the final pre-activations z = W1^T x of
        the ``keep_neurons`` neurons with the largest |W2| come from the final weights
        ``w1 [n_hidden, n_dim]``, ``w2 [n_hidden]`` and ``x_train [n_train, n_dim]``."""
        k = min(keep_neurons, w2.numel())
        top = torch.argsort(w2.detach().abs(), descending=True, stable=True)[:k]
        totals = self.sign_totals()
        mean = totals / self.sign_count.clamp_min(1)[:, None]  # [n_train, n_hidden]
        by_class = torch.stack([self.is_1_train == c for c in (False, True)]).double()
        mean64 = mean.double()  # sums over thousands of samples: exact enough in float64
        out = {
            "pattern_means_train": torch.stack(self.means_train),
            "sign_class_sums": torch.stack([by_class.sum(1)[:, None].expand(-1, mean.shape[1]),
                                            by_class @ mean64, by_class @ mean64.square()], 1),
            "final_neurons": top,
            "final_pre": x_train @ w1.detach()[top].T,
        }
        # sums of at most sign_count signs: exact small integers
        exact = torch.int16 if self.sign_count.max() <= torch.iinfo(torch.int16).max \
            else torch.int32
        if keep_mean_sign:
            out["sign_total"] = totals.to(exact)
            out["sign_count"] = self.sign_count.to(torch.int32)
        if self.dz_sum is not None:
            out["dz_sign_total"] = self.dz_sum.to(exact)
        if self.means_probe and keep_probe_means:
            out["pattern_means_probe"] = torch.stack(self.means_probe)
        for key, values in self.history.items():
            if values:
                out["history_" + key] = torch.stack(values)
        return {k: v.cpu().numpy() for k, v in out.items()}
