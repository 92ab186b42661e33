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
# # 5. Related measures: sample difficulty, gradient coherence, intraclass clustering
#
# Section 5 links the winner-take-most mechanism to three bodies of work without
# measuring anything in its own setup. This chapter measures them, on the runs of the
# earlier chapters (loaded from the cache; the same parameters as those chapters in
# this build):
#
# 1. **Sample difficulty and learning order** (5.1): "easy samples are learned before
#    difficult ones" and "the loss of difficult samples increases in the first
#    training iterations" (Arpit et al., 2017; Jiang et al., 2021).
# 2. **Gradient coherence** (5.2; Chatterjee, 2020): the coherence of per-sample
#    gradients, for all samples and for the easy and difficult groups, over training.
# 3. **Intraclass clustering** (5.3; Carbonnelle & De Vleeschouwer, 2021): the
#    neuron-level measures $c_1$ and $c_3$ against generalization over the
#    $\sigma_\text{train}$ grid of Section 3: "the better the clusters of a class are
#    differentiated, the better the generalization performance".

# %% tags=["parameters"]
rise_window: int = 20  # the "first epochs": learning order and the difficult loss's rise
coherence_seeds: int = 3  # Section 4.1 seeds on which coherence is traced
snapshots: list[int] = [0, 1, 2, 3, 5, 7, 10, 15, 20, 30, 50, 75, 100, 150, 200, 300, 400]  # their weights kept
clustering_split: str = "test"  # samples on which c1 and c3 are computed: "train" or "test"
threads: int = 0  # CPU threads for torch (0: torch's default)

# %% tags=["remove-input"]
from dataclasses import replace

import pandas as pd

from wtmlib.analysis import measures, tables
from wtmlib.book import chapter, plots, report
from wtmlib.claims import evidence
from wtmlib.claims.registry import REPRODUCED
from wtmlib.results import experiments, pool
from wtmlib.data import difficulty, make_synthetic
from wtmlib.results.runs import load_data_of, run
from wtmlib.analysis import selectivity
from wtmlib.book import params

section = chapter.setup("related", globals(), "4")
noise = params.chapter_parameters("noise")  # Section 3's grid, for Section 5.3
data4, model4, train4 = section.configs
reading_name = section.reading
seeds4 = list(range(section.wtm["n_seeds"]))
runs4 = pool.seed_runs(data4, model4, train4, seeds4, "section4")
datas4 = [load_data_of(r) for r in runs4]
# Section 5.2's coherence reads the weights over training: these seeds re-run keeping them
snap_runs = [run(*job, "section4") for job in experiments.coherence_jobs(data4, model4, train4, section.params,
                                                                      len(seeds4))]

# %% [markdown]
# ## 1. Learning order of easy and difficult samples
#
# Training accuracy of the regular ($d \le 0$) and difficult ($d > 0$) samples over
# training, and the mean loss of each group (Section 4.1 runs, full batch).

# %% tags=["hide-input"]
h = runs4[0].history
report.figure(plots.curves({"regular: accuracy": h["acc_regular"],
                            "difficult: accuracy": h["acc_difficult"],
                            "regular: mean loss": h["loss_regular"],
                            "difficult: mean loss": h["loss_difficult"]},
                           xlabel="epoch", ylabel="accuracy / loss", logx=True),
              f"Training accuracy and mean loss of the regular and the difficult samples "
              f"(Section 4.1 model, seed {seeds4[0]}).")


control = pool.seed_runs(*experiments.linear_control(data4, model4, train4),
                         range(params.chapter_parameters("ablation")["ablation_seeds"]), "section4")
found, order = evidence.learning_order(runs4, rise_window, control)
display(order)
lead, rise = found["S5-easy-first"].values, found["S5-difficult-loss-rises"].values
evidence.save(found)
report.glue("lead", float(lead.mean()), ".2f")
report.glue("rise", float(rise.mean()), ".3f")

