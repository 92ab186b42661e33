"""From notebook sources to the HTML book: profiles, parameters, papermill, jupyter-book.

* Sources: ``notebooks/NN_name.py`` (jupytext percent format), each with one cell
  tagged ``parameters`` holding typed ``name: type = value`` lines.
* Profiles: ``notebooks/profiles.toml`` with one table per profile and notebook,
  ``[paper.noise]``, ``[quick.noise]``...; a profile only lists what differs from the
  notebook's own defaults (which are the paper's settings).
* Execution: jupytext converts a source to ``.ipynb``, papermill runs it with the
  parameters and writes ``book/chapters/NN_name.ipynb`` (never beside the sources).
* Book: jupyter-book 1.x with ``execute_notebooks: off`` builds ``_build/html``.

Parameters are checked before any kernel starts: an unknown name, a value of another
type than the notebook's default, a value outside what ``CONSTRAINTS`` allows (zero
seeds, an empty grid, a negative noise level...) or one the library's configuration
classes refuse is an error naming the parameter and what is allowed.

Executions are staged: a chapter runs into ``book/.chapters_staging/`` and replaces
``book/chapters/`` only on success; a failed notebook is kept in ``_build/failed/`` and
named in the error. One build at a time per checkout (``_build/wtm.lock``). While a
chapter runs, its kernel's progress bars and warnings reach the terminal through a
side channel (``wtmlib.progress``), never the executed notebook.
"""

from __future__ import annotations

import ast
import fcntl
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, NamedTuple

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
CHAPTERS = ROOT / "book" / "chapters"
PROFILES = NOTEBOOKS / "profiles.toml"
INTERACTIVE = "interactive"  # the profile of a notebook run by hand (claims it records)


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
    """The values assigned in the notebook's ``tags=["parameters"]`` cell
    (``n_seeds = 3`` or, typed, ``n_seeds: int = 3``)."""
    return {key: value for key, (value, _) in _parameters_cell(name).items()}


def describe_parameters(name: str) -> list[str]:
    """One line per parameter: ``name = default  (type; allowed values)``."""
    rules = {**CONSTRAINTS["*"], **CONSTRAINTS.get(name, {})}
    cell = _parameters_cell(name)
    defaults = {key: value for key, (value, _) in cell.items()}
    lines = []
    for key, (value, annotation) in cell.items():
        about = [annotation or type(value).__name__]
        if key in rules:
            try:
                about.append(rules[key].allowed.format(**defaults))
            except (KeyError, IndexError):
                about.append(rules[key].allowed)
        lines.append(f"{key} = {value!r}  ({'; '.join(about)})")
    return lines


def _parameters_cell(name: str) -> dict[str, tuple]:
    """``{name: (default, annotation or "")}`` of the notebook's parameters cell."""
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
            params[node.targets[0].id] = (ast.literal_eval(node.value), "")
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            params[node.target.id] = (ast.literal_eval(node.value), ast.unparse(node.annotation))
    return params


def profile_names() -> list[str]:
    """The profiles of ``notebooks/profiles.toml`` (``paper``, ``quick``)."""
    return sorted(tomllib.loads(PROFILES.read_text()))


def check_profile(profile: str, interactive: bool = False) -> str:
    """``profile`` if it exists (``interactive`` too when ``interactive``), else an
    error listing the profiles."""
    names = profile_names() + ([INTERACTIVE] if interactive else [])
    if profile not in names:
        raise ParameterError(f"profile {profile!r} does not exist; choose from {names}")
    return profile


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


@dataclass(frozen=True)
class Rule:
    """What one parameter may be, beyond its type: ``ok(value, params)`` decides,
    ``allowed`` (formatted with the notebook's parameters) says it in the error."""

    allowed: str
    ok: Callable[[object, dict], bool]


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and v == v and abs(v) != float("inf")


def at_least(low) -> Rule:
    return Rule(f"a number >= {low}", lambda v, P: _is_number(v) and v >= low)


def above(low) -> Rule:
    return Rule(f"a finite number > {low}", lambda v, P: _is_number(v) and v > low)


def one_of(*choices) -> Rule:
    return Rule(f"one of {list(choices)}", lambda v, P: v in choices)


def between(low: str | int, high: str | int) -> Rule:
    """A number in ``[low, high]``; a bound may name another parameter."""
    def text(b):
        return f"{b} = {{{b}}}" if isinstance(b, str) else str(b)

    def bound(b, P):
        return P[b] if isinstance(b, str) else b
    return Rule(f"a number from {text(low)} to {text(high)}",
                lambda v, P: _is_number(v) and bound(low, P) <= v <= bound(high, P))


