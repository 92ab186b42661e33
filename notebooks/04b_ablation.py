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
# # 4.2.1 Ablation: the conditions for the mechanism (Figure 4)
#
# Section 4.2.1: "the setup of Section 2 contains several elements without which the
# winner-take-most phenomenon does not occur: multiple hidden neurons, sufficient
# amounts of noise, and nonlinearity in the activation function. Without these
# necessary conditions, hidden neurons behave like the output neuron, classifying data
# according to the two supervision classes [...]; we also observe a decrease in model
# performance, with test accuracies ranging from 80 % to 84 %."
#
# We train the Section 4.1 model (its parameters, the same optimizer reading: see that
# chapter) without
# ReLU, with a single hidden neuron, and on a less noisy training set, each over several
# seeds, and then turn the three examples into curves: the winner-take-most measure
# and the test accuracy against the width and the training noise. The test set keeps
# the paper's $\sigma_\text{test} = 0.4$ throughout.

# %% tags=["parameters"]
ablation_sigma: float = 0.2  # the "less noisy data set" (the paper does not say which sigma)
widths: list[int] = [1, 2, 10, 100, 1000]  # hidden widths of the condition curves
grid_sigmas: list[float] = [0.2, 0.4, 0.8]  # training noise of the condition curves
grid_seeds: int = 1  # seeds of the condition curves
threads: int = 0  # CPU threads for torch (0: torch's default)

# %% tags=["remove-input"]
from dataclasses import replace

import numpy as np
import pandas as pd

from wtmlib import analyses, chapter, claims, measures, plots, report, sweeps
from wtmlib.data import pattern_class

P = report.parameters("ablation", globals())
P4 = report.chapter_parameters("wtm")  # the Section 4.1 model, data and training
data_cfg, model_cfg, train_cfg = chapter.section4(P4)
chapter.use_execution(P)
seeds, early_epoch = list(range(P4["n_seeds"])), P4["early_epoch"]
classes = pattern_class(data_cfg.n_pat).numpy()
plots.style()
report.show_parameters(P)

# %% tags=["hide-input"]
lean = replace(train_cfg, snapshots=())  # no figure reads an ablation's weights over time
setups = {
    "full model": (data_cfg, model_cfg, train_cfg),
    "no ReLU (linear)": (data_cfg, replace(model_cfg, activation="linear"), lean),
    "one hidden neuron": (data_cfg, replace(model_cfg, n_hidden=1), lean),
    f"less noise (sigma_train={ablation_sigma:g})": (replace(data_cfg, sigma_train=ablation_sigma),
                                                    model_cfg, lean),
}
runs = {name: sweeps.seed_runs(d, m, t, seeds, "section4")
        for name, (d, m, t) in setups.items()}
# not one of the paper's three: a single ReLU neuron with a frozen output bias can only
# say "active" or "inactive", so we also show it with the bias b2 trained by SGD
extra = "one hidden neuron, b2 trained by SGD"
runs[extra] = sweeps.seed_runs(data_cfg, replace(model_cfg, n_hidden=1),
                               replace(lean, biases="sgd"), seeds, "section4")
tables = {name: analyses.wtm_table(rs, early_epoch) for name, rs in runs.items()}
keys = ["test_acc", "rank_corr_active_median", "rank_corr_other_median",
        "spread_growth_active_median", "spread_growth_other_median", "intraclass_exceeds_share"]
summary = pd.DataFrame({name: t[keys].astype(float).mean() for name, t in tables.items()}).T
spread = pd.DataFrame({name: t[keys].astype(float).std(ddof=1) if len(t) > 1 else 0 * t[keys].astype(float).mean()
                       for name, t in tables.items()}).T
display(summary.round(3))
print("standard deviation over seeds:")
display(spread.round(3))

# %% [markdown]
# ## Figure 4
#
# The mean pre-activation of each pattern in the neuron with the largest $|W_2|$, for
# each setup (seed 0).

# %% tags=["hide-input"]
panels = []
for name, rs in runs.items():
    r = rs[0]
    top = measures.top_neurons(r["out.weight"], 1)[0]
    panels.append((r["pattern_means_train"][:, top, :],
                   f"{name} ({100 * r.metrics['test_acc']:.1f}%)"))
report.figure(plots.trajectory_grid([panels[:3], panels[3:]], classes),
              "Figure 4 re-made: pattern means over training in the neuron with the largest "
              f"|W2| (seed 0), for the full model and the three ablations; blue: class 0, "
              f"orange: class 1. Test accuracy at sigma_test={data_cfg.sigma_test} in brackets.")

# %% tags=["remove-cell"]
ablations = [n for n in setups if n != "full model"]  # the paper's three
abl_acc = 100 * summary.loc[ablations, "test_acc"]
for name, key in zip(ablations, ("linear", "one", "less")):
    report.glue(f"acc_{key}", float(abl_acc[name]), ".1f")
    report.glue(f"rc_{key}", float(summary.loc[name, "rank_corr_active_median"]), ".2f")
