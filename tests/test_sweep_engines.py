"""The ways of computing a sweep's missing runs store the same results: one by one,
batched (stacked models), a process pool, and a dask.distributed local cluster."""

import concurrent.futures
import json
from dataclasses import replace
from pathlib import Path

import pytest

from wtmlib.results import experiments, pool
from wtmlib.config import ConfigError
from wtmlib.data import SyntheticConfig
from wtmlib.config import Execution, ModelConfig, TrainConfig

DATA = SyntheticConfig(n_dim=40, l_pat=2, n_pat=6, n_train=300, n_test=60)
MODEL = ModelConfig(n_hidden=16)
TRAIN = TrainConfig.section3(epochs=20, batch_size=64)
EXE = Execution(device="cpu", threads=1, progress=False)
SIGMAS, SEEDS = [0.1, 0.6, 1.5], [0, 1]


def _grid(root: Path, monkeypatch, **engine):
    monkeypatch.setenv("WTM_RESULTS", str(root))
    return experiments.noise_grid(DATA, MODEL, TRAIN, SIGMAS, [0.3], SEEDS, **engine)


def _stored(root: Path) -> dict:
    docs = [json.loads(p.read_text()) for p in (root / "noise").glob("*.json")]
    return {d["key"]: d["info"]["npz_sha256"] for d in docs}


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    root = tmp_path_factory.mktemp("one_by_one")
    with pytest.MonkeyPatch.context() as mp:
        grid = _grid(root, mp)
    stored = _stored(root)
    assert len(stored) == len(SIGMAS) * len(SEEDS)
    return grid, stored


def _same(grid, root, reference):
    ref_grid, ref_stored = reference
    assert _stored(root) == ref_stored  # same keys, bit-identical arrays
    assert (grid.acc == ref_grid.acc).all() and (grid.epochs == ref_grid.epochs).all()


def test_batched_sweep_stores_what_one_by_one_stores(tmp_path, monkeypatch, reference):
    grid = _grid(tmp_path, monkeypatch, execution=replace(EXE, batch_models=4))
    _same(grid, tmp_path, reference)
    batched = [json.loads(p.read_text())["metrics"].get("stacked_with")
               for p in (tmp_path / "noise").glob("*.json")]
    assert sorted(batched) == [2, 2, 4, 4, 4, 4]  # 6 runs in groups of 4 and 2


def test_process_pool_sweep(tmp_path, monkeypatch, reference):
    with concurrent.futures.ProcessPoolExecutor(max_workers=2) as pool:
        grid = _grid(tmp_path, monkeypatch, executor=pool)
    _same(grid, tmp_path, reference)


def test_dask_local_cluster_sweep(tmp_path, monkeypatch, reference):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        grid = _grid(tmp_path, monkeypatch, executor=client)
    _same(grid, tmp_path, reference)


def test_prefetch_computes_only_what_is_missing(tmp_path, monkeypatch, reference):
    _grid(tmp_path, monkeypatch)
    jobs = [(DATA, MODEL, TRAIN)] * 2  # one job listed twice (two chapters' lists) trains once
    assert pool.prefetch(jobs, "noise", root=tmp_path) == 1
    assert pool.prefetch(jobs, "noise", root=tmp_path) == 0


def test_local_pool(tmp_path, monkeypatch, reference):
    with pool.local_pool(0) as none:
        assert none is None
    grid = _grid(tmp_path, monkeypatch, execution=replace(EXE, workers=2))
    _same(grid, tmp_path, reference)
    with pytest.raises(ConfigError, match="workers=-1"):
        pool.local_pool(-1)
    with pytest.raises(ConfigError, match="batch_models=-2"):
        replace(EXE, batch_models=-2)


def test_unbatchable_runs_fall_back_to_one_by_one(tmp_path, monkeypatch):
    monkeypatch.setenv("WTM_RESULTS", str(tmp_path))
    layca = TrainConfig(epochs=3)  # Layca, full batch: not batchable
    res = pool.seed_runs(DATA, MODEL, layca, [0, 1], "section4",
                           execution=replace(EXE, batch_models=4))
    assert [r.config["train"]["seed"] for r in res] == [0, 1]
    assert all("stacked_with" not in r.metrics for r in res)
