"""The results store: round trip, keys, damaged files, pickles, results folder."""

import errno
import json
import os
from pathlib import Path

import numpy as np
import pytest

import wtmlib
from wtmlib import cache, runs
from wtmlib.data import SyntheticConfig
from wtmlib.train import ModelConfig, TrainConfig

DATA = SyntheticConfig(n_dim=40, l_pat=2, n_pat=6, n_train=120, n_test=60)
MODEL = ModelConfig(n_hidden=8)
TRAIN = TrainConfig(epochs=2, device="cpu", progress=False)


@pytest.fixture
def counted(monkeypatch):
    """wtmlib.runs.train wrapped to count its calls."""
    calls = []
    real = runs.train

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
    assert second.info["npz_sha256"] == cache._sha256(npz)
    assert set(second.history) >= {"loss", "train_acc", "probe_acc"}
    np.testing.assert_array_equal(second.history["loss"], first["history_loss"])


def test_execution_settings_do_not_change_the_key(tmp_path, monkeypatch, counted):
    first = runs.run(DATA, MODEL, TRAIN, root=tmp_path)
    _forbid_training(monkeypatch)
    other = TrainConfig(epochs=2, device="auto", progress=True, threads=1)
    assert runs.run(DATA, MODEL, other, root=tmp_path).key == first.key


def test_refresh_recomputes(tmp_path, counted):
    runs.run(DATA, MODEL, TRAIN, root=tmp_path)
    runs.run(DATA, MODEL, TRAIN, root=tmp_path, refresh=True)
    assert len(counted) == 2


@pytest.mark.parametrize("change", [
    dict(data=SyntheticConfig(**{**DATA.__dict__, "sigma_train": 0.5})),
    dict(data=SyntheticConfig(**{**DATA.__dict__, "seed": 1})),
    dict(model=ModelConfig(n_hidden=9)),
    dict(model=ModelConfig(n_hidden=8, activation="linear")),
    dict(train=TrainConfig(epochs=3, device="cpu", progress=False)),
    dict(train=TrainConfig(epochs=2, seed=1, device="cpu", progress=False)),
    dict(train=TrainConfig(epochs=2, biases="sgd", device="cpu", progress=False)),
])
def test_different_configuration_different_key(change):
    base = runs.run_config(DATA, MODEL, TRAIN)
    other = runs.run_config(change.get("data", DATA), change.get("model", MODEL),
                            change.get("train", TRAIN))
    assert other != base
    assert cache.config_key(other) != cache.config_key(base)
    assert cache.config_key(dict(base)) == cache.config_key(base)


def test_code_change_changes_the_key(monkeypatch):
    cfg = runs.run_config(DATA, MODEL, TRAIN)
    key = cache.config_key(cfg)
    monkeypatch.setattr(cache, "code_hash", lambda: "0123456789abcdef")
    assert cache.config_key(cfg) != key


def _damage_and_rerun(tmp_path, counted, damage):
    first = runs.run(DATA, MODEL, TRAIN, root=tmp_path)
    npz, meta = _files(tmp_path, first.key)
    damage(npz, meta)
    with pytest.warns(UserWarning, match="damaged"):
        again = runs.run(DATA, MODEL, TRAIN, root=tmp_path)
    assert len(counted) == 2  # recomputed
    for k in first.arrays:
        np.testing.assert_array_equal(again[k], first[k])
    assert cache.load("runs", first.key, tmp_path) is not None  # stored again, intact


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


def _truncate_json(_npz, meta):
    text = meta.read_text()
    meta.write_text(text[: len(text) // 2])


@pytest.mark.parametrize("damage", [_truncate, _flip_byte, _remove_npz, _edit_metric,
                                    _edit_config, _edit_checksum, _truncate_json])
def test_damaged_result_is_recomputed(tmp_path, counted, damage):
    _damage_and_rerun(tmp_path, counted, damage)


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
    assert doc["key"] == key and doc["info"]["npz_sha256"] == cache._sha256(npz)
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
        cache._atomic_write(target, explode)
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

    monkeypatch.setattr(cache.np, "savez", full_disk)
    with pytest.raises(OSError, match="No space left on device.*WTM_RESULTS"):
        cache.cached("exp", {"a": 2}, lambda: ({"x": np.zeros(2)}, {"m": 2.0}), root=tmp_path)
    monkeypatch.undo()
    assert sorted(p.name for p in (tmp_path / "exp").iterdir()) == before  # no debris
    again = cache.load("exp", earlier.key, tmp_path)
    np.testing.assert_array_equal(again["x"], np.arange(3.0))


def test_code_text_ignores_prose_not_code():
    base = 'def f(x):\n    """Doc."""\n    return x + 1  # comment\n'
    prose = 'def f(x):\n    """Other words."""\n\n    return x + 1  # another comment\n'
    no_doc = 'def f(x):\n    return x + 1\n'
    code = 'def f(x):\n    """Doc."""\n    return x + 2\n'
    assert cache.code_text(base) == cache.code_text(prose) == cache.code_text(no_doc)
    assert cache.code_text(code) != cache.code_text(base)
    assert cache.code_text('def g():\n    """Only a docstring."""\n') != cache.code_text(base)


def test_code_hash_covers_every_number_making_module(monkeypatch):
    here = Path(wtmlib.__file__).resolve().parent
    assert all((here / name).exists() for name in cache.CODE_MODULES)
    base = cache.code_hash()
    real = cache.code_text
    monkeypatch.setattr(cache, "code_text", lambda src: real(src) + ("x" if "Layca" in src
                                                                     and "class" in src else ""))
    cache._code_text_of.cache_clear()  # the texts remembered by source
    assert cache.code_hash() != base
    monkeypatch.undo()
    cache._code_text_of.cache_clear()
    assert cache.code_hash() == base


def test_code_hash_follows_an_edited_module(tmp_path, monkeypatch):
    """The texts are remembered by source, not by file: an edit changes the hash at once."""
    here = Path(wtmlib.__file__).resolve().parent
    for name in cache.CODE_MODULES:
        (tmp_path / name).write_text((here / name).read_text())
    monkeypatch.setattr(cache, "__file__", str(tmp_path / "cache.py"))
    base = cache.code_hash()
    assert cache.code_hash() == base
    optim = tmp_path / "optim.py"
    optim.write_text(optim.read_text() + "\nEXTRA = 1\n")
    assert cache.code_hash() != base
