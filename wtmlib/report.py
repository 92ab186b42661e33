"""Helpers the notebooks share: parameters in, provenance table, glued numbers, figures.

A chapter's parameters cell holds plain values; ``parameters(name, globals())`` collects
them, ``configs(P, SyntheticConfig, ...)`` hands them to the library's dataclasses
unchanged, and ``show_parameters(P)`` prints what the chapter ran with.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess

from . import __version__
from .pipeline import ROOT, chapter_parameters, default_parameters  # noqa: F401


def parameters(name: str, namespace: dict) -> dict:
    """The notebook's parameters (names from its parameters cell, values as run)."""
    return {key: namespace[key] for key in default_parameters(name)}


# chapter_parameters(name): the parameters another chapter runs with in this build,
# for chapters that reuse its cached runs (see wtmlib.pipeline).


def configs(params: dict, *classes):
    """One dataclass per class, built from the parameters whose names are its fields."""
    built = []
    for cls in classes:
        names = {f.name for f in dataclasses.fields(cls)}
        built.append(cls(**{k: v for k, v in params.items() if k in names}))
    return built[0] if len(built) == 1 else tuple(built)


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


def provenance() -> dict:
    """Library version, git commit and profile of this execution."""
    return {"wtmlib": __version__, "commit": git_commit(),
            "profile": os.environ.get("WTM_PROFILE") or "interactive (notebook defaults)"}


def show_parameters(params: dict) -> None:
    """Display the chapter's parameters and provenance as a small table."""
    from IPython.display import Markdown, display  # noqa: PLC0415

    rows = [f"| `{k}` | `{v!r}` |" for k, v in params.items()]
    rows += [f"| *{k}* | `{v}` |" for k, v in provenance().items()]
    display(Markdown("| parameter | value |\n|---|---|\n" + "\n".join(rows)))


def glue(name: str, value, fmt: str | None = None) -> None:
    """Glue a number for the prose (``{glue:text}`name``), formatted with ``fmt``."""
    from myst_nb import glue as _glue  # noqa: PLC0415

    _glue(name, format(value, fmt) if fmt else value, display=False)


def figure(fig, caption: str, name: str | None = None) -> None:
    """Show a figure with its caption (which says what configuration and seeds made it)."""
    import matplotlib.pyplot as plt  # noqa: PLC0415
    from IPython.display import Markdown, display  # noqa: PLC0415

    display(fig)
    plt.close(fig)
    display(Markdown(f"**Figure{' ' + name if name else ''}.** {caption}"))
