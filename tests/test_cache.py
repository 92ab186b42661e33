"""The results store: round trip, keys, damaged files, pickles, results folder."""

import errno
import json
import os
from pathlib import Path

import numpy as np
import pytest

import wtmlib
from wtmlib.results import cache, runs
from wtmlib.training import files
from wtmlib.data import SyntheticConfig
from wtmlib.config import Execution, ModelConfig, TrainConfig
from wtmlib.training import loop

DATA = SyntheticConfig(n_dim=40, l_pat=2, n_pat=6, n_train=120, n_test=60)
MODEL = ModelConfig(n_hidden=8)
TRAIN = TrainConfig(epochs=2)


@pytest.fixture
def counted(monkeypatch):
    """wtmlib.results.runs.train wrapped to count its calls."""
    calls = []
    real = loop.train

    def train(*args, **kwargs):
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(runs, "train", train)
    return calls


def _forbid_training(monkeypatch):
    def train(*_a, **_k):
        raise AssertionError("trained although a stored result exists")
    monkeypatch.setattr(runs, "train", train)


def _files(root, key):
    return cache.paths("runs", key, root)


def test_round_trip_loads_without_training(tmp_path, monkeypatch, counted):
    first = runs.run(DATA, MODEL, TRAIN, root=tmp_path)
    assert len(counted) == 1
    npz, meta = _files(tmp_path, first.key)
    assert npz.exists() and meta.exists()
    assert sorted(p.name for p in npz.parent.iterdir()) == sorted([npz.name, meta.name])
    _forbid_training(monkeypatch)
    second = runs.run(DATA, MODEL, TRAIN, root=tmp_path)
    assert second.key == first.key
    assert second.arrays.keys() == first.arrays.keys()
    for k in first.arrays:
        np.testing.assert_array_equal(second[k], first[k])
    assert second.metrics == first.metrics
    assert second.config == runs.run_config(DATA, MODEL, TRAIN)
    assert second.info["npz_sha256"] == files.sha256_file(npz)
    assert second.info["numerics"] == cache.NUMERICS_VERSION
    # provenance: where and how it was made (not part of the key)
    assert {"commit", "torch", "device", "threads", "engine"} <= set(second.info)
    assert second.info["engine"] == "fast" and second.info["device"] == "cpu"
    assert set(second.history) >= {"loss", "train_acc", "probe_acc"}
    assert "history_loss" in second and "no such array" not in second
    np.testing.assert_array_equal(second.history["loss"], first["history_loss"])


def test_execution_settings_do_not_change_the_key(tmp_path, monkeypatch, counted):
    first = runs.run(DATA, MODEL, TRAIN, root=tmp_path)
    _forbid_training(monkeypatch)
    other = Execution(device="auto", progress=True, threads=2, engine="reference",
                      checkpoint_every=1, workers=2, batch_models=3)
    assert runs.run(DATA, MODEL, TRAIN, root=tmp_path, execution=other).key == first.key


def test_refresh_recomputes(tmp_path, counted):
    runs.run(DATA, MODEL, TRAIN, root=tmp_path)
    runs.run(DATA, MODEL, TRAIN, root=tmp_path, refresh=True)
    assert len(counted) == 2


@pytest.mark.parametrize("change", [
    dict(data=SyntheticConfig(**{**DATA.__dict__, "sigma_train": 0.5})),
    dict(data=SyntheticConfig(**{**DATA.__dict__, "seed": 1})),
    dict(model=ModelConfig(n_hidden=9)),
    dict(model=ModelConfig(n_hidden=8, activation="linear")),
    dict(train=TrainConfig(epochs=3)),
    dict(train=TrainConfig(epochs=2, seed=1)),
    dict(train=TrainConfig(epochs=2, biases="sgd")),
])
def test_different_configuration_different_key(change):
    base = runs.run_config(DATA, MODEL, TRAIN)
    other = runs.run_config(change.get("data", DATA), change.get("model", MODEL),
                            change.get("train", TRAIN))
    assert other != base
    assert cache.config_key(other) != cache.config_key(base)
    assert cache.config_key(dict(base)) == cache.config_key(base)


def test_numerics_version_changes_the_key(monkeypatch, tmp_path, counted):
    first = runs.run(DATA, MODEL, TRAIN, root=tmp_path)
    monkeypatch.setattr(cache, "NUMERICS_VERSION", cache.NUMERICS_VERSION + 1)
    again = runs.run(DATA, MODEL, TRAIN, root=tmp_path)
    assert again.key != first.key and len(counted) == 2  # the old result is not reused


