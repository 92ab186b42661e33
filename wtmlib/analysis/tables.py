"""Analyses the chapters share, as tested library functions: tables over seeds and runs.

Each takes stored results (``wtmlib.results.cache.Result``) and returns numbers or tables;
notebooks call one function per computation and keep the prose and the figures.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from wtmlib.analysis.stats import t_interval
from wtmlib.config import check_choice
from wtmlib.analysis.measures import loss_share_crossing, spread_ratios, wtm_summary
from wtmlib.analysis.nulls import init_nulls, onset_rows
from wtmlib.analysis.selectivity import c1_subclass_selectivity, c3_intraclass_selectivity
from wtmlib.analysis.signs import active_class_of
from wtmlib.analysis.stats import spearman


def wtm_table(results: list, early_epoch: int) -> pd.DataFrame:
    """``measures.wtm_summary`` of each run (rows: seeds), measured over all neurons."""
    rows = {res.config["train"]["seed"]: dict(test_acc=res.metrics["test_acc"],
                                              **wtm_summary(res.arrays, early_epoch))
            for res in results}
    return pd.DataFrame(rows).T.rename_axis("seed")


def null_table(results: list) -> pd.DataFrame:
    """``nulls.init_nulls`` of each run (rows: seeds): the Section 4.1 measures at
    initialization, the nulls of ``wtm_table``'s columns of the same names."""
    return pd.DataFrame({res.config["train"]["seed"]: init_nulls(res.arrays)
                         for res in results}).T.rename_axis("seed")


def onset_table(results: list, early_epochs) -> pd.DataFrame:
    """``nulls.onset_rows`` of each run, mean over runs (seeds) for each early epoch
    (rows), with the number of runs: when the mechanism starts (Section 4.2.2)."""
    rows = pd.DataFrame([r for res in results for r in onset_rows(res.arrays, early_epochs)])
    out = rows.groupby("early epoch").mean()
    out["seeds"] = len(results)
    return out


def mean_sd(table: pd.DataFrame) -> pd.DataFrame:
    """Mean and standard deviation over the rows (seeds) of a table of numbers."""
    t = table.astype(float)
    return pd.DataFrame({"mean": t.mean(), "sd": t.std(ddof=1) if len(t) > 1 else 0.0 * t.mean(),
                         "seeds": len(t)})


def with_sd(mean: pd.DataFrame, sd: pd.DataFrame, digits: int = 3) -> pd.DataFrame:
    """A table of ``"mean ± sd"`` strings (``sd`` NaN or one seed: the mean alone)."""
    def cell(m, s):
        return f"{m:.{digits}f}" if not np.isfinite(s) else f"{m:.{digits}f} ± {s:.{digits}f}"
    return pd.DataFrame([[cell(m, s) for m, s in zip(mr, sr)]
                         for mr, sr in zip(mean.values, sd.reindex_like(mean).values)],
                        index=mean.index, columns=mean.columns)


