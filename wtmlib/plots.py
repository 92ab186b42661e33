"""Figures: arrays and results in, matplotlib figures out (never trains).

Every figure uses the same style (``style()``), sizes and class colours, so the
chapters look alike. Class 0 is blue, class 1 orange; patterns of a class are shades.
"""

from __future__ import annotations

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns

CLASS_COLORS = ("#1f77b4", "#ff7f0e")
WIDTH = 10.0  # inches, full page width


def style() -> None:
    """The book's plotting style (call once per notebook)."""
    sns.set_theme(context="notebook", style="whitegrid", font_scale=0.9)
    plt.rcParams.update({"figure.dpi": 90, "savefig.dpi": 90, "axes.titlesize": 10,
                         "figure.autolayout": False})


def pattern_colors(n_pat: int) -> list:
    """One colour per pattern: shades of the class colour (blues, then oranges)."""
    half = n_pat // 2
    return (list(sns.light_palette(CLASS_COLORS[0], half + 3)[3:]) +
            list(sns.light_palette(CLASS_COLORS[1], n_pat - half + 3)[3:]))


def _np(a):
    return a.detach().cpu().numpy() if hasattr(a, "detach") else np.asarray(a)


def masks(masks_, classes) -> plt.Figure:
    """Algorithm 1's pattern masks ``[n_pat, n_dim]``: which components each pattern sets."""
    m, c = _np(masks_), _np(classes)
    img = np.where(m, c[:, None] + 1, 0)
    cmap = matplotlib.colors.ListedColormap(["white", *CLASS_COLORS])
    fig, ax = plt.subplots(figsize=(WIDTH, 2.6))
    ax.imshow(img, aspect="auto", cmap=cmap, vmin=0, vmax=2, interpolation="nearest")
    ax.set(xlabel="input component", ylabel="pattern", title="pattern masks (blue: class 0, "
           "orange: class 1)")
    ax.grid(False)
    return fig


def samples(x, p, masks_, idx) -> plt.Figure:
    """A few samples ``x [n, n_dim]``, their pattern's components marked."""
    x, p, m = _np(x), _np(p), _np(masks_)
    fig, axes = plt.subplots(len(idx), 1, figsize=(WIDTH, 1.3 * len(idx)), sharex=True)
    for ax, i in zip(np.atleast_1d(axes), idx):
        ax.plot(x[i], lw=0.6, color="0.4")
        on = np.flatnonzero(m[p[i]])
        ax.scatter(on, x[i, on], color="crimson", s=12, zorder=3)
        ax.set_ylabel(f"pattern {p[i]}", fontsize=8)
    np.atleast_1d(axes)[-1].set_xlabel("input component (red: the pattern's mask)")
    fig.tight_layout()
    return fig


def component_hist(x, p, masks_) -> plt.Figure:
    """Values of on-pattern and off-pattern components after normalisation."""
    x, p, m = _np(x), _np(p), _np(masks_)
    on = m[p]
    fig, ax = plt.subplots(figsize=(WIDTH / 2, 3))
    bins = np.linspace(x.min(), x.max(), 80)
    ax.hist(x[~on], bins=bins, density=True, alpha=0.6, label="off-pattern components")
    ax.hist(x[on], bins=bins, density=True, alpha=0.6, label="on-pattern components")
    ax.set(xlabel="component value (unit-norm samples)", ylabel="density")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def _pca2(x):
    xc = x - x.mean(0)
    _, _, vt = np.linalg.svd(xc, full_matrices=False)
    return xc @ vt[:2].T


def projection(x, p, y, centroids, n: int = 3000) -> plt.Figure:
    """2-D PCA projections of samples, coloured by pattern (left) and by class (right).

    Top row: PCA of the raw samples. Bottom row: the samples' correlations with the
    pattern centroids ``x @ c^T`` mapped to the plane with pattern ``k`` at angle
    ``2 pi k / n_pat`` (class 0 on the upper half circle, class 1 on the lower one).
    """
    x, p, y, c = _np(x)[:n], _np(p)[:n], _np(y)[:n], _np(centroids)
    colors = pattern_colors(c.shape[0])
    angles = 2 * np.pi * (np.arange(c.shape[0]) + 0.5) / c.shape[0]
    wheel = np.stack([np.cos(angles), np.sin(angles)], 1)  # [n_pat, 2]
    fig, axes = plt.subplots(2, 2, figsize=(WIDTH, 7.6))
    for row, (xy, what) in enumerate(((_pca2(x), "PCA of the raw samples"),
                                      (x @ c.T @ wheel, "centroid correlations on a wheel"))):
        axes[row, 0].scatter(*xy.T, c=[colors[k] for k in p], s=3, lw=0)
        axes[row, 1].scatter(*xy.T, c=[CLASS_COLORS[k] for k in y], s=3, lw=0)
        for col, by in enumerate(("pattern", "class")):
            axes[row, col].set(title=f"{what}, coloured by {by}")
    fig.tight_layout()
    return fig


def difficulty_hist(d_by_sigma: dict) -> plt.Figure:
    """Distribution of the difficulty coefficient d (eq. 2), one curve per sigma."""
    fig, ax = plt.subplots(figsize=(WIDTH / 1.6, 3.2))
    palette = sns.color_palette("viridis", len(d_by_sigma))
    for color, (sigma, d) in zip(palette, d_by_sigma.items()):
        d = _np(d)
        sns.kdeplot(d, ax=ax, color=color, label=f"sigma={sigma:g} ({(d > 0).mean():.1%} d>0)",
                    bw_adjust=0.7)
    ax.axvline(0, color="k", lw=0.8, ls="--")
    ax.set(xlabel="difficulty coefficient d (eq. 2); d > 0: difficult", ylabel="density")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig
