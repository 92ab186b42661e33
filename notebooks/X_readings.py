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
# # The paper's ambiguous settings: readings x claims
#
# Section 2.2 trains the Section 4 model with "the Layca optimizer" at "a learning rate
# of $3^{-3}$" and says nothing more. Three things are open:
#
# * **Which layers Layca rotates.** Layca keeps every layer's norm at its initial value.
#   The Layca authors' code rotates both layers (the *literal* reading). With PyTorch's
#   default initialization and unit-norm inputs, a network whose output norm is fixed
#   cannot make its logits large.
# * **The output layer's learning rate**, if W2 is trained by plain SGD instead:
#   swept over `output_lrs`.
# * **Whether the output bias b2 trains**: frozen (as in the Layca authors' code) or
#   trained at the output layer's rate.
#
# and "$3^{-3}$" itself (1/27 in the Layca authors' $3^{-k}$ convention; $3 \cdot 10^{-3}$
# is the other reading). Each reading below is trained over several seeds at the
# chapter's size. One of them is chosen for the book's Section 4 and 5 figures and
# verdicts by the rule in force (`wtmlib.claims.reading_rule.RULE`, since
# {glue:text}`rule_date`), the paper's own fitting criterion, which never reads the test
# set:
#
# > {glue:text}`rule_text`
#
# It replaced a rule registered before the sweep's first result was read, which chose
# the reading whose test accuracy is closest to the paper's 96.1 % (here:
# {glue:text}`closest_choice`). The new rule was written after the sweep's results at
# the paper's settings were seen, so S-acc stays counted as calibrated there (the
# registry logs both rules beside it). The other columns below are the sensitivity
# analysis: which verdicts change with the reading, and which do not.

# %% tags=["parameters"]
columns_shown: int = 2  # grid neighbours of the chosen reading shown beside it (each side)
threads: int = 1  # CPU threads for torch in each process (0: torch's default)
workers: int = 2  # local worker processes for the missing runs (0 or 1: this process)

# %% tags=["remove-input"]
import numpy as np
import pandas as pd
from IPython.display import HTML, display

from wtmlib.analysis import measures, signs, tables
from wtmlib.book import chapter, params, plots, report
from wtmlib.claims import evidence, reading_rule, readings, registry, scorecard, store
from wtmlib.model import build_model, model_from_arrays
from wtmlib.results import experiments, pool, provenance
from wtmlib.results.runs import load_data_of

section = chapter.setup("readings", globals(), "4")
wtm, difficulty, related = (params.chapter_parameters(n) for n in ("wtm", "difficulty", "related"))
data_cfg, model_cfg, train_cfg = section.configs
chosen, configs, classes = section.reading, section.reading_configs, section.classes
seeds = list(range(wtm["reading_seeds"]))
report.glue("rule_date", registry.READING_RULE.date)
metrics = readings.metrics(data_cfg, model_cfg, configs, seeds)
report.glue("closest_choice", readings.choose_closest(metrics, configs))
report.glue("rule_text", reading_rule.RULE)
report.glue("chosen", chosen)
profile = provenance.current_profile()

# %% [markdown]
# ## The sweep
#
# Per reading, over seeds {glue:text}`seed_list`: test and training accuracy, the
# Figure 5 crossing (the first epoch at which the difficult samples carry as much of
# the training loss as the regular ones, averaged over the seeds where it happens),
# and the winner-take-most measure (median over neurons of the active-class rank
# correlation from epoch {glue:text}`early_epoch`). Mean ± standard deviation.

# %% tags=["hide-input"]
def output_scale(rs, datas, rc) -> dict:
    """What the output-scale section shows of runs ``rs`` (one per seed, on ``datas``):
    the loss share and within-class spread over training, the final mean |logit| and
    |W2|, and the winner-take-most measures ``rc``."""
    return dict(
        runs=[dict(share=r.history["share_difficult"], spread=measures.within_class_spread(
            r["pattern_means_train"], classes, signs.active_class_of(r))) for r in rs],
        logit=[float(model_from_arrays(r.arrays, model_cfg)(d.x_train).detach().abs().mean())
               for r, d in zip(rs, datas)],
        logit0=float(build_model(data_cfg.n_dim, model_cfg, 0)(datas[0].x_train).detach()
                     .abs().mean()),
        w2=[float(np.linalg.norm(r["out.weight"])) for r in rs],
        w2_0=float(build_model(data_cfg.n_dim, model_cfg, 0).out.weight.detach().norm()),
        rc=[float(v) for v in rc])


rows, scales, datas, timings = {}, {}, None, []
control = pool.seed_runs(*experiments.linear_control(data_cfg, model_cfg, train_cfg),
                         range(params.chapter_parameters("ablation")["ablation_seeds"]), "section4")
