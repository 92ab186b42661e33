"""Numbers that test the paper's claims on recorded runs (Sections 4.1, 4.2 and 5).

Every function takes arrays a run already recorded (see ``wtmlib.record``) and returns
a number or a small array; nothing here trains. Shapes and names:

* ``means [epochs+1, n_hidden, n_pat]``: ``pattern_means_train`` (row 0 = init), the
  mean pre-activation of each pattern's samples in each neuron after each epoch;
* ``means_final [n_hidden, n_pat]``: its last row;
* ``classes [n_pat]``: the class of each pattern (``wtmlib.data.pattern_class``);
* ``neuron_class [n_hidden]``: one class per neuron, usually ``active_class`` (the
  class the mechanism acts on) or ``1 - active_class`` (the other one);
* ``mean_sign [n_train, n_hidden]``, ``y [n_train]``: the mean sign of dL/da and labels
  (``mean_sign(arrays)`` from a run's recorded counts); the class-level measures also
  come from a run's per-class sums (``active_class_of``, ``sign_class_correlation_of``),
  which every run stores;
* ``z [n, n_hidden]``: pre-activations; ``p [n]``: pattern (subclass) of each sample.

Undefined values are NaN, never an exception: a Spearman or Pearson correlation of a
constant vector, a ratio with a zero denominator, a pattern without samples (its mean
is NaN in the recording and is ignored). Summaries use NaN-ignoring medians and report
how many neurons were defined.

The gradient-coherence functions (Section 5.2) take torch tensors or numpy arrays and
compute in float64; they assume the model of eq. (1) without batch normalisation.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from .data import pattern_class

# ---------------------------------------------------------------------------------------
# Rank statistics
# ---------------------------------------------------------------------------------------


def rankdata(x) -> np.ndarray:
    """Ranks 1..n of ``x [n]``; tied values share the mean of their ranks ("average")."""
    x = np.asarray(x, dtype=float)
    order = np.argsort(x, kind="stable")
    ranks = np.empty(len(x))
    ranks[order] = np.arange(1, len(x) + 1)
    _, inverse, counts = np.unique(x, return_inverse=True, return_counts=True)
    sums = np.bincount(inverse, weights=ranks)  # sum of the ranks in each tie group
    return (sums / counts)[inverse]


def _constant(v: np.ndarray) -> bool:
    """All values equal, up to float round-off (relative 1e-12)."""
    return bool(np.ptp(v) <= 1e-12 * np.abs(v).max())


def pearson(a, b) -> float:
    """Pearson correlation ``cov(a, b) / (std(a) std(b))``; NaN when either is constant
    or fewer than two pairs are finite (pairs with a NaN are dropped)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 2:
        return float("nan")
    a, b = a[ok], b[ok]
    if _constant(a) or _constant(b):
        return float("nan")
    a, b = a - a.mean(), b - b.mean()
    den = math.sqrt(float((a * a).sum() * (b * b).sum()))
    return float((a * b).sum() / den)