def grid(item: Rule, integers: bool = False) -> Rule:
    """A non-empty list whose every item satisfies ``item`` (and is an integer)."""
    what = "integers" if integers else "numbers"
    text = item.allowed.replace("a number ", "").replace("a finite number ", "")
    return Rule(f"a non-empty list of {what} {text}",
                lambda v, P: isinstance(v, (list, tuple)) and len(v) > 0 and all(
                    item.ok(x, P) and (isinstance(x, int) or not integers) for x in v))


# What each parameter may be, checked before any kernel starts. ``"*"`` holds the rules
# of parameters several notebooks share (a rule applies where the notebook has the
# parameter); a notebook's own table adds or overrides. Values the library's
# configuration classes check themselves (``LIBRARY_CONFIGS``) are checked again there.
CONSTRAINTS: dict[str, dict[str, Rule]] = {
    "*": {
        "n_dim": at_least(1), "l_pat": between(1, "n_dim"), "n_pat": at_least(2),
        "n_train": at_least(1), "n_test": at_least(1), "delta": at_least(0),
        "sigma_train": at_least(0), "sigma_test": at_least(0), "seed": at_least(0),
        "n_seeds": at_least(1), "n_hidden": at_least(1), "lr": above(0),
        "epochs": at_least(1), "batch_size": at_least(0), "lr_decay_epoch": at_least(-1),
        "output_lr": at_least(0), "threads": at_least(0), "workers": at_least(0),
        "batch_models": at_least(0), "early_epoch": between(0, "epochs"),
        "n_neurons_shown": between(1, "n_hidden"), "activation": one_of("relu", "linear"),
        "biases": one_of("frozen", "sgd"), "output_layer": one_of("layca", "sgd"),
    },
    "data": {"sigmas": grid(at_least(0)), "n_projection": at_least(1)},
    "noise": {"sigmas_train": grid(at_least(0)), "sigmas_test": grid(at_least(0)),
              "fig2_sigmas": grid(at_least(0)), "n_neurons_shown": between(2, "n_hidden")},
    "wtm": {"snapshots": grid(between(0, "epochs"), integers=True)},
    "ablation": {"ablation_sigma": at_least(0), "widths": grid(at_least(1), integers=True),
                 "grid_sigmas": grid(at_least(0)), "grid_seeds": at_least(1)},
    "difficulty": {"onset_factor": above(0)},
    "related": {"rise_window": at_least(1), "coherence_seeds": at_least(1),
                "clustering_split": one_of("train", "test")},
    "mnist": {"scaling": one_of("pixels/255", "standardize")},
    "explorer": {"max_epochs": at_least(2)},
}

# The library's configuration classes each notebook builds from its parameters (by
# field name): built here too, so what they refuse is refused before the kernel starts.
_SYNTHETIC, _MNIST = "wtmlib.data:SyntheticConfig", "wtmlib.mnist:AggregatedMNISTConfig"
_RUN = ("wtmlib.config:ModelConfig", "wtmlib.config:TrainConfig", "wtmlib.config:Execution")
LIBRARY_CONFIGS = {
    "data": (_SYNTHETIC,),
    "noise": (_SYNTHETIC, *_RUN),
    "wtm": (_SYNTHETIC, *_RUN),
    "ablation": ("wtmlib.config:Execution",),
    "difficulty": ("wtmlib.config:Execution",),
    "related": ("wtmlib.config:Execution",),
    "mnist": (_MNIST, *_RUN),
    "explorer": ("wtmlib.config:Execution",),
}


def _constraint_error(name: str, key: str, value, rule: Rule, params: dict) -> ParameterError:
    try:
        allowed = rule.allowed.format(**params)
    except (KeyError, IndexError):
        allowed = rule.allowed
    return ParameterError(f"parameter {key!r} of notebook {name!r}: got {value!r}; "
                          f"allowed: {allowed}")


def check_constraints(name: str, params: dict) -> None:
    """Refuse a value outside ``CONSTRAINTS``, naming the parameter and what is allowed."""
    rules = {**CONSTRAINTS["*"], **CONSTRAINTS.get(name, {})}
    for key, value in params.items():
        rule = rules.get(key)
        if rule is not None and not rule.ok(value, params):
            raise _constraint_error(name, key, value, rule, params)


def check_library_configs(name: str, params: dict) -> None:
    """Build the notebook's configuration classes (``LIBRARY_CONFIGS``) from its
    parameters; what they refuse (``ConfigError``) becomes a ``ParameterError``."""
    import dataclasses  # noqa: PLC0415
    import importlib  # noqa: PLC0415

    specs = LIBRARY_CONFIGS.get(name, ())
    if not specs:
        return
    from .checks import ConfigError  # noqa: PLC0415

    for spec in specs:
        module, _, cls_name = spec.partition(":")
        cls = getattr(importlib.import_module(module), cls_name)
        fields = {f.name for f in dataclasses.fields(cls)}
        values = {k: tuple(v) if isinstance(v, list) else v
                  for k, v in params.items() if k in fields}
        try:
            cls(**values)
        except ConfigError as err:
            key = str(err).partition("=")[0].partition(":")[0].strip()
            raise ParameterError(f"parameter {key!r} of notebook {name!r}: {err}") from None


