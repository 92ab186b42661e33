"""Each claim's evidence from runs: per-seed values, the null, and what they mean.

A function per group of claims turns stored runs into ``{claim_id: Evidence}``; the
chapters ``save`` them for their reading, and the readings page does the same for every
reading of the paper's optimizer settings (``wtmlib.claims.readings``), so a claim is measured
one way wherever it is measured.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd
import torch

from wtmlib.claims import store
from wtmlib.claims.registry import MODERATE_NOISE
from wtmlib.results.experiments import best_sigma_train
from wtmlib.analysis.tables import moderate_margins, null_table, wtm_table
from wtmlib.data import pattern_class
from wtmlib.analysis.measures import (counterbalance_gap, favoured_pattern,
                                     local_misclassification, loss_share_crossing,
                                     pattern_gradient_shares, share_level_correlation,
                                     spread_onset, spread_ratios, within_class_spread)
from wtmlib.model import build_model, model_from_arrays
from wtmlib.training.fast.record import gated_sign as step_gated_sign
from wtmlib.analysis.signs import mean_dz_sign, sign_class_correlation
from wtmlib.analysis.signs import active_class_of
from wtmlib.analysis.nulls import falling_shares
from wtmlib.analysis.stats import median, spearman, t_interval


class Evidence(NamedTuple):
    values: list  # one per seed (or model)
    null: object = None  # a number, one per seed, or None
    null_note: str = ""
    note: str = ""
    n: int | None = None  # what the value counts when it is one number over n runs (seeds)


INIT = "the same runs at initialization (epoch 0)"
# the accuracy a model that ignores its input reaches on two balanced classes: printed
# beside every accuracy claim (their rules compare with the paper's number, not with it)
CHANCE = (50.0, "chance: two balanced classes")


def mechanism(results: list, early_epoch: int, table=None) -> dict:
    """S-acc and the claims of Section 4.1 / 4.2.4 measured on the runs' pattern means
    and derivative signs, each against its null (``nulls.init_nulls``, or chance);
    ``table``: the runs' ``wtm_table`` when already computed."""
    t = (wtm_table(results, early_epoch) if table is None else table).astype(float)
    n = null_table(results).astype(float)
    seeds = "seeds " + ", ".join(str(int(s)) for s in t.index)
    note = f"early epoch {early_epoch}; all neurons; {seeds}"
    return {
        "S-acc": Evidence(100 * t["test_acc"], *CHANCE, seeds),
        "F3-winner-take-most": Evidence(t["rank_corr_active_median"],
                                        n["rank_corr_active_median"],
                                        "0: a change independent of the level", note),
        "F3-one-class": Evidence(t["rank_corr_active_median"] - t["rank_corr_other_median"],
                                 n["rank_corr_active_median"] - n["rank_corr_other_median"],
                                 "0: no class preferred", note),
        "F3-intraclass": Evidence(t["intraclass_exceeds_strict_share"],
                                  n["intraclass_exceeds_strict_share"],
                                  "strict share in " + INIT, note),
        "F3-divide-and-conquer": Evidence(t["favoured_entropy"], n["favoured_entropy"],
                                          "entropy of the favourites in " + INIT, note),
        "F3-init-decides": Evidence(t["init_winner_fraction"], t["init_winner_chance"],
                                    "chance: 1 / the patterns of the neuron's class", note),
        "F3-sign-class": Evidence(t["sign_class_abs_corr_median"],
                                  n["sign_class_abs_corr_median"],
                                  "1 for any network, trained or not", note),
        "F3-losers-fall": losers_fall(results, early_epoch),
    }


def losers_fall(results: list, early_epoch: int) -> Evidence:
    """F3-losers-fall: per run, the share of the losers (active-class patterns below their
    neuron's median at ``early_epoch``) whose mean falls by the end, against the share of
    all active-class patterns that fall (``nulls.falling_shares``)."""
    shares = []
    for r in results:
        means = np.asarray(r["pattern_means_train"], dtype=float)
        shares.append(falling_shares(means, pattern_class(means.shape[-1]).numpy(),
                                     active_class_of(r), early_epoch))
    return Evidence([losers for _, losers in shares], [fell for fell, _ in shares],
                    "the share of all the active class's patterns that fall",
                    f"from epoch {early_epoch} to the end; all neurons")


