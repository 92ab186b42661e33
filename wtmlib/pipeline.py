"""From notebook sources to the HTML book: profiles, parameters, papermill, jupyter-book.

* Sources: ``notebooks/NN_name.py`` (jupytext percent format), each with one cell
  tagged ``parameters`` holding plain ``name = value`` lines.
* Profiles: ``notebooks/profiles.toml`` with one table per profile and notebook,
  ``[paper.noise]``, ``[quick.noise]``...; a profile only lists what differs from the
  notebook's own defaults (which are the paper's settings).
* Execution: jupytext converts a source to ``.ipynb``, papermill runs it with the
  parameters and writes ``book/chapters/NN_name.ipynb`` (never beside the sources).
* Book: jupyter-book 1.x with ``execute_notebooks: off`` builds ``_build/html``.

Parameters are checked before anything runs: an unknown name or a value of another
type than the notebook's default is refused with the parameter named.
"""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
CHAPTERS = ROOT / "book" / "chapters"
PROFILES = NOTEBOOKS / "profiles.toml"


class ParameterError(ValueError):
    """A notebook parameter that does not exist or has the wrong type."""


def notebook_names() -> list[str]:
    """Short names of the notebooks in book order (``02_data.py`` -> ``data``)."""
    return [p.stem.split("_", 1)[1] for p in sorted(NOTEBOOKS.glob("[0-9A-Z]*_*.py"))]


def source_path(name: str) -> Path:
    """``notebooks/NN_name.py`` for a short name, or a clear error listing the names."""
    hits = [p for p in sorted(NOTEBOOKS.glob("*_*.py")) if p.stem.split("_", 1)[1] == name]
    if not hits:
        raise ParameterError(f"notebook {name!r} does not exist; choose from {notebook_names()}")
    return hits[0]


def default_parameters(name: str) -> dict:
    """The values assigned in the notebook's ``tags=["parameters"]`` cell."""
    lines = source_path(name).read_text().splitlines()
    try:
        start = next(i for i, line in enumerate(lines)
                     if line.startswith("# %%") and "parameters" in line)
    except StopIteration:
        raise ParameterError(f"notebook {name!r} has no parameters cell") from None
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("# %%")),
               len(lines))
    params = {}
    for node in ast.parse("\n".join(lines[start + 1:end])).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            params[node.targets[0].id] = ast.literal_eval(node.value)
    return params


def load_profile(profile: str) -> dict[str, dict]:
    """``{notebook: {parameter: value}}`` of a named profile (overrides only)."""
    profiles = tomllib.loads(PROFILES.read_text())
    if profile not in profiles:
        raise ParameterError(f"profile {profile!r} does not exist; choose from {sorted(profiles)}")
    return profiles[profile]


def chapter_parameters(name: str) -> dict:
    """The parameters another chapter runs with in this build: from
    ``$WTM_BOOK_PARAMS`` when set by ``execute``, else resolved from ``$WTM_PROFILE``
    (``paper`` when unset, e.g. in an interactive session)."""
    book = json.loads(os.environ.get("WTM_BOOK_PARAMS") or "{}")
    if name in book:
        return check_parameters(name, book[name])
    return resolve(os.environ.get("WTM_PROFILE") or "paper", names=[name])[name]


def parse_value(text: str):
    """A command-line value as a Python literal (``0.6``, ``True``, ``[1, 2]``), else a string."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def check_parameters(name: str, values: dict) -> dict:
    """``values`` merged over the notebook defaults, each checked against its default's type."""
    defaults = default_parameters(name)
    merged = dict(defaults)
    for key, value in values.items():
        if key not in defaults:
            raise ParameterError(f"notebook {name!r} has no parameter {key!r}; "
                                 f"its parameters are {sorted(defaults)}")
        want = defaults[key]
        if isinstance(want, float) and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if isinstance(want, tuple) and isinstance(value, list):
            value = tuple(value)
        if type(value) is not type(want):
            raise ParameterError(f"parameter {key!r} of notebook {name!r}: got {value!r} "
                                 f"({type(value).__name__}), expected {type(want).__name__} "
                                 f"like the default {want!r}")
        merged[key] = value
    return merged


def resolve(profile: str, overrides: dict[str, dict] | None = None,
            names: list[str] | None = None) -> dict[str, dict]:
    """Checked parameters of every notebook to run: defaults < profile < overrides."""
    prof = load_profile(profile)
    names = names or notebook_names()
    for extra in set(prof) - set(notebook_names()):
        raise ParameterError(f"profile {profile!r} names unknown notebook {extra!r}")
    return {n: check_parameters(n, {**prof.get(n, {}), **(overrides or {}).get(n, {})})
            for n in names}