def spearman(a, b) -> float:
    """Spearman rank correlation: the Pearson correlation of the average ranks of the
    finite pairs. NaN when either side is constant (e.g. all patterns move together
    by exactly the same amount) or fewer than two pairs are finite."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 2:
        return float("nan")
    return pearson(rankdata(a[ok]), rankdata(b[ok]))


def _patterns_of(classes, c) -> np.ndarray:
    """Ids of the patterns of class ``c``."""
    return np.flatnonzero(np.asarray(classes) == c)


# ---------------------------------------------------------------------------------------
# Section 4.1: which class is subject to the mechanism
# ---------------------------------------------------------------------------------------


def top_neurons(w2, k: int) -> np.ndarray:
    """Indices of the ``k`` hidden neurons with the largest |W2| (Section 3.2: the neurons
    with the most influence on the prediction), ties in index order."""
    return np.argsort(-np.abs(np.ravel(w2)), kind="stable")[:k]


def mean_sign(arrays) -> np.ndarray:
    """The mean over training steps of sign(dL/da) for each training sample and neuron,
    ``[n_train, n_hidden]`` float32, from a run's ``sign_total`` and ``sign_count``
    (Section 4.1, Figure 3 row 4; stored when ``TrainConfig.keep_mean_sign``)."""
    if "sign_total" not in arrays:
        raise KeyError("this run did not keep the per-sample derivative signs "
                       "(TrainConfig.keep_mean_sign=False); its class-level summaries are "
                       "in 'sign_class_sums' (active_class_of, sign_class_correlation_of)")
    count = np.maximum(np.asarray(arrays["sign_count"]), 1).astype(np.float32)
    return np.asarray(arrays["sign_total"]).astype(np.float32) / count[:, None]


def class_sign_means(arrays) -> np.ndarray:
    """Per class and neuron, the mean over the class's samples of the mean sign of
    dL/da, ``[2, n_hidden]``, from the run's ``sign_class_sums`` (count, sum, sum of
    squares per class)."""
    sums = np.asarray(arrays["sign_class_sums"], dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return sums[:, 1] / sums[:, 0]


def active_class_of(arrays) -> np.ndarray:
    """``active_class`` of a run from its per-class sums (no per-sample array needed)."""
    return np.argmin(class_sign_means(arrays), axis=0).astype(int)


def sign_class_correlation_of(arrays) -> np.ndarray:
    """``sign_class_correlation`` of a run from its per-class sums ``[n_hidden]``: the
    point-biserial correlation (m1 - m0) sqrt(n0 n1) / (n sd), NaN for a constant column."""
    sums = np.asarray(arrays["sign_class_sums"], dtype=float)  # [2, 3, n_hidden]
    n_c, s_c, q_c = sums[:, 0], sums[:, 1], sums[:, 2]
    n = n_c.sum(0)
    mu = s_c.sum(0) / n
    var = np.maximum(q_c.sum(0) / n - mu * mu, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = (s_c[1] / n_c[1] - s_c[0] / n_c[0]) * np.sqrt(n_c[0] * n_c[1]) / (n * np.sqrt(var))
    return np.where(var > 1e-12 * np.maximum(1.0, mu * mu), r, np.nan)


def active_class(mean_sign, y) -> np.ndarray:
    """Per neuron, "the negative mean derivative sign class" (Section 4.1) ``[n_hidden]``.

    ``argmin_c mean_{i: y_i = c} mean_sign[i, n]``: the class whose samples have the more
    negative mean sign of dL/da on average, i.e. the class an increased activation
    helps. This is the class the paper sees the winner-take-most mechanism act on.
    A tie (e.g. equal means) gives class 0.
    """
    mean_sign, y = np.asarray(mean_sign, dtype=float), np.asarray(y)
    per_class = np.stack([mean_sign[y == c].mean(0) for c in (0, 1)])  # [2, n_hidden]
    return np.argmin(per_class, axis=0).astype(int)


def sign_class_correlation(mean_sign, y) -> np.ndarray:
    """Per neuron, the Pearson (point-biserial) correlation between a sample's mean
    derivative sign ``mean_sign[:, n]`` and its class ``y`` ``[n_hidden]``.

    Section 4.1: "This sign appears to be correlated with the sample's class"; |corr|
    near 1 means the sign is (almost) fixed by the class. NaN for a constant column.
    """
    mean_sign, y = np.asarray(mean_sign, dtype=float), np.asarray(y, dtype=float)
    return np.array([pearson(mean_sign[:, n], y) for n in range(mean_sign.shape[1])])


# ---------------------------------------------------------------------------------------
# Section 4.1: winner-take-most, per neuron
# ---------------------------------------------------------------------------------------


def wtm_rank_correlation(means, classes, neuron_class, early_epoch: int) -> np.ndarray:
    """Per neuron, "the rich get richer" as a rank correlation ``[n_hidden]`` (Section 4.1).

    Over the patterns k of class ``neuron_class[n]``:
    ``spearman_k( m[e, n, k], m[-1, n, k] - m[e, n, k] )`` with ``e = early_epoch``.
    Positive: patterns with larger pre-activation means at epoch e gained more by the end
    (winner-take-most); about 0: the change does not depend on the rank; negative: the
    patterns converge (a neuron that only classifies pulls its class to one level); NaN
    when all patterns moved by exactly the same amount (or had the same mean at epoch e).
    Pass ``1 - active_class(...)`` as ``neuron_class`` for the other class.
    """
    means, neuron_class = np.asarray(means, dtype=float), np.asarray(neuron_class)
    out = np.empty(means.shape[1])
    for n in range(means.shape[1]):
        k = _patterns_of(classes, neuron_class[n])
        early, final = means[early_epoch, n, k], means[-1, n, k]
        out[n] = spearman(early, final - early)
    return out


def within_class_spread(means, classes, neuron_class) -> np.ndarray:
    """Per epoch and neuron, the standard deviation (ddof 0) over the patterns of class
    ``neuron_class[n]`` of their mean pre-activations ``[epochs+1, n_hidden]``.

    Winner-take-most pushes a class's patterns apart, so this spread grows in the class
    the mechanism acts on (Figure 3 rows 1-2). Patterns with NaN means are ignored.
    """
    means, neuron_class = np.asarray(means, dtype=float), np.asarray(neuron_class)
    out = np.empty(means.shape[:2])
    for n in range(means.shape[1]):
        out[:, n] = np.nanstd(means[:, n, _patterns_of(classes, neuron_class[n])], axis=1)
    return out


def spread_growth(means, classes, neuron_class, early_epoch: int) -> np.ndarray:
    """Per neuron, ``spread[-1] / spread[early_epoch]`` of ``within_class_spread``
    ``[n_hidden]``: how much the class's patterns moved apart after ``early_epoch``.
    NaN where the early spread is 0."""
    s = within_class_spread(means, classes, neuron_class)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(s[early_epoch] > 0, s[-1] / s[early_epoch], np.nan)


def intraclass_exceeds_interclass(means_final, classes, strict: bool = False) -> np.ndarray:
    """Per neuron, whether it separates patterns of one class more than the two classes
    ``bool [n_hidden]`` (Section 4.1: "neurons sometimes differentiate patterns
    belonging to the same class more strongly than patterns from different classes").

    Main definition (``strict=False``):
    ``max_c (max_{k in c} m_k - min_{k in c} m_k)  >  |mean_{k in 1} m_k - mean_{k in 0} m_k|``
    -- the widest within-class range against the gap between the two class averages. The
    class averages are what the supervised signal separates (a neuron that only
    classifies puts each class at one level), while the range is what winner-take-most
    opens up; so this reads the paper's "more strongly" as range versus average gap.

    ``strict=True``: some within-class pair differs more than every between-class pair,
    ``max_c range_c > max_{k in 0, l in 1} |m_k - m_l|``. This can only hold when the
    neuron's two classes overlap almost entirely, so it is rare; it is a lower bound.
    Patterns with NaN means are ignored.
    """
    m = np.asarray(means_final, dtype=float)
    k0, k1 = _patterns_of(classes, 0), _patterns_of(classes, 1)
    lo0, hi0 = np.nanmin(m[:, k0], 1), np.nanmax(m[:, k0], 1)
    lo1, hi1 = np.nanmin(m[:, k1], 1), np.nanmax(m[:, k1], 1)
    intra = np.maximum(hi0 - lo0, hi1 - lo1)
    if strict:
        inter = np.maximum(np.abs(hi0 - lo1), np.abs(hi1 - lo0))
    else:
        inter = np.abs(np.nanmean(m[:, k1], 1) - np.nanmean(m[:, k0], 1))
    return intra > inter


# ---------------------------------------------------------------------------------------
# Section 4.2.4: divide and conquer
# ---------------------------------------------------------------------------------------


def favoured_pattern(means_final, classes, neuron_class) -> np.ndarray:
    """Per neuron, the id of the pattern of class ``neuron_class[n]`` with the largest
    mean pre-activation in ``means_final [n_hidden, n_pat]`` (its "winner") ``[n_hidden]``.
    Pass ``means[0]`` for the pattern that led at initialisation. When a neuron's means
    are (nearly) tied the winner is arbitrary (ties go to the lowest id)."""
    m = np.asarray(means_final, dtype=float)
    out = np.empty(m.shape[0], dtype=int)
    for n in range(m.shape[0]):
        k = _patterns_of(classes, np.asarray(neuron_class)[n])
        row = np.where(np.isnan(m[n, k]), -np.inf, m[n, k])
        out[n] = k[np.argmax(row)]
    return out


def favoured_spread(favoured, n_candidates: int) -> tuple[float, int]:
    """How evenly the neurons' favoured patterns cover the ``n_candidates`` patterns they
    could favour (Section 4.2.4): ``(normalised entropy, number of distinct patterns)``.

    Entropy ``H = -sum_k q_k log q_k`` of the share q_k of neurons favouring pattern k,
    divided by its largest possible value ``log(min(n_candidates, n_neurons))``: 1 when
    the neurons spread as evenly as they can (each pattern equally often, or all
    different when there are fewer neurons than patterns), 0 when they all favour the
    same pattern. NaN when the maximum is 0 (one neuron or one candidate).
    """
    favoured = np.asarray(favoured)
    _, counts = np.unique(favoured, return_counts=True)
    q = counts / counts.sum()
    h_max = math.log(min(n_candidates, len(favoured))) if len(favoured) else 0.0
    h = float(-(q * np.log(q)).sum())
    return (h / h_max if h_max > 0 else float("nan")), int(len(counts))


def init_predicts_winner(means, classes, neuron_class) -> dict:
    """Does the random initialisation decide which pattern a neuron favours? (Section 4.2.4)

    Returns ``fraction``: the share of neurons whose final favoured pattern
    (``favoured_pattern`` on ``means[-1]``) is also the one with the largest mean at
    initialisation (``means[0]``); ``chance``: the same share if the winner were drawn
    uniformly among the class's patterns, ``mean_n 1 / K_n`` with K_n the number of
    patterns of the neuron's class; ``spearman_init_final``: the mean over neurons of
    ``spearman_k(m[0, n, k], m[-1, n, k])`` over the class's patterns.
    """
    means, neuron_class = np.asarray(means, dtype=float), np.asarray(neuron_class)
    same = favoured_pattern(means[0], classes, neuron_class) == \
        favoured_pattern(means[-1], classes, neuron_class)
    n_pat_of = np.array([len(_patterns_of(classes, c)) for c in neuron_class])
    rho = [spearman(means[0, n, _patterns_of(classes, c)], means[-1, n, _patterns_of(classes, c)])
           for n, c in enumerate(neuron_class)]
    return {"fraction": float(same.mean()), "chance": float((1.0 / n_pat_of).mean()),
            "spearman_init_final": float(np.nanmean(rho)) if np.isfinite(rho).any()
            else float("nan")}


# ---------------------------------------------------------------------------------------
# Summary over all neurons (Sections 4.1 - 4.2.4)
# ---------------------------------------------------------------------------------------


def _median(x) -> float:
    x = np.asarray(x, dtype=float)
    return float(np.nanmedian(x)) if np.isfinite(x).any() else float("nan")


def _frac_positive(x) -> float:
    """Share of the defined (non-NaN) values that are > 0."""
    x = np.asarray(x, dtype=float)
    ok = np.isfinite(x)
    return float((x[ok] > 0).mean()) if ok.any() else float("nan")


def wtm_summary(arrays: dict, early_epoch: int) -> dict:
    """Scalar summaries of the winner-take-most measures over ALL hidden neurons.

    ``arrays`` is a run's recorded arrays (needs ``pattern_means_train`` and
    ``sign_class_sums``); the patterns' classes follow from their number
    (``wtmlib.data.pattern_class``). Each neuron is measured on
    its ``active_class`` ("active") and on the other class ("other"). Keys:

    * ``n_neurons``; ``active_class1_share``: share of neurons whose active class is 1;
    * ``rank_corr_{active,other}_median``, ``rank_corr_{active,other}_positive``
      (share > 0 among defined), ``rank_corr_{active,other}_defined`` (neurons counted):
      ``wtm_rank_correlation`` from ``early_epoch`` to the end;
    * ``spread_growth_{active,other}_median``: ``spread_growth`` from ``early_epoch``;
    * ``intraclass_exceeds_share`` and ``intraclass_exceeds_strict_share``;
    * ``favoured_entropy``: ``favoured_spread`` entropy in each active class, averaged
      with weights = the number of neurons of that active class; ``favoured_distinct``:
      distinct favoured patterns; ``favoured_candidates``: patterns of the active
      classes present (the most ``favoured_distinct`` can be);
    * ``init_winner_fraction``, ``init_winner_chance``, ``init_final_spearman``:
      ``init_predicts_winner`` on the active class;
    * ``sign_class_abs_corr_median``: median |``sign_class_correlation``|.
    """
    means = np.asarray(arrays["pattern_means_train"], dtype=float)
    classes = pattern_class(means.shape[-1]).numpy()
    act = active_class_of(arrays)
    other = 1 - act
    rc_a = wtm_rank_correlation(means, classes, act, early_epoch)
    rc_o = wtm_rank_correlation(means, classes, other, early_epoch)
    fav = favoured_pattern(means[-1], classes, act)
    ent, weights = [], []
    for c in np.unique(act):
        e, _ = favoured_spread(fav[act == c], len(_patterns_of(classes, c)))
        if np.isfinite(e):
            ent.append(e)
            weights.append((act == c).sum())
    init = init_predicts_winner(means, classes, act)
    return {
        "n_neurons": int(means.shape[1]),
        "active_class1_share": float((act == 1).mean()),
        "rank_corr_active_median": _median(rc_a),
        "rank_corr_other_median": _median(rc_o),
        "rank_corr_active_positive": _frac_positive(rc_a),
        "rank_corr_other_positive": _frac_positive(rc_o),
        "rank_corr_active_defined": int(np.isfinite(rc_a).sum()),
        "rank_corr_other_defined": int(np.isfinite(rc_o).sum()),
        "spread_growth_active_median": _median(spread_growth(means, classes, act, early_epoch)),
        "spread_growth_other_median": _median(spread_growth(means, classes, other, early_epoch)),
        "intraclass_exceeds_share": float(intraclass_exceeds_interclass(means[-1], classes).mean()),
        "intraclass_exceeds_strict_share": float(
            intraclass_exceeds_interclass(means[-1], classes, strict=True).mean()),
        "favoured_entropy": float(np.average(ent, weights=weights)) if ent else float("nan"),
        "favoured_distinct": int(len(np.unique(fav))),
        "favoured_candidates": int(sum(len(_patterns_of(classes, c)) for c in np.unique(act))),
        "init_winner_fraction": init["fraction"],
        "init_winner_chance": init["chance"],
        "init_final_spearman": init["spearman_init_final"],
        "sign_class_abs_corr_median": _median(np.abs(sign_class_correlation_of(arrays))),
    }


# ---------------------------------------------------------------------------------------
# Section 4.2.2 (Figure 5): timing
# ---------------------------------------------------------------------------------------


def loss_share_crossing(share_difficult, share_regular) -> int | None:
    """First epoch e with ``share_difficult[e] >= share_regular[e]`` (Figure 5 right;
    the paper sees it "around the 6th epoch"), or None if it never happens.
    Row e of the ``history_*`` curves is the state after e epochs (row 0 = init)."""
    hit = np.flatnonzero(np.asarray(share_difficult) >= np.asarray(share_regular))
    return int(hit[0]) if len(hit) else None


def spread_onset(spread, factor: float = 1.5) -> int | None:
    """First epoch at which the within-class spread has grown by ``factor`` over its
    initial value: ``min{e : S[e] >= factor * S[0]}``, or None if never.

    ``spread`` is ``within_class_spread(...)`` ``[epochs+1, n_hidden]`` (then S[e] is
    its median over neurons, NaNs ignored) or a curve ``[epochs+1]`` (S = spread).
    With the active class, this dates the onset of winner-take-most, to compare with
    ``loss_share_crossing`` (Section 4.2.2: the two happen "around the same time").
    """
    s = np.asarray(spread, dtype=float)
    if s.ndim == 2:
        s = np.nanmedian(s, axis=1)
    hit = np.flatnonzero(s >= factor * s[0])
    return int(hit[0]) if len(hit) else None


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
    Follows the project issue's description of c1 (Carbonnelle & De Vleeschouwer, 2021).
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
    Follows the project issue's description of c3; the original paper (Carbonnelle &
    De Vleeschouwer, 2021) may differ in details (e.g. which neurons are pooled).
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


def spread_ratios(means, act, classes) -> dict:
    """End-of-training over initial within-class spread, median over all neurons, in
    each neuron's active class and in the other class (Section 3.2 footnote: the
    behaviour "can be observed in most neurons").

    ``within_class_spread(means, ...)[-1] / [0]`` per neuron; ``means`` may be the
    train or the probe pattern means ``[epochs+1, n_hidden, n_pat]``; ``act [n_hidden]``
    each neuron's active class (``active_class_of``).
    """
    act = np.asarray(act)
    out = {}
    for name, cls in (("active", act), ("other", 1 - act)):
        s = within_class_spread(means, classes, cls)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(s[0] > 0, s[-1] / s[0], np.nan)
        out[f"median ratio, {name} class"] = _median(ratio)
        out[f"share > 1, {name} class"] = _frac_positive(ratio - 1)
    out["neurons"] = int(np.asarray(means).shape[1])
    return out