def gated_sign_at(x, y, w1, w2, relu: bool = True) -> np.ndarray:
    """sign(dL/dz) ``[n, h]`` of one full-batch step at weights ``w1``, ``w2`` on samples
    ``x``, ``y``: the fast engine's closed form (``fast.record.gated_sign``) with
    sign(dL/dlogit) = sign(sigma(f) - y) = ``1 - 2y`` whatever the logit."""
    return step_gated_sign(torch.as_tensor(0.5 - np.asarray(y, dtype=np.float32)),
                           torch.as_tensor(w2), torch.as_tensor(x), torch.as_tensor(w1),
                           relu).numpy()


def gated_sign_correlations(result, data, model_cfg) -> tuple[float, float]:
    """``(trained, first step)``: the median over neurons of |corr(mean sign of dL/dz,
    class)| over all steps, and the same at the first step, from the initial weights
    (``model.build_model`` of the run's seed: the weights are drawn, not stored)."""
    y = data.y_train.numpy()
    trained = np.abs(sign_class_correlation(mean_dz_sign(result.arrays), y))
    init = build_model(data.x_train.shape[1], model_cfg, result.config["train"]["seed"])
    first = np.abs(sign_class_correlation(gated_sign_at(
        data.x_train, y, init.hidden.weight.detach(), init.w2.detach(),
        model_cfg.activation == "relu"), y))
    return float(np.nanmedian(trained)), float(np.nanmedian(first))


def gated_sign(results: list, datas: list, model_cfg) -> dict:
    """F3-sign-class-gated on runs that kept ``dz_sign_total`` (``keep_dz_sign``)."""
    pairs = [gated_sign_correlations(r, d, model_cfg) for r, d in zip(results, datas)]
    return {"F3-sign-class-gated": Evidence(
        [p[0] for p in pairs], [p[1] for p in pairs],
        "the same at the first step (initial weights)",
        f"{len(pairs)} runs that recorded sign(dL/dz)")}


def favourite_agreement(a, b, n_pat: int) -> float:
    """Among the neurons whose active class is the same in runs ``a`` and ``b`` of one
    architecture (neuron ``n`` against neuron ``n``), the share whose final favoured
    pattern is the same: chance is 1 / (the patterns of that class), not lowered by
    neurons whose active class changed."""
    classes = pattern_class(n_pat).numpy()
    act = [active_class_of(r) for r in (a, b)]
    fav = [favoured_pattern(r["pattern_means_train"][-1], classes, c) for r, c in zip((a, b), act)]
    kept = act[0] == act[1]
    return float(np.mean(fav[0][kept] == fav[1][kept])) if kept.any() else float("nan")


def causal(bases: list, same_init: list, new_init: list, n_pat: int) -> dict:
    """F3-init-decides-causal over several base runs: for base ``i``, the favourite
    agreement of the runs from its initial weights on new draws of the samples
    (``same_init[i]``), against runs from new weights on its samples (``new_init[i]``,
    the null); one value per (base, redraw)."""
    same = [favourite_agreement(b, r, n_pat) for b, runs in zip(bases, same_init) for r in runs]
    null = [favourite_agreement(b, r, n_pat) for b, runs in zip(bases, new_init) for r in runs]
    return {"F3-init-decides-causal": Evidence(
        same, float(np.mean(null)), "the same share for new initial weights on the same "
        f"samples, among neurons of the same active class (per run: "
        f"{', '.join(f'{v:.3f}' for v in null)})", f"{len(bases)} base seed(s) x "
        f"{len(same) // max(len(bases), 1)} redraws of the samples, and as many of the weights")}


