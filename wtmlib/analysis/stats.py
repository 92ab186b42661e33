"""Rank statistics and NaN-aware summaries the measures share.

Undefined values are NaN, never an exception: a correlation of a constant vector or of
fewer than two finite pairs, a median of nothing.
"""

from __future__ import annotations

import math

import numpy as np


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


def patterns_of(classes, c) -> np.ndarray:
    """Ids of the patterns of class ``c``."""
    return np.flatnonzero(np.asarray(classes) == c)


def median(x) -> float:
    """Median of the defined (non-NaN) values; NaN when there are none."""
    x = np.asarray(x, dtype=float)
    return float(np.nanmedian(x)) if np.isfinite(x).any() else float("nan")


def frac_positive(x) -> float:
    """Share of the defined (non-NaN) values that are > 0."""
    x = np.asarray(x, dtype=float)
    ok = np.isfinite(x)
    return float((x[ok] > 0).mean()) if ok.any() else float("nan")


# two-sided 95 % quantiles of Student's t with 1..30 degrees of freedom (then 1.96)
_T95 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179,
        2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064,
        2.060, 2.056, 2.052, 2.048, 2.045, 2.042)


def t_interval(sd: float, n: int) -> float:
    """Half-width of the 95 % t-interval of a mean of ``n`` values with standard deviation
    ``sd`` (``ddof=1``): ``t(0.975, n - 1) * sd / sqrt(n)``; NaN for fewer than 2 values or
    a non-finite ``sd``."""
    if n is None or n < 2 or sd is None or not np.isfinite(sd):
        return float("nan")
    t = _T95[n - 2] if n - 1 <= len(_T95) else 1.96
    return float(t * sd / np.sqrt(n))
