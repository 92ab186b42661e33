"""Section 5: intraclass clustering (c1, c3) and gradient coherence of a trained MLP.

The gradient-coherence functions take torch tensors or numpy arrays and compute in
float64; they assume the model of eq. (1) without batch normalisation.
"""

from __future__ import annotations

import math

import numpy as np
import torch


# ---------------------------------------------------------------------------------------
# Section 5.3: intraclass clustering measures (Carbonnelle & De Vleeschouwer, ICLR 2021)
# ---------------------------------------------------------------------------------------


def c1_subclass_selectivity(z, y, p) -> float:
    """Measure c1: how strongly the best neuron singles out each subclass, median over
    subclasses.

    For subclass s (a pattern) of class c and neuron n, with c\\s the samples of class c
    not in s: ``sel(s, n) = (mean_s z_n - mean_{c\\s} z_n) / (std_s z_n + std_{c\\s} z_n)``
    (std with ddof 0). ``c1 = median_s max_n sel(s, n)``. A subclass that is its whole
    class, or with zero denominators in every neuron, is skipped (NaN if all are).
    Our reading of c1 in Carbonnelle & De Vleeschouwer (2021), which the paper cites in
    Section 5.1 without restating it.
    """
    z, y, p = np.asarray(z, dtype=float), np.asarray(y), np.asarray(p)
    # one pass: per-pattern counts, sums and sums of squares; a class's rest is its
    # total minus the pattern (std from moments, in float64)
    patterns, first, inv = np.unique(p, return_index=True, return_inverse=True)
    onehot = np.zeros((len(patterns), len(z)))
    onehot[inv, np.arange(len(z))] = 1.0
    count, total, square = onehot.sum(1), onehot @ z, onehot @ (z * z)
    label = y[first]  # each pattern's class (its first sample's)
    if not np.array_equal(onehot @ (y == label[inv]), count):
        raise ValueError("c1: every pattern must lie within one class")

    def mean_std(n, s1, s2):
        mean = s1 / n
        var = s2 / n - mean * mean
        # a constant column gives rounding noise, not a spread: call it zero
        var = np.where(var > 1e-12 * np.maximum(mean * mean, 1e-300), var, 0.0)
        return mean, np.sqrt(var)

    best = []
    for k in range(len(patterns)):
        same = label == label[k]
        n_rest = count[same].sum() - count[k]
        if n_rest == 0:
            continue
        m_s, s_s = mean_std(count[k], total[k], square[k])
        m_r, s_r = mean_std(n_rest, total[same].sum(0) - total[k],
                            square[same].sum(0) - square[k])
        den = s_s + s_r
        with np.errstate(divide="ignore", invalid="ignore"):
            sel = np.where(den > 0, (m_s - m_r) / den, np.nan)
        if np.isfinite(sel).any():
            best.append(np.nanmax(sel))
    return float(np.median(best)) if best else float("nan")


def c3_intraclass_selectivity(z, y) -> float:
    """Measure c3: how much of a neuron's variance lies within one class.

    ``ratio(c, n) = std_{i: y_i = c} z_in / std_i z_in``; for each class, the mean ratio
    of its top ``k = round(n_hidden / n_classes)`` neurons (half-up rounding, k >= 1;
    neurons with zero total std are left out); ``c3`` = mean over classes.
    Our reading of c3 in Carbonnelle & De Vleeschouwer (2021), which the paper cites in
    Section 5.1 without restating it; the original may differ in details (e.g. which
    neurons are pooled).
    """
    z, y = np.asarray(z, dtype=float), np.asarray(y)
    labels = np.unique(y)
    k = max(1, int(math.floor(z.shape[1] / len(labels) + 0.5)))
    total = z.std(0)
    per_class = []
    for c in labels:
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(total > 0, z[y == c].std(0) / total, np.nan)
        ratio = np.sort(ratio[np.isfinite(ratio)])[::-1]
        if len(ratio):
            per_class.append(ratio[:k].mean())
    return float(np.mean(per_class)) if per_class else float("nan")