def figure5(results: list, onset_factor: float, control: list | None = None
            ) -> tuple[dict, pd.DataFrame]:
    """F5-crossing-occurs, F5-crossing-epoch and F3-onset-epoch (Section 4.2.2), and the
    per-seed timing table:
    crossing of the loss shares, onset of the within-class spread growth (both infinite
    when they never happen), half-rise. ``control``: the linear network's runs (no ReLU,
    same data and training), whose share of seeds that cross is F5-crossing-occurs's
    null. A thinned run answers the onset for factors up
    to the one it was thinned for (``wtmlib.build.thin``); a larger one is refused."""
    rows = {}
    for res in results:
        kept_for = (res.info.get("thinned") or {"onset_factor": onset_factor})["onset_factor"]
        if kept_for is None or kept_for < onset_factor:  # wtmlib.build.thin.spread_records
            raise ValueError(f"run {res.key}: thinned for onset factors up to {kept_for}, "
                             f"asked for {onset_factor}; a build with this factor trains "
                             "it again whole (wtm run / wtm book)")
        h = res.history
        spread = within_class_spread(res["pattern_means_train"],
                                     pattern_class(res["pattern_means_train"].shape[2]).numpy(),
                                     active_class_of(res))
        share = h["share_difficult"]
        rows[res.config["train"]["seed"]] = dict(
            crossing=loss_share_crossing(h["share_difficult"], h["share_regular"]),
            onset=spread_onset(spread, onset_factor),
            half_rise=int(np.flatnonzero(share >= share[0] + 0.5 * (share.max() - share[0]))[0]),
            max_share_difficult=float(share.max()), final_share_difficult=float(share[-1]),
            test_acc=res.metrics["test_acc"])
    timing = pd.DataFrame(rows).T.rename_axis("seed")
    never = lambda key: np.array([np.inf if r[key] is None else r[key]  # noqa: E731
                                  for r in rows.values()], dtype=float)
    cross, onset = never("crossing"), never("onset")
    timing["crossing"], timing["onset"] = cross, onset  # inf: never
    listed = lambda a: ", ".join("never" if np.isinf(v) else f"{v:.0f}" for v in a)  # noqa: E731
    crossed = cross[np.isfinite(cross)]
    peaks = ", ".join(f"{v:.3f}" for v in timing.max_share_difficult.astype(float))
    null, null_note = 0.0, "0: never (no control given)"
    if control is not None:
        theirs = [loss_share_crossing(r.history["share_difficult"], r.history["share_regular"])
                  for r in control]
        null = sum(c is not None for c in theirs) / len(theirs)
        null_note = ("the linear network (no ReLU), same data and training: crossing per "
                     "seed " + listed([np.inf if c is None else c for c in theirs])
                     + "; largest difficult share " + ", ".join(
                         f"{r.history['share_difficult'].max():.3f}" for r in control))
    found = {"F5-crossing-occurs": Evidence(
        [len(crossed) / len(cross)], null, null_note, n=len(cross),
        note=f"crossing per seed: {listed(cross)}; largest difficult share per seed: {peaks}")}
    half = "half-rise per seed: " + ", ".join(f"{v:.0f}" for v in timing.half_rise)
    found["F5-crossing-epoch"] = Evidence(  # no crossing: no epoch (not testable, n = 0)
        [float(np.median(crossed)) if len(crossed) else np.inf], n=len(crossed),
        note=f"median of {listed(crossed)} (range {crossed.min():.0f}-{crossed.max():.0f}); "
        + half if len(crossed) else "no seed crosses; " + half)
    began = onset[np.isfinite(onset)]
    found["F3-onset-epoch"] = Evidence(  # no onset in any seed: not testable (n = 0)
        [float(np.median(began)) if len(began) else np.inf], n=len(began),
        note=f"onset per seed: {listed(onset)}; factor {onset_factor:g}")
    return found, timing