report.glue("acc_full", 100 * float(summary.loc["full model", "test_acc"]), ".1f")
report.glue("sg_full", float(summary.loc["full model", "spread_growth_active_median"]), ".2f")
report.glue("sg_less", float(summary.loc[ablations[2], "spread_growth_active_median"]), ".2f")
report.glue("acc_one_bias", 100 * float(summary.loc[extra, "test_acc"]), ".1f")
report.glue("rc_full", float(summary.loc["full model", "rank_corr_active_median"]), ".2f")
per_seed_acc = np.mean([100 * tables[n]["test_acc"].astype(float).values for n in ablations], 0)
claims.record_seeds("F4-ablation-acc", per_seed_acc,
                    note="; ".join(f"{n}: {a:.1f}" for n, a in abl_acc.items()))
gap = (tables["full model"]["rank_corr_active_median"].astype(float).values -
       np.max([tables[n]["rank_corr_active_median"].astype(float).values for n in ablations], 0))
claims.record_seeds("F4-ablation-no-wtm", gap,
                    note="full-model rank correlation minus the largest ablation's, per seed")

# %% [markdown]
# Test accuracy: full model {glue:text}`acc_full` %; without ReLU {glue:text}`acc_linear` %,
# one neuron {glue:text}`acc_one` %, less noise {glue:text}`acc_less` % (paper: 80-84 % for
# the three). Active-class rank correlation (winner-take-most when positive): full
# model {glue:text}`rc_full`; ablations {glue:text}`rc_linear`, {glue:text}`rc_one`,
# {glue:text}`rc_less`. With one hidden neuron the measure is that of a single neuron,
# not a median. The extra row, one neuron with its output bias trained, reaches
# {glue:text}`acc_one_bias` %: with the bias frozen at its initial value (the main
# reading, as in the Layca authors' code) a single ReLU neuron can separate the classes
# only if its output weight and the bias have opposite signs.
#
# ## The three conditions as curves
#
# The same measures against the hidden width, for several training-noise levels
# (seeds {glue:text}`grid_seed_list`).

# %% tags=["hide-input"]
report.glue("grid_seed_list", ", ".join(str(s) for s in range(grid_seeds)))
acc_grid = np.zeros((len(grid_sigmas), len(widths)))
rc_grid = np.zeros_like(acc_grid)
for i, s in enumerate(grid_sigmas):
    for j, w in enumerate(widths):
        rs = sweeps.seed_runs(replace(data_cfg, sigma_train=s), replace(model_cfg, n_hidden=w),
                              train_cfg if (s, w) == (data_cfg.sigma_train, model_cfg.n_hidden)
                              else lean, list(range(grid_seeds)), "section4")
        t = analyses.wtm_table(rs, early_epoch).astype(float)
        acc_grid[i, j] = t["test_acc"].mean()
        rc_grid[i, j] = t["rank_corr_active_median"].mean()
report.figure(plots.panels_vs(widths, {
    "active-class rank correlation": {f"sigma_train={s:g}": rc_grid[i] for i, s in enumerate(grid_sigmas)},
    "test accuracy": {f"sigma_train={s:g}": acc_grid[i] for i, s in enumerate(grid_sigmas)}},
    "hidden neurons", logx=True),
    "The winner-take-most measure (median over neurons of the active-class rank "
    f"correlation from epoch {early_epoch}) and the test accuracy (sigma_test="
    f"{data_cfg.sigma_test}) against the hidden width, one curve per training noise.")
display(pd.DataFrame(rc_grid, index=[f"sigma={s:g}" for s in grid_sigmas],
                     columns=[f"width {w}" for w in widths]).round(2))

# %% tags=["remove-cell"]
report.glue("verdict_acc", claims.verdict("F4-ablation-acc", float(abl_acc.mean())))
report.glue("verdict_nowtm", claims.verdict("F4-ablation-no-wtm", float(gap.mean())))
report.glue("abl_acc_mean", float(abl_acc.mean()), ".1f")

# %% [markdown]
# ## Agreement and disagreement
#
# Verdicts of this build: the ablations' accuracy (mean {glue:text}`abl_acc_mean` %,
# paper 80-84 %) {glue:text}`verdict_acc`; the mechanism absent without the three
# conditions {glue:text}`verdict_nowtm`.
#
# How to read the three examples:
#
# * **Without ReLU** the model is linear in its input: every hidden neuron can only
#   weigh the same class-difference direction, and its patterns follow the output
#   neuron's class split. Its accuracy is that of the best linear classifier on S.
# * **With one hidden neuron** there is nobody to share the work with: a neuron that
#   favoured some patterns of a class and switched the others off would misclassify
#   them, so the single neuron stays a class detector (Section 4.2.4).
# * **With less noise** there are fewer difficult samples to drive the mechanism (see
#   the data chapter for their share at each sigma). In the paper-profile runs it is
#   weakened rather than gone: a few patterns of the active class are still pushed down
#   (within-class spread growth {glue:text}`sg_less` against {glue:text}`sg_full` for the
#   full model) but the rank correlation stays at {glue:text}`rc_less`. This model is
#   also not worse on its own terms: its accuracy is measured at the paper's test
#   noise 0.4, where a model trained on cleaner data has not learned to handle the noise
#   (Section 3.1's second sub-task).
#
# The curves generalize the examples: the measure is read at each width and noise
# level, so a reader can see where the mechanism switches on rather than take three
# points for a law.
