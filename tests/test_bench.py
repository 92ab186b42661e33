"""The benchmark's FLOP accounting against PyTorch's FLOP counter, and its summary of
stored runs (the timings themselves are measured by `wtm bench`, not tested)."""

import json
import math

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from wtmlib import bench, runs
from wtmlib.data import SyntheticConfig, make_synthetic
from wtmlib.train import ModelConfig, TrainConfig, train

DATA = SyntheticConfig(n_dim=200, l_pat=5, n_pat=6, n_train=600, n_test=240)
MODEL = ModelConfig(n_hidden=300)


@pytest.mark.parametrize("model,cfg", [
    (MODEL, TrainConfig(epochs=4, progress=False, device="cpu")),
    (MODEL, TrainConfig(epochs=4, probe=False, progress=False, device="cpu")),
    (MODEL, TrainConfig.section3(epochs=3, batch_size=64, until_fit=False, progress=False,
                                 device="cpu")),
    # the linear ablation: a rank-one weight gradient, no second large product
    (ModelConfig(n_hidden=300, activation="linear"), TrainConfig(epochs=4, device="cpu",
                                                                 progress=False)),
    # batch norm (bn_mlp_logits): the full weight-gradient product again, even linear
    (ModelConfig(n_hidden=300, activation="linear", batchnorm=True),
     TrainConfig(epochs=4, device="cpu", progress=False)),
    # Appendix A.1's regime: batch norm, large mini-batches, an evaluation pass an epoch
    (ModelConfig(n_hidden=300, batchnorm=True),
     TrainConfig(epochs=3, batch_size=200, output_layer="sgd", device="cpu", progress=False)),
])
def test_run_flops_counts_the_matmuls_that_run(model, cfg):
    data = make_synthetic(DATA)
    # the in-place products of the written-out SGD step count as their out-of-place forms
    def product(_self_shape, a_shape, b_shape, *_args, **_kwargs):  # [.., m, k] @ [.., k, n]
        return 2 * math.prod(a_shape) * b_shape[-1]

    in_place = {torch.ops.aten.addmm_: product, torch.ops.aten.baddbmm_: product}
    with FlopCounterMode(display=False, custom_mapping=in_place) as counter:
        out = train(data, model, cfg)
    counted = counter.get_total_flops()
    config = runs.run_config(DATA, model, cfg)
    predicted = bench.run_flops(config, out.metrics)
    # the formula leaves out the output layer, the pattern means and the set-up: a few %
    assert predicted <= counted <= 1.08 * predicted


def test_epoch_flops_by_hand():
    n, d, h, t = 10, 3, 4, 5
    assert bench.epoch_flops(n, d, h, t, False, False) == 4 * 120
    assert bench.epoch_flops(n, d, h, t, True, True) == 6 * 120 + 2 * 60
    assert bench.epoch_flops(n, d, h, t, False, False, rank_one_grad=True) == 2 * 120 + 2 * 30


def test_stored_summary_adds_up_runs_of_this_code_only(tmp_path):
    cfg = TrainConfig(epochs=2, progress=False, device="cpu")
    res = runs.run(DATA, MODEL, cfg, experiment="exp", root=tmp_path)
    other = json.loads((tmp_path / "exp" / f"{res.key}.json").read_text())
    other["info"]["code"] = "0" * 16  # a run of older code: not counted
    (tmp_path / "exp" / "older.json").write_text(json.dumps(other))
    summary = bench.stored_summary(100.0, tmp_path)
    row = summary["exp"]
    assert row["runs"] == 1
    assert row["gflop"] == pytest.approx(bench.run_flops(res.config, res.metrics) / 1e9)
    assert row["wall_s"] == pytest.approx(res.metrics["wall_s"])
    assert row["floor_s"] == pytest.approx(row["gflop"] / 100.0)