# ---------------------------------------------------------------------------------------
# Sections 4.2.3 and 5.2: gradient coherence (Chatterjee, 2020; Chatterjee & Zielinski, 2020)
# ---------------------------------------------------------------------------------------


def gradient_coherence(per_sample_grads) -> float:
    """Coherence ``alpha = ||sum_i g_i||^2 / (m * sum_i ||g_i||^2)`` of per-sample
    gradients ``g [m, d]`` (Chatterjee & Zielinski, 2020). 1 when all gradients are
    identical, 1/m for orthogonal gradients of equal norm; NaN when all are zero."""
    g = torch.as_tensor(per_sample_grads, dtype=torch.float64)
    den = g.shape[0] * (g * g).sum()
    return float((g.sum(0) ** 2).sum() / den) if den > 0 else float("nan")


def _mlp_terms(w1, w2, b2, x, y, activation: str, mask):
    """Forward quantities of eq. (1) for per-sample gradients of the BCE-with-logits loss:
    ``x [m, n_in]``, ``a [m, h]``, ``r [m]`` with ``r_i = sigmoid(logit_i) - y_i``, and
    ``M [m, h]`` with ``M_ij = r_i W2_j rho'(z_ij)`` (the gradient wrt row j of W1 is M_ij x_i)."""
    f = lambda t: torch.as_tensor(t).detach().to(torch.float64)  # noqa: E731
    w1, w2, b2, x, y = f(w1), f(w2).reshape(-1), f(b2).reshape(()), f(x), f(y)
    if mask is not None:
        keep = torch.as_tensor(mask, dtype=torch.bool)
        x, y = x[keep], y[keep]
    z = x @ w1.T
    if activation not in ("relu", "linear"):
        raise ValueError(f"activation={activation!r}: must be 'relu' or 'linear'")
    relu = activation == "relu"
    a, slope = (z.clamp_min(0), (z > 0).double()) if relu else (z, torch.ones_like(z))
    r = torch.sigmoid(a @ w2 + b2) - y
    return x, a, r, r[:, None] * w2[None, :] * slope


def mlp_per_sample_grads(w1, w2, b2, x, y, activation: str = "relu", mask=None) -> torch.Tensor:
    """Per-sample gradients of the BCE-with-logits loss of eq. (1), closed form
    ``[m, h*n_in + h + 1]``, in the order (W1 row by row, W2, b2):
    ``dL_i/dW1[j] = r_i W2_j rho'(z_ij) x_i``, ``dL_i/dW2 = r_i a_i``, ``dL_i/db2 = r_i``,
    with ``r_i = sigmoid(logit_i) - y_i``. Materialises everything: small cases only."""
    x, a, r, m = _mlp_terms(w1, w2, b2, x, y, activation, mask)
    g_w1 = (m[:, :, None] * x[:, None, :]).reshape(len(x), -1)
    return torch.cat([g_w1, r[:, None] * a, r[:, None]], dim=1)


def coherence_mlp(w1, w2, b2, x, y, activation: str = "relu", mask=None) -> float:
    """``gradient_coherence`` over all parameters of eq. (1) without materialising the
    per-sample gradients (Section 5.2). With M and r as in ``mlp_per_sample_grads``:

    ``||sum_i g_i||^2 = ||M^T X||_F^2 + ||A^T r||^2 + (sum_i r_i)^2``,
    ``sum_i ||g_i||^2 = sum_i ||x_i||^2 ||M_i||^2 + sum_i r_i^2 ||a_i||^2 + sum_i r_i^2``.

    ``w1 [h, n_in]`` (``hidden.weight``), ``w2 [h]``, ``b2`` scalar; ``mask [n]`` (bool)
    restricts to a subset of samples (e.g. the easy or the difficult ones).
    """
    x, a, r, m = _mlp_terms(w1, w2, b2, x, y, activation, mask)
    return _alpha(*_coherence_sums(x, a, r, m, _per_sample_norms(x, a, r, m)))