def first_reach(curve, level: float = 0.5) -> float:
    """First epoch at which ``curve`` (row e: the state after e epochs) reaches ``level``;
    infinite when it never does."""
    hit = np.flatnonzero(np.asarray(curve, dtype=float) >= level)
    return float(hit[0]) if len(hit) else np.inf


def gradient_shares(histories: list, seeds: list) -> tuple[dict, pd.DataFrame]:
    """F5-gradient-dominant and F5-gradient-first (Section 4.2.2: the difficult samples
    "become the dominant force driving the gradient directions") from the histories of
    runs that kept ``grad_share_difficult`` (``TrainConfig.keep_grad_shares``), and the
    per-seed table: the first epoch at which the difficult samples' share of the hidden
    layer's gradient reaches 0.5 (``gradient``), and the same for their share of the
    training loss (``loss``: the crossing of Figure 5), both infinite when never."""
    rows = {seed: dict(gradient=first_reach(h["grad_share_difficult"]),
                       loss=first_reach(h["share_difficult"]),
                       max_grad_share=float(np.nanmax(h["grad_share_difficult"])),
                       max_loss_share=float(np.nanmax(h["share_difficult"])))
            for seed, h in zip(seeds, histories)}
    table = pd.DataFrame(rows).T.rename_axis("seed")
    grad, loss = table.gradient.values.astype(float), table.loss.values.astype(float)
    listed = lambda a: ", ".join("never" if np.isinf(v) else f"{v:.0f}" for v in a)  # noqa: E731
    peaks = ", ".join(f"{v:.3f}" for v in table.max_grad_share)
    reached = np.isfinite(grad)
    both = reached & np.isfinite(loss)
    n = int(both.sum())
    gaps = ", ".join(f"{g - c:+.0f}" for g, c in zip(grad[both], loss[both]))
    found = {
        "F5-gradient-dominant": Evidence(
            [float(reached.mean())], 0.0, "0: never", n=len(grad),
            note=f"gradient share reaches 0.5 at epoch, per seed: {listed(grad)}; largest "
            f"gradient share per seed: {peaks}"),
        "F5-gradient-first": Evidence(  # no seed with both: not testable (n = 0)
            [float(np.mean(grad[both] <= loss[both])) if n else float("nan")], 0.5,
            "0.5: either order", n=n,
            note=f"{n} seed(s) where both reach 0.5; gradient minus loss epoch: {gaps}" if n
            else f"no seed where both reach 0.5 (gradient: {listed(grad)}; loss: "
            f"{listed(loss)})")}
    return found, table


def same_time(timings: list) -> dict:
    """F5-same-time and F5-order over the (crossing, onset) pairs of ``timings`` (the
    per-seed tables of ``figure5``, one per reading of the sweep) where both happen."""
    both = pd.concat(timings)
    both = both[np.isfinite(both.crossing.astype(float)) & np.isfinite(both.onset.astype(float))]
    cross, onset = both.crossing.astype(float).values, both.onset.astype(float).values
    n = len(both)
    gap = ", ".join(f"{c - o:+.0f}" for c, o in zip(cross, onset))
    note = (f"{n} (reading, seed) pairs where both happen; crossing minus onset: {gap}"
            if n else "no (reading, seed) pair where both happen")
    return {"F5-same-time": Evidence([spearman(cross, onset) if n > 2 else float("nan")],
                                     0.0, "0: the dates unrelated", n=n, note=note),
            "F5-order": Evidence([float(np.mean(cross <= onset)) if n else float("nan")],
                                 0.5, "0.5: either order", n=n, note=note)}


