"""Nulls of the Section 4.1 measures, and when the mechanism starts, from stored runs.

A measure says something about training only against what it gives without training.
Here each Section 4.1 measure is computed on the same runs at initialization (row 0 of
``pattern_means_train``, the neurons' active classes as in ``measures.wtm_summary``);
where no epoch-0 version exists the null is stated analytically (``RANK_CORR_NULL``,
``SIGN_CLASS_NULL``). ``onset_rows`` measures the mechanism from several early epochs:
the rank-correlation median and the share of active-class patterns whose mean falls.
Shapes: ``means [epochs+1, n_hidden, n_pat]``, ``classes [n_pat]``, ``act [n_hidden]``.
Nothing here trains.
"""

from __future__ import annotations

import numpy as np

from wtmlib.data import pattern_class
from wtmlib.analysis.measures import (
    favoured_entropy, intraclass_exceeds_interclass, wtm_rank_correlation
)
from wtmlib.analysis.signs import active_class_of
from wtmlib.analysis.stats import median, patterns_of

# Spearman correlation of a pattern's level with its later change when the change does
# not depend on the level (no winner-take-most, no class preference).
RANK_CORR_NULL = 0.0
# |corr(mean sign of dL/da, class)| of any network at any step: dL/da = (sigma(f) - y) W2,
# so the sign is fixed by the class and sign(W2) (Section 4.1's sign-class claim).
SIGN_CLASS_NULL = 1.0


def intraclass_share(means_at, classes, strict: bool = True) -> float:
    """Share of neurons for which ``measures.intraclass_exceeds_interclass`` holds on the
    pattern means ``means_at [n_hidden, n_pat]`` of one epoch (row 0: the null)."""
    return float(intraclass_exceeds_interclass(means_at, classes, strict=strict).mean())


def init_nulls(arrays) -> dict:
    """The Section 4.1 measures of one run at initialization (its nulls). Keys as in
    ``wtm_summary``: ``intraclass_exceeds_share`` and ``intraclass_exceeds_strict_share``
    on epoch 0; ``favoured_entropy`` of the favourites at epoch 0; ``init_winner_chance``
    (the share of neurons whose initial leader would win by chance, ``mean_n 1/K_n``);
    ``rank_corr_active_median`` and ``rank_corr_other_median`` (``RANK_CORR_NULL``);
    ``sign_class_abs_corr_median`` (``SIGN_CLASS_NULL``)."""
    means = np.asarray(arrays["pattern_means_train"], dtype=float)
    classes = pattern_class(means.shape[-1]).numpy()
    act = active_class_of(arrays)
    return {
        "intraclass_exceeds_share": intraclass_share(means[0], classes, strict=False),
        "intraclass_exceeds_strict_share": intraclass_share(means[0], classes, strict=True),
        "favoured_entropy": favoured_entropy(means[0], classes, act),
        "init_winner_chance": float(np.mean([1.0 / len(patterns_of(classes, c)) for c in act])),
        "rank_corr_active_median": RANK_CORR_NULL, "rank_corr_other_median": RANK_CORR_NULL,
        "sign_class_abs_corr_median": SIGN_CLASS_NULL,
    }


def falling_shares(means, classes, act, early_epoch: int) -> tuple[float, float]:
    """``(falling, losers_falling)``: among the (neuron, active-class pattern) pairs, the
    share whose mean at the end is below its mean at ``early_epoch``; and the same among
    the "losers", the patterns below their neuron's active-class median at
    ``early_epoch`` (winner-take-most says they fall). Pairs with NaN means are ignored."""
    means, act = np.asarray(means, dtype=float), np.asarray(act)
    fell, losers = [], []
    for n in range(means.shape[1]):
        k = patterns_of(classes, act[n])
        early, final = means[early_epoch, n, k], means[-1, n, k]
        ok = np.isfinite(early) & np.isfinite(final)
        early, final = early[ok], final[ok]
        fell.append(final < early)
        losers.append((final < early)[early < np.median(early)] if len(early) else early)
    fell, losers = np.concatenate(fell), np.concatenate(losers)
    return (float(fell.mean()) if len(fell) else float("nan"),
            float(losers.mean()) if len(losers) else float("nan"))


def onset_rows(arrays, early_epochs) -> list[dict]:
    """From each epoch e of ``early_epochs`` to the end of one run: the median over
    neurons of the active-class rank correlation (``wtm_rank_correlation``), the share of
    active-class patterns whose mean falls and the share of the losers that fall
    (``falling_shares``). Each e must lie within the run's epochs (0 <= e < epochs)."""
    means = np.asarray(arrays["pattern_means_train"], dtype=float)
    epochs = means.shape[0] - 1
    bad = [e for e in early_epochs if not (isinstance(e, (int, np.integer)) and 0 <= e < epochs)]
    if bad or not len(early_epochs):
        raise ValueError(f"early_epochs={list(early_epochs)!r}: need a non-empty list of "
                         f"integer epochs in [0, {epochs}) (the run has {epochs} epochs)")
    classes = pattern_class(means.shape[-1]).numpy()
    act = active_class_of(arrays)
    rows = []
    for e in early_epochs:
        fell, losers = falling_shares(means, classes, act, int(e))
        rows.append({"early epoch": int(e),
                     "rank_corr_active_median": median(wtm_rank_correlation(means, classes,
                                                                            act, int(e))),
                     "falling_share": fell, "losers_falling_share": losers})
    return rows