def _truncate(npz, _meta):
    data = npz.read_bytes()
    npz.write_bytes(data[: len(data) // 2])


def _flip_byte(npz, _meta):
    data = bytearray(npz.read_bytes())
    data[len(data) // 2] ^= 0xFF
    npz.write_bytes(bytes(data))


def _remove_npz(npz, _meta):
    npz.unlink()


def _edit_metric(_npz, meta):
    doc = json.loads(meta.read_text())
    doc["metrics"]["test_acc"] = 1.0
    meta.write_text(json.dumps(doc, indent=1, sort_keys=True))


def _edit_config(_npz, meta):
    doc = json.loads(meta.read_text())
    doc["config"]["train"]["epochs"] = 400
    meta.write_text(json.dumps(doc))


def _edit_checksum(_npz, meta):
    doc = json.loads(meta.read_text())
    doc["info"]["npz_sha256"] = "0" * 64
    meta.write_text(json.dumps(doc))


def _other_valid_archive(npz, _meta):
    """A well-formed .npz of other arrays under the same name: only the checksum in the
    JSON tells it apart."""
    with open(npz, "wb") as f:
        np.savez_compressed(f, **{"history_loss": np.zeros(3)})


def _json_of_another_key(npz, meta):
    """Another run's intact result copied under this key's names."""
    other = runs.run(DATA, MODEL, TrainConfig(epochs=3), root=npz.parent.parent)
    o_npz, o_meta = cache.paths("runs", other.key, npz.parent.parent)
    npz.write_bytes(o_npz.read_bytes())
    meta.write_bytes(o_meta.read_bytes())


def _truncate_json(_npz, meta):
    text = meta.read_text()
    meta.write_text(text[: len(text) // 2])


@pytest.mark.parametrize("damage", [_truncate, _flip_byte, _remove_npz, _edit_metric,
                                    _edit_config, _edit_checksum, _truncate_json,
                                    _other_valid_archive, _json_of_another_key])
def test_damaged_result_is_recomputed(tmp_path, counted, damage):
    extra = 1 if damage is _json_of_another_key else 0  # that damage trains one more run
    first = runs.run(DATA, MODEL, TRAIN, root=tmp_path)
    npz, meta = _files(tmp_path, first.key)
    damage(npz, meta)
    with pytest.warns(UserWarning, match="damaged"):
        again = runs.run(DATA, MODEL, TRAIN, root=tmp_path)
    assert len(counted) == 2 + extra  # recomputed
    for k in first.arrays:
        np.testing.assert_array_equal(again[k], first[k])
    assert cache.load("runs", first.key, tmp_path) is not None  # stored again, intact


@pytest.mark.parametrize("damage, says", [(_other_valid_archive, "arrays' checksum"),
                                          (_json_of_another_key, "holds key"),
                                          (_edit_metric, "JSON's checksum")])
def test_each_check_names_what_it_found(tmp_path, damage, says):
    first = runs.run(DATA, MODEL, TRAIN, root=tmp_path)
    damage(*_files(tmp_path, first.key))
    with pytest.warns(UserWarning, match=says):
        assert cache.load("runs", first.key, tmp_path) is None


def test_rewriting_the_json_unchanged_is_accepted(tmp_path, monkeypatch, counted):
    first = runs.run(DATA, MODEL, TRAIN, root=tmp_path)
    _, meta = _files(tmp_path, first.key)
    meta.write_text(json.dumps(json.loads(meta.read_text())))  # other formatting, same content
    _forbid_training(monkeypatch)
    assert runs.run(DATA, MODEL, TRAIN, root=tmp_path).metrics == first.metrics


class _Payload:
    """Unpickling this object would call open(marker, "w"), creating the file."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_crafted_pickle_is_refused_and_not_executed(tmp_path, counted):
    marker = tmp_path / "pwned"
    key = cache.config_key(runs.run_config(DATA, MODEL, TRAIN))
    arrays = {"x": np.zeros(3), "evil": np.array([_Payload(marker), 1], dtype=object)}
    cache.save(cache.Result(runs.run_config(DATA, MODEL, TRAIN), arrays, {}, key), "runs",
               tmp_path)
    npz, meta = _files(tmp_path, key)
    assert not marker.exists()
    # the checksums are right: only the pickle can make the load fail
    doc = json.loads(meta.read_text())
    assert doc["key"] == key and doc["info"]["npz_sha256"] == files.sha256_file(npz)
    with pytest.warns(UserWarning, match="allow_pickle"):
        assert cache.load("runs", key, tmp_path) is None
    assert not marker.exists()
    with pytest.warns(UserWarning, match="damaged"):
        res = runs.run(DATA, MODEL, TRAIN, root=tmp_path)
    assert not marker.exists()
    assert len(counted) == 1 and "evil" not in res.arrays and "hidden.weight" in res.arrays


def test_results_root_honours_wtm_results(tmp_path, monkeypatch, counted):
    monkeypatch.setenv("WTM_RESULTS", str(tmp_path / "elsewhere"))
    assert cache.results_root() == tmp_path / "elsewhere"
    res = runs.run(DATA, MODEL, TRAIN)
    assert _files(tmp_path / "elsewhere", res.key)[1].exists()
    monkeypatch.delenv("WTM_RESULTS")
    project = Path(wtmlib.__file__).resolve().parent.parent
    assert cache.results_root() == project / "results"


def test_unwritable_results_folder_names_wtm_results(tmp_path, monkeypatch):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("WTM_RESULTS", str(blocker / "results"))
    with pytest.raises(OSError, match="WTM_RESULTS"):
        cache.cached("exp", {"a": 1}, lambda: ({"x": np.zeros(2)}, {"m": 1.0}))
    if os.geteuid() != 0:  # permissions do not stop root
        ro = tmp_path / "read_only"
        ro.mkdir()
        ro.chmod(0o500)
        monkeypatch.setenv("WTM_RESULTS", str(ro))
        try:
            with pytest.raises(OSError, match="WTM_RESULTS"):
                cache.cached("exp", {"a": 1}, lambda: ({"x": np.zeros(2)}, {"m": 1.0}))
        finally:
            ro.chmod(0o700)


def test_failed_write_leaves_no_temporary_file(tmp_path):
    def explode(_f):
        raise RuntimeError("disk on fire")
    target = tmp_path / "file.bin"
    with pytest.raises(RuntimeError):
        files.atomic_write(target, explode)
    assert list(tmp_path.iterdir()) == []


def test_cached_with_generic_compute(tmp_path):
    calls = []

    def compute():
        calls.append(1)
        return {"a": np.arange(4.0)}, {"score": 0.5, "name": "x", "nan": float("nan")}

    r1 = cache.cached("exp", {"p": [1, 2], "q": (3, 4)}, compute, root=tmp_path)
    r2 = cache.cached("exp", {"p": [1, 2], "q": (3, 4)}, compute, root=tmp_path)
    assert calls == [1]
    np.testing.assert_array_equal(r2["a"], np.arange(4.0))
    assert r2.metrics["score"] == 0.5 and r2.metrics["name"] == "x"
    assert np.isnan(r2.metrics["nan"]) and r1.key == r2.key


def test_full_disk_says_so_and_leaves_earlier_results_intact(tmp_path, monkeypatch):
    earlier = cache.cached("exp", {"a": 1}, lambda: ({"x": np.arange(3.0)}, {"m": 1.0}),
                           root=tmp_path)
    before = sorted(p.name for p in (tmp_path / "exp").iterdir())

    def full_disk(f, **arrays):
        f.write(b"PK\x03\x04 half an archive")  # a partial write, then the disk is full
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(cache.np, "savez_compressed", full_disk)
    with pytest.raises(OSError, match="No space left on device.*WTM_RESULTS"):
        cache.cached("exp", {"a": 2}, lambda: ({"x": np.zeros(2)}, {"m": 2.0}), root=tmp_path)
    monkeypatch.undo()
    assert sorted(p.name for p in (tmp_path / "exp").iterdir()) == before  # no debris
    again = cache.load("exp", earlier.key, tmp_path)
    np.testing.assert_array_equal(again["x"], np.arange(3.0))


def test_stored_lists_results_and_prune_removes_what_no_configuration_can_use(
        tmp_path, monkeypatch):
    current = runs.run(DATA, MODEL, TRAIN, root=tmp_path)
    monkeypatch.setattr(cache, "NUMERICS_VERSION", cache.NUMERICS_VERSION - 1)
    old = runs.run(DATA, MODEL, TRAIN, root=tmp_path)  # made by an older numerics version
    monkeypatch.undo()
    rows = {r["key"]: r for r in cache.stored(tmp_path)}
    assert set(rows) == {current.key, old.key}
    assert rows[current.key]["current"] and not rows[old.key]["current"]
    assert rows[old.key]["numerics"] == cache.NUMERICS_VERSION - 1
    assert rows[current.key]["bytes"] > 0 and rows[current.key]["experiment"] == "runs"
    assert [r["key"] for r in cache.prune(tmp_path, dry_run=True)] == [old.key]
    assert len(cache.stored(tmp_path)) == 2  # a dry run deletes nothing
    assert [r["key"] for r in cache.prune(tmp_path)] == [old.key]
    assert [r["key"] for r in cache.stored(tmp_path)] == [current.key]
    assert not any(p.stem == old.key for p in (tmp_path / "runs").iterdir())
    assert cache.load("runs", current.key, tmp_path) is not None


def test_training_time_sums_the_stored_runs_and_skips_what_is_not_one(tmp_path):
    for i, wall in enumerate((2.0, 3.5)):
        cache.cached("exp", {"i": i}, lambda w=wall: ({"a": np.arange(2.0)}, {"wall_s": w}),
                     root=tmp_path, info=lambda: {"device": "cpu", "engine": "fast",
                                                  "torch": "2.0"})
    cache.cached("other", {"i": 9}, lambda: ({"a": np.arange(2.0)}, {"score": 1.0}),
                 root=tmp_path)  # no training clock: not a run
    (tmp_path / "claims").mkdir()
    (tmp_path / "claims" / "x.json").write_text('{"value": 1}')
    spent = cache.training_time(tmp_path)
    assert spent == dict(runs=2, wall_s=5.5, devices=["cpu"], engines=["fast"], torch=["2.0"])
    assert cache.training_time(tmp_path / "empty")["runs"] == 0
