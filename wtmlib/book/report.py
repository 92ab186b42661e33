"""Helpers the notebooks share: parameters in, provenance table, glued numbers, figures.

A chapter's parameters cell holds plain values; ``parameters(name, globals())`` collects
them, ``configs(P, SyntheticConfig, ...)`` hands them to the library's dataclasses
unchanged, and ``show_parameters(P)`` prints what the chapter ran with.
"""

from __future__ import annotations

import html

from wtmlib.results.provenance import build_provenance, current_profile, is_preview
from wtmlib.book.params import default_parameters


# where and how a chapter runs, not what it computes: never listed as a difference
EXECUTION_PARAMETERS = ("threads", "workers", "batch_models", "root")
_chapter: dict = {}  # the notebook name of the last ``parameters`` call (for the banner)


def parameters(name: str, namespace: dict) -> dict:
    """The notebook's parameters (names from its parameters cell, values as run)."""
    _chapter["name"] = name
    readable_tables()
    return {key: namespace[key] for key in default_parameters(name)}


# chapter_parameters(name): the parameters another chapter runs with in this build,
# for chapters that reuse its cached runs (see wtmlib.build.pipeline).








def preview_banner(changed: dict | None = None, profile: str | None = None) -> str:
    """HTML of the banner that marks a page of a reduced-size build ("" at paper size).
    ``changed``: ``{parameter: (value here, paper value)}`` to list in it."""
    profile = profile or current_profile()
    diff = ""
    if changed:
        items = ", ".join(f"<code>{html.escape(k)}</code> {html.escape(repr(v))} "
                          f"(paper: {html.escape(repr(p))})" for k, (v, p) in changed.items())
        diff = f" This chapter differs from the paper's settings in: {items}."
    if not is_preview(profile):
        if profile == "interactive" and changed:  # run by hand with other values
            return (f'<div class="wtm-preview admonition note"><p class="admonition-title">'
                    f"Run outside wtm with other settings than the paper's</p><p>{diff.strip()}"
                    f"</p></div>")
        return ""
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
    prov = build_provenance()
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
               if k in defaults and defaults[k] != v and k not in EXECUTION_PARAMETERS}
    plain = "\n".join(f"{k} = {v!r}" for k, v in {**params, **build_provenance()}.items())
    _display_html(preview_banner(changed) + parameters_html(params, name), plain)


# ------------------------------------------------------------------ tables for readers

_SYMBOLS = ("sigma_train", "sigma_test", "n_train", "n_test", "n_hidden", "n_seeds", "W2")
_WORDS = {"acc": "accuracy", "corr": "correlation", "sd": "s.d.", "frac": "share",
          "max": "largest", "min": "smallest"}


def readable(name):
    """A column name in words for the book: ``rank_corr_active_median`` -> ``rank
    correlation active (median)``; symbols such as ``sigma_train`` are kept."""
    if not isinstance(name, str) or "_" not in name:
        return name
    kept = {f"\0{i}\0": s for i, s in enumerate(_SYMBOLS)}
    text = name
    for key, symbol in kept.items():
        text = text.replace(symbol, key)
    text = " ".join(_WORDS.get(w, w) for w in text.split("_"))
    for key, symbol in kept.items():
        text = text.replace(key, symbol)
    for stat in ("median", "mean"):
        if text.endswith(" " + stat):
            text = f"{text[:-len(stat) - 1]} ({stat})"
    return text


def frame_html(df) -> str:
    """A DataFrame as the book shows it: headers in words, in a container that scrolls
    sideways when the table is wider than the page."""
    shown = df.rename(columns=readable)
    if isinstance(shown.index.name, str):
        shown.index = shown.index.rename(readable(shown.index.name))
    return f'<div class="wtm-scroll">{shown.to_html(border=0)}</div>'


def readable_tables() -> None:
    """In a running kernel, show every DataFrame with ``frame_html`` (text elsewhere)."""
    try:
        import pandas as pd  # noqa: PLC0415
        from IPython import get_ipython  # noqa: PLC0415
    except ImportError:
        return
    shell = get_ipython()
    if shell is not None:
        shell.display_formatter.formatters["text/html"].for_type(pd.DataFrame, frame_html)


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
