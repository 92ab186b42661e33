"""Section 4.1: the derivative signs a run recorded, and each neuron's active class.

A run stores, per training sample and hidden neuron, the sum of sign(dL/da) over the
steps that used the sample and their number (``sign_total``, ``sign_count``; when
``TrainConfig.keep_mean_sign``), and per class and neuron the count, sum and sum of
squares of the mean sign (``sign_class_sums``, always). The class-level measures
(``active_class_of``, ``sign_class_correlation_of``) need only the sums; their
per-sample definitions (``active_class``, ``sign_class_correlation``) are kept beside
them and tested equal.
"""

from __future__ import annotations

import numpy as np

from wtmlib.analysis.stats import pearson


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
                       "(TrainConfig.keep_mean_sign=False, or a thinned run that no figure "
                       "draws); its class-level summaries are in 'sign_class_sums' "
                       "(active_class_of, sign_class_correlation_of)")
    count = np.maximum(np.asarray(arrays["sign_count"]), 1).astype(np.float32)
    return np.asarray(arrays["sign_total"]).astype(np.float32) / count[:, None]


def mean_dz_sign(arrays) -> np.ndarray:
    """The mean over training steps of sign(dL/dz), dL/da gated by the ReLU, for each
    training sample and neuron ``[n_train, n_hidden]`` (``TrainConfig.keep_dz_sign``)."""
    if "dz_sign_total" not in arrays:
        raise KeyError("this run did not record sign(dL/dz) (TrainConfig.keep_dz_sign=False)")
    count = np.maximum(np.asarray(arrays["sign_count"]), 1).astype(np.float32)
    return np.asarray(arrays["dz_sign_total"]).astype(np.float32) / count[:, None]


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
