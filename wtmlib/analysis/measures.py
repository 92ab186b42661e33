"""Numbers that test the paper's claims on recorded runs (Sections 4.1 and 4.2).

Every function takes arrays a run already recorded (see ``wtmlib.record``) and returns
a number or a small array; nothing here trains. The derivative signs and a neuron's
active class are in ``wtmlib.analysis.signs``, Section 5's clustering and coherence measures in
``wtmlib.analysis.selectivity``, the rank statistics in ``wtmlib.analysis.stats``; the names used most by
the chapters are importable from here too. Shapes and names:

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
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from wtmlib.data import pattern_class
from wtmlib.analysis.signs import (
    active_class_of, sign_class_correlation_of
)
from wtmlib.analysis.stats import frac_positive, median, patterns_of, spearman


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
        k = patterns_of(classes, neuron_class[n])
        early, final = means[early_epoch, n, k], means[-1, n, k]
        out[n] = spearman(early, final - early)
    return out


def within_class_spread(means, classes, neuron_class) -> np.ndarray:
    """Per epoch and neuron, the standard deviation (ddof 0) over the patterns of class
    ``neuron_class[n]`` of their mean pre-activations ``[epochs+1, n_hidden]``.

    Winner-take-most pushes a class's patterns apart, so this spread grows in the class
    the mechanism acts on (Figure 3 rows 1-2). Patterns with NaN means are ignored; an
    epoch with no defined mean (one a thinned run did not keep) gives NaN, quietly.
    """
    means, neuron_class = np.asarray(means, dtype=float), np.asarray(neuron_class)
    out = np.empty(means.shape[:2])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # the std of no value is NaN
        for n in range(means.shape[1]):
            out[:, n] = np.nanstd(means[:, n, patterns_of(classes, neuron_class[n])], axis=1)
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
    k0, k1 = patterns_of(classes, 0), patterns_of(classes, 1)
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
        k = patterns_of(classes, np.asarray(neuron_class)[n])
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


def favoured_entropy(means_at, classes, act) -> float:
    """Normalised entropy of the neurons' favoured patterns in their active class, on the
    pattern means ``means_at [n_hidden, n_pat]`` of one epoch: ``favoured_spread`` per
    active class, averaged with weights = the neurons of that class. NaN when undefined."""
    act = np.asarray(act)
    fav = favoured_pattern(means_at, classes, act)
    ent, weights = [], []
    for c in np.unique(act):
        e, _ = favoured_spread(fav[act == c], len(patterns_of(classes, c)))
        if np.isfinite(e):
            ent.append(e)
            weights.append((act == c).sum())
    return float(np.average(ent, weights=weights)) if ent else float("nan")


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
    n_pat_of = np.array([len(patterns_of(classes, c)) for c in neuron_class])
    rho = [spearman(means[0, n, patterns_of(classes, c)], means[-1, n, patterns_of(classes, c)])
           for n, c in enumerate(neuron_class)]
    return {"fraction": float(same.mean()), "chance": float((1.0 / n_pat_of).mean()),
            "spearman_init_final": float(np.nanmean(rho)) if np.isfinite(rho).any()
            else float("nan")}


# ---------------------------------------------------------------------------------------
# Summary over all neurons (Sections 4.1 - 4.2.4)
# ---------------------------------------------------------------------------------------


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
    init = init_predicts_winner(means, classes, act)
    return {
        "n_neurons": int(means.shape[1]),
        "active_class1_share": float((act == 1).mean()),
        "rank_corr_active_median": median(rc_a),
        "rank_corr_other_median": median(rc_o),
        "rank_corr_active_positive": frac_positive(rc_a),
        "rank_corr_other_positive": frac_positive(rc_o),
        "rank_corr_active_defined": int(np.isfinite(rc_a).sum()),
        "rank_corr_other_defined": int(np.isfinite(rc_o).sum()),
        "spread_growth_active_median": median(spread_growth(means, classes, act, early_epoch)),
        "spread_growth_other_median": median(spread_growth(means, classes, other, early_epoch)),
        "intraclass_exceeds_share": float(intraclass_exceeds_interclass(means[-1], classes).mean()),
        "intraclass_exceeds_strict_share": float(
            intraclass_exceeds_interclass(means[-1], classes, strict=True).mean()),
        "favoured_entropy": favoured_entropy(means[-1], classes, act),
        "favoured_distinct": int(len(np.unique(fav))),
        "favoured_candidates": int(sum(len(patterns_of(classes, c)) for c in np.unique(act))),
        "init_winner_fraction": init["fraction"],
        "init_winner_chance": init["chance"],
        "init_final_spearman": init["spearman_init_final"],
        "sign_class_abs_corr_median": median(np.abs(sign_class_correlation_of(arrays))),
    }


# ---------------------------------------------------------------------------------------
# Section 4.2.3: the role of ReLU, and 4.2.4: local misclassification counterbalanced
# ---------------------------------------------------------------------------------------


def pattern_gradient_shares(w1, w2, b2, x, y, p, n_pat: int, relu: bool = True) -> np.ndarray:
    """Each pattern's share of each neuron's weight gradient ``[n_hidden, n_pat]``
    (Section 4.2.3: "the share of that cluster in the weight gradient of the neuron").

    For the BCE-with-logits loss of eq. (1), sample i's gradient with respect to row n of
    W1 is ``r_i W2_n rho'(z_in) x_i`` with ``r_i = sigmoid(f_i) - y_i``; pattern k's part
    is ``G_nk = sum_{i in k} r_i W2_n rho'(z_in) x_i`` and its share is
    ``|G_nk| / sum_k' |G_nk'|`` (Euclidean norms). Under ReLU, ``rho'`` = 1 where the neuron
    is on, so a pattern whose samples activate the neuron more often weighs more; without
    ReLU (``relu=False``) every sample counts. NaN for a neuron with no gradient.
    ``w1 [h, d]``, ``w2 [h]``, ``b2`` scalar, ``x [n, d]``, ``y [n]``, ``p [n]`` pattern ids.
    """
    w1, x = np.asarray(w1, dtype=np.float64), np.asarray(x, dtype=np.float64)
    w2, y, p = np.asarray(w2, dtype=np.float64).reshape(-1), np.asarray(y), np.asarray(p)
    z = x @ w1.T
    a = np.maximum(z, 0) if relu else z
    r = 1 / (1 + np.exp(-(a @ w2 + float(np.asarray(b2).reshape(-1)[0])))) - y
    m = r[:, None] * w2[None, :] * ((z > 0) if relu else 1.0)  # dL_i/dz_in [n, h]
    norms = np.zeros((w1.shape[0], n_pat))
    for k in range(n_pat):
        on = p == k
        if on.any():
            norms[:, k] = np.linalg.norm(m[on].T @ x[on], axis=1)
    total = norms.sum(1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, norms / total, np.nan)


def share_level_correlation(means_at, shares, classes, act) -> np.ndarray:
    """Per neuron, Spearman over the patterns of its active class between a pattern's mean
    pre-activation ``means_at [n_hidden, n_pat]`` and its share of the neuron's weight
    gradient ``shares`` (``pattern_gradient_shares``) ``[n_hidden]``: Section 4.2.3's
    "the average pre-activation of a cluster in a neuron is proportional to the share of
    that cluster in the weight gradient", read as "increases with" (a proportion is not
    testable: means can be negative while shares are not). NaN where undefined."""
    means_at, shares, act = np.asarray(means_at, float), np.asarray(shares, float), np.asarray(act)
    return np.array([spearman(means_at[n, patterns_of(classes, c)],
                              shares[n, patterns_of(classes, c)]) for n, c in enumerate(act)])


def local_misclassification(z, y, act) -> np.ndarray:
    """Per sample, the share of the neurons whose active class is the sample's class that
    are off for it (``z <= 0``) ``[n]``: those neurons give it nothing towards its class,
    as they give the other class's samples (Section 4.2.4's "local misclassification";
    winner-take-most pushes the losing patterns there). NaN for a class without neurons.
    ``z [n, n_hidden]`` pre-activations, ``y [n]`` labels, ``act [n_hidden]``."""
    z, y, act = np.asarray(z, float), np.asarray(y).astype(int), np.asarray(act)
    out = np.full(len(y), np.nan)
    for c in (0, 1):
        own = act == c
        if own.any():
            out[y == c] = (z[np.ix_(y == c, own)] <= 0).mean(1)
    return out


def counterbalance_gap(ell, correct, p, q: float = 0.25) -> float:
    """Per pattern, the mean of ``ell`` (``local_misclassification``) and the accuracy over
    its samples (``correct`` [n], ``p`` [n] pattern ids); the accuracy of the ``q`` of the
    patterns most locally misclassified minus that of the ``q`` least, in points
    (Section 4.2.4: local misclassification "counterbalanced by a correct classification
    in other neurons"). By patterns, not samples: Algorithm 1 makes the patterns equally
    hard, so what differs between them is which ones the neurons let lose, while a
    sample that noise moves towards the other class is both left off by its class's
    neurons and misclassified. About 0: the patterns the neurons lose are classified as
    well as the others; negative: local losses become errors. Ties broken by pattern id."""
    ell, correct, p = np.asarray(ell, float), np.asarray(correct, float), np.asarray(p)
    ok = np.isfinite(ell)
    ids = np.unique(p[ok])
    lost = np.array([ell[ok & (p == k)].mean() for k in ids])
    acc = np.array([correct[ok & (p == k)].mean() for k in ids])
    order = np.argsort(lost, kind="stable")
    k = max(1, int(round(q * len(ids))))
    return float(100 * (acc[order[-k:]].mean() - acc[order[:k]].mean()))


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
    An epoch whose S is NaN (one a thinned run did not keep) is never the onset: a
    thinned run keeps every epoch the onset can fall on (``wtmlib.build.thin``).
    """
    s = np.asarray(spread, dtype=float)
    if s.ndim == 2:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # the median of no value is NaN
            s = np.nanmedian(s, axis=1)
    hit = np.flatnonzero(s >= factor * s[0])
    return int(hit[0]) if len(hit) else None


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
        out[f"median ratio, {name} class"] = median(ratio)
        out[f"share > 1, {name} class"] = frac_positive(ratio - 1)
    out["neurons"] = int(np.asarray(means).shape[1])
    return out