def learning_order(results: list, rise_window: int,
                   control: list | None = None) -> tuple[dict, pd.DataFrame]:
    """S5-easy-first and S5-difficult-loss-rises (Section 5.1) over the first
    ``rise_window`` epochs, against the same measures on the ``control`` runs (the
    linear model trained the same way), and the per-seed table."""
    def table(runs):
        w = rise_window
        return pd.DataFrame({r.config["train"]["seed"]: dict(
            regular_minus_difficult_acc=float(np.mean(r.history["acc_regular"][1:w + 1]
                                                      - r.history["acc_difficult"][1:w + 1])),
            difficult_loss_rise=float(r.history["loss_difficult"][:w + 1].max()
                                      - r.history["loss_difficult"][0]),
            final_acc_regular=float(r.history["acc_regular"][-1]),
            final_acc_difficult=float(r.history["acc_difficult"][-1])) for r in runs}
        ).T.rename_axis("seed")

    order = table(results)
    base = table(control) if control else None
    null = lambda key: None if base is None else list(base[key].astype(float))  # noqa: E731
    null_note = (f"the linear model (no ReLU), same data and training, {len(control)} seeds"
                 if control else "")
    return {"S5-easy-first": Evidence(order.regular_minus_difficult_acc.astype(float),
                                      null("regular_minus_difficult_acc"), null_note,
                                      note=f"first {rise_window} epochs"),
            "S5-difficult-loss-rises": Evidence(order.difficult_loss_rise.astype(float),
                                                null("difficult_loss_rise"), null_note,
                                                note=f"largest rise over the first "
                                                f"{rise_window} epochs")}, order


