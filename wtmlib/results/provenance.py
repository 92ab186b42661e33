"""How a result was made: the checkout, the build profile, the machine.

Every stored run records where it was made (``run_provenance``: commit, torch version,
device, threads, engine), every stored claim the library version, commit and profile
(``build_provenance``). The profile is ``$WTM_PROFILE`` (set by ``wtm``); a notebook run
by hand is ``interactive``. Nothing here needs torch until a run is described.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

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


def run_provenance(execution, device) -> dict:
    """What a result records about how it was made (not part of its key)."""
    import torch  # noqa: PLC0415
    return dict(commit=git_commit(), torch=torch.__version__, device=str(device),
                threads=torch.get_num_threads(), engine=execution.engine)


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
