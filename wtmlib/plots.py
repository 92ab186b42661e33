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


def projection(x, p, y, n: int = 3000) -> plt.Figure:
    """2-D PCA projection of samples, coloured by pattern (left) and by class (right)."""
    x, p, y = _np(x)[:n], _np(p)[:n], _np(y)[:n]
    xc = x - x.mean(0)
    _, _, vt = np.linalg.svd(xc, full_matrices=False)
    xy = xc @ vt[:2].T
    fig, axes = plt.subplots(1, 2, figsize=(WIDTH, 4.2), sharex=True, sharey=True)
    colors = pattern_colors(int(p.max()) + 1)
    axes[0].scatter(*xy.T, c=[colors[k] for k in p], s=3, lw=0)
    axes[0].set_title("coloured by pattern")
    axes[1].scatter(*xy.T, c=[CLASS_COLORS[k] for k in y], s=3, lw=0)
    axes[1].set_title("coloured by class")
    for ax in axes:
        ax.set(xlabel="PC 1", ylabel="PC 2")
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
