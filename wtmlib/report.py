"""Helpers the notebooks share: parameters in, provenance table, glued numbers, figures.

A chapter's parameters cell holds plain values; ``parameters(name, globals())`` collects
them, ``configs(P, SyntheticConfig, ...)`` hands them to the library's dataclasses
unchanged, and ``show_parameters(P)`` prints what the chapter ran with.
"""

from __future__ import annotations

import dataclasses
import html
import os
import subprocess

from . import __version__
from .pipeline import ROOT, chapter_parameters, default_parameters  # noqa: F401


_chapter: dict = {}  # the notebook name of the last ``parameters`` call (for the banner)


def parameters(name: str, namespace: dict) -> dict:
    """The notebook's parameters (names from its parameters cell, values as run)."""
    _chapter["name"] = name
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


def current_profile() -> str:
    """``$WTM_PROFILE`` (set by ``wtm``), ``interactive`` when a notebook runs by hand."""
    return os.environ.get("WTM_PROFILE") or "interactive"


def is_preview(profile: str | None = None) -> bool:
    """A build at reduced size: any profile but ``paper`` (and a notebook run by hand,
    which starts from the paper's settings)."""
    return (profile or current_profile()) not in ("paper", "interactive")


def preview_banner(changed: dict | None = None, profile: str | None = None) -> str:
    """HTML of the banner that marks a page of a reduced-size build ("" at paper size).
    ``changed``: ``{parameter: (value here, paper value)}`` to list in it."""
    profile = profile or current_profile()
    if not is_preview(profile):
        return ""
    diff = ""
    if changed:
        items = ", ".join(f"<code>{html.escape(k)}</code> {html.escape(repr(v))} "
                          f"(paper: {html.escape(repr(p))})" for k, (v, p) in changed.items())
        diff = f" This chapter differs from the paper's settings in: {items}."
    return (f'<div class="wtm-preview admonition warning"><p class="admonition-title">Preview '
            f"at reduced size (profile <code>{html.escape(profile)}</code>)</p><p>Built with "
            f"fewer samples, neurons, epochs or seeds than the paper, to check that "
            f"everything runs. Numbers and verdicts on this page are not the "
            f"reproduction's; <code>make book</code> builds it at the paper's settings."
            f"{diff}</p></div>")


def _display_html(html_text: str, plain: str) -> None:
    from IPython.display import display  # noqa: PLC0415

    display({"text/html": html_text, "text/plain": plain}, raw=True)


def parameters_html(params: dict, name: str | None = None, open_rows: int = 8) -> str:
    """The provenance table as HTML: a ``<table>`` of parameters, then library version,
    commit and profile, folded in a ``<details>`` when longer than ``open_rows``."""
    defaults = default_parameters(name) if name else {}
    rows = []
    for k, v in params.items():
        note = (f' <small>(paper: <code>{html.escape(repr(defaults[k]))}</code>)</small>'
                if k in defaults and defaults[k] != v else "")
        rows.append(f"<tr><td><code>{html.escape(k)}</code></td>"
                    f"<td><code>{html.escape(repr(v))}</code>{note}</td></tr>")
    prov = provenance()
    rows += [f"<tr><td><em>{html.escape(k)}</em></td><td><code>{html.escape(str(v))}</code>"
             f"</td></tr>" for k, v in prov.items()]
    table = ('<table class="table wtm-parameters"><thead><tr><th>parameter</th><th>value</th>'
             "</tr></thead><tbody>" + "".join(rows) + "</tbody></table>")
    summary = (f"Parameters and provenance: {len(params)} parameter(s), profile "
               f"<code>{html.escape(prov['profile'])}</code>, commit "
               f"<code>{html.escape(prov['commit'])}</code>")
    opened = " open" if len(rows) <= open_rows else ""
    return (f'<details class="wtm-provenance"{opened}><summary>{summary}</summary>'
            f"{table}</details>")


def show_parameters(params: dict) -> None:
    """Display the chapter's parameters and provenance as a table (folded when long),
    under a preview banner when the build is at reduced size."""
    name = _chapter.get("name")
    defaults = default_parameters(name) if name else {}
    changed = {k: (v, defaults[k]) for k, v in params.items()
               if k in defaults and defaults[k] != v}
    plain = "\n".join(f"{k} = {v!r}" for k, v in {**params, **provenance()}.items())
    _display_html(preview_banner(changed) + parameters_html(params, name), plain)


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