# %% [markdown]
# Over the first epochs, the regular group's training accuracy exceeds the difficult
# group's by {glue:text}`lead` on average (positive: easy samples are learned first).
# The difficult group's mean loss rises
# by at most {glue:text}`rise` above its initial value in the first epochs (positive:
# it rises, as the paper says).
#
# ## 2. Gradient coherence over training
#
# Coherence of the per-sample gradients (Chatterjee & Zielinski, 2020),
# $\alpha = \lVert \sum_i g_i \rVert^2 / (m \sum_i \lVert g_i \rVert^2)$: 1 when all
# per-sample gradients are equal, $1/m$ when they are orthogonal. Computed in closed
# form for the MLP of equation (1) from the weights stored after the snapshot epochs,
# for all training samples, the regular and the difficult group, and per hidden neuron
# (the ReLU argument of Section 4.2.3: only samples that activate a neuron contribute
# to its gradient).

# %% tags=["hide-input"]
rows = []
for seed, res, d in zip(seeds4[:coherence_seeds], snap_runs, datas4):
    difficult = (difficulty(d.x_train, d.y_train, d.centroids) > 0).numpy()
    for k, epoch in enumerate(res["snapshot_epochs"]):
        w1, w2 = res["snapshot_hidden.weight"][k], res["snapshot_out.weight"][k][0]
        b2 = float(res["snapshot_out.bias"][k][0])
        rows.append(dict(seed=seed, epoch=int(epoch), **selectivity.coherence_by_group(
            w1, w2, b2, d.x_train, d.y_train, {"regular": ~difficult, "difficult": difficult})))
coh = pd.DataFrame(rows)
display(coh.round(4))
early_coherence = evidence.coherence_early(coh)
report.glue("verdict_coherence", evidence.save(early_coherence)["S5-coherence-early"])
report.glue("coherence_ratios", early_coherence["S5-coherence-early"].note)
c0 = coh[coh.seed == seeds4[0]].set_index("epoch")
cross = measures.loss_share_crossing(h["share_difficult"], h["share_regular"])
report.figure(plots.panels_vs(c0.index.values + 1, {"gradient coherence alpha": {
    g: c0[g].values for g in ("all", "regular", "difficult", "per-neuron median")}},
    xlabel="epoch + 1", logx=True),
    f"Gradient coherence over training (seed {seeds4[0]}), from the stored weights. "
    + (f"The loss shares cross at epoch {cross}." if cross is not None
       else "The loss shares never cross in this run."))
report.glue("coh_start", float(c0["all"].iloc[0]), ".3f")
report.glue("coh_end", float(c0["all"].iloc[-1]), ".3f")
report.glue("coh_peak_epoch", int(c0["all"].idxmax()))
report.glue("coh_peak", float(c0["all"].max()), ".4f")
report.glue("coh_drop", float(c0["all"].max() / c0["all"].iloc[-1]), ".0f")
report.glue("cross_text", f"at epoch {cross}" if cross is not None else "never")
peak = c0["all"].idxmax()
reg, dif = float(c0.loc[peak, "regular"]), float(c0.loc[peak, "difficult"])
report.glue("coh_sentence", (
    f"At that peak the regular samples' gradients are more coherent than the difficult "
    f"samples' ({reg:.4f} against {dif:.4f}); " if reg > dif else
    f"At that peak the regular samples' gradients are not more coherent than the "
    f"difficult samples' ({reg:.4f} against {dif:.4f}); ") + (
    "after it the coherence of all samples falls, as Section 5.2 argues (\"the previous "
    "intuition only holds at the very beginning of training\")." if c0["all"].iloc[-1] <
    c0["all"].max() else "it does not fall after the peak."))

