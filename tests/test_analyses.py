"""The chapters' analyses as library functions, on tiny stored runs and on tables built
by hand."""

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from wtmlib.analysis import measures, tables
from wtmlib.results import runs
from wtmlib.config import ConfigError
from wtmlib.config import ModelConfig, TrainConfig
from wtmlib.data import SyntheticConfig, make_synthetic, pattern_class
from wtmlib.analysis import selectivity
from wtmlib.analysis import signs
from wtmlib.analysis import stats

DATA = SyntheticConfig(n_dim=40, l_pat=2, n_pat=6, n_train=300, n_test=120)
MODEL = ModelConfig(n_hidden=12)


@pytest.fixture(scope="module")
def stored(tmp_path_factory):
    root = tmp_path_factory.mktemp("results")
    layca = {s: runs.run(replace(DATA, seed=s), MODEL, TrainConfig(epochs=6, seed=s),
                         "section4", root=root) for s in (0, 1)}
    sgd = [runs.run(replace(DATA, seed=s, sigma_train=sig), MODEL,
                    TrainConfig.section3(epochs=10, seed=s), "noise", root=root)
           for s in (0, 1) for sig in (0.2, 0.8)]
    return layca, sgd


def test_wtm_table_and_mean_sd(stored):
    layca, _ = stored
    table = tables.wtm_table(list(layca.values()), early_epoch=2)
    assert list(table.index) == [0, 1]
    assert table.loc[1, "rank_corr_active_median"] == pytest.approx(
        measures.wtm_summary(layca[1].arrays, 2)["rank_corr_active_median"])
    summary = tables.mean_sd(table)
    t = table.astype(float)
    assert summary.loc["test_acc", "mean"] == pytest.approx(t.test_acc.mean())
    assert summary.loc["test_acc", "sd"] == pytest.approx(t.test_acc.std(ddof=1))
    assert (summary.seeds == 2).all()


def test_reading_row_measures_one_run(stored):
    layca, _ = stored
    row = tables.reading_row(layca[0], early_epoch=2)
    assert set(tables.READING_MEASURES) <= set(row)
    assert row["test_acc"] == layca[0].metrics["test_acc"]
    assert row["|W2|"] == pytest.approx(np.linalg.norm(layca[0]["out.weight"]))
    h = layca[0].history
    assert row["crossing"] == measures.loss_share_crossing(h["share_difficult"],
                                                           h["share_regular"])  # None: never
    summary = measures.wtm_summary(layca[0].arrays, 2)
    assert tables.reading_row(layca[0], 2, summary=summary) == row


def test_spread_table_is_spread_ratios_of_each_run(stored):
    _, sgd = stored
    classes = pattern_class(DATA.n_pat).numpy()
    table = tables.spread_table({"x": sgd[0], "y": sgd[1]}, classes)
    want = measures.spread_ratios(sgd[1]["pattern_means_probe"], signs.active_class_of(sgd[1]),
                                  classes)
    assert table.loc["y"].to_dict() == pytest.approx(want, nan_ok=True)


def test_clustering_table_measures_each_run_on_its_split(stored):
    _, sgd = stored
    datas = [runs.load_data_of(r) for r in sgd]
    test = tables.clustering_table(sgd, datas, "test")
    train = tables.clustering_table(sgd, datas, "train")
    assert list(test.sigma_train) == [0.2, 0.8, 0.2, 0.8] and list(test.seed) == [0, 0, 1, 1]
    d = datas[2]
    z = d.x_test.numpy() @ sgd[2]["hidden.weight"].T
    assert test.c1[2] == pytest.approx(selectivity.c1_subclass_selectivity(
        z, d.y_test.numpy(), d.p_test.numpy()))
    assert not np.allclose(test.c1, train.c1)  # other samples, other values
    with pytest.raises(ConfigError, match="split='val'"):
        tables.clustering_table(sgd, datas, "val")


def test_clustering_correlations_by_hand():
    table = pd.DataFrame(dict(sigma_train=[0.1, 0.1, 0.4, 0.4, 1.2, 1.2],
                              test_acc=[0.80, 0.82, 0.95, 0.94, 0.70, 0.72],
                              c1=[0.1, 0.2, 0.5, 0.6, 0.9, 0.8],
                              c3=[0.3, 0.3, 0.2, 0.1, 0.0, 0.05]))
    rho = tables.clustering_correlations(table)
    assert rho["best_sigma_train"] == 0.4
    # ranks below the optimum: accuracy 1 2 4 3, c1 1 2 3 4; above: 4 3 1 2 and 1 2 4 3
    assert rho["rho_c1_low"] == pytest.approx(0.8)  # c1 and accuracy rise together
    assert rho["rho_c1_high"] == pytest.approx(-1.0)  # and part beyond the optimum
    assert rho["rho_c1"] == pytest.approx(stats.spearman(table.c1, table.test_acc))
