"""``wtm cache``: what is stored, by experiment and numerics version; ``--prune``."""

from wtmlib.build import cli
from wtmlib.results import cache, runs
from wtmlib.config import ModelConfig, TrainConfig
from wtmlib.data import SyntheticConfig

DATA = SyntheticConfig(n_dim=40, l_pat=2, n_pat=6, n_train=120, n_test=60)


def test_wtm_cache_lists_and_prunes(tmp_path, monkeypatch, capsys):
    runs.run(DATA, ModelConfig(n_hidden=8), TrainConfig(epochs=2), "exp", root=tmp_path)
    monkeypatch.setattr(cache, "NUMERICS_VERSION", cache.NUMERICS_VERSION - 1)
    runs.run(DATA, ModelConfig(n_hidden=8), TrainConfig(epochs=2), "exp", root=tmp_path)
    monkeypatch.undo()
    assert cli.main(["cache", "--root", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "in use" in out and "unusable (prune)" in out and "2 runs" in out
    assert cli.main(["cache", "--root", str(tmp_path), "--prune", "--dry-run"]) == 0
    assert "would delete 1 result(s)" in capsys.readouterr().out
    assert len(cache.stored(tmp_path)) == 2
    assert cli.main(["cache", "--root", str(tmp_path), "--prune"]) == 0
    assert "deleted 1 result(s)" in capsys.readouterr().out
    assert [r["current"] for r in cache.stored(tmp_path)] == [True]


def test_bad_execution_setting_is_one_line_error(capsys):
    assert cli.main(["bench", "--device", "tpu"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("wtm: error: device='tpu'") and err.count("\n") == 1
