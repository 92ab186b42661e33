"""The benchmark's FLOP accounting against PyTorch's FLOP counter, and its summary of
stored runs (the timings themselves are measured by `wtm bench`, not tested)."""

import json
import math
from dataclasses import replace

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from wtmlib.perf import bench, flops
from wtmlib.results import cache, probe, runs
from wtmlib.data import SyntheticConfig, make_synthetic
from wtmlib.config import ModelConfig, TrainConfig
from wtmlib.training.loop import train

DATA = SyntheticConfig(n_dim=200, l_pat=5, n_pat=6, n_train=600, n_test=240)
MODEL = ModelConfig(n_hidden=300)


@pytest.mark.parametrize("model,cfg", [
    (MODEL, TrainConfig(epochs=4)),
    (MODEL, TrainConfig(epochs=4, probe=False)),
    (MODEL, TrainConfig.section3(epochs=3, batch_size=64, until_fit=False)),
    # the linear ablation: the hidden layer is never formed, matrix-vector products only
    (ModelConfig(n_hidden=300, activation="linear"), TrainConfig(epochs=4)),
    (ModelConfig(n_hidden=300, activation="linear"),
     TrainConfig.section3(epochs=3, batch_size=64, until_fit=False)),
    # batch norm (bn_mlp_logits): the full weight-gradient product again, even linear
    (ModelConfig(n_hidden=300, activation="linear", batchnorm=True),
     TrainConfig(epochs=4)),
    # Appendix A.1's regime: batch norm, large mini-batches, an evaluation pass an epoch
    (ModelConfig(n_hidden=300, batchnorm=True),
     TrainConfig(epochs=3, batch_size=200, output_layer="sgd")),
])
def test_run_flops_counts_the_matmuls_that_run(model, cfg):
    """``run_flops`` against PyTorch's FLOP counter: a whole run (within 8 %: the formula
    leaves out the output layer and the set-up), and two more epochs (within 3 %: the
    set-up and the final arrays cancel, so this holds for the linear model too, whose
    passes cost little more than its set-up)."""
    data = make_synthetic(DATA)
    # the in-place products of the written-out SGD step count as their out-of-place forms
    def product(_self_shape, a_shape, b_shape, *_args, **_kwargs):  # [.., m, k] @ [.., k, n]
        return 2 * math.prod(a_shape) * b_shape[-1]

    def vector(a_shape, *_args, **_kwargs):  # [m, k] @ [k]
        return 2 * math.prod(a_shape)

    def add_vector(_input_shape, a_shape, *_args, **_kwargs):
        return 2 * math.prod(a_shape)

    # and so do matrix-vector products (the linear model's passes): PyTorch skips them
    in_place = {torch.ops.aten.addmm_: product, torch.ops.aten.baddbmm_: product,
                torch.ops.aten.mv: vector, torch.ops.aten.addmv: add_vector}

    def counted_and_predicted(c):
        with FlopCounterMode(display=False, custom_mapping=in_place) as counter:
            out = train(data, model, c)
        return counter.get_total_flops(), flops.run_flops(runs.run_config(DATA, model, c),
                                                          out.metrics)

    counted, predicted = counted_and_predicted(cfg)
    if model.activation == "relu" or model.batchnorm:
        assert predicted <= counted <= 1.08 * predicted
    counted2, predicted2 = counted_and_predicted(replace(cfg, epochs=cfg.epochs + 2))
    assert predicted2 - predicted <= counted2 - counted <= 1.03 * (predicted2 - predicted)


def test_epoch_flops_by_hand():
    n, d, h, t = 10, 3, 4, 5
    assert flops.epoch_flops(n, d, h, t, False, False) == 4 * 120
    assert flops.epoch_flops(n, d, h, t, True, True) == 6 * 120 + 2 * 60
    # the linear model: x v and x^T g (2nd each) and v = W1^T w2, W1 x^T g (2dh) per step
    assert flops.epoch_flops(n, d, h, t, False, True, linear=True) == 4 * 30 + 4 * 12 + 2 * 15 + 2 * 12
    assert flops.epoch_flops(n, d, h, t, True, False, linear=True, steps=3) == (
        4 * 30 + 12 * 12 + 2 * 30 + 2 * 12)


def test_stored_summary_adds_up_runs_of_this_numerics_version_only(tmp_path):
    cfg = TrainConfig(epochs=2)
    res = runs.run(DATA, MODEL, cfg, experiment="exp", root=tmp_path)
    other = json.loads((tmp_path / "exp" / f"{res.key}.json").read_text())
    other["info"]["numerics"] = cache.NUMERICS_VERSION - 1  # an older version: not counted
    (tmp_path / "exp" / "older.json").write_text(json.dumps(other))
    summary = flops.stored_summary(100.0, tmp_path)
    row = summary["exp"]
    assert row["runs"] == 1
    assert row["gflop"] == pytest.approx(flops.run_flops(res.config, res.metrics) / 1e9)
    assert row["wall_s"] == pytest.approx(res.metrics["wall_s"])
    assert row["floor_s"] == pytest.approx(row["gflop"] / 100.0)


