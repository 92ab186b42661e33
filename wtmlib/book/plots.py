"""Figures: arrays and results in, matplotlib figures out (never trains).

Every figure uses the same style (``style()``), sizes and class colours, so the
chapters look alike. Class 0 is blue, class 1 orange; patterns of a class are shades.
"""

from __future__ import annotations

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns

from wtmlib.analysis.signs import mean_sign as mean_sign_of, top_neurons

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


def accuracy_heatmap(mean_acc, sigmas_train, sigmas_test, hit_max=None,
                     sd_acc=None) -> plt.Figure:
    """Figure 1: mean test accuracy over sigma_train (rows) x sigma_test (columns), each
    cell annotated with its mean and, with ``sd_acc``, the standard deviation over seeds.

    Rows whose models hit the max-epochs bound in some seed are marked with ``*``.
    """
    labels = [f"{s:g}" + (" *" if hit_max is not None and np.any(hit_max[:, j]) else "")
              for j, s in enumerate(sigmas_train)]
    mean = 100 * np.asarray(mean_acc)
    annot = (np.vectorize(lambda m: f"{m:.1f}")(mean) if sd_acc is None else
             np.vectorize(lambda m, sd: f"{m:.1f}\n±{sd:.1f}")(mean, 100 * np.asarray(sd_acc)))
    fig, ax = plt.subplots(figsize=(WIDTH * 0.8, WIDTH * (0.6 if sd_acc is None else 0.75)))
    sns.heatmap(mean, annot=annot, fmt="", cmap="viridis",
                xticklabels=[f"{s:g}" for s in sigmas_test], yticklabels=labels, ax=ax,
                cbar_kws={"label": "test accuracy (%)"},
                annot_kws={"fontsize": 7 if sd_acc is None else 6})
    ax.set(xlabel="sigma_test", ylabel="sigma_train")
    fig.tight_layout()
    return fig


