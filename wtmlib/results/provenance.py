"""The machine a run executes on: its provenance and its matmul rate.

Every stored result records where it was made (``provenance``: commit, torch version,
device, threads, engine). With ``$WTM_PROBE_RATE=1`` it also records the machine's
matmul rate before and after it trained (``RateProbe``), the denominator ``wtm bench``
divides a run's FLOPs by.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import torch

N, D, H = 15000, 500, 1000  # the paper's shapes (Section 2.1)
ROOT = Path(__file__).resolve().parents[2]  # the checkout


def git_commit() -> str:
    """Short commit of the checkout, with ``+dirty`` when it has uncommitted changes."""
    try:
        sha = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, text=True,
                             capture_output=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=ROOT, text=True, capture_output=True).stdout.strip()
        return sha + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def run_provenance(execution, device: torch.device) -> dict:
    """What a result records about how it was made (not part of its key)."""
    return dict(commit=git_commit(), torch=torch.__version__, device=str(device),
                threads=torch.get_num_threads(), engine=execution.engine)


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


def build_provenance() -> dict:
    """Library version, git commit and profile of this execution (stored with a claim)."""
    from wtmlib import __version__
    return {"wtmlib": __version__, "commit": git_commit(),
            "profile": os.environ.get("WTM_PROFILE") or "interactive (run outside wtm)"}


def current_profile() -> str:
    """``$WTM_PROFILE`` (set by ``wtm``), ``interactive`` when a notebook runs by hand."""
    return os.environ.get("WTM_PROFILE") or "interactive"


def is_preview(profile: str | None = None) -> bool:
    """A build at reduced size: any profile but ``paper`` (and a notebook run by hand,
    which starts from the paper's settings); ``"<profile>@<reading>"`` is judged by its
    profile."""
    return (profile or current_profile()).partition("@")[0] not in ("paper", "interactive")
