"""The Section 4.1 measures at initialization (their nulls) and from several early
epochs (when the mechanism starts), on pattern means built by hand."""

from types import SimpleNamespace

import numpy as np
import pytest

from wtmlib.analysis import measures, nulls, tables
from wtmlib.data import pattern_class
from wtmlib.analysis import signs

N_PAT = 6  # patterns 0-2: class 0, 3-5: class 1


def _arrays(means, act):
    """A run's arrays: ``pattern_means_train`` and per-class sign sums making ``act``
    each neuron's active class (its class has mean sign -1, the other +1)."""
    act = np.asarray(act)
    sums = np.zeros((2, 3, len(act)))
    for c in (0, 1):
        sign = np.where(act == c, -1.0, 1.0)
        sums[c] = [np.full(len(act), 10.0), 10 * sign, 10 * sign ** 2]
    return {"pattern_means_train": np.asarray(means, dtype=float), "sign_class_sums": sums}


def test_the_arrays_give_the_active_classes():
    act = [0, 1, 1]
    assert list(signs.active_class_of(_arrays(np.zeros((2, 3, N_PAT)), act))) == act


def test_intraclass_share_loose_and_strict():
    classes = pattern_class(N_PAT).numpy()
    m = np.array([[0.0, 1.0, 2.0, 0.5, 1.5, 1.0],  # overlapping classes: both pass
                  [0.0, 0.1, 0.2, 5.0, 5.1, 5.2],  # separated classes: neither
                  [0.0, 0.0, 4.0, 1.0, 1.5, 2.0]])  # range 4 > gap ~0.2, < largest pair 2
    assert nulls.intraclass_share(m, classes, strict=False) == pytest.approx(2 / 3)
    assert nulls.intraclass_share(m, classes, strict=True) == pytest.approx(2 / 3)
    m[2, 3:] = [10.0, 10.0, 10.0]  # now the classes are apart: neither reading
    assert nulls.intraclass_share(m, classes, strict=False) == pytest.approx(1 / 3)


def test_favoured_entropy_matches_the_summary_on_the_last_epoch():
    rng = np.random.default_rng(0)
    means = rng.normal(size=(4, 40, N_PAT))
    act = rng.integers(0, 2, 40)
    arrays = _arrays(means, act)
    got = measures.favoured_entropy(means[-1], pattern_class(N_PAT).numpy(), act)
    assert got == pytest.approx(measures.wtm_summary(arrays, 1)["favoured_entropy"])
    # every neuron favours pattern 0 at epoch 0: entropy 0; evenly spread: 1
    means[0] = 0.0
    means[0, :, 0] = means[0, :, 3] = 1.0
    assert measures.favoured_entropy(means[0], pattern_class(N_PAT).numpy(), act) == 0.0
    even = np.zeros((3, N_PAT))
    even[[0, 1, 2], [0, 1, 2]] = 1.0
    assert measures.favoured_entropy(even, pattern_class(N_PAT).numpy(), [0, 0, 0]) == \
        pytest.approx(1.0)


def test_init_nulls_read_epoch_zero():
    rng = np.random.default_rng(1)
    means = rng.normal(size=(5, 30, N_PAT))
    act = rng.integers(0, 2, 30)
    got = nulls.init_nulls(_arrays(means, act))
    classes = pattern_class(N_PAT).numpy()
    assert got["intraclass_exceeds_strict_share"] == pytest.approx(
        measures.intraclass_exceeds_interclass(means[0], classes, strict=True).mean())
    assert got["intraclass_exceeds_share"] == pytest.approx(
        measures.intraclass_exceeds_interclass(means[0], classes).mean())
    assert got["favoured_entropy"] == pytest.approx(
        measures.favoured_entropy(means[0], classes, act))
    assert got["init_winner_chance"] == pytest.approx(1 / 3)
    assert got["rank_corr_active_median"] == nulls.RANK_CORR_NULL == 0.0
    assert got["sign_class_abs_corr_median"] == nulls.SIGN_CLASS_NULL == 1.0
    means[1:] = means[0]  # training that changes nothing: the nulls do not change
    assert nulls.init_nulls(_arrays(means, act)) == got


def test_falling_shares_count_the_losers():
    classes = pattern_class(N_PAT).numpy()
    means = np.zeros((3, 1, N_PAT))
    means[1, 0, :3] = [1.0, 2.0, 3.0]  # early epoch 1, active class 0
    means[2, 0, :3] = [0.5, 1.5, 4.0]  # the two lower fall, the top rises
    fell, losers = nulls.falling_shares(means, classes, [0], 1)
    assert fell == pytest.approx(2 / 3) and losers == 1.0  # loser: pattern 0 (below 2.0)
    means[2, 0, 0] = 1.5  # the loser now rises
    fell, losers = nulls.falling_shares(means, classes, [0], 1)
    assert fell == pytest.approx(1 / 3) and losers == 0.0
    means[2, 0, 1] = np.nan  # ignored
    assert nulls.falling_shares(means, classes, [0], 1)[0] == pytest.approx(0.0)


def test_onset_rows_and_table():
    rng = np.random.default_rng(2)
    means = np.cumsum(rng.normal(size=(21, 10, N_PAT)), axis=0)
    act = rng.integers(0, 2, 10)
    arrays = _arrays(means, act)
    rows = nulls.onset_rows(arrays, [0, 5, 10])
    assert [r["early epoch"] for r in rows] == [0, 5, 10]
    classes = pattern_class(N_PAT).numpy()
    assert rows[1]["rank_corr_active_median"] == pytest.approx(
        np.nanmedian(measures.wtm_rank_correlation(means, classes, act, 5)))
    for bad in ([0, 20], [-1], [2.5], []):
        with pytest.raises(ValueError, match="early_epochs"):
            nulls.onset_rows(arrays, bad)
    results = [SimpleNamespace(arrays=arrays, config={"train": {"seed": s}}) for s in (0, 1)]
    table = tables.onset_table(results, [0, 5])
    assert list(table.index) == [0, 5] and (table.seeds == 2).all()
    assert table.loc[5, "falling_share"] == pytest.approx(rows[1]["falling_share"])
    nt = tables.null_table(results)
    assert list(nt.index) == [0, 1]
    assert nt.loc[1, "favoured_entropy"] == pytest.approx(
        nulls.init_nulls(arrays)["favoured_entropy"])