def accuracy_curves(acc, sigmas_train, sigmas_test, show_test) -> plt.Figure:
    """Test accuracy against sigma_train for several sigma_test: mean over seeds, with
    the min-max range of the seeds shaded. ``acc [n_seeds, n_train, n_test]``."""
    acc = 100 * np.asarray(acc)
    fig, ax = plt.subplots(figsize=(WIDTH * 0.7, 3.8))
    palette = sns.color_palette("viridis", len(show_test))
    for color, s in zip(palette, show_test):
        k = list(sigmas_test).index(s)
        ax.plot(sigmas_train, acc[:, :, k].mean(0), "o-", color=color, label=f"sigma_test={s:g}")
        ax.fill_between(sigmas_train, acc[:, :, k].min(0), acc[:, :, k].max(0), color=color,
                        alpha=0.2, lw=0)
    ax.set(xlabel="sigma_train", ylabel="test accuracy (%)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def pattern_trajectories(ax, means, classes, title: str = "", which=None) -> None:
    """One neuron's pattern means over training ``means [epochs+1, n_pat]``, one line
    per pattern, coloured by class (Figures 2, 3, 4, 6). ``which`` restricts to a class."""
    means, classes = np.asarray(means), np.asarray(classes)
    colors = pattern_colors(len(classes))
    for k in range(len(classes)):
        if which is None or classes[k] == which:
            ax.plot(means[:, k], color=colors[k] if which is not None else
                    CLASS_COLORS[classes[k]], lw=0.9)
    ax.set_title(title, fontsize=9)
    ax.set_xlabel("epoch")


def trajectory_grid(panels, classes, ylabel: str = "mean pre-activation",
                    ncols: int | None = None) -> plt.Figure:
    """A grid of ``pattern_trajectories`` panels; ``panels`` is a list of
    ``(means [epochs+1, n_pat], title)`` or a list of rows of them."""
    rows = panels if isinstance(panels[0], list) else [panels]
    nrows, ncols = len(rows), max(len(r) for r in rows)
    fig, axes = plt.subplots(nrows, ncols, figsize=(min(WIDTH, 3.3 * ncols), 2.7 * nrows),
                             squeeze=False)
    for r, row in enumerate(rows):
        for c in range(ncols):
            ax = axes[r, c]
            if c >= len(row):
                ax.axis("off")
                continue
            means, title = row[c]
            pattern_trajectories(ax, means, classes, title)
            if c == 0:
                ax.set_ylabel(ylabel)
    fig.tight_layout()
    return fig


def wtm_figure(means, final_pre, mean_sign, p, y, classes, neurons, w2=None) -> plt.Figure:
    """Figures 3 and 6: one column per neuron in ``neurons``.

    Rows 1-2: each pattern's mean pre-activation over training, class 0 then class 1
    (``means [epochs+1, n_hidden, n_pat]``). Row 3: the final pre-activations of the
    training samples by pattern (``final_pre [n_train, len(neurons)]``, columns in the
    order of ``neurons``). Row 4: histogram over samples of the mean sign of dL/da over
    all training steps (``mean_sign [n_train, n_hidden]``), by class.
    """
    means, final_pre, mean_sign = (np.asarray(a) for a in (means, final_pre, mean_sign))
    p, y, classes = (np.asarray(a) for a in (p, y, classes))
    n_pat = len(classes)
    colors = pattern_colors(n_pat)
    fig, axes = plt.subplots(4, len(neurons), figsize=(WIDTH, 9.5), squeeze=False)
    for c, n in enumerate(neurons):
        head = f"neuron {n}" + (f" (W2={float(np.ravel(w2)[n]):+.2f})" if w2 is not None else "")
        for row in (0, 1):
            ax = axes[row, c]
            pattern_trajectories(ax, means[:, n, :], classes, which=row)
            ax.set_title(f"{head}\nclass {row}" if row == 0 else f"class {row}", fontsize=8)
            ax.set_xlabel("epoch" if row == 1 else "")
        ax = axes[2, c]
        data = [final_pre[p == k, c] for k in range(n_pat)]
        parts = ax.violinplot(data, showextrema=False, widths=0.9)
        for body, color in zip(parts["bodies"], colors):
            body.set_facecolor(color)
            body.set_alpha(0.9)
        ax.set(xlabel="pattern", xticks=[1, n_pat // 2, n_pat])
        ax.set_title("final pre-activations", fontsize=8)
        ax = axes[3, c]
        bins = np.linspace(-1, 1, 41)
        for cls in (0, 1):
            ax.hist(mean_sign[y == cls, n], bins=bins, color=CLASS_COLORS[cls], alpha=0.7,
                    label=f"class {cls}")
        ax.set(xlabel="mean sign of dL/da")
        ax.set_title("mean derivative sign", fontsize=8)
    axes[0, 0].set_ylabel("mean pre-activation")
    axes[1, 0].set_ylabel("mean pre-activation")
    axes[2, 0].set_ylabel("pre-activation")
    axes[3, 0].set_ylabel("samples")
    axes[3, 0].legend(fontsize=7)
    fig.tight_layout()
    return fig


def wtm_figure_of(result, data, classes, n_neurons: int) -> plt.Figure:
    """Figure 3 (data set S) or Figure 6 (Aggregated MNIST) of one stored run: the
    ``n_neurons`` hidden neurons with the largest |W2| (``wtm_figure``'s layout);
    ``data``: the run's data set, ``classes``: each pattern's class."""
    neurons = top_neurons(result["out.weight"], n_neurons)
    columns = [int(np.flatnonzero(result["final_neurons"] == n)[0]) for n in neurons]
    return wtm_figure(result["pattern_means_train"], result["final_pre"][:, columns],
                      mean_sign_of(result), data.p_train.numpy(), data.y_train.numpy(),
                      classes, neurons, result["out.weight"])



def loss_shares(histories: list, crossing=None) -> plt.Figure:
    """Figure 5 (right): share of the total training loss carried by the difficult
    (d > 0) and the regular samples over training, one pair of lines per seed."""
    fig, ax = plt.subplots(figsize=(WIDTH / 1.6, 3.4))
    for i, h in enumerate(histories):
        ax.plot(h["share_difficult"], color="crimson", alpha=0.8, lw=1,
                label="difficult (d > 0)" if i == 0 else None)
        ax.plot(h["share_regular"], color="0.3", alpha=0.8, lw=1,
                label="regular (d <= 0)" if i == 0 else None)
    if crossing is not None:
        ax.axvline(crossing, color="k", ls="--", lw=0.8, label=f"crossing (epoch {crossing})")
    ax.set(xlabel="epoch", ylabel="share of the total loss", xscale="symlog")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def curves(series: dict, xlabel: str, ylabel: str, logx: bool = False) -> plt.Figure:
    """Named curves on one axis (``{label: values}``, index = epoch)."""
    fig, ax = plt.subplots(figsize=(WIDTH / 1.6, 3.2))
    for label, values in series.items():
        ax.plot(np.asarray(values), label=label)
    ax.set(xlabel=xlabel, ylabel=ylabel, xscale="symlog" if logx else "linear")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def panels_vs(x, panels: dict, xlabel: str, logx: bool = False,
              bands: dict | None = None) -> plt.Figure:
    """Side-by-side panels of curves against ``x``: ``{ylabel: {label: values}}``, with
    ``bands`` (same keys: half-widths, e.g. standard deviations over seeds) shaded."""
    fig, axes = plt.subplots(1, len(panels), figsize=(WIDTH, 3.4), squeeze=False)
    for ax, (ylabel, series) in zip(axes[0], panels.items()):
        palette = sns.color_palette("viridis", len(series))
        for color, (label, values) in zip(palette, series.items()):
            ax.plot(x, values, "o-", color=color, label=label)
            if bands is not None:
                half = np.asarray(bands[ylabel][label], dtype=float)
                ax.fill_between(x, np.asarray(values) - half, np.asarray(values) + half,
                                color=color, alpha=0.2, linewidth=0)
        ax.set(xlabel=xlabel, ylabel=ylabel, xscale="log" if logx else "linear")
    axes[0, 0].legend(fontsize=8)
    fig.tight_layout()
    return fig


def scatter_groups(table, x: str, y: str, by: str) -> plt.Figure:
    """Scatter of two columns of a table, coloured by a third (e.g. sigma_train)."""
    fig, ax = plt.subplots(figsize=(WIDTH / 1.8, 3.6))
    groups = sorted(table[by].unique())
    palette = sns.color_palette("viridis", len(groups))
    for color, g in zip(palette, groups):
        t = table[table[by] == g]
        ax.scatter(t[x], t[y], color=color, label=f"{by}={g:g}", s=25)
    ax.set(xlabel=x, ylabel=y)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    return fig


def date_pairs(pairs: dict) -> plt.Figure:
    """Figure 5's two dates per run: the onset of the within-class spread growth (x)
    against the loss-share crossing (y), one colour per reading (``{reading: (onsets,
    crossings)}``, runs where both happen); on the diagonal they coincide, above it the
    crossing comes later."""
    fig, ax = plt.subplots(figsize=(WIDTH / 1.6, 4.0))
    palette = sns.color_palette("tab20", max(len(pairs), 1))
    top = 1.0
    for color, (name, (onset, crossing)) in zip(palette, pairs.items()):
        ax.scatter(onset, crossing, color=color, label=name, s=28)
        top = max([top, *onset, *crossing])
    ax.plot([0, top], [0, top], color="0.6", lw=1, ls="--")
    ax.set(xlabel="onset of the within-class spread growth (epoch)",
           ylabel="loss-share crossing (epoch)", xscale="symlog", yscale="symlog")
    if pairs:
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    else:
        ax.text(0.5, 0.5, "no run where both happen", transform=ax.transAxes, ha="center")
    fig.tight_layout()
    return fig


_NUMBER = r"[-+]?\d+(?:\.\d+)?"


def paper_number(paper: str, unit: str = "") -> tuple[float, float] | None:
    """The paper's number of a claim as ``(low, high)`` (equal for one number), or ``None``
    where the paper gives words, not a number in the claim's unit: "96.1 %" -> (96.1,
    96.1), "80-84 %" -> (80, 84), "epoch ~6" -> (6, 6); "sigma_train ~ 0.4 best for every
    sigma_test" -> None (0.4 is a setting, not the claim's measure)."""
    import re  # noqa: PLC0415

    text = paper.replace(unit, " ") if unit else paper
    found = re.fullmatch(rf"\s*~?\s*({_NUMBER})(?:\s*[-\u2013]\s*({_NUMBER}))?\s*", text)
    if not found:
        return None
    low = float(found.group(1))
    return low, float(found.group(2)) if found.group(2) else low


def _finite(x) -> bool:
    return x is not None and np.isfinite(x)


def _row_limits(numbers: list[float]) -> tuple[float, float]:
    """An axis range holding ``numbers`` with a margin (one number: +-10 %, or +-1 at 0)."""
    lo, hi = min(numbers), max(numbers)
    pad = (hi - lo) * 0.12 if hi > lo else max(abs(lo) * 0.1, 0.5)
    return lo - pad, hi + pad


def claims_figure(rows: list[dict], preview: bool = False) -> plt.Figure:
    """Every claim as one row on its own small axis, in the claim's unit: our value (dot)
    with its 95 % interval (bar; ``row["interval"]``, none where NaN), the paper's number
    (diamond, or a band for a range; ``paper_number``) and the null or control (grey
    tick), the row's background the colour of the column it is counted in (scorecard
    colours; one neutral colour in a ``preview``). An infinite value (a date never reached)
    is an arrow at the right edge; a claim with no value says so."""
    from matplotlib.lines import Line2D  # noqa: PLC0415
    from matplotlib.ticker import MaxNLocator  # noqa: PLC0415

    from wtmlib.claims.registry import MISSING, PAPER  # noqa: PLC0415
    from wtmlib.claims.scorecard import COLOURS, PREVIEW_COLOUR  # noqa: PLC0415

    n = max(len(rows), 1)
    fig, axes = plt.subplots(n, 1, figsize=(WIDTH, 0.9 + 0.42 * n), squeeze=False)
    fig.subplots_adjust(left=0.27, right=0.76, top=1 - 0.55 / (0.9 + 0.42 * n),
                        bottom=0.35 / (0.9 + 0.42 * n), hspace=1.1)
    ink, paper_ink, null_ink = "#222222", "#c2185b", "#7f7f7f"
    for ax, row in zip(axes[:, 0], rows):
        ax.set_facecolor(PREVIEW_COLOUR if preview else COLOURS[row["counted"]])
        ax.set_yticks([])
        ax.set_ylim(-1, 1)
        ax.grid(False)
        for side in ("left", "right", "top"):
            ax.spines[side].set_visible(False)
        ax.tick_params(axis="x", labelsize=7, pad=1, length=2)
        ax.xaxis.set_major_locator(MaxNLocator(4))
        unit = f" ({row['unit']})" if row.get("unit") else ""
        ax.text(-0.02, 0.5, f"{row['id']}{unit}", transform=ax.transAxes, ha="right",
                va="center", fontsize=8)
        said = row["counted"] if row["category"] == PAPER or row["verdict"] == MISSING \
            else f"{row['category']} ({row['verdict']})"
        ax.text(1.02, 0.5, f"preview: {said}" if preview and row["verdict"] != MISSING
                else said, transform=ax.transAxes, ha="left", va="center", fontsize=8)
        value, null = row["value"], row.get("null")
        if value is not None and np.isnan(value):
            value = None  # a measure that could not be taken reads as no value
        half = row.get("interval")
        paper = paper_number(row.get("paper") or "", row.get("unit") or "")
        numbers = [x for x in (value, null) if _finite(x)] + list(paper or ())
        if _finite(value) and _finite(half):
            numbers += [value - half, value + half]
        if not numbers:
            ax.set_xticks([])
            ax.text(0.02, 0.5, "no value" if value is None else "never (no finite value)",
                    transform=ax.transAxes, ha="left", va="center", fontsize=8,
                    color=ink, style="italic")
            continue
        lo, hi = _row_limits(numbers)
        ax.set_xlim(lo, hi)
        if paper:
            if paper[1] > paper[0]:
                ax.axvspan(paper[0], paper[1], ymin=0.15, ymax=0.85, color=paper_ink,
                           alpha=0.25, lw=0)
            else:
                ax.plot(paper[0], 0, marker="D", ms=6, color=paper_ink, ls="none")
        if _finite(null):
            ax.plot([null, null], [-0.8, 0.8], color=null_ink, lw=2.5)
        if value is None:
            ax.text(0.02, 0.5, "no value", transform=ax.transAxes, ha="left",
                    va="center", fontsize=8, style="italic")
        elif np.isinf(value):
            edge = hi if value > 0 else lo
            ax.annotate("never" if value > 0 else "", xy=(edge, 0),
                        xytext=(-28 if value > 0 else 28, 0), textcoords="offset points",
                        ha="right" if value > 0 else "left", va="center", fontsize=7,
                        arrowprops=dict(arrowstyle="->", color=ink))
        else:
            ax.errorbar(value, 0, xerr=half if _finite(half) else None, fmt="o", ms=5,
                        color=ink, capsize=3, lw=1.2)
    legend = [Line2D([], [], marker="o", color=ink, ls="-", label="ours (95 % interval)"),
              Line2D([], [], marker="D", color=paper_ink, ls="none", label="the paper's number"),
              Line2D([], [], color=null_ink, lw=2.5, label="null or control")]
    fig.legend(handles=legend, loc="upper center", ncol=3, fontsize=8, frameon=False,
               bbox_to_anchor=(0.5, 1.0))
    return fig


def claims_caption(preview: bool = False) -> str:
    """What ``claims_figure`` shows, for its caption on every page that shows it."""
    return ("Every claim as a row on its own axis, in the claim's unit (written after its "
            "id): our value (dot; mean over seeds or models) with its 95 % t-interval (bar, "
            "where there are several), the paper's number where it gives one (diamond, or a "
            "band for a range) and the null or control the verdict is judged against (grey "
            "tick); an arrow at the right edge marks a date some seed never reached. The "
            "background is the colour of the column the claim is counted in, named on the "
            "right" + (" (one neutral colour: a preview's verdicts are not the "
                       "reproduction's)." if preview else "."))
