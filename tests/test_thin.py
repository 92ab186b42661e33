"""Thinned results: the storage round trip, NaN for what was dropped, the migration, and
the policy's promise that the measures read the same numbers (``wtmlib.build.thin``)."""

import json

import numpy as np
import pytest

from wtmlib.analysis import measures, signs
from wtmlib.build import thin
from wtmlib.config import ModelConfig, TrainConfig
from wtmlib.data import SyntheticConfig, pattern_class
from wtmlib.results import cache, runs
from wtmlib.training import files

DATA = SyntheticConfig(n_dim=40, l_pat=2, n_pat=6, n_train=120, n_test=60)
MODEL = ModelConfig(n_hidden=8)
TRAIN = TrainConfig(epochs=12)
NAME = "pattern_means_train"


def _reads(key, **kw):
    return thin.Reads(**{**dict(epochs=(5,), onset_factor=1.5, drawn=frozenset(),
                                scanned=frozenset(), listed={key: "runs"}), **kw})


def _run(root):
    return runs.run(DATA, MODEL, TRAIN, root=root)


def test_thinned_arrays_expand_to_the_kept_numbers_and_nan():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(11, 5, 4)).astype(np.float32)
    other = rng.normal(size=(3, 2))
    stored = cache.thinned({NAME: a, "w": other}, {NAME: cache.Kept((0, 4, 10), (1, 3))})
    assert NAME not in stored  # a reader that does not expand it finds nothing, not rows
    assert stored[NAME + cache.ROWS].shape == (3, 5, 4)
    assert stored[NAME + cache.EPOCHS].tolist() == [0, 4, 10]
    back = cache.expanded(stored)
    assert back["w"] is other and back[NAME].dtype == np.float32 and back[NAME].shape == a.shape
    assert np.array_equal(back[NAME][[0, 4, 10]], a[[0, 4, 10]])  # bit for bit
    assert np.isnan(np.delete(back[NAME], [0, 4, 10], axis=0)).all()  # whole rows NaN
    res = cache.Result({}, back, {})
    for n in (1, 3):
        assert np.array_equal(res.trajectory(NAME, n), a[:, n])
    with pytest.raises(KeyError, match="neuron 2 was not kept"):
        res.trajectory(NAME, 2)
    assert np.array_equal(cache.Result({}, {NAME: a}, {}).trajectory(NAME, 2), a[:, 2])
    with pytest.raises(ValueError, match="end with the last row"):
        cache.thinned({NAME: a}, {NAME: cache.Kept((0, 4))})


def test_thin_rewrites_in_place_with_valid_checksums_and_only_once(tmp_path, monkeypatch):
    full = _run(tmp_path)
    npz, meta = cache.paths("runs", full.key, tmp_path)
    keep = lambda res: ({NAME: cache.Kept((0, 5, 12), (2,))}, {"epochs": [5]})  # noqa: E731
    thinned = cache.thin("runs", full.key, keep, tmp_path)
    assert thinned is not None and thinned.info["thinned"]["epochs"] == [5]
    assert thinned.info["thinned"]["arrays"] == {NAME: {"epochs": 3, "neurons": 1}}
    monkeypatch.setattr(runs, "train", lambda *a, **k: pytest.fail("trained again"))
    again = _run(tmp_path)  # the checksums hold: loaded, not recomputed
    assert again.key == full.key and again.info["npz_sha256"] == files.sha256_file(npz)
    assert cache.stored_metrics("runs", full.key, tmp_path) == full.metrics
    for k in ("commit", "saved", "version", "engine"):
        assert again.info[k] == full.info[k]
    for name in full.arrays:
        if name != NAME:
            np.testing.assert_array_equal(again[name], full[name])
    m, m0 = again[NAME], full[NAME]
    assert m.shape == m0.shape
    assert np.array_equal(m[[0, 5, 12]], m0[[0, 5, 12]])
    assert np.array_equal(again.trajectory(NAME, 2), m0[:, 2])
    assert np.isnan(m[[1, 4, 6, 11]]).all()
    # idempotent: a thinned result is left as it is
    before = npz.read_bytes(), meta.read_bytes()
    assert cache.thin("runs", full.key, keep, tmp_path) is None
    assert (npz.read_bytes(), meta.read_bytes()) == before
    assert [r["thinned"] for r in cache.stored(tmp_path)] == [True]