def remaining(measure_ablation, measure_full, what: str,
              changed: str = "the ablation") -> Evidence:
    """The share of the full model's winner-take-most measure left in an ablation, seed
    by seed (``measure_*[i]``: seed ``i``; NaN where the full model's is not positive;
    null 1: the ablation changes nothing)."""
    a, f = np.asarray(measure_ablation, dtype=float), np.asarray(measure_full, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(f > 0, a / f, np.nan)
    return Evidence(list(share), 1.0, f"1: {changed} changes nothing; 0: the mechanism "
                    "is gone", f"{what}: median {a.mean():.3f} against {f.mean():.3f} for the "
                    "model it is compared with (means over seeds)")


def noise(grid) -> tuple[dict, pd.DataFrame]:
    """F1-best-sigma (Section 3.1) and the Figure 2 accuracies (Section 3.2) from Figure 1's
    grid (``experiments.noise_grid``), and the per-sigma_test table of the best
    sigma_train (``experiments.best_sigma_train``). F2 is measured where the grid has
    the paper's cells (sigma_train 0.4 and 1.2 at sigma_test 0.4)."""
    best = pd.DataFrame(best_sigma_train(grid)).set_index("sigma_test")
    low, high = MODERATE_NOISE
    moderate = best.best_sigma_train.between(low, high)
    margins = moderate_margins(grid.acc, grid.sigmas_train, grid.sigmas_test, MODERATE_NOISE)
    found = {"F1-best-sigma": Evidence(
        [float(margins.wins.mean())], 0.0, "0: no sigma_test level won", n=len(grid.seeds),
        note="paired margin of the best "
        "moderate sigma_train over the best other, per sigma_test (points, 95% CI): " + ", ".join(
            f"{s:g}: {100 * r.margin:+.2f} ± {100 * r.interval:.2f}" for s, r in margins.iterrows()))}
    for cid, s in (("F2-acc-generalizing", 0.4), ("F2-acc-memorizing", 1.2)):
        if s in grid.sigmas_train and 0.4 in grid.sigmas_test:
            cell = 100 * grid.acc[:, grid.sigmas_train.index(s), grid.sigmas_test.index(0.4)]
            found[cid] = Evidence(list(cell), *CHANCE, note="sigma_test=0.4, SGD until fit")
    return found, best.assign(moderate=moderate, paired_margin=margins.margin,
                              margin_ci=margins.interval, moderate_wins=margins.wins)


def figure2_difference(generalizing: list, memorizing: list, classes) -> dict:
    """F2-different: the active-class spread growth (``measures.spread_ratios`` on the
    test samples' pattern means) of the sigma_train 0.4 runs minus the 1.2 runs', paired
    by seed; recorded as the lower end of the 95 % t-interval of the mean difference."""
    grow = lambda r: spread_ratios(r["pattern_means_probe"], active_class_of(r),  # noqa: E731
                                   classes)["median ratio, active class"]
    diff = np.array([grow(a) - grow(b) for a, b in zip(generalizing, memorizing)])
    sd = float(diff.std(ddof=1)) if len(diff) > 1 else float("nan")
    half = t_interval(sd, len(diff))
    return {"F2-different": Evidence(
        [float(diff.mean() - half)], 0.0, "0: the same growth at both noise levels",
        n=len(diff), note=f"paired difference {diff.mean():.2f} ± {half:.2f} (95% CI); per "
        "seed " + ", ".join(f"{d:.2f}" for d in diff))}


def coherence_early(coherence: pd.DataFrame, early: int = 10) -> dict:
    """S5-coherence-early (Section 5.2) from a table of ``seed``, ``epoch`` and ``all``
    (the coherence of all training samples from the weights kept after ``epoch``): per
    seed, the last value over the largest among the epochs <= ``early``."""
    ratios = {}
    for seed, rows in coherence.groupby("seed"):
        rows = rows.sort_values("epoch")
        start = rows[rows.epoch <= early]["all"]
        ratios[seed] = float(rows["all"].iloc[-1] / start.max()) if len(start) else np.nan
    return {"S5-coherence-early": Evidence(
        [float(np.nanmedian(list(ratios.values())))], 1.0, "1: a coherence that does not fall",
        n=len(ratios), note=f"median over seeds; end over the largest in the first {early} "
        "epochs, per seed "
        + ", ".join(f"{s}: {r:.3g}" for s, r in ratios.items()))}


def mnist(results: list, note: str, early_epoch: int, table=None, control=None) -> dict:
    """MNIST-acc (Appendix A.1): test accuracy per seed, in %; and Figure 6's mechanism,
    F3-winner-take-most's and F3-one-class's measures on the same runs (digits as
    patterns); ``table``: the runs' ``wtm_table`` when already computed; ``control``: the
    ``wtm_table`` of the linear network's runs of the same seeds, whose rank-correlation
    median (where above 0) is A1-winner-take-most's null."""
    on_s = mechanism(results, early_epoch, table)
    wtm = on_s["F3-winner-take-most"]
    if control is not None:
        linear = np.asarray(control["rank_corr_active_median"], dtype=float)
        wtm = wtm._replace(null=np.maximum(np.asarray(wtm.null, dtype=float), linear),
                           null_note="the larger of 0 and the linear network's value, per "
                           "seed (linear: " + ", ".join(f"{v:.2f}" for v in linear) + ")")
    return {"MNIST-acc": Evidence([100 * r.metrics["test_acc"] for r in results], CHANCE[0],
                                  "chance: two classes of about equal size (digits 0-4, 5-9)",
                                  note=note),
            "A1-winner-take-most": wtm, "A1-one-class": on_s["F3-one-class"]}


def clustering(correlations: dict, levels, split: str) -> dict:
    """S5-clustering-below/above-optimum (Section 5.3): the Spearman correlation of c1
    with test accuracy on each side of the best training noise (``tables.
    clustering_correlations``), counted in noise levels (``levels``: the grid's)."""
    best, whole = correlations["best_sigma_train"], correlations["rho_c1"]
    levels = np.unique(levels)
    found = {}
    for side, key, on_side, rel in (("below", "rho_c1_low", levels <= best, "<="),
                                    ("above", "rho_c1_high", levels >= best, ">=")):
        n = int(on_side.sum())
        found[f"S5-clustering-{side}-optimum"] = Evidence(
            [correlations[key]], 0.0, "0: no relation", n=n,
            note=f"Spearman over the models of the {n} noise levels {rel} {best:g}; c1 on "
            f"the {split} split; whole grid {whole:.2f}, c3 {correlations['rho_c3']:.2f}")
    return found


def save(evidence: dict, profile: str | None = None) -> dict:
    """Store every claim of ``evidence`` (``store.save_seeds``, or ``store.save`` for
    one value over ``n`` runs); their verdicts by id."""
    return {cid: store.save_seeds(cid, ev.values, ev.note, ev.null, ev.null_note, profile)
            if ev.n is None else store.save(cid, float(np.mean(ev.values)), n=ev.n,
                                              note=ev.note, null=ev.null,
                                              null_note=ev.null_note, profile=profile)
            for cid, ev in evidence.items()}



def snapshot_at(result, epoch: int) -> int:
    """Index of the largest stored snapshot epoch <= ``epoch`` (``TrainConfig.snapshots``)."""
    epochs = np.asarray(result["snapshot_epochs"])
    below = np.flatnonzero(epochs <= epoch)
    if not len(below):
        raise ValueError(f"epoch={epoch}: no snapshot at or before it (snapshots: "
                         f"{epochs.tolist()})")
    return int(below[-1])


def share_level_at(result, data, k: int, relu: bool) -> float:
    """Section 4.2.3's measure at snapshot ``k`` of a run that kept its weights: the median
    over neurons of ``measures.share_level_correlation`` on the training samples."""
    w1 = np.asarray(result["snapshot_hidden.weight"][k], dtype=np.float64)
    x, y, p = (data.x_train.numpy(), data.y_train.numpy(), data.p_train.numpy())
    n_pat = int(p.max()) + 1
    shares = pattern_gradient_shares(w1, result["snapshot_out.weight"][k][0],
                                     result["snapshot_out.bias"][k], x, y, p, n_pat, relu)
    z = x @ w1.T
    means = np.stack([z[p == j].mean(0) for j in range(n_pat)], 1)  # [h, n_pat]
    return median(share_level_correlation(means, shares, pattern_class(n_pat).numpy(),
                                          active_class_of(result)))


def proportionality(runs: list, controls: list, datas: list, epoch: int) -> dict:
    """S4-relu-proportional (Section 4.2.3): per seed, ``share_level_at`` the largest
    snapshot epoch <= ``epoch`` of the ReLU network's run (``runs``, which kept their
    weights), against the linear network's same run (``controls``, same seed: no ReLU,
    every sample counts whatever its pre-activation)."""
    k = [snapshot_at(r, epoch) for r in runs]
    at = int(np.asarray(runs[0]["snapshot_epochs"])[k[0]])
    values = [share_level_at(r, d, i, True) for r, d, i in zip(runs, datas, k)]
    null = [share_level_at(c, d, snapshot_at(c, at), False) for c, d in zip(controls, datas)]
    return {"S4-relu-proportional": Evidence(
        values, null, "the linear network (no ReLU), same seeds and epoch: "
        + ", ".join(f"{v:.2f}" for v in null),
        f"after epoch {at}; median over all neurons; {len(values)} seeds")}


def counterbalance(results: list, datas: list, model_cfg) -> dict:
    """S4-counterbalance (Section 4.2.4): per run, on the test set at the end of training,
    ``measures.counterbalance_gap`` of ``measures.local_misclassification`` by pattern;
    the note gives the share of test samples that most of their class's neurons leave off."""
    gaps, majority = [], []
    for r, d in zip(results, datas):
        model = model_from_arrays(r.arrays, model_cfg).eval()
        with torch.no_grad():
            z = model.hidden(d.x_test).numpy()
            correct = ((model(d.x_test) > 0).long() == d.y_test).numpy()
        ell = local_misclassification(z, d.y_test.numpy(), active_class_of(r))
        gaps.append(counterbalance_gap(ell, correct, d.p_test.numpy()))
        majority.append(float(np.nanmean(ell > 0.5)))
    return {"S4-counterbalance": Evidence(
        gaps, 0.0, "0: the most locally misclassified quarter of the patterns classified as "
        "well as the least", "test set, end of training; share of test samples that most of their "
        "class's neurons leave off, per seed: " + ", ".join(f"{m:.2f}" for m in majority))}