# %% [markdown]
# Coherence of all samples: {glue:text}`coh_start` at initialization, a peak of
# {glue:text}`coh_peak` after epoch {glue:text}`coh_peak_epoch`, then a fall by a factor
# {glue:text}`coh_drop` to {glue:text}`coh_end` at the end. {glue:text}`coh_sentence`
# The loss shares cross {glue:text}`cross_text` in this run; compare the peak with the
# half-rise and onset epochs of the Section 4.2.2 chapter. Over the seeds traced, the
# coherence at the end over its largest value in the first epochs
# ({glue:text}`coherence_ratios`): {glue:text}`verdict_coherence`.
#
# ## 3. Intraclass clustering and generalization
#
# For every model of the Section 3 grid ($\sigma_\text{train}$ × seeds, SGD until fit):
# $c_1$ (subclass selectivity: for each pattern $s$ of class $c$ and neuron $n$,
# $(\mu_s - \mu_{c \setminus s}) / (\sigma_s + \sigma_{c \setminus s})$, max over
# neurons, median over patterns) and $c_3$ (within-class over total standard
# deviation, averaged over the top half of the neurons for each class, then over the
# classes), on the hidden pre-activations of the model's `clustering_split` samples, against its test
# accuracy at $\sigma_\text{test} = 0.4$.

# %% tags=["hide-input"]
data3, model3, train3 = experiments.section3(noise)
grid3 = [(replace(d, sigma_train=s), t) for d, t in
         (pool.seeded(data3, train3, seed) for seed in range(noise["n_seeds"]))
         for s in noise["sigmas_train"]]
clus = tables.clustering_table([run(d, model3, t, "noise") for d, t in grid3],
                                 [make_synthetic(d) for d, _ in grid3], clustering_split)
rho = tables.clustering_correlations(clus)
rho_c1, rho_c3, s_best = rho["rho_c1"], rho["rho_c3"], rho["best_sigma_train"]
rho_low, rho_high = rho["rho_c1_low"], rho["rho_c1_high"]
report.figure(plots.scatter_groups(clus, "c1", "test_acc", "sigma_train"),
              f"c1 against test accuracy (sigma_test={noise['sigma_test']}) for every model of "
              f"the Section 3 grid; Spearman {rho_c1:.2f} (c3: {rho_c3:.2f}).")
display(clus.groupby("sigma_train")[["test_acc", "c1", "c3"]].mean().round(3))
side_verdicts = {cid.split("-")[2]: v for cid, v in evidence.save(evidence.clustering(
    rho, clus.sigma_train, clustering_split)).items()}
report.glue("rho_c1", rho_c1, ".2f")
report.glue("rho_c3", rho_c3, ".2f")
report.glue("n_models", len(clus))
report.glue("s_best", f"{s_best:g}")
report.glue("rho_low", rho_low, ".2f")
report.glue("rho_high", rho_high, ".2f")
report.glue("verdict_below", side_verdicts["below"])
report.glue("verdict_above", side_verdicts["above"])
report.glue("clus_split_sentence", (
    f"Both measures are computed on each model's held-out test samples (all at sigma_test = "
    f"{noise['sigma_test']:g}), so a model's own training noise does not enter them."
    if clustering_split == "test" else "Both measures are computed on each model's own "
    "training samples, whose noise is the model's training noise (confounded)."))
holds = {side: v == REPRODUCED for side, v in side_verdicts.items()}
report.glue("clus_sentence", (
    "holds on both sides of the optimum" if all(holds.values()) else
    "holds on the low-noise side only" if holds["below"] else
    "holds on the high-noise side only" if holds["above"] else
    "holds on neither side of the optimum"))

# %% [markdown]
# Over the {glue:text}`n_models` models, the Spearman correlation of $c_1$ with test
# accuracy is {glue:text}`rho_c1`, that of $c_3$ {glue:text}`rho_c3`. The relation need not
# be monotonic across the best training noise ({glue:text}`s_best`), so the verdicts read
# each side: {glue:text}`rho_low` among the models at or below it
# ({glue:text}`verdict_below`), {glue:text}`rho_high` at or above it
# ({glue:text}`verdict_above`). The paper's sentence {glue:text}`clus_sentence`.
# {glue:text}`clus_split_sentence`