for name, cfg in configs.items():
    rs = pool.seed_runs(data_cfg, model_cfg, cfg, seeds, "section4")
    table = tables.wtm_table(rs, wtm["early_epoch"])  # once for the row and the claims
    rows[name] = [tables.reading_row(r, wtm["early_epoch"], table.loc[s])
                  for r, s in zip(rs, seeds)]
    found = evidence.mechanism(rs, wtm["early_epoch"], table)
    crossing, timing = evidence.figure5(rs, difficulty["onset_factor"], control)
    found |= crossing | evidence.learning_order(rs, related["rise_window"], control)[0]
    datas = datas or [load_data_of(r) for r in rs]  # every reading's seed draws the same S
    found |= evidence.counterbalance(rs, datas, model_cfg)
    timings.append(timing)
    evidence.save(found, f"{profile}@{reading_rule.reading_slug(name)}")
    if name in (chosen, reading_rule.LITERAL):  # the output-scale condition, below
        scales[name] = output_scale(rs, datas, [row["rank_corr_active_median"]
                                                for row in rows[name]])
    del rs
# the output-scale condition, below: the chosen reading with W2's norm projected back to its
# initial value after every step (only the norm differs from the chosen reading's own runs)
norm_cfg = experiments.norm_fixed(configs[chosen])
if norm_cfg is not None:
    rs = pool.seed_runs(data_cfg, model_cfg, norm_cfg, seeds, "section4")
    scales["norm fixed"] = output_scale(rs, datas, list(tables.wtm_table(
        rs, wtm["early_epoch"])["rank_corr_active_median"].astype(float)))
    del rs
free, literal = scales[chosen], scales[reading_rule.LITERAL]
fixed = scales.get("norm fixed")
same_time = evidence.save(evidence.same_time(timings))  # every reading and seed
verdicts_scale = evidence.save({
    "B-output-scale": evidence.remaining(
        fixed["rc"], free["rc"], "W2 by SGD at the chosen rate, projected back to its "
        "initial norm", "fixing W2's norm") if fixed is not None else evidence.Evidence(
        [np.nan], 1.0, "1: fixing W2's norm changes nothing", f"the reading {chosen} "
        "trains W2 by Layca: no SGD output layer whose norm could be fixed", n=0),
    "B-output-scale-literal": evidence.remaining(
        literal["rc"], free["rc"], "W2's norm fixed (Layca on W2, the literal reading)",
        "Layca on W2")})
verdict, verdict_literal = verdicts_scale["B-output-scale"], verdicts_scale["B-output-scale-literal"]
sweep = tables.sweep_summary(rows)
shown = ["test_acc", "train_acc", "rank_corr_active_median", "crossing"]
table = tables.with_sd(sweep[shown].astype(float), sweep[[f"{c} sd" for c in shown[:3]]]
                         .set_axis(shown[:3], axis=1), 3)
table["crossing"] = [f"{c:.0f} ({k})" if np.isfinite(c) else f"never (0/{k.split('/')[1]})"
                     for c, k in zip(sweep.crossing.astype(float), sweep.crossed)]
table.index = [f"{n}  (chosen)" if n == chosen else n for n in table.index]
display(table.rename(columns={"test_acc": "test accuracy", "train_acc": "training accuracy",
                              "rank_corr_active_median": "winner-take-most (rank corr.)",
                              "crossing": "crossing epoch (seeds)"}))
report.glue("seed_list", ", ".join(map(str, seeds)))
report.glue("early_epoch", wtm["early_epoch"])
fits = [n for n, m in metrics.items() if min(m["train_acc"]) >= 1.0
        and n not in (reading_rule.LITERAL, reading_rule.OTHER_LR)]
report.glue("choice_sentence", (
    f"{len(fits)} of the grid's {len(configs) - 2} readings classify every training sample "
    f"correctly in every seed; the one with the smallest output rate is {chosen}, with "
    f"{100 * np.mean(metrics[chosen]['test_acc']):.2f} % test accuracy (the paper: "
    f"{reading_rule.PAPER_ACC_S:.1%})" if fits else f"no reading of the grid fits its "
    f"training set in every seed; {chosen} has the highest training accuracy"))