def test_a_whole_result_loads_as_before(tmp_path):
    full = _run(tmp_path)
    with np.load(cache.paths("runs", full.key, tmp_path)[0]) as f:
        assert sorted(f.files) == sorted(full.arrays)
    loaded = cache.load("runs", full.key, tmp_path)
    assert "thinned" not in loaded.info and sorted(loaded.arrays) == sorted(full.arrays)
    for name in full.arrays:
        np.testing.assert_array_equal(loaded[name], full[name])
    assert not np.isnan(loaded[NAME]).any()
    assert np.array_equal(loaded.trajectory(NAME, 3), full[NAME][:, 3])


def test_a_reader_of_a_dropped_epoch_gets_nan(tmp_path):
    full = _run(tmp_path)
    cache.thin("runs", full.key, lambda r: ({NAME: cache.Kept((0, 5, 12))}, {}), tmp_path)
    res = cache.load("runs", full.key, tmp_path)
    kept, dropped = measures.wtm_summary(res.arrays, 5), measures.wtm_summary(res.arrays, 7)
    whole = measures.wtm_summary(full.arrays, 5)
    assert kept.keys() == whole.keys()
    assert all(kept[k] == whole[k] or np.isnan(kept[k]) and np.isnan(whole[k]) for k in kept)
    assert np.isnan(dropped["rank_corr_active_median"]) and dropped["rank_corr_active_defined"] == 0
    assert np.isnan(dropped["spread_growth_active_median"])


def _spread_run(curve, n_hidden=5, n_pat=6, seed=0):
    """Arrays whose median active-class spread follows ``curve`` (class 0 active)."""
    rng = np.random.default_rng(seed)
    base = rng.normal(size=(n_hidden, n_pat))
    means = (np.asarray(curve)[:, None, None] * base[None]).astype(np.float32)
    sums = np.zeros((2, 3, n_hidden))
    sums[:, 0], sums[0, 1], sums[1, 1] = 10, -5, 5  # class 0: the negative mean sign
    return {NAME: means, "sign_class_sums": sums, "final_neurons": np.arange(2)}


def _onset(arrays, factor):
    means = arrays[NAME]
    return measures.spread_onset(measures.within_class_spread(
        means, pattern_class(means.shape[2]).numpy(), np.zeros(means.shape[1], int)), factor)


@pytest.mark.parametrize("seed", range(40))
def test_the_onset_is_the_same_on_the_thinned_run(seed):
    rng = np.random.default_rng(seed)
    steps = rng.normal(0.02 if seed % 2 else -0.005, 0.05, size=60)
    curve = np.exp(np.cumsum(np.r_[0.0, steps]))  # grows (odd seeds), wanders (even)
    arrays = _spread_run(curve, seed=seed)
    key, cap = "k", 1.5
    kept, promise = thin.kept(key, arrays, _reads(key, scanned=frozenset({key})))
    assert promise["onset_factor"] == cap
    assert {0, 5, 60} <= set(kept[NAME].epochs)
    thinned = cache.expanded(cache.thinned(arrays, kept))
    rows = list(kept[NAME].epochs)
    spread = [measures.within_class_spread(a[NAME], pattern_class(6).numpy(), np.zeros(5, int))
              for a in (arrays, thinned)]
    assert np.array_equal(spread[0][rows], spread[1][rows])  # bit for bit where kept
    reaches = curve.max() >= cap * curve[0]
    for factor in (0.5, 1.0, 1.01, 1.1, 1.3, 1.5, 1.8, 2.5, 4.0):
        if factor <= cap or not reaches:  # promised: any factor up to the cap; any at all
            assert _onset(thinned, factor) == _onset(arrays, factor), factor  # when never


