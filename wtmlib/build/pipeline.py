"""From notebook sources to the HTML book: papermill, staging, progress, jupyter-book.

* Parameters: checked before any kernel starts (``wtmlib.book.params``).
* Execution: jupytext converts a source to ``.ipynb``, papermill runs it with the
  parameters and writes ``book/chapters/NN_name.ipynb`` (never beside the sources).
* Book: jupyter-book 1.x with ``execute_notebooks: off`` builds ``_build/html``.

Executions are staged: a chapter runs into ``book/.chapters_staging/`` and replaces
``book/chapters/`` only on success; a failed notebook is kept in ``_build/failed/`` and
named in the error. One build at a time per checkout (``_build/wtm.lock``). While a
chapter runs, its kernel's progress bars and warnings reach the terminal through a
side channel (``wtmlib.build.progress``), never the executed notebook.

A stopped build stops (``stop_on_signals``): SIGINT, SIGTERM and SIGHUP raise
``Stopped`` in the main thread, the workers and the kernel are terminated, the lock is
released, and the same command resumes. A build killed by SIGKILL stops too: its
workers and its kernel stop by themselves once their parent is gone.
"""

from __future__ import annotations

import fcntl
import functools
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

from wtmlib.book.params import (
    NOTEBOOKS, ROOT, notebook_names, resolve,
    source_path
)

CHAPTERS = ROOT / "book" / "chapters"  # where executed chapters land


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


class Stopped(KeyboardInterrupt):
    """The build was stopped by a signal (``stop_on_signals``); ``notes`` say where
    (runs stored and left, the chapter that was running), outermost last."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum, self.notes = signum, []


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def _raise_stopped(signum, frame):
    for sig in STOP_SIGNALS:  # one stop at a time: a second signal would break the cleanup
        signal.signal(sig, signal.SIG_IGN)
    raise Stopped(signum)


@contextmanager
def stop_on_signals():
    """Within the block, SIGINT, SIGTERM and SIGHUP (what Ctrl+C, ``timeout``, a CI cancel,
    a job scheduler and a closing terminal send) raise ``Stopped`` in the main thread,
    so that every ``finally`` runs: the pool's workers and the notebook's kernel are
    terminated, the staging folders removed, the lock released. Further signals are
    ignored while it unwinds (SIGKILL still kills)."""
    saved = {sig: signal.signal(sig, _raise_stopped) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)


@functools.cache
def _kernel_manager():
    """A kernel manager class for papermill that keeps the build's stop handlers: nbclient
    replaces the SIGINT/SIGTERM handlers with its own while a notebook runs (and resets
    them to the defaults afterwards); they are put back once the kernel is started, so a
    stop raises ``Stopped`` here and ``execute`` kills the kernel's process group."""
    from jupyter_client.manager import AsyncKernelManager  # noqa: PLC0415

    class KernelManager(AsyncKernelManager):
        started: list = []  # the kernels of the notebook running now

        async def start_kernel(self, **kw):
            await super().start_kernel(**kw)
            KernelManager.started.append(self)
            _restore_handlers({sig: h for sig, h in _HANDLERS.items() if h is _raise_stopped})

    return KernelManager


_HANDLERS: dict = {}  # the stop handlers ``execute`` found before papermill ran