def _per_sample_norms(x, a, r, m):
    """``||g_i||^2`` of each sample's gradient over all parameters of eq. (1) ``[m]``."""
    return (x * x).sum(1) * (m * m).sum(1) + r * r * (a * a).sum(1) + r * r


def _coherence_sums(x, a, r, m, norms, keep=None):
    """The sums behind ``coherence_mlp`` over the samples ``keep`` (all when ``None``):
    ``(M^T X, A^T r, sum r, sum ||g_i||^2, count)``."""
    if keep is not None:
        x, a, r, m, norms = x[keep], a[keep], r[keep], m[keep], norms[keep]
    return m.T @ x, a.T @ r, r.sum(), norms.sum(), len(x)


def _alpha(mx, ar, rsum, norms, count) -> float:
    """``||sum_i g_i||^2 / (count * sum_i ||g_i||^2)`` from ``_coherence_sums``."""
    den = count * norms
    return float((((mx ** 2).sum() + (ar ** 2).sum() + rsum ** 2) / den)) if den > 0 \
        else float("nan")


def _alpha_per_neuron(mx, x, m) -> np.ndarray:
    """Per neuron j: ``||(M^T X)_j||^2 / (count * sum_i M_ij^2 ||x_i||^2)`` ``[h]``."""
    num = (mx ** 2).sum(1)
    den = len(x) * ((m * m) * (x * x).sum(1, keepdim=True)).sum(0)
    return torch.where(den > 0, num / den, torch.nan).numpy()


def coherence_per_neuron(w1, w2, b2, x, y, activation: str = "relu", mask=None) -> np.ndarray:
    """Per hidden neuron j, ``gradient_coherence`` of the gradients wrt its incoming
    weights W1[j] only ``[h]`` (the ReLU argument of Section 4.2.3):
    ``alpha_j = ||sum_i M_ij x_i||^2 / (m * sum_i M_ij^2 ||x_i||^2)``.

    Samples that do not activate the neuron (ReLU) contribute zero gradients and still
    count in m, so ``alpha_j <= (share of samples activating j)``; multiply by
    ``m / m_active`` for the coherence among the activating samples alone.
    NaN for a neuron with no gradient (e.g. dead). ``mask`` as in ``coherence_mlp``.
    """
    x, _, _, m = _mlp_terms(w1, w2, b2, x, y, activation, mask)
    return _alpha_per_neuron(m.T @ x, x, m)


def coherence_by_group(w1, w2, b2, x, y, groups: dict, activation: str = "relu") -> dict:
    """``coherence_mlp`` of all samples (key ``"all"``) and of each group (name -> bool
    mask ``[n]``), and ``"per-neuron median"``, the median of ``coherence_per_neuron``
    over all samples, from one forward pass and one ``M_S^T X_S`` product per group.
    When the groups partition the samples, their products add up to ``M^T X`` and the
    product over all samples is not computed again (Section 5.2's regular and difficult
    samples: two products per snapshot instead of eight)."""
    x, a, r, m = _mlp_terms(w1, w2, b2, x, y, activation, None)
    norms = _per_sample_norms(x, a, r, m)
    masks = {name: torch.as_tensor(mask, dtype=torch.bool) for name, mask in groups.items()}
    parts = {name: _coherence_sums(x, a, r, m, norms, keep) for name, keep in masks.items()}
    if masks and bool((sum(k.long() for k in masks.values()) == 1).all()):
        whole = tuple(sum(p[i] for p in parts.values()) for i in range(5))
    else:
        whole = _coherence_sums(x, a, r, m, norms)
    out = {"all": _alpha(*whole)}
    out.update({name: _alpha(*p) for name, p in parts.items()})
    out["per-neuron median"] = float(np.nanmedian(_alpha_per_neuron(whole[0], x, m)))
    return out