def test_kept_follows_who_reads_what():
    arrays = _spread_run(np.linspace(1, 3, 41))
    arrays["pattern_means_probe"] = arrays[NAME].copy()
    arrays["sign_total"] = np.zeros((4, 5), np.int16)
    assert thin.kept("k", arrays, _reads("k", drawn=frozenset({"k"}))) is None
    assert thin.kept("other", arrays, _reads("k")) is None  # not read by this build: whole
    kept, promise = thin.kept("k", arrays, _reads("k", epochs=(0, 5, 10, 99)))
    assert kept[NAME] == kept["pattern_means_probe"] == cache.Kept((0, 5, 10, 40), (0, 1))
    assert kept["sign_total"] is None  # per-sample signs: only the figures of drawn runs
    assert promise == {"epochs": [0, 5, 10, 99], "neurons": "final_neurons",
                       "onset_factor": None}
    scanned, _ = thin.kept("k", arrays, _reads("k", scanned=frozenset({"k"})))
    assert set(scanned[NAME].epochs) > set(kept[NAME].epochs) - {10}
    assert scanned["pattern_means_probe"].epochs == (0, 5, 40)  # the scan reads the train set


def test_sufficient_and_drop_insufficient(tmp_path):
    full = _run(tmp_path)
    reads = _reads(full.key, epochs=(5,))
    assert thin.thin_stored(reads, tmp_path, log=lambda *_: None)["runs"] == 1
    assert thin.thin_stored(reads, tmp_path, log=lambda *_: None)["runs"] == 0  # idempotent
    res = cache.load("runs", full.key, tmp_path)
    assert "sign_total" not in res and "sign_total" in full
    with pytest.raises(KeyError, match="thinned run"):
        signs.mean_sign(res)
    np.testing.assert_array_equal(res["sign_class_sums"], full["sign_class_sums"])
    info = cache.stored_info("runs", full.key, tmp_path)["thinned"]
    assert info["arrays"]["sign_total"] == "not kept"
    assert thin.sufficient(full.key, info, reads)
    assert not thin.sufficient(full.key, info, _reads(full.key, epochs=(6,)))
    assert not thin.sufficient(full.key, info, _reads(full.key, drawn=frozenset({full.key})))
    assert not thin.sufficient(full.key, info, _reads(full.key, scanned=frozenset({full.key})))
    assert thin.drop_insufficient(reads, [full.key], tmp_path, log=lambda *_: None) == []
    more = _reads(full.key, epochs=(5, 6))
    assert thin.drop_insufficient(more, [full.key], tmp_path, log=lambda *_: None) == [full.key]
    assert not any(cache.paths("runs", full.key, tmp_path)[i].exists() for i in (0, 1))
    again = _run(tmp_path)  # trained again, whole, the same numbers
    for name in full.arrays:
        np.testing.assert_array_equal(again[name], full[name])


def test_thinning_keeps_the_json_a_result(tmp_path):
    """``stored`` and ``prune`` still see a thinned result as a current one."""
    full = _run(tmp_path)
    cache.thin("runs", full.key, lambda r: ({NAME: cache.Kept((0, 12))}, {}), tmp_path)
    doc = json.loads(cache.paths("runs", full.key, tmp_path)[1].read_text())
    assert doc["info"]["numerics"] == cache.NUMERICS_VERSION
    assert [r["current"] for r in cache.stored(tmp_path)] == [True]
    assert cache.prune(tmp_path, dry_run=True) == []


def test_figure5_refuses_an_onset_factor_a_thinned_run_does_not_answer(tmp_path):
    from wtmlib.claims import evidence
    full = _run(tmp_path)
    reads = _reads(full.key, scanned=frozenset({full.key}))
    thinned = cache.thin("runs", full.key, lambda r: thin.kept(r.key, r.arrays, reads), tmp_path)
    assert evidence.figure5([thinned], 1.5)[1].equals(evidence.figure5([full], 1.5)[1])
    with pytest.raises(ValueError, match="thinned for onset factors up to 1.5"):
        evidence.figure5([thinned], 2.0)
    evidence.figure5([full], 2.0)  # a whole run answers any