# %% [markdown]
# {glue:text}`choice_sentence`.
#
# ## Readings x claims
#
# Each claim measured on each reading's runs the way its chapter measures it, judged by
# the same rule. Columns: the literal reading, the output rate 1 with b2 frozen (this
# book's main reading before the sweep), the chosen reading, its neighbours in the
# grid, Layca at 3e-3, and a control: the linear model (no ReLU) under the chosen
# reading, where the Section 4.1 claims should fail. A claim that does not read the
# Section 4 runs (Section 3) is the same under every reading; the MNIST model of Appendix
# A.1 (its output layer under the chosen reading), the ablations, the causal test and the
# gated sign are run under the chosen reading only (their chapters), so the chosen column
# shows the chapters' values. `wtm claims --reading NAME` prints any reading's column.

# %% tags=["hide-input"]
grid = [n for n in configs if n not in (reading_rule.LITERAL, reading_rule.OTHER_LR)]
i = grid.index(chosen)
neighbours = [n for n in grid[max(0, i - columns_shown):i + columns_shown + 1] if n != chosen]
order = dict.fromkeys([reading_rule.LITERAL, reading_rule.grid_name(1.0, "frozen"), chosen,
                       *neighbours, reading_rule.OTHER_LR])
columns = {(f"{n} (chosen)" if n == chosen else n): (profile if n == chosen else
                                                     f"{profile}@{reading_rule.reading_slug(n)}")
           for n in order if n in configs}
control = store.claims_dir(f"{profile}@{reading_rule.CONTROL_LINEAR}")
if control.is_dir():  # the linear ablation under the chosen reading (Section 4.2.1 chapter)
    columns["control: no ReLU (linear)"] = f"{profile}@{reading_rule.CONTROL_LINEAR}"
same = {c.id: "the same under every reading (Section 3 runs: no Section 4 run enters it)"
        for c in registry.CLAIMS if c.chapter == "03_noise" or c.id.startswith("S5-clustering")}
same.update({c.id: "measured under the chosen reading only (the Appendix A.1 chapter, its "
             "MNIST model's output layer under this reading, the chapter's earlier fixed "
             "setting beside it)" for c in registry.CLAIMS if c.chapter == "A1_mnist"})
display(HTML(scorecard.readings_html(columns, same)))
verdicts = {title: {r["id"]: r["verdict"] for r in store.table(prof)}
            for title, prof in columns.items() if not title.startswith("control")}
moved = [c.id for c in registry.CLAIMS if c.id not in same and len(
    {v[c.id] for v in verdicts.values() if v[c.id] != registry.MISSING}) > 1]
report.glue("moved", ", ".join(moved) if moved else "none")
report.glue("n_moved", len(moved))

# %% [markdown]
# Claims whose verdict differs between the readings shown (the control aside;
# {glue:text}`n_moved`):
# {glue:text}`moved`. These are the conclusions that depend on how the paper's optimizer
# settings are read; the others do not.
#
# ## A condition of ours: the output scale must grow
#
# Three runs of each seed, W1 by Layca in all three: **W2 free** (plain SGD at the chosen
# reading's rate, {glue:text}`chosen`: the chosen reading's own runs), **W2 norm fixed**
# (the same SGD steps, W2 projected back to its initial norm after every step: only the
# norm differs from the free run) and **Layca on W2** (the literal reading: W2 rotated at
# the Layca rate, its norm fixed too, but its whole optimizer changed). With a fixed
# output norm and unit-norm inputs the logits cannot grow far beyond their initial size.
# For each: the mean |logit| on the training set at the end against its value at
# initialization, |W2| at the end, the difficult samples' share of the training loss over
# training, and the winner-take-most measure.

# %% tags=["hide-input"]
shown_scale = {"W2 free": free, **({"W2 norm fixed": fixed} if fixed is not None else {}),
               "Layca on W2 (literal)": literal}
epochs_axis = np.arange(len(free["runs"][0]["share"]))


def over_seeds(sc, key, reduce=lambda v: v):
    values = np.array([reduce(run[key]) for run in sc["runs"]], dtype=float)
    return values.mean(0), values.std(0)


curves = {"difficult share of the loss": {t: over_seeds(sc, "share") for t, sc in shown_scale.items()},
          "median active-class spread of pattern means": {
              t: over_seeds(sc, "spread", lambda v: np.nanmedian(v, 1))
              for t, sc in shown_scale.items()}}
report.figure(plots.panels_vs(epochs_axis, {k: {t: m for t, (m, _) in c.items()}
                                            for k, c in curves.items()}, "epoch", logx=True,
                              bands={k: {t: sd for t, (_, sd) in c.items()}
                                     for k, c in curves.items()}),
              f"W2 free (the chosen reading, {chosen}), W2 by the same SGD with its norm "
              f"projected back to its initial value, and Layca on W2 (the literal reading), "
              f"mean over seeds {seeds} (band: standard deviation): the difficult samples' "
              "share of the training loss (left) and the median over neurons of the "
              "within-class spread of pattern means in the active class (right).")
