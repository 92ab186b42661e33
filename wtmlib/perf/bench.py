"""``wtm bench``: how close training runs to the speed of its matrix multiplies.

The book's cost is almost all matrix multiplies of known size. The benchmark measures,
in one process, on the paper's shapes (n_train 15000, n_dim 500, 1000 hidden neurons):

* the matmul rate (GFLOP/s) of ``[15000, 500] @ [500, 1000]`` and of a batch of 64,
  written into a reused output (the fastest the product runs: the strict denominator);
* a full-batch Layca epoch with all recording (``wtmlib.training.loop``, fast engine), with and
  without the probe pass, and the same through the reference engine (``MLP.forward``,
  autograd, hook points); the same loop without recording (forward, backward, step with
  the same optimizer groups), through ``mlp_logits`` (the fast engine's pass) and
  through ``MLP.forward`` and autograd (the plain PyTorch loop);
* a straightforward baseline: forward hooks that store every epoch's activations and
  a separate evaluation pass for the metrics and the derivative signs;
* the same full-batch epoch with batch normalization (Appendix A.1's model), written out
  (``bn_mlp_logits``, all recording) and through ``MLP.forward`` and autograd;
* an SGD epoch at batch 64 with the until-fit check (Section 3.1), with both engines;
* a sweep of ``sweep_models`` such SGD models, one by one and stacked
  (``wtmlib.training.loop.train_models``);

and prints each as seconds per epoch (the median over epochs, timed between the
training loop's own epoch callbacks; the fastest round) and as a fraction of the matmul
rate: the FLOPs an epoch needs (``epoch_flops``), divided by its time, divided by the
rate measured just before it (the median of these ratios over the rounds).

``wtmlib.perf.flops.stored_summary`` adds up the runs in the results folder of the current
numerics version: their FLOPs, the floor those FLOPs set at the measured matmul rate, and
their measured training time.
"""

from __future__ import annotations

import json
import platform
import statistics
import time
from dataclasses import replace

import torch
import torch.nn.functional as F

from wtmlib.config import Execution, ModelConfig, TrainConfig
from wtmlib.data import SyntheticConfig, make_synthetic
from wtmlib.training.fast.passes import Buffers, mlp_logits
from wtmlib.perf.flops import N, D, H, N_TEST, epoch_flops, stored_summary
from wtmlib.results.probe import PROBE_ENV, device_sync, matmul_rate
from wtmlib.model import build_model
from wtmlib.optim import build_optimizer
from wtmlib.training.loop import train, train_models

class EpochClock:
    """Timestamps at each epoch boundary; ``per_epoch()`` is the median interval."""

    def __init__(self, sync):
        self.sync, self.stamps = sync, []

    def __call__(self, kind="epoch", _index=None, _model=None):
        if kind == "epoch":
            self.sync()
            self.stamps.append(time.perf_counter())

    def per_epoch(self) -> float:
        gaps = [b - a for a, b in zip(self.stamps, self.stamps[1:])]
        return statistics.median(gaps[1:] if len(gaps) > 2 else gaps)  # first: warm-up


def _plain_loop(data, cfg: TrainConfig, device, sync, fused: bool = True,
                after_step=None, model_cfg: ModelConfig = ModelConfig()) -> float:
    """Full-batch training as ``cfg`` says (same optimizer groups) with no recording at
    all: seconds per epoch. ``fused``: the fast engine's pass (``mlp_logits``, no batch
    norm), else ``MLP.forward`` and autograd. ``after_step(model, x, y, p)`` adds work to
    every epoch."""
    model = build_model(data.x_train.shape[1], model_cfg, 0).to(device)
    opt = build_optimizer(model, cfg)
    x, y, p = (t.to(device) for t in (data.x_train, data.y_train.float(), data.p_train))
    buffers, relu = Buffers(), model_cfg.activation == "relu"
    clock = EpochClock(sync)
    for _ in range(cfg.epochs):
        clock()
        opt.zero_grad()
        logits = (mlp_logits(x, model.hidden.weight, model.out.weight, model.out.bias, relu,
                             buffers.get("z", (len(x), model_cfg.n_hidden), x),
                             buffers.get("g x", x.shape, x)) if fused else model(x))
        F.binary_cross_entropy_with_logits(logits, y).backward()
        opt.step()
        if after_step is not None:
            after_step(model, x, y, p)
    return clock.per_epoch()


def _naive_baseline(data, cfg: TrainConfig, device, sync) -> float:
    """The obvious implementation: the autograd loop plus a separate evaluation pass each
    epoch, whose activations a hook stores, for accuracy, pattern means and dL/da signs."""
    stored = []

    def evaluate(model, x, y, p):
        if not stored:
            model.hook_pre.register_forward_hook(lambda m, i, o: stored.append(o.detach().cpu()))
        a = model.act(model.hook_pre(model.hidden(x)))  # separate evaluation pass
        a.retain_grad()
        F.binary_cross_entropy_with_logits(model.out(a).squeeze(-1), y).backward()
        _ = torch.sign(a.grad).cpu()
        z = stored[-1]
        _ = torch.stack([z[(p == k).cpu()].mean(0) for k in range(int(p.max()) + 1)])

    return _plain_loop(data, cfg, device, sync, fused=False, after_step=evaluate)