def check_parameters(name: str, values: dict, library: bool = False) -> dict:
    """``values`` merged over the notebook defaults, each checked against its default's
    type and ``CONSTRAINTS`` (and the library's configurations when ``library``)."""
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
    check_constraints(name, merged)
    if library:
        check_library_configs(name, merged)
    return merged


def resolve(profile: str, overrides: dict[str, dict] | None = None,
            names: list[str] | None = None, library: bool = False) -> dict[str, dict]:
    """Checked parameters of every notebook to run: defaults < profile < overrides
    (``library``: also through the library's configuration classes)."""
    prof = load_profile(profile)
    names = names or notebook_names()
    for extra in set(prof) - set(notebook_names()):
        raise ParameterError(f"profile {profile!r} names unknown notebook {extra!r}")
    for extra in set(overrides or {}) - set(notebook_names()):
        raise ParameterError(f"-p {extra}.*: notebook {extra!r} does not exist; "
                             f"choose from {notebook_names()}")
    return {n: check_parameters(n, {**prof.get(n, {}), **(overrides or {}).get(n, {})},
                                library=library)
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


PROGRESS_TAG = "wtm-progress"  # the first cell while executing; removed afterwards
KERNEL_ARGS = ["--IPKernelApp.log_level=CRITICAL"]  # the kernel's own log (TCP warning...) stays out of the terminal


class BuildLocked(RuntimeError):
    """Another ``wtm run`` or ``wtm book`` holds the build lock of this checkout."""


@contextmanager
def build_lock(root: Path | None = None):
    """Hold ``_build/wtm.lock`` for a build: a second build at once is refused (the
    lock is the kernel's, released when the process ends, so never stale)."""
    root = root or ROOT
    path = root / "_build" / "wtm.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.seek(0)
            holder = f.read().strip() or "another process"
            raise BuildLocked(f"another wtm build is running in {root} ({holder}); wait for "
                              f"it to finish (lock: {path})") from None
        f.seek(0)
        f.truncate()
        f.write(f"pid {os.getpid()}, since {time.strftime('%H:%M:%S')}")
        f.flush()
        try:
            yield path
        finally:
            f.seek(0)
            f.truncate()
            fcntl.flock(f, fcntl.LOCK_UN)


class Executed(NamedTuple):
    """An executed notebook and how many runs its kernel trained."""

    path: Path
    trained: int


def execute(name: str, parameters: dict, out_dir: Path = CHAPTERS, profile: str = "",
            book_params: dict | None = None, failed_dir: Path | None = None,
            stream=None) -> Executed:
    """Run one notebook with papermill into ``out_dir``; raise ``NotebookFailed``
    naming it on error, its partial notebook moved to ``failed_dir`` (default
    ``_build/failed/``).

    ``book_params`` (the parameters of every notebook of this build) reach the kernel
    in ``$WTM_BOOK_PARAMS``, so a chapter that reuses another chapter's runs
    (``chapter_parameters``) sees the same values, overrides included. The kernel's
    progress bars go to a side channel that ``wtmlib.progress.Follower`` prints on
    ``stream`` (default stdout) while the notebook runs."""
    import jupytext  # noqa: PLC0415
    import nbformat  # noqa: PLC0415
    import papermill  # noqa: PLC0415

    from .progress import ENV, Follower  # noqa: PLC0415

    src = source_path(name)
    out_dir.mkdir(parents=True, exist_ok=True)
    failed_dir = failed_dir or ROOT / "_build" / "failed"
    nb = jupytext.read(src)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nb.cells.insert(0, nbformat.v4.new_code_cell(
        "import wtmlib.progress\nwtmlib.progress.install()",
        metadata={"tags": [PROGRESS_TAG, "remove-cell"]}))
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / f"{src.stem}.ipynb"
        jupytext.write(nb, raw)
        out = out_dir / f"{src.stem}.ipynb"
        channel = Path(tmp) / "progress.jsonl"
        channel.touch()
        kernel_env = {"WTM_PROFILE": profile, "WTM_BOOK_PARAMS": json.dumps(book_params or {}),
                      ENV: str(channel),
                      "TQDM_DISABLE": "1"}  # a bar not routed to the channel stays silent
        follower = Follower(channel, name, stream)
        try:
            with _environ(kernel_env), follower:
                papermill.execute_notebook(
                    str(raw), str(out), parameters=parameters, kernel_name="python3",
                    cwd=str(NOTEBOOKS), progress_bar=False, log_output=False,
                    extra_arguments=KERNEL_ARGS)
        except papermill.PapermillExecutionError as err:
            failed = failed_dir / out.name
            if out.exists():
                finish_notebook(out)
                failed_dir.mkdir(parents=True, exist_ok=True)
                os.replace(out, failed)
            first = (str(err.evalue).strip().splitlines() or [""])[0]
            raise NotebookFailed(name, f"{err.ename}: {first}", failed) from None
        finish_notebook(out)
    return Executed(out, follower.trained)


def finish_notebook(path: Path) -> None:
    """Drop the progress cell; tag the parameters and papermill's injected-parameters
    cells ``remove-cell`` (the rendered chapter shows its parameters as a table)."""
    import nbformat  # noqa: PLC0415

    nb = nbformat.read(path, as_version=4)
    nb.cells = [c for c in nb.cells if PROGRESS_TAG not in c.metadata.get("tags", [])]
    for cell in nb.cells:
        tags = cell.metadata.get("tags", [])
        if {"parameters", "injected-parameters"} & set(tags) and "remove-cell" not in tags:
            cell.metadata["tags"] = [*tags, "remove-cell"]
    nbformat.write(nb, path)



class NotebookFailed(RuntimeError):
    """A notebook raised: carries its name, the error and the failed notebook's path."""

    def __init__(self, name: str, error: str, path: Path):
        super().__init__(f"notebook {name!r} failed: {error} (failed notebook kept in "
                         f"{path}; the chapters in book/chapters are unchanged)")
        self.name, self.error, self.path = name, error, path


def run_notebooks(params: dict[str, dict], out_dir: Path = CHAPTERS, profile: str = "",
                  log=print, root: Path | None = None, stream=None) -> dict[str, float]:
    """Execute every notebook of ``params`` into a staging folder, then move them all
    into ``out_dir`` (only when every one succeeded); wall seconds per notebook.

    A failure leaves ``out_dir`` as it was and raises ``NotebookFailed``."""
    root = root or ROOT
    staging = root / "book" / ".chapters_staging"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    times, trained = {}, 0
    try:
        for i, (name, values) in enumerate(params.items(), 1):
            log(f"[wtm] chapter {i}/{len(params)}: {name} ({source_path(name).name}) ...")
            start = time.perf_counter()
            done = execute(name, values, staging, profile, params,
                           failed_dir=root / "_build" / "failed", stream=stream)
            times[name] = time.perf_counter() - start
            trained += done.trained
            what = (f"trained {done.trained} run(s)" if done.trained
                    else "nothing trained")
            log(f"[wtm]   {name}: {times[name]:.1f} s ({what})")
        out_dir.mkdir(parents=True, exist_ok=True)
        for nb in staging.glob("*.ipynb"):
            os.replace(nb, out_dir / nb.name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    if not trained:
        log("[wtm] nothing trained: every run came from the results cache")
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


def run_chapters(profile: str = "paper", overrides: dict | None = None, names=None,
                 root: Path | None = None, log=print) -> dict[str, float]:
    """``wtm run``: check the parameters, then execute the chapters under the build lock
    (staged: ``book/chapters`` changes only when they all succeed)."""
    root = root or ROOT
    params = resolve(profile, overrides, names, library=True)
    with build_lock(root):
        return run_notebooks(params, root / "book" / "chapters", profile, log, root)


def build_book(profile: str = "paper", overrides: dict | None = None, names=None,
               root: Path | None = None, log=print) -> Path:
    """Run every notebook with ``profile`` and build the HTML book under ``root``.

    Parameters are checked first (nothing runs if one is refused). Notebooks run into
    a staging folder; the executed chapters and the HTML book are replaced only when
    every notebook and the build succeed, so a failure leaves the previous book in
    place. One build at a time per checkout (``build_lock``).
    """
    root = root or ROOT
    params = resolve(profile, overrides, names, library=True)
    chapters = root / "book" / "chapters"
    with build_lock(root):
        times = run_notebooks(params, chapters, profile, log, root)
        missing = [n for n in notebook_names()
                   if not (chapters / source_path(n).with_suffix(".ipynb").name).exists()]
        if missing:
            raise RuntimeError(f"chapters not executed yet: {missing} (run them with 'wtm run')")
        start = time.perf_counter()
        html = build_html(root, log=log)
    log(f"[wtm] notebooks: {sum(times.values()):.1f} s, book build: "
        f"{time.perf_counter() - start:.1f} s -> {html / 'index.html'}")
    return html
