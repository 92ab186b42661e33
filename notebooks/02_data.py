# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 2. The synthetic data set S (Algorithm 1)
#
# The paper studies a data set built so that *patterns* (clusters) hide below the
# level of the two supervision labels (Section 2.1). Each sample presents one of
# $n_\text{pat}$ non-overlapping patterns: $l_\text{pat}$ components raised by
# $\delta$ over Gaussian noise $\mathcal N(0, \sigma)$ on every component, the
# whole vector then $L^2$-normalised. Half the patterns make class 0, the other half
# class 1, and the networks only ever see the class.
#
# This chapter draws S with `wtmlib.data.make_synthetic` (Algorithm 1) and checks,
# on the arrays themselves, that it is what the paper describes.

# %% tags=["parameters"]
n_dim: int = 500  # input dimension (Section 2.1)
l_pat: int = 5  # components per pattern mask
n_pat: int = 30  # patterns (15 per class)
n_train: int = 15000  # training samples
n_test: int = 6000  # test samples
delta: float = 1.0  # pattern separation
sigma_train: float = 0.4  # noise std of the training split
sigma_test: float = 0.4  # noise std of the test split
seed: int = 0  # masks and noise
sigmas: list[float] = [0.1, 0.2, 0.4, 0.8, 1.2, 2.0]  # noise levels for the difficulty distribution
n_projection: int = 3000  # samples in the 2-D projection

# %% tags=["remove-input"]
import numpy as np
import torch

from wtmlib.book import chapter, plots, report
from wtmlib.data import difficulty, make_synthetic

section = chapter.setup("data", globals(), "data")
cfg = section.data

# %% tags=["hide-input"]
data = make_synthetic(cfg)
classes = data.pattern_class()
print(f"x_train {tuple(data.x_train.shape)}, x_test {tuple(data.x_test.shape)}, "
      f"masks {tuple(data.masks.shape)}")

# %% [markdown]
# ## Pattern masks
#
# Algorithm 1 draws one mask $\mathcal P_k$ of $l_\text{pat}$ components per pattern,
# without overlap; the centroid of pattern $k$ is $\mathbf c_k = \delta \sum_{i \in
# \mathcal P_k} \mathbf e_i$. Patterns $0..n_\text{pat}/2-1$ form class 0 (the paper's
# $\lfloor p / (n_\text{pat}/2 + 1) \rfloor$ with 1-based $p$).

# %% tags=["hide-input"]
mask_sizes = data.masks.sum(1)
overlaps = int((data.masks.sum(0) > 1).sum())
report.glue("n_components_used", int(data.masks.any(0).sum()))
report.glue("n_overlaps", overlaps)
report.figure(plots.masks(data.masks, classes),
              f"The {cfg.n_pat} pattern masks over the {cfg.n_dim} input components "
              f"(seed {cfg.seed}); every mask has {int(mask_sizes.min())}-"
              f"{int(mask_sizes.max())} components, {overlaps} components are shared.")

# %% [markdown]
# The masks use {glue:text}`n_components_used` components in all and share
# {glue:text}`n_overlaps` of them, as Algorithm 1 requires without overlap.
#
# ## A few samples
#
# Three training samples of different patterns, with the components of their pattern
# marked. At $\sigma = 0.4$ the pattern stands out, but a good share of the noise
# components are as large as a pattern component.

