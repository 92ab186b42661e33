"""``wtm bench``: how close training runs to the speed of its matrix multiplies.

The book's cost is almost all matrix multiplies of known size. The benchmark measures,
in one process, on the paper's shapes (n_train 15000, n_dim 500, 1000 hidden neurons):

* the matmul rate (GFLOP/s) of ``[15000, 500] @ [500, 1000]`` and of a batch of 64;
* a full-batch Layca epoch with all recording (``wtmlib.train``), without the probe
  pass, and a plain PyTorch loop without recording (forward, backward, Layca step);
* a straightforward baseline: forward hooks that store every epoch's activations and
  a separate evaluation pass for the metrics and the derivative signs;
* an SGD epoch at batch 64 with the until-fit check (Section 3.1);

and prints each as seconds per epoch and as a fraction of the matmul rate (the FLOPs
an epoch needs, divided by its time, divided by the measured rate).
"""

from __future__ import annotations

import json
import platform
import time
from dataclasses import replace

import torch
import torch.nn.functional as F

from .data import SyntheticConfig, make_synthetic
from .optim import Layca
from .train import ModelConfig, TrainConfig, build_model, resolve_device, train


def _timeit(fn, repeat: int = 3, sync=lambda: None) -> float:
    fn()
    sync()
    start = time.perf_counter()
    for _ in range(repeat):
        fn()
    sync()
    return (time.perf_counter() - start) / repeat


def matmul_rate(n: int, d: int, h: int, device, sync) -> float:
    """GFLOP/s of an ``[n, d] @ [d, h]`` float32 product."""
    a, b = torch.randn(n, d, device=device), torch.randn(d, h, device=device)
    return 2 * n * d * h / _timeit(lambda: a @ b, 5, sync) / 1e9


def _plain_epochs(data, epochs: int, device) -> float:
    """Full-batch Layca with no recording at all: seconds per epoch."""
    model = build_model(data.x_train.shape[1], ModelConfig(), 0).to(device)
    opt = Layca([model.hidden.weight, model.out.weight], lr=3**-3)
    x, y = data.x_train.to(device), data.y_train.float().to(device)
    start = time.perf_counter()
    for _ in range(epochs):
        opt.zero_grad()
        F.binary_cross_entropy_with_logits(model(x), y).backward()
        opt.step()
    return (time.perf_counter() - start) / epochs


def _baseline_epochs(data, epochs: int, device) -> float:
    """The obvious implementation: hooks store each epoch's activations, then a separate
    evaluation pass computes accuracy, pattern means and dL/da signs."""
    model = build_model(data.x_train.shape[1], ModelConfig(), 0).to(device)
    opt = Layca([model.hidden.weight, model.out.weight], lr=3**-3)
    x, y, p = (t.to(device) for t in (data.x_train, data.y_train.float(), data.p_train))
    stored = []
    handle = model.hook_pre.register_forward_hook(lambda m, i, o: stored.append(o.detach().cpu()))
    start = time.perf_counter()
    for _ in range(epochs):
        opt.zero_grad()
        F.binary_cross_entropy_with_logits(model(x), y).backward()
        opt.step()
        xe = x.clone().requires_grad_(False)  # separate evaluation pass
        a = model.act(model.hidden(xe))
        a.retain_grad()
        logits = model.out(a).squeeze(-1)
        F.binary_cross_entropy_with_logits(logits, y).backward()
        _ = torch.sign(a.grad).cpu()
        z = stored[-1]
        _ = torch.stack([z[(p == k).cpu()].mean(0) for k in range(int(p.max()) + 1)])
    handle.remove()
    return (time.perf_counter() - start) / epochs


def run_bench(epochs: int = 5, device: str = "auto", threads: int = 0) -> dict:
    """Measure everything listed in the module docstring; return a JSON-able report."""
    if threads:
        torch.set_num_threads(threads)
    dev = resolve_device(device)
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    data = make_synthetic(SyntheticConfig())
    n, d, h = 15000, 500, 1000
    n_test = 6000
    rate = matmul_rate(n, d, h, dev, sync)
    rate64 = matmul_rate(64, d, h, dev, sync)
    base = TrainConfig(epochs=epochs, lr_decay_epoch=-1, progress=False, device=str(dev))

    def per_epoch(cfg):
        """Marginal cost of an epoch: the difference of a run of 2E and one of E epochs
        (cancels the fixed costs of a run: set-up, allocation, the final arrays)."""
        short = train(data, ModelConfig(), cfg).metrics["wall_s"]
        long = train(data, ModelConfig(), replace(cfg, epochs=2 * cfg.epochs)).metrics["wall_s"]
        return (long - short) / cfg.epochs

    train(data, ModelConfig(), replace(base, epochs=1))  # warm-up (threads, allocator)

    flop_step = 4 * n * d * h  # forward z = x W1^T and the W1 gradient (x has no grad)
    flop_probe = 2 * n_test * d * h
    flop_eval = 2 * n * d * h
    rows = {}
    t = per_epoch(base)
    rows["full batch, all recording + test probe"] = (t, flop_step + flop_probe, rate)
    t = per_epoch(replace(base, probe=False))
    rows["full batch, all recording, no probe"] = (t, flop_step, rate)
    rows["full batch, plain loop, no recording"] = (_plain_epochs(data, epochs, dev), flop_step,
                                                    rate)
    rows["full batch, naive baseline (hooks + eval pass)"] = (
        _baseline_epochs(data, epochs, dev), flop_step + 2 * flop_eval, rate)
    sgd = TrainConfig.section3(epochs=max(1, epochs // 2), until_fit=False, probe=False,
                               progress=False, device=str(dev))
    rows["SGD batch 64 + until-fit check"] = (per_epoch(sgd), flop_step + flop_eval, rate64)
    report = {"machine": platform.processor() or platform.machine(), "device": str(dev),
              "threads": torch.get_num_threads(), "torch": torch.__version__,
              "matmul_gflops": rate, "matmul64_gflops": rate64, "rows": {}}
    for name, (sec, flop, r) in rows.items():
        report["rows"][name] = {"s_per_epoch": sec, "gflop_per_epoch": flop / 1e9,
                                "fraction_of_matmul_rate": flop / sec / 1e9 / r}
    return report


def print_report(rep: dict) -> None:
    print(f"device {rep['device']}, {rep['threads']} threads, torch {rep['torch']}")
    print(f"matmul [15000,500]@[500,1000]: {rep['matmul_gflops']:.1f} GFLOP/s; "
          f"batch 64: {rep['matmul64_gflops']:.1f} GFLOP/s")
    for name, r in rep["rows"].items():
        print(f"  {name:<48} {r['s_per_epoch']:8.3f} s/epoch  {r['gflop_per_epoch']:6.1f} "
              f"GFLOP  {100 * r['fraction_of_matmul_rate']:5.1f}% of the matmul rate")
    rows = rep["rows"]
    rec = rows["full batch, all recording, no probe"]["s_per_epoch"]
    plain = rows["full batch, plain loop, no recording"]["s_per_epoch"]
    naive = rows["full batch, naive baseline (hooks + eval pass)"]["s_per_epoch"]
    print(f"recording overhead over the plain loop: {100 * (rec / plain - 1):+.1f}%; "
          f"speed-up of recorded training over the naive baseline: {naive / rec:.2f}x")


def main(epochs: int, device: str, threads: int, out: str | None) -> None:
    rep = run_bench(epochs, device, threads)
    print_report(rep)
    if out:
        with open(out, "w") as f:
            json.dump(rep, f, indent=1)