@contextmanager
def _environ(values: dict):
    """Set environment variables for the duration of a block (the kernel inherits them),
    then restore the previous values."""
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def execute(name: str, parameters: dict, out_dir: Path = CHAPTERS, profile: str = "",
            book_params: dict | None = None) -> Path:
    """Run one notebook with papermill; raise ``NotebookFailed`` naming it on error.

    ``book_params`` (the parameters of every notebook of this build) reach the kernel
    in ``$WTM_BOOK_PARAMS``, so a chapter that reuses another chapter's runs
    (``chapter_parameters``) sees the same values, overrides included."""
    import jupytext  # noqa: PLC0415
    import papermill  # noqa: PLC0415

    src = source_path(name)
    out_dir.mkdir(parents=True, exist_ok=True)
    nb = jupytext.read(src)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / f"{src.stem}.ipynb"
        jupytext.write(nb, raw)
        out = out_dir / f"{src.stem}.ipynb"
        kernel_env = {"WTM_PROFILE": profile, "WTM_BOOK_PARAMS": json.dumps(book_params or {}),
                      "TQDM_DISABLE": "1"}  # progress bars are for terminals, not the book
        try:
            with _environ(kernel_env):
                papermill.execute_notebook(
                    str(raw), str(out), parameters=parameters, kernel_name="python3",
                    cwd=str(NOTEBOOKS), progress_bar=False, log_output=False)
        except papermill.PapermillExecutionError as err:
            raise NotebookFailed(name, f"{err.ename}: {err.evalue}", out) from None
        hide_parameter_cells(out)
    return out


def hide_parameter_cells(path: Path) -> None:
    """Tag the parameters and papermill's injected-parameters cells ``remove-cell``:
    the rendered chapter shows its parameters as a table instead."""
    import nbformat  # noqa: PLC0415

    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        tags = cell.metadata.get("tags", [])
        if {"parameters", "injected-parameters"} & set(tags) and "remove-cell" not in tags:
            cell.metadata["tags"] = [*tags, "remove-cell"]
    nbformat.write(nb, path)


class NotebookFailed(RuntimeError):
    """A notebook raised: carries its name, the error and the partial output notebook."""

    def __init__(self, name: str, error: str, path: Path):
        super().__init__(f"notebook {name!r} failed: {error} (executed copy: {path})")
        self.name, self.error, self.path = name, error, path


def run_notebooks(params: dict[str, dict], out_dir: Path = CHAPTERS, profile: str = "",
                  log=print) -> dict[str, float]:
    """Execute every notebook of ``params``; wall seconds per notebook."""
    times = {}
    for name, values in params.items():
        log(f"[wtm] running {name} ({source_path(name).name}) ...")
        start = time.perf_counter()
        execute(name, values, out_dir, profile, params)
        times[name] = time.perf_counter() - start
        log(f"[wtm]   {name}: {times[name]:.1f} s")
    return times


def build_html(root: Path = ROOT, log=print) -> Path:
    """Build the book under ``root`` with jupyter-book (warnings are errors) into
    ``root/_build/html``.

    The book is built in a staging folder and swapped in only on success, so a
    failed build leaves the previous book in place.
    """
    staging = root / "_build_staging"
    shutil.rmtree(staging, ignore_errors=True)
    cmd = [str(Path(sys.executable).parent / "jupyter-book"), "build", str(root), "--toc",
           str(root / "book" / "_toc.yml"), "--path-output", str(staging), "-W", "-n",
           "--keep-going"]
    log("[wtm] building the book: " + " ".join(cmd[1:]))
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.stdout.write(proc.stdout[-6000:])
        sys.stderr.write(proc.stderr[-6000:])
        raise RuntimeError("jupyter-book build failed (warnings are errors); see the log above")
    html = root / "_build" / "html"
    html.parent.mkdir(parents=True, exist_ok=True)
    old = root / "_build" / "html.old"
    shutil.rmtree(old, ignore_errors=True)
    if html.exists():
        os.replace(html, old)
    os.replace(staging / "_build" / "html", html)
    shutil.rmtree(old, ignore_errors=True)
    shutil.rmtree(staging, ignore_errors=True)
    return html


def build_book(profile: str = "paper", overrides: dict | None = None, names=None,
               root: Path = ROOT, log=print) -> Path:
    """Run every notebook with ``profile`` and build the HTML book under ``root``.

    Notebooks run into a staging folder first; the executed chapters and the HTML
    book are replaced only when every notebook and the build succeed, so a failure
    leaves the previous book in place.
    """
    params = resolve(profile, overrides, names)
    chapters = root / "book" / "chapters"
    staging = root / "book" / ".chapters_staging"
    shutil.rmtree(staging, ignore_errors=True)
    times = run_notebooks(params, staging, profile, log)
    chapters.mkdir(parents=True, exist_ok=True)
    for nb in staging.glob("*.ipynb"):
        os.replace(nb, chapters / nb.name)
    shutil.rmtree(staging, ignore_errors=True)
    missing = [n for n in notebook_names()
               if not (chapters / source_path(n).with_suffix(".ipynb").name).exists()]
    if missing:
        raise RuntimeError(f"chapters not executed yet: {missing} (run them with 'wtm run')")
    start = time.perf_counter()
    html = build_html(root, log=log)
    log(f"[wtm] notebooks: {sum(times.values()):.1f} s, book build: "
        f"{time.perf_counter() - start:.1f} s -> {html / 'index.html'}")
    return html