def settings_table(by_setting: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One model's runs under several settings (``{setting: wtm_table of its runs}``, the
    same seeds, e.g. Appendix A.1 under the chosen reading and under its earlier fixed
    output layer): ``(mean, sd)`` over seeds, rows the settings, columns the test accuracy
    in % and the winner-take-most measures (``READING_MEASURES``)."""
    stats = {}
    for name, table in by_setting.items():
        t = table.assign(test_acc=100 * table["test_acc"].astype(float))
        stats[name] = mean_sd(t[["test_acc", *READING_MEASURES]])
    mean = pd.DataFrame({n: s["mean"] for n, s in stats.items()}).T
    sd = pd.DataFrame({n: s["sd"] if len(by_setting[n]) > 1 else s["sd"] * np.nan  # one seed
                       for n, s in stats.items()}).T
    return mean.rename(columns={"test_acc": "test accuracy (%)"}), sd.rename(
        columns={"test_acc": "test accuracy (%)"})


# columns of the readings table: what each reading of the paper's settings does
READING_MEASURES = ("rank_corr_active_median", "rank_corr_other_median",
                    "spread_growth_active_median", "spread_growth_other_median",
                    "intraclass_exceeds_share", "favoured_entropy")


def reading_row(result, early_epoch: int, summary=None) -> dict:
    """One run under one reading of the paper's ambiguous settings (Section 4.1): test
    accuracy, final loss, |W2|, the Figure 5 crossing epoch (``None``: never) and the
    winner-take-most measures over all neurons (``summary``: the run's row of
    ``wtm_table`` when already computed)."""
    s = wtm_summary(result.arrays, early_epoch) if summary is None else summary
    h = result.history
    return {"test_acc": result.metrics["test_acc"], "train_acc": result.metrics["train_acc"],
            "final loss": float(h["loss"][-1]),
            "|W2|": float(np.linalg.norm(result["out.weight"])),
            "crossing": loss_share_crossing(h["share_difficult"], h["share_regular"]),
            **{k: s[k] for k in READING_MEASURES}}


def sweep_summary(rows: dict) -> pd.DataFrame:
    """Mean and standard deviation over seeds of ``reading_row``s, ``{reading: [row, ...]}``
    -> one row per reading: ``<col>`` (mean) and ``<col> sd`` for every number, and the
    loss shares' ``crossing`` as the mean epoch over the seeds that cross (NaN: none) with
    ``crossed`` saying in how many seeds of how many."""
    out = {}
    for name, rs in rows.items():
        t = pd.DataFrame(rs)
        cross = pd.to_numeric(t.pop("crossing"), errors="coerce")
        row = {}
        for col in t.columns:
            v = t[col].astype(float)
            row[col], row[f"{col} sd"] = v.mean(), v.std(ddof=1) if len(v) > 1 else np.nan
        row["crossing"], row["crossed"] = cross.mean(), f"{int(cross.notna().sum())}/{len(t)}"
        out[name] = row
    return pd.DataFrame(out).T


def spread_table(results: dict, classes) -> pd.DataFrame:
    """``measures.spread_ratios`` of each named run on its probe set's pattern means, in
    each neuron's active class and the other (Section 3.2's footnote)."""
    return pd.DataFrame({name: spread_ratios(r["pattern_means_probe"], active_class_of(r),
                                             classes) for name, r in results.items()}).T


def clustering_table(results: list, datas: list, split: str = "test") -> pd.DataFrame:
    """Section 5.3 on each run: its seed, sigma_train, test accuracy, and c1 and c3 of its
    hidden pre-activations on the ``split`` ("train" or "test") samples of its data."""
    check_choice("split", split, ("train", "test"))
    rows = []
    for res, d in zip(results, datas):
        x, y, p = ((d.x_train, d.y_train, d.p_train) if split == "train"
                   else (d.x_test, d.y_test, d.p_test))
        z = x.numpy() @ np.asarray(res["hidden.weight"]).T
        rows.append(dict(seed=res.config["train"]["seed"],
                         sigma_train=res.config["data"]["sigma_train"],
                         test_acc=res.metrics["test_acc"],
                         c1=c1_subclass_selectivity(z, y.numpy(), p.numpy()),
                         c3=c3_intraclass_selectivity(z, y.numpy())))
    return pd.DataFrame(rows)


def clustering_correlations(table: pd.DataFrame) -> dict:
    """Spearman correlations of c1 and c3 with test accuracy over the runs of
    ``clustering_table``, and of c1 on each side of the best sigma_train (the noise level
    with the best mean test accuracy, counted on both sides)."""
    best = table.groupby("sigma_train").test_acc.mean().idxmax()
    low, high = table[table.sigma_train <= best], table[table.sigma_train >= best]
    return {"rho_c1": spearman(table.c1, table.test_acc),
            "rho_c3": spearman(table.c3, table.test_acc), "best_sigma_train": float(best),
            "rho_c1_low": spearman(low.c1, low.test_acc),
            "rho_c1_high": spearman(high.c1, high.test_acc)}


def moderate_margins(acc, sigmas_train, sigmas_test, moderate: tuple) -> pd.DataFrame:
    """Section 3.1's comparison as paired margins: for every sigma_test, the best
    sigma_train inside ``moderate`` and the best outside it (by the mean over seeds of
    ``acc [seeds, sigma_train, sigma_test]``), the margin between the two seed by seed,
    its mean and 95 % t-interval, and ``wins``: the interval lies above 0."""
    acc, sigmas_train = np.asarray(acc, dtype=float), np.asarray(sigmas_train, dtype=float)
    inside = (sigmas_train >= moderate[0]) & (sigmas_train <= moderate[1])
    if not inside.any() or inside.all():
        raise ValueError(f"sigmas_train={list(sigmas_train)}: needs levels inside and outside "
                         f"the moderate range {moderate}")
    rows = []
    for k, s_test in enumerate(sigmas_test):
        mean = acc[:, :, k].mean(0)
        j_in = np.flatnonzero(inside)[np.argmax(mean[inside])]
        j_out = np.flatnonzero(~inside)[np.argmax(mean[~inside])]
        margin = acc[:, j_in, k] - acc[:, j_out, k]
        sd = float(margin.std(ddof=1)) if len(margin) > 1 else float("nan")
        half = t_interval(sd, len(margin))
        rows.append(dict(sigma_test=s_test, moderate=sigmas_train[j_in], other=sigmas_train[j_out],
                         margin=float(margin.mean()), interval=half,
                         wins=bool(margin.mean() - half > 0)))
    return pd.DataFrame(rows).set_index("sigma_test")
