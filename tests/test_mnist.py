"""Aggregated MNIST loading: tiny IDX files written here, plus the real files if present."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from wtmlib.config import ConfigError
from wtmlib.data import difficulty, pattern_class
from wtmlib.mnist import (
    MNIST_MEAN, MNIST_STD, AggregatedMNISTConfig, DataNotFoundError, check_mnist_available,
    load_aggregated_mnist, resolve_root
)

N_TR, N_TE = 50, 20
SHARED = Path("/work/shared/data")


def _write_idx(path: Path, arr: np.ndarray) -> None:
    """IDX format: magic (0, 0, 0x08 = uint8, ndim) big-endian, then the dims, then bytes."""
    magic = 0x0800 | arr.ndim  # 2049 for labels, 2051 for images
    with open(path, "wb") as f:
        f.write(struct.pack(">i", magic))
        f.write(struct.pack(f">{arr.ndim}i", *arr.shape))
        f.write(arr.astype(np.uint8).tobytes())


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """Root holding MNIST/raw with 50 train / 20 test random images; returns (root, arrays)."""
    root = tmp_path_factory.mktemp("mnist")
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    arrays = {}
    for split, n, prefix in (("train", N_TR, "train"), ("test", N_TE, "t10k")):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labels = np.arange(n) % 10  # every digit present
        rng.shuffle(labels)
        _write_idx(raw / f"{prefix}-images-idx3-ubyte", images)
        _write_idx(raw / f"{prefix}-labels-idx1-ubyte", labels)
        arrays[split] = (images, labels)
    return root, arrays


def _cfg(root, **kw):
    kw.setdefault("n_train", N_TR)
    kw.setdefault("n_test", N_TE)
    return AggregatedMNISTConfig(root=str(root), download=False, **kw)


def test_idx_magic_numbers(tiny):
    root, _ = tiny
    raw = root / "MNIST" / "raw"
    assert struct.unpack(">i", (raw / "train-images-idx3-ubyte").read_bytes()[:4])[0] == 2051
    assert struct.unpack(">i", (raw / "train-labels-idx1-ubyte").read_bytes()[:4])[0] == 2049


def test_shapes_dtypes_and_class_rule(tiny):
    root, arrays = tiny
    d = load_aggregated_mnist(_cfg(root))
    assert d.x_train.shape == (N_TR, 784) and d.x_test.shape == (N_TE, 784)
    assert d.x_train.dtype == torch.float32
    for t in (d.y_train, d.p_train, d.y_test, d.p_test):
        assert t.dtype == torch.int64
    assert torch.equal(d.p_train, torch.as_tensor(arrays["train"][1], dtype=torch.int64))
    assert torch.equal(d.p_test, torch.as_tensor(arrays["test"][1], dtype=torch.int64))
    assert torch.equal(d.y_train, (d.p_train >= 5).long())
    assert torch.equal(d.y_test, (d.p_test >= 5).long())
    assert torch.equal(d.pattern_class(), pattern_class(10)) and d.n_pat == 10
    assert d.centroids.shape == (10, 784) and d.centroids.dtype == torch.float32
    assert difficulty(d.x_train, d.y_train, d.centroids).shape == (N_TR,)


def test_scaling(tiny):
    root, arrays = tiny
    pixels = torch.as_tensor(arrays["train"][0]).reshape(N_TR, -1).float()
    unit = load_aggregated_mnist(_cfg(root))  # default: pixels/255
    assert AggregatedMNISTConfig().scaling == "pixels/255"
    assert unit.x_train.min() >= 0 and unit.x_train.max() <= 1
    torch.testing.assert_close(unit.x_train, pixels / 255)
    std = load_aggregated_mnist(_cfg(root, scaling="standardize"))
    torch.testing.assert_close(std.x_train, (pixels / 255 - MNIST_MEAN) / MNIST_STD)


def test_centroids_are_digit_means(tiny):
    root, _ = tiny
    d = load_aggregated_mnist(_cfg(root))
    for k in range(10):
        torch.testing.assert_close(d.centroids[k], d.x_train[d.p_train == k].mean(0))


def test_subsets_deterministic_and_independent(tiny):
    root, arrays = tiny
    full = load_aggregated_mnist(_cfg(root))
    a = load_aggregated_mnist(_cfg(root, n_train=17, n_test=7, seed=3))
    b = load_aggregated_mnist(_cfg(root, n_train=17, n_test=7, seed=3))
    c = load_aggregated_mnist(_cfg(root, n_train=17, n_test=7, seed=4))
    assert a.x_train.shape == (17, 784) and a.x_test.shape == (7, 784)
    assert torch.equal(a.x_train, b.x_train) and torch.equal(a.p_test, b.p_test)
    assert not torch.equal(a.x_train, c.x_train)
    # subset rows are rows of the full split, in file order, without repeats
    rows = [int((full.x_train == r).all(1).nonzero()) for r in a.x_train]
    assert rows == sorted(set(rows))
    # the test subset does not depend on n_train; full splits do not depend on the seed
    e = load_aggregated_mnist(_cfg(root, n_train=30, n_test=7, seed=3))
    assert torch.equal(a.x_test, e.x_test)
    f = load_aggregated_mnist(_cfg(root, seed=9))
    assert torch.equal(full.x_train, f.x_train) and torch.equal(full.p_test, f.p_test)
    with pytest.raises(ConfigError, match="n_train=51"):
        load_aggregated_mnist(_cfg(root, n_train=N_TR + 1))


def test_wtm_data_env_var(tiny, monkeypatch):
    root, _ = tiny
    monkeypatch.setenv("WTM_DATA", str(root))
    cfg = AggregatedMNISTConfig(n_train=N_TR, n_test=N_TE, download=False)
    assert resolve_root(cfg) == root
    assert check_mnist_available(cfg) == root / "MNIST" / "raw"
    assert load_aggregated_mnist(cfg).x_train.shape == (N_TR, 784)
    monkeypatch.delenv("WTM_DATA")
    assert resolve_root(cfg) == Path("./data")
    assert resolve_root(AggregatedMNISTConfig(root="/x/y")) == Path("/x/y")


def test_missing_files_raise_clear_error(tmp_path, monkeypatch):
    monkeypatch.delenv("WTM_DATA", raising=False)
    cfg = AggregatedMNISTConfig(root=str(tmp_path / "nowhere"), download=False)
    for fn in (check_mnist_available, load_aggregated_mnist):
        with pytest.raises(DataNotFoundError) as info:
            fn(cfg)
        msg = str(info.value)
        assert str(tmp_path / "nowhere" / "MNIST" / "raw") in msg
        assert "WTM_DATA" in msg and "train-images-idx3-ubyte" in msg
    assert isinstance(info.value, FileNotFoundError)


def test_failed_download_is_chained_and_fast(tmp_path, monkeypatch):
    from torchvision.datasets import MNIST

    def offline(self):
        raise RuntimeError("Error downloading train-images-idx3-ubyte.gz: no network")

    monkeypatch.setattr(MNIST, "download", offline)
    cfg = AggregatedMNISTConfig(root=str(tmp_path), download=True)
    with pytest.raises(DataNotFoundError, match="download failed") as info:
        load_aggregated_mnist(cfg)
    assert isinstance(info.value.__cause__, RuntimeError)
    assert "WTM_DATA" in str(info.value)


def test_present_files_never_download(tiny, monkeypatch):
    from torchvision.datasets import MNIST

    def no_network(self):
        raise AssertionError("download attempted although the files exist")

    monkeypatch.setattr(MNIST, "download", no_network)
    root, _ = tiny
    cfg = AggregatedMNISTConfig(root=str(root), n_train=N_TR, n_test=N_TE, download=True)
    assert load_aggregated_mnist(cfg).x_test.shape == (N_TE, 784)


@pytest.mark.parametrize("kw, name", [
    ({"n_train": 0}, "n_train"), ({"n_train": 60001}, "n_train"), ({"n_test": 0}, "n_test"),
    ({"n_test": 10001}, "n_test"), ({"scaling": "unit"}, "scaling"),
    ({"download": 1}, "download"), ({"seed": -1}, "seed"), ({"root": 3}, "root"),
    ({"n_train": 1.5}, "n_train"),
])
def test_config_validation(kw, name):
    with pytest.raises(ConfigError, match=name):
        AggregatedMNISTConfig(**kw)


def test_path_root_kept_as_string(tmp_path):
    assert AggregatedMNISTConfig(root=tmp_path).root == str(tmp_path)


@pytest.mark.skipif(not (SHARED / "MNIST" / "raw").is_dir(), reason="no shared MNIST files")
def test_real_mnist():
    d = load_aggregated_mnist(AggregatedMNISTConfig(root=str(SHARED), download=False))
    assert d.x_train.shape == (60000, 784) and d.x_test.shape == (10000, 784)
    assert int((d.p_train == 0).sum()) == 5923
    assert torch.equal(torch.bincount(d.p_test), torch.tensor(
        [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]))
    assert abs(d.x_train.mean().item() - MNIST_MEAN) < 1e-3
    assert abs(d.x_train.std().item() - MNIST_STD) < 1e-3
    assert int(d.y_train.sum()) == 60000 - sum([5923, 6742, 5958, 6131, 5842])
