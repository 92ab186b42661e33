"""Each claim's evidence from runs: per-seed values, the null, and what they mean.

A function per group of claims turns stored runs into ``{claim_id: Evidence}``; the
chapters ``record`` them for their reading, and the readings page does the same for every
reading of the paper's optimizer settings (``wtmlib.claims.readings``), so a claim is measured
one way wherever it is measured.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd
import torch

from wtmlib.claims import store
from wtmlib.analysis.tables import null_table, wtm_table
from wtmlib.data import pattern_class
from wtmlib.analysis.measures import (
    favoured_pattern, loss_share_crossing, spread_onset, within_class_spread
)
from wtmlib.model import build_model
from wtmlib.training.fast.record import gated_sign as step_gated_sign
from wtmlib.analysis.signs import mean_dz_sign, sign_class_correlation
from wtmlib.analysis.signs import active_class_of


class Evidence(NamedTuple):
    values: list  # one per seed (or model)
    null: object = None  # a number, one per seed, or None
    null_note: str = ""
    note: str = ""


INIT = "the same runs at initialization (epoch 0)"


def section4(results: list, early_epoch: int, table=None) -> dict:
    """S-acc and the claims of Section 4.1 / 4.2.4 measured on the runs' pattern means
    and derivative signs, each against its null (``nulls.init_nulls``, or chance);
    ``table``: the runs' ``wtm_table`` when already computed."""
    t = (wtm_table(results, early_epoch) if table is None else table).astype(float)
    n = null_table(results).astype(float)
    seeds = "seeds " + ", ".join(str(int(s)) for s in t.index)
    note = f"early epoch {early_epoch}; all neurons; {seeds}"
    return {
        "S-acc": Evidence(100 * t["test_acc"], 50.0, "chance: two balanced classes", seeds),
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
    }


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
    """The share of neurons whose final favoured pattern (in their own active class) is
    the same in runs ``a`` and ``b`` of one architecture (neuron ``n`` against neuron ``n``)."""
    classes = pattern_class(n_pat).numpy()
    fav = [favoured_pattern(r["pattern_means_train"][-1], classes, active_class_of(r))
           for r in (a, b)]
    return float(np.mean(fav[0] == fav[1]))


def causal(base, same_init: list, new_init: list, n_pat: int) -> dict:
    """F3-init-decides-causal: the favourite agreement of runs from the base run's initial
    weights on new draws of the samples, against runs from new weights on its samples."""
    same = [favourite_agreement(base, r, n_pat) for r in same_init]
    null = [favourite_agreement(base, r, n_pat) for r in new_init]
    return {"F3-init-decides-causal": Evidence(
        same, float(np.mean(null)), "the same share for new initial weights on the same "
        f"samples (per run: {', '.join(f'{v:.3f}' for v in null)})",
        f"{len(same)} redraws of the samples and {len(null)} of the weights")}


def difficulty(results: list, onset_factor: float) -> tuple[dict, pd.DataFrame]:
    """F5-crossing and F5-same-time (Section 4.2.2), and the per-seed timing table:
    crossing of the loss shares, onset of the within-class spread growth (both infinite
    when they never happen), half-rise."""
    rows = {}
    for res in results:
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
    with np.errstate(invalid="ignore"):  # never crossed and no onset: inf - inf is nan
        gap = np.abs(cross - onset)
    listed = lambda a: ", ".join("never" if np.isinf(v) else f"{v:.0f}" for v in a)  # noqa: E731
    return {"F5-crossing": Evidence(cross, note="crossing per seed: " + listed(cross)),
            "F5-same-time": Evidence(gap, note=f"onset factor {onset_factor}; onset per "
                                     "seed: " + listed(onset))}, timing


def learning_order(results: list, rise_window: int) -> tuple[dict, pd.DataFrame]:
    """S5-easy-first and S5-difficult-loss-rises (Section 5.1) over the first
    ``rise_window`` epochs, and the per-seed table."""
    w = rise_window
    order = pd.DataFrame({r.config["train"]["seed"]: dict(
        regular_minus_difficult_acc=float(np.mean(r.history["acc_regular"][1:w + 1]
                                                  - r.history["acc_difficult"][1:w + 1])),
        difficult_loss_rise=float(r.history["loss_difficult"][:w + 1].max()
                                  - r.history["loss_difficult"][0]),
        final_acc_regular=float(r.history["acc_regular"][-1]),
        final_acc_difficult=float(r.history["acc_difficult"][-1])) for r in results}).T
    order = order.rename_axis("seed")
    return {"S5-easy-first": Evidence(order.regular_minus_difficult_acc.astype(float),
                                      note=f"first {w} epochs"),
            "S5-difficult-loss-rises": Evidence(order.difficult_loss_rise.astype(float),
                                                note=f"largest rise over the first {w} "
                                                "epochs")}, order


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


def record(evidence: dict, profile: str | None = None) -> dict:
    """``store.record_seeds`` every claim of ``evidence``; their verdicts by id."""
    return {cid: store.record_seeds(cid, ev.values, ev.note, ev.null, ev.null_note, profile)
            for cid, ev in evidence.items()}