# %% tags=["hide-input"]
idx = [int(torch.nonzero(data.p_train == k)[0]) for k in (0, cfg.n_pat // 2, cfg.n_pat - 1)]
report.figure(plots.samples(data.x_train, data.p_train, data.masks, idx),
              f"Training samples of patterns 0, {cfg.n_pat // 2} and {cfg.n_pat - 1} "
              f"(sigma_train={cfg.sigma_train}, seed {cfg.seed}).")

# %% [markdown]
# ## Norms, counts and noise statistics
#
# Every sample has unit norm after the last step of Algorithm 1. Before it, a sample has
# squared norm close to $n_\text{dim}\sigma^2 + l_\text{pat}\delta^2$, so after it an
# off-pattern component has standard deviation close to
# $\sigma / \sqrt{n_\text{dim}\sigma^2 + l_\text{pat}\delta^2}$ and an on-pattern
# component a mean close to $\delta / \sqrt{n_\text{dim}\sigma^2 + l_\text{pat}\delta^2}$.
# The table compares these predictions with the arrays.

# %% tags=["hide-input"]
def split_stats(x, p, sigma):
    on = data.masks[p]
    counts = np.bincount(p.numpy(), minlength=cfg.n_pat)
    scale = np.sqrt(cfg.n_dim * sigma**2 + cfg.l_pat * cfg.delta**2)
    return {
        "samples": len(x),
        "norm min": float(x.norm(dim=1).min()), "norm max": float(x.norm(dim=1).max()),
        "off-pattern std": float(x[~on].std()), "predicted off std": sigma / scale,
        "on-pattern mean": float(x[on].mean()), "predicted on mean": cfg.delta / scale,
        "samples per pattern (min-max)": "{}-{}".format(counts.min(), counts.max()),
        "class 1 share": float(data.pattern_class()[p].float().mean()),
    }


import pandas as pd  # noqa: E402

stats = pd.DataFrame({"train": split_stats(data.x_train, data.p_train, cfg.sigma_train),
                      "test": split_stats(data.x_test, data.p_test, cfg.sigma_test)})
display(stats)
report.figure(plots.component_hist(data.x_train, data.p_train, data.masks),
              f"Component values of the unit-norm training samples, on and off their "
              f"pattern's mask (sigma_train={cfg.sigma_train}, seed {cfg.seed}).")
report.glue("norm_dev", float(max(abs(stats.loc["norm min"] - 1).max(),
                                  abs(stats.loc["norm max"] - 1).max())), ".1e")
report.glue("off_std_err", float(abs(stats.loc["off-pattern std", "train"] /
                                     stats.loc["predicted off std", "train"] - 1)), ".2%")

# %% [markdown]
# The norms differ from 1 by at most {glue:text}`norm_dev` (float32 rounding) and the
# measured off-pattern spread is within {glue:text}`off_std_err` of the prediction.
#
# ## Patterns and classes in two dimensions
#
# Two projections of training samples to the plane. In the raw 500-dimensional space
# the noise dominates every pair of principal directions (top row): nothing of the
# patterns shows. The bottom row maps each sample's correlations with the
# $n_\text{pat}$ centroids to the plane, pattern $k$ at angle $2\pi k / n_\text{pat}$
# (class 0 on the upper half circle, class 1 on the lower one): the patterns are there,
# as clusters that overlap their neighbours, and the classes are groups of them. This
# is the structure a network has to find from the class labels alone.

# %% tags=["hide-input"]
report.figure(plots.projection(data.x_train, data.p_train, data.y_train, data.centroids,
                               n_projection),
              f"Projections of {min(n_projection, cfg.n_train)} "
              f"training samples (sigma_train={cfg.sigma_train}, seed {cfg.seed}).")

# %% [markdown]
# ## The difficulty coefficient (equation 2)
#
# Section 4.2.2 calls a sample *difficult* when it correlates more with the centroids
# of the other class than with those of its own:
#
# $$d(\mathbf x) = \Big\langle \mathbf x, \sum_{k \notin \mathcal C} \mathbf c_k \Big\rangle
#   - \Big\langle \mathbf x, \sum_{k \in \mathcal C} \mathbf c_k \Big\rangle,
#   \qquad \text{difficult} \iff d > 0.$$
#
# Below, its distribution on training sets drawn with the same masks at several noise
# levels: the share of difficult samples grows with $\sigma$, which is the lever of
# Sections 3 and 4.2.

# %% tags=["hide-input"]
from dataclasses import replace  # noqa: E402

d_by_sigma = {}
for s in sigmas:
    d_s = make_synthetic(replace(cfg, sigma_train=s))
    d_by_sigma[s] = difficulty(d_s.x_train, d_s.y_train, d_s.centroids)
frac = {s: float((d > 0).float().mean()) for s, d in d_by_sigma.items()}
display(pd.Series(frac, name="share of difficult samples (d > 0)").to_frame().T)
d_main = difficulty(data.x_train, data.y_train, data.centroids)
report.glue("difficult_share", float((d_main > 0).float().mean()), ".1%")
report.glue("difficult_count", int((d_main > 0).sum()))
report.figure(plots.difficulty_hist(d_by_sigma),
              f"Difficulty coefficient d of the training samples for several sigma "
              f"(same masks, seed {cfg.seed}).")

# %% [markdown]
# At the paper's $\sigma = 0.4$, {glue:text}`difficult_count` training samples
# ({glue:text}`difficult_share`) are difficult. They are the samples whose growing share
# of the loss the paper holds responsible for the winner-take-most mechanism
# (Section 4.2.2, our Figure 5 chapter).