def _report(stored: dict) -> dict:
    """A bench report with matmul rates 200 (best) and 100 (median) GFLOP/s, no rows."""
    return {"device": "cpu", "threads": 2, "torch": "x", "matmul_gflops": 200.0,
            "matmul_gflops_median": 100.0, "matmul64_gflops": 50.0, "rows": {}, "rounds": 1,
            "recording_overhead": 0.0, "autograd_over_plain": 1.0, "naive_over_recorded": 1.0,
            "batched_speedup": 1.0, "batchnorm_autograd_over_recorded": 1.0,
            "reference_over_fast": 1.0, "reference_over_fast_sgd": 1.0, "stored": stored}


def test_report_prints_the_stored_floor_at_both_rates_and_in_all(capsys):
    stored = {"a": {"runs": 2, "gflop": 200.0, "wall_s": 5.0, "floor_s": 1.0},
              "b": {"runs": 1, "gflop": 100.0, "wall_s": 1.0, "floor_s": 0.5}}
    bench.print_report(_report(stored))
    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()
             if line.startswith("  ")}
    # floor at the median rate 100 GFLOP/s: 2 s for a, 3 s in all; at the best rate 1.5 s
    assert "floor      2 s (1 s)" in lines["a"] and "2.50x the floor (5.00x)" in lines["a"]
    assert "3 runs" in lines["all"] and "floor      3 s (2 s)" in lines["all"]
    assert "2.00x the floor (4.00x)" in lines["all"]


def test_rate_probe_measures_again_only_when_its_last_rate_is_old(monkeypatch):
    calls = []
    monkeypatch.setattr(probe, "matmul_rate",
                        lambda *a, **k: calls.append(a) or 100.0 + len(calls))
    rates = probe.RateProbe(every_s=3600)
    assert rates.rate("cpu") == rates.rate(torch.device("cpu")) == 101.0 and len(calls) == 1
    assert calls[0][:3] == (probe.N, probe.D, probe.H)  # the paper's shapes
    rates.every_s = 0
    assert rates.rate("cpu") == 102.0 and len(calls) == 2


def test_probed_runs_store_the_rate_and_the_same_numbers(tmp_path, monkeypatch):
    """With $WTM_PROBE_RATE=1 a run's metrics hold the rate before and after it; the key
    and the arrays are those of an unprobed run (the probe draws from its own generator),
    and ``stored_summary`` gives the floor at those rates."""
    cfg = TrainConfig(epochs=2)
    plain = runs.run(DATA, MODEL, cfg, experiment="plain", root=tmp_path)
    monkeypatch.setattr(runs, "_PROBE", probe.RateProbe(every_s=0))
    monkeypatch.setenv(probe.PROBE_ENV, "1")
    torch.manual_seed(0)  # the global generator: the probe must not draw from it
    state = torch.random.get_rng_state()
    probed = runs.run(DATA, MODEL, cfg, experiment="probed", root=tmp_path)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert probed.key == plain.key
    assert plain.metrics.get("matmul_gflops") is None
    before, after = probed.metrics["matmul_gflops"]
    assert before > 0 and after > 0 and before != after  # every_s=0: two measurements
    for name, value in plain.arrays.items():
        assert torch.equal(torch.as_tensor(probed.arrays[name]), torch.as_tensor(value)), name
    row = flops.stored_summary(100.0, tmp_path)["probed"]
    flop = flops.run_flops(probed.config, probed.metrics) / 1e9
    assert row["probed"] == 1 and row["probed_wall_s"] == pytest.approx(probed.metrics["wall_s"])
    assert row["probed_floor_s"] == pytest.approx(flop / ((before + after) / 2))
    assert flops.stored_summary(100.0, tmp_path)["plain"]["probed"] == 0


def test_report_prints_the_floor_at_the_probed_rates(capsys):
    stored = {"a": {"runs": 2, "gflop": 200.0, "wall_s": 5.0, "floor_s": 1.0, "probed": 2,
                    "probed_floor_s": 4.0, "probed_wall_s": 5.0},
              "b": {"runs": 1, "gflop": 100.0, "wall_s": 1.0, "floor_s": 0.5, "probed": 0,
                    "probed_floor_s": 0.0, "probed_wall_s": 0.0}}
    bench.print_report(_report(stored))
    out = capsys.readouterr().out
    probed = out[out.index("measured around each run"):].splitlines()[1:]
    assert [line.split()[0] for line in probed] == ["a", "all"]  # b has no probed runs
    assert all("2 runs  floor      4 s  measured      5 s  1.25x the floor" in line
               for line in probed)