def _recorded(data, cfg, exe: Execution, sync, model_cfg: ModelConfig = ModelConfig()) -> float:
    clock = EpochClock(sync)
    train(data, model_cfg, cfg, exe, callback=clock)
    return clock.per_epoch()


def _timed(fn, sync) -> float:
    sync()
    start = time.perf_counter()
    fn()
    sync()
    return time.perf_counter() - start


def _sweep_alone(datas, cfgs, exe, sync) -> float:
    return _timed(lambda: [train(d, ModelConfig(), c, exe) for d, c in zip(datas, cfgs)], sync)


def _sweep_stacked(datas, cfgs, exe, sync) -> float:
    return _timed(lambda: train_models(datas, ModelConfig(), cfgs, exe), sync)


def run_bench(epochs: int = 8, device: str = "auto", threads: int = 0,
              sweep_models: int = 4, rounds: int = 5) -> dict:
    """Measure everything listed in the module docstring; return a JSON-able report.

    Each row is measured ``rounds`` times, interleaved with the others, and its fastest
    round is kept (a shared machine only ever makes a measurement slower).
    """
    exe = Execution(device=device, threads=threads, progress=False)
    if threads:
        torch.set_num_threads(threads)
    dev = exe.torch_device()
    ref = replace(exe, engine="reference")
    sync = device_sync(dev)
    data = make_synthetic(SyntheticConfig())
    base = TrainConfig(epochs=epochs + 1, lr_decay_epoch=-1)
    sgd = TrainConfig.section3(epochs=max(3, epochs // 2), until_fit=False, probe=False)
    bn = ModelConfig(batchnorm=True)
    datas = [make_synthetic(SyntheticConfig(seed=s)) for s in range(sweep_models)]
    cfgs = [replace(sgd, epochs=1, seed=s) for s in range(sweep_models)]
    train(data, ModelConfig(), replace(base, epochs=1), exe)  # warm-up (threads, allocator)

    full, mini = epoch_flops(N, D, H, N_TEST, False, False), epoch_flops(N, D, H, 0, True, False)
    sweep_flop = sweep_models * (mini + 2 * N * D * H)  # one epoch and the initial state
    sweep = f"sweep of {sweep_models} SGD models (1 epoch)"
    # name: (measure -> seconds, FLOPs, which matmul rate)
    measures = {
        "full batch, all recording + test probe": (
            lambda: _recorded(data, base, exe, sync), epoch_flops(N, D, H, N_TEST, False, True),
            0),
        "full batch, all recording + test probe, reference engine": (
            lambda: _recorded(data, base, ref, sync), epoch_flops(N, D, H, N_TEST, False, True),
            0),
        "full batch, all recording, no probe": (
            lambda: _recorded(data, replace(base, probe=False), exe, sync), full, 0),
        "full batch, plain loop, no recording": (
            lambda: _plain_loop(data, base, dev, sync), full, 0),
        "full batch, autograd loop (MLP.forward), no recording": (
            lambda: _plain_loop(data, base, dev, sync, fused=False), full, 0),
        "full batch, naive baseline (hooks + eval pass)": (
            lambda: _naive_baseline(data, base, dev, sync), full + 4 * N * D * H, 0),
        "batch norm, full batch, all recording, no probe": (
            lambda: _recorded(data, replace(base, probe=False), exe, sync, bn), full, 0),
        "batch norm, full batch, autograd loop, no recording": (
            lambda: _plain_loop(data, base, dev, sync, fused=False, model_cfg=bn), full, 0),
        "SGD batch 64 + until-fit check": (lambda: _recorded(data, sgd, exe, sync), mini, 1),
        "SGD batch 64 + until-fit check, reference engine": (
            lambda: _recorded(data, sgd, ref, sync), mini, 1),
        f"{sweep}, one by one": (lambda: _sweep_alone(datas, cfgs, exe, sync), sweep_flop, 1),
        f"{sweep}, stacked": (lambda: _sweep_stacked(datas, cfgs, exe, sync), sweep_flop, 1),
    }
    # every measurement is paired with a matmul rate taken just before it: the machine's
    # speed drifts by tens of percent within minutes, and a ratio of two moments would too
    samples: dict[str, list] = {name: [] for name in measures}
    fractions: dict[str, list] = {name: [] for name in measures}
    rates: list[list] = [[], []]
    for _ in range(rounds):
        for name, (measure, flop, which) in measures.items():
            rate = (matmul_rate(N, D, H, dev, sync) if which == 0
                    else matmul_rate(64, D, H, dev, sync, repeat=50))
            rates[which].append(rate)
            samples[name].append(measure())
            fractions[name].append(flop / samples[name][-1] / 1e9 / rate)
    best = {name: min(v) for name, v in samples.items()}

    def paired(a: str, b: str) -> float:
        """Median over rounds of a's time over b's, measured side by side."""
        return statistics.median(x / y for x, y in zip(samples[a], samples[b]))

    report = {"machine": platform.processor() or platform.machine(), "device": str(dev),
              "threads": torch.get_num_threads(), "torch": torch.__version__,
              "rounds": rounds, "matmul_gflops": max(rates[0]), "matmul64_gflops": max(rates[1]),
              "matmul_gflops_median": statistics.median(rates[0]),
              "matmul_gflops_rounds": rates[0], "matmul64_gflops_rounds": rates[1],
              "rows": {}, "stored": stored_summary(max(rates[0]))}
    for name, (_, flop, which) in measures.items():
        report["rows"][name] = {"seconds": best[name], "rounds": samples[name],
                                "gflop": flop / 1e9,
                                "fraction_of_matmul_rate": statistics.median(fractions[name]),
                                "fraction_rounds": fractions[name]}
    report["recording_overhead"] = paired("full batch, all recording, no probe",
                                          "full batch, plain loop, no recording") - 1
    report["autograd_over_plain"] = paired(
        "full batch, autograd loop (MLP.forward), no recording",
        "full batch, plain loop, no recording")
    report["naive_over_recorded"] = paired("full batch, naive baseline (hooks + eval pass)",
                                           "full batch, all recording, no probe")
    report["batched_speedup"] = paired(f"{sweep}, one by one", f"{sweep}, stacked")
    report["reference_over_fast"] = paired(
        "full batch, all recording + test probe, reference engine",
        "full batch, all recording + test probe")
    report["reference_over_fast_sgd"] = paired(
        "SGD batch 64 + until-fit check, reference engine", "SGD batch 64 + until-fit check")
    report["batchnorm_autograd_over_recorded"] = paired(
        "batch norm, full batch, autograd loop, no recording",
        "batch norm, full batch, all recording, no probe")
    return report


def print_report(rep: dict) -> None:
    print(f"device {rep['device']}, {rep['threads']} threads, torch {rep['torch']}")
    print(f"matmul, a step's two products on the paper's shapes: {rep['matmul_gflops']:.1f} "
          f"GFLOP/s at best (median {rep['matmul_gflops_median']:.1f}); batch 64: "
          f"{rep['matmul64_gflops']:.1f} GFLOP/s")
    for name, r in rep["rows"].items():
        unit = "s     " if name.startswith("sweep") else "s/epoch"
        print(f"  {name:<54} {r['seconds']:8.3f} {unit} {r['gflop']:7.1f} GFLOP "
              f"{100 * r['fraction_of_matmul_rate']:6.1f}% of the matmul rate")
    print("(seconds: the fastest round; % of the matmul rate: median over rounds, each "
          "against the rate measured just before it)")
    print(f"median over {rep['rounds']} rounds, side by side: recording overhead over the plain "
          f"loop {100 * rep['recording_overhead']:+.1f}%; plain loop "
          f"{rep['autograd_over_plain']:.2f}x faster than the autograd loop; recorded training "
          f"{rep['naive_over_recorded']:.2f}x faster than the naive baseline; "
          f"stacked sweep {rep['batched_speedup']:.2f}x faster than one by one; batch norm "
          f"written out (recording) {rep['batchnorm_autograd_over_recorded']:.2f}x faster "
          "than its autograd loop; the reference engine "
          f"{rep['reference_over_fast']:.2f}x slower than the fast one at full batch, "
          f"{rep['reference_over_fast_sgd']:.2f}x at SGD batch 64")
    if rep["stored"]:
        median = rep["matmul_gflops_median"]
        print("stored runs of this numerics version (results folder), floor = FLOPs / matmul rate "
              "(the median rate; at the best rate in brackets):")
        rows = dict(rep["stored"])
        rows["all"] = {k: sum(r.get(k, 0) for r in rows.values())
                       for k in ("runs", "gflop", "wall_s", "floor_s", "probed",
                                 "probed_floor_s", "probed_wall_s")}
        for exp, r in rows.items():
            floor = r["gflop"] / median
            print(f"  {exp:<12} {r['runs']:4d} runs {r['gflop']:10.0f} GFLOP  floor "
                  f"{floor:6.0f} s ({r['floor_s']:.0f} s)  measured {r['wall_s']:6.0f} s  "
                  f"{r['wall_s'] / floor:.2f}x the floor ({r['wall_s'] / r['floor_s']:.2f}x)")
        if rows["all"]["probed"]:
            print("the same runs against the machine's matmul rate measured around each "
                  f"run ({PROBE_ENV}=1, runs that have it):")
            for exp, r in rows.items():
                if r.get("probed"):
                    print(f"  {exp:<12} {r['probed']:4d} runs  floor {r['probed_floor_s']:6.0f} s"
                          f"  measured {r['probed_wall_s']:6.0f} s  "
                          f"{r['probed_wall_s'] / r['probed_floor_s']:.2f}x the floor")


def main(epochs: int, device: str, threads: int, out: str | None, sweep_models: int = 4,
         rounds: int = 5) -> None:
    rep = run_bench(epochs, device, threads, sweep_models, rounds)
    print_report(rep)
    if out:
        with open(out, "w") as f:
            json.dump(rep, f, indent=1)