scale = pd.DataFrame({
    "mean |logit| at the end": [np.mean(sc["logit"]) for sc in shown_scale.values()],
    "mean |logit| at initialization (seed 0)": [sc["logit0"] for sc in shown_scale.values()],
    "|W2| at the end": [np.mean(sc["w2"]) for sc in shown_scale.values()],
    "|W2| at initialization (seed 0)": [sc["w2_0"] for sc in shown_scale.values()],
    "largest difficult share": [np.mean([r["share"].max() for r in sc["runs"]])
                                for sc in shown_scale.values()],
    "winner-take-most (rank corr.)": [np.mean(sc["rc"]) for sc in shown_scale.values()]},
    index=list(shown_scale))
display(scale.round(3))
for tag, sc in (("free", free), ("norm", fixed), ("literal", literal)):
    report.glue(f"scale_{tag}", np.mean(sc["logit"]) if sc else "(not run)", ".2f" if sc else None)
    report.glue(f"rc_{tag}", np.mean(sc["rc"]) if sc else "(not run)", ".2f" if sc else None)
report.glue("verdict_scale", verdict)
report.glue("verdict_literal", verdict_literal)
report.glue("norm_sentence", chapter.by_verdict(
    verdict,
    "Holding W2's norm alone removes the mechanism: the output scale must grow",
    "Holding W2's norm alone weakens the mechanism without removing it: the growth of the "
    "output scale helps it, but is not all it needs",
    "Holding W2's norm alone leaves the mechanism in place: the output scale need not grow",
    f"This build has no run with W2's norm fixed alone (the reading {chosen} does not train "
    "W2 by SGD), so the condition is not tested here" if fixed is None else "The condition "
    "cannot be judged at this build's settings (it needs F3-winner-take-most to hold)"))
report.glue("literal_sentence", chapter.by_verdict(
    verdict_literal,
    "Layca on W2 removes the mechanism",
    "Layca on W2 weakens the mechanism without removing it",
    "Layca on W2 leaves the mechanism in place",
    "The literal comparison cannot be judged at this build's settings"))

# %% [markdown]
# With W2 free the mean |logit| ends at {glue:text}`scale_free` and the winner-take-most
# measure at {glue:text}`rc_free`; with the same SGD steps and W2's norm fixed, at
# {glue:text}`scale_norm` and {glue:text}`rc_norm`; with Layca on W2, at
# {glue:text}`scale_literal` and {glue:text}`rc_literal`.
# {glue:text}`norm_sentence` (B-output-scale, the share of the mechanism left with the
# norm fixed, seed by seed: {glue:text}`verdict_scale`; rule in the registry).
# {glue:text}`literal_sentence` (B-output-scale-literal: {glue:text}`verdict_literal`), but
# that comparison changes W2's whole optimizer, not its norm alone; it is kept beside the
# controlled one so that the earlier comparison stays visible.

# %% [markdown]
# ## Figure 5's two dates, across the readings
#
# The paper says the difficult samples' share of the loss reaches the regular samples'
# "around the same time the winner-take-most phenomenon appears" (Section 4.2.2). Each
# reading and seed of the sweep gives both dates where both happen: the crossing, and
# the onset of the within-class spread growth (the Section 4.2.2 chapter's measures).
# Whether the dates move together is judged by their rank correlation (F5-same-time),
# the order they come in by the share of runs whose crossing is no later than the onset
# (F5-order: the order the paper's story needs).

# %% tags=["hide-input"]
pairs = {}
for name, timing in zip(configs, timings):
    both = timing[np.isfinite(timing.crossing.astype(float)) & np.isfinite(timing.onset.astype(float))]
    if len(both):
        pairs[name] = (both.onset.astype(float).values, both.crossing.astype(float).values)
report.figure(plots.date_pairs(pairs), "Onset of the within-class spread growth against "
              "the loss-share crossing, every reading and seed of the sweep where both happen "
              "(dashed: the same epoch).")
found_dates = evidence.same_time(timings)
report.glue("n_pairs", found_dates["F5-same-time"].n)
report.glue("rho_dates", float(found_dates["F5-same-time"].values[0]), ".2f")
report.glue("share_order", float(found_dates["F5-order"].values[0]), ".2f")
report.glue("verdict_same_time", same_time["F5-same-time"])
report.glue("verdict_order", same_time["F5-order"])

# %% [markdown]
# Over {glue:text}`n_pairs` runs where both happen, the rank correlation of the two dates
# is {glue:text}`rho_dates` ({glue:text}`verdict_same_time`), and the crossing comes no
# later than the onset in a share {glue:text}`share_order` of them
# ({glue:text}`verdict_order`).
