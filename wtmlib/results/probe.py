"""The machine's matmul rate while runs train: the denominator of ``wtm bench``.

With ``$WTM_PROBE_RATE=1`` every run stores the machine's matmul rate before and after it
trained (``RateProbe``), so a run's FLOP floor can use the machine's speed during that
run instead of a rate measured later: on a shared machine the two differ by tens of
percent.
"""

from __future__ import annotations

import time

import torch

N, D, H = 15000, 500, 1000  # the paper's shapes (Section 2.1)


def device_sync(dev: torch.device):
    """What waits for ``dev``'s queued work before a clock is read (nothing on the CPU)."""
    return torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)


def matmul_rate(n: int, d: int, h: int, device, sync, repeat: int = 5) -> float:
    """GFLOP/s of a training step's two products on these shapes, the forward
    ``[n, d] @ [d, h]`` and the weight gradient ``[h, n] @ [n, d]``, written into reused
    outputs (best of ``repeat``: the fastest they run, the strict denominator)."""
    gen = torch.Generator(device).manual_seed(0)  # leaves the global generator alone
    x, w = (torch.randn(*shape, device=device, generator=gen) for shape in ((n, d), (h, d)))
    mask = torch.randn(n, h, device=device, generator=gen)
    z, grad = torch.empty(n, h, device=device), torch.empty(h, d, device=device)

    def pair():
        torch.mm(x, w.T, out=z)
        torch.mm(mask.T, x, out=grad)

    pair()
    times = []
    for _ in range(repeat):
        sync()
        start = time.perf_counter()
        pair()
        sync()
        times.append(time.perf_counter() - start)
    return 4 * n * d * h / min(times) / 1e9


PROBE_ENV = "WTM_PROBE_RATE"  # "1": runs store the machine's matmul rate around them
PROBE_EVERY_S = 120.0


class RateProbe:
    """The machine's matmul rate now (``matmul_rate`` on the paper's shapes, best of two),
    measured again only when the last measurement is older than ``every_s`` seconds.

    ``wtmlib.results.runs.run`` asks before and after each run it trains when ``$WTM_PROBE_RATE``
    is ``1`` and stores both rates in the run's metrics (``matmul_gflops``), so a run's
    FLOP floor can use the machine's speed during that run instead of a rate measured
    later (``stored_summary``): on a shared machine the two differ by tens of percent.
    A probe costs about a second (the Speed page gives what it adds to a build)."""

    def __init__(self, every_s: float = PROBE_EVERY_S):
        self.every_s, self.last = every_s, {}

    def rate(self, device) -> float:
        dev = torch.device(device)
        when, value = self.last.get(str(dev), (-float("inf"), 0.0))
        if time.perf_counter() - when > self.every_s:
            value = matmul_rate(N, D, H, dev, device_sync(dev), repeat=2)
            self.last[str(dev)] = (time.perf_counter(), value)
        return value