def _restore_handlers(handlers: dict) -> None:
    """Put back the signal handlers of ``handlers`` that were replaced (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        return
    for sig, handler in handlers.items():
        if handler is not None and signal.getsignal(sig) is not handler:
            signal.signal(sig, handler)


def _kill_kernels(managers: list, grace_s: float = 5.0) -> None:
    """SIGTERM to each kernel's process group (the kernel and its pool's workers),
    SIGKILL after ``grace_s``; its connection file removed."""
    procs = []
    for km in managers:
        proc = getattr(km.provisioner, "process", None) if km.provisioner else None
        if proc is None or proc.poll() is not None:
            continue
        procs.append(proc)
        try:
            os.killpg(proc.pid, signal.SIGTERM)  # the kernel leads its own session
        except OSError:
            proc.terminate()
    deadline = time.monotonic() + grace_s
    for proc in procs:
        try:
            proc.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except OSError:
                proc.kill()
            proc.wait(1.0)
    for km in managers:
        if getattr(km, "connection_file", ""):
            Path(km.connection_file).unlink(missing_ok=True)


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
    progress bars go to a side channel that ``wtmlib.build.progress.Follower`` prints on
    ``stream`` (default stdout) while the notebook runs."""
    import jupytext  # noqa: PLC0415
    import nbformat  # noqa: PLC0415
    import papermill  # noqa: PLC0415

    from wtmlib.build.progress import ENV, Follower

    src = source_path(name)
    out_dir.mkdir(parents=True, exist_ok=True)
    failed_dir = failed_dir or ROOT / "_build" / "failed"
    nb = jupytext.read(src)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nb.cells.insert(0, nbformat.v4.new_code_cell(
        "import wtmlib.build.progress\nwtmlib.build.progress.install()",
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
        manager = _kernel_manager()
        _HANDLERS.clear()
        _HANDLERS.update({sig: signal.getsignal(sig) for sig in STOP_SIGNALS})
        try:
            with _environ(kernel_env), follower:
                papermill.execute_notebook(
                    str(raw), str(out), parameters=parameters, kernel_name="python3",
                    cwd=str(NOTEBOOKS), progress_bar=False, log_output=False,
                    extra_arguments=KERNEL_ARGS, kernel_manager_class=manager)
        except Stopped as stop:
            _kill_kernels(manager.started)
            stop.notes.append(f"chapter {name} was running (its kernel stopped)")
            raise
        except papermill.PapermillExecutionError as err:
            failed = failed_dir / out.name
            if out.exists():
                finish_notebook(out)
                failed_dir.mkdir(parents=True, exist_ok=True)
                os.replace(out, failed)
            first = (str(err.evalue).strip().splitlines() or [""])[0]
            raise NotebookFailed(name, f"{err.ename}: {first}", failed) from None
        finally:
            manager.started.clear()
            _restore_handlers(_HANDLERS)  # nbclient resets SIGINT and SIGTERM to the defaults
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
        log("[wtm] no notebook trained a run: every run came from the results cache")
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


def train_plan(params: dict[str, dict], profile: str, log=print) -> int:
    """Train the runs the chapters of ``params`` need, in one pool (``wtmlib.build.plan``;
    imported here, so that checking parameters needs no torch)."""
    from wtmlib.build.plan import train_plan

    return train_plan(params, profile, log=log)


def run_chapters(profile: str = "paper", overrides: dict | None = None, names=None,
                 root: Path | None = None, log=print) -> dict[str, float]:
    """``wtm run``: check the parameters, then execute the chapters under the build lock
    (staged: ``book/chapters`` changes only when they all succeed)."""
    root = root or ROOT
    params = resolve(profile, overrides, names, library=True)
    with build_lock(root):
        train_plan(params, profile, log=log)
        return run_notebooks(params, root / "book" / "chapters", profile, log, root)


def build_book(profile: str = "paper", overrides: dict | None = None, names=None,
               root: Path | None = None, log=print) -> Path:
    """Run every notebook with ``profile`` and build the HTML book under ``root``.

    Parameters are checked first (nothing runs if one is refused); the runs every
    chapter needs are trained next, in one pool (``wtmlib.build.plan``). Notebooks run into
    a staging folder; the executed chapters and the HTML book are replaced only when
    every notebook and the build succeed, so a failure leaves the previous book in
    place. One build at a time per checkout (``build_lock``).
    """
    root = root or ROOT
    params = resolve(profile, overrides, names, library=True)
    chapters = root / "book" / "chapters"
    with build_lock(root):
        train_plan(params, profile, log=log)
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
