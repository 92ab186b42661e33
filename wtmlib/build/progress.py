"""Progress of a chapter's kernel, shown in the terminal that runs ``wtm``.

A notebook executed by papermill must not print progress bars into its outputs (they
would land in the book), yet the person waiting on ``wtm book`` wants to see which
run of how many is training, at which epoch, how fast, and for how long still.

The two halves talk through a side channel, a file of JSON lines:

* in the kernel, ``install(path)`` (run by a cell that ``wtmlib.build.pipeline`` puts first
  and removes again after execution) makes every ``tqdm`` bar of the library write
  its state to ``path`` instead of to the notebook, and every Python warning too (the
  terminal shows it; the book does not);
* in ``wtm``, ``Follower`` reads that file while papermill runs and prints one status
  line (rewritten in place on a terminal, a line every ``every_s`` seconds in a log).

Nothing here changes what is computed: bars only report.
"""

from __future__ import annotations

import itertools
import json
import os
import sys
import threading
import time
import warnings
from pathlib import Path

ENV = "WTM_PROGRESS"  # the side channel's path, set for the kernel by wtmlib.build.pipeline


# --------------------------------------------------------------------------- kernel side

def install(path: str | os.PathLike | None = None) -> bool:
    """Route every tqdm bar created from now on (and those of already imported
    ``wtmlib`` modules) to the side channel ``path`` (default ``$WTM_PROGRESS``).
    Returns False, changing nothing, when no channel is given."""
    path = path or os.environ.get(ENV)
    if not path:
        return False
    import tqdm  # noqa: PLC0415
    import tqdm.auto  # noqa: PLC0415
    import tqdm.autonotebook  # noqa: PLC0415
    import tqdm.std  # noqa: PLC0415

    class ChannelBar(tqdm.std.tqdm):
        """A tqdm bar whose every refresh is one JSON line in the side channel."""

        _channel = open(path, "a", buffering=1, encoding="utf-8")  # noqa: SIM115
        _ids = itertools.count()

        def __init__(self, *args, **kwargs):
            self._wtm_id = next(self._ids)
            kwargs["disable"] = False  # the bar never reaches the notebook: always report
            kwargs["file"] = _Null()
            kwargs["mininterval"] = max(float(kwargs.get("mininterval") or 0.1), 0.5)
            super().__init__(*args, **kwargs)

        def display(self, msg=None, pos=None):
            if not getattr(self, "_wtm_closed", False):
                self._send("update")
            return True

        def close(self):
            if not getattr(self, "_wtm_closed", False):
                self._wtm_closed = True
                self._send("close")
            super().close()

        def _send(self, event):
            d = self.format_dict
            line = dict(event=event, bar=self._wtm_id, desc=d.get("prefix") or "", n=d["n"],
                        total=d["total"], elapsed=round(d["elapsed"], 3),
                        initial=d.get("initial") or 0, postfix=d.get("postfix") or "",
                        t=time.time())
            try:
                self._channel.write(json.dumps(line) + "\n")
            except (OSError, ValueError):
                pass

    def show_warning(message, category, filename, lineno, file=None, line=None):
        where = (f"a cell, line {lineno}" if "ipykernel" in str(filename)
                 else f"{Path(filename).name}:{lineno}")
        try:
            ChannelBar._channel.write(json.dumps(dict(
                event="warning", text=f"{category.__name__}: {message} ({where})")) + "\n")
        except (OSError, ValueError):
            pass

    warnings.showwarning = show_warning  # to the terminal that runs wtm, not into the book
    for module in (tqdm, tqdm.auto, tqdm.autonotebook):
        module.tqdm = ChannelBar
    for name, module in list(sys.modules.items()):
        if name.startswith("wtmlib.") and getattr(module, "tqdm", None) is not None:
            module.tqdm = ChannelBar
    return True


class _Null:
    """A file that swallows what tqdm would print."""

    def write(self, _):
        return 0

    def flush(self):
        pass


# ------------------------------------------------------------------------- terminal side

def duration(seconds: float) -> str:
    """``seconds`` for a reader: "42 s", "3 min 05 s", "1 h 07 min"."""
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


class Follower:
    """Reads a chapter's side channel while it executes and reports on ``stream``.

    Bars whose description ends in ``compute`` count the runs still to train (run i of
    n; with worker processes, whose own bars do not reach the channel, their rate gives
    the ETA); bars named ``train`` (``train 4 models`` for stacked runs) are one run's
    epochs (rate and ETA from their own clock).
    ``trained`` is the number of runs whose training started in the kernel, or finished
    in a ``compute`` bar (worker processes), whichever is more."""

    def __init__(self, path: Path, chapter: str, stream=None, every_s: float | None = None):
        self.path, self.chapter = Path(path), chapter
        self.stream = stream or sys.stdout
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.every_s = every_s if every_s is not None else (0.5 if self.tty else 20.0)
        self.trained = 0
        self._started, self._computed = 0, {}  # train bars seen; runs done per compute bar
        self.warnings: list[str] = []  # the kernel's warnings, printed as they come
        self.runs: dict | None = None  # the current "compute" bar: n done of total
        self.epoch: dict | None = None  # the current training run's bar
        self._offset, self._last_print, self._width = 0, 0.0, 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # reading
    def poll(self) -> None:
        """Read the lines written since the last poll and print a status if due."""
        try:
            with open(self.path, encoding="utf-8") as f:
                f.seek(self._offset)
                chunk = f.read()
        except OSError:
            return
        complete = chunk[:chunk.rfind("\n") + 1]
        self._offset += len(complete.encode("utf-8"))
        changed = False
        for line in complete.splitlines():
            try:
                event = json.loads(line)
                self._take(event)
            except (ValueError, KeyError, TypeError, AttributeError):
                continue
            changed = changed or event.get("event") != "warning"
        busy = self.epoch is not None or bool(self.runs and self.runs["total"])
        if changed and busy and time.monotonic() - self._last_print >= self.every_s:
            self._print(self.status())  # a chapter that trains nothing prints nothing

    def _take(self, e: dict) -> None:
        if e.get("event") == "warning":
            self.warnings.append(e["text"])
            self.end_line()
            self.stream.write(f"[wtm]   {self.chapter}: warning: {e['text']}\n")
            self.stream.flush()
            return
        desc = e["desc"]
        if desc == "train" or desc.startswith("train "):  # "train 4 models": stacked runs
            if e["event"] == "close":
                if self.epoch and self.epoch["bar"] == e["bar"]:
                    self.epoch = None
                return
            if not self.epoch or self.epoch["bar"] != e["bar"]:
                words = desc.split()
                self._started += int(words[1]) if len(words) > 1 and words[1].isdigit() else 1
            self.epoch = e
        elif desc.endswith("compute"):
            self.runs = None if e["event"] == "close" else e
            self._computed[e["bar"]] = e["n"]
        self.trained = max(self._started, sum(self._computed.values()))

    def status(self) -> str:
        parts = [f"[wtm]   {self.chapter}:"]
        if self.runs and self.runs["total"]:
            run_i = min(self.runs["n"] + 1, self.runs["total"])
            parts.append(f"run {run_i}/{self.runs['total']}")
        elif self.trained:
            parts.append(f"run {self.trained}")
        if self.epoch:
            e = self.epoch
            done = e["n"] - e["initial"]
            rate = done / e["elapsed"] if e["elapsed"] > 0 and done > 0 else 0.0
            total = e["total"] or 0
            parts.append(f"epoch {e['n']}/{total or '?'}")
            if rate:
                parts.append(f"{rate:.2f} epochs/s" if rate >= 0.1 else f"{1 / rate:.0f} s/epoch")
                if total:
                    parts.append(f"ETA {duration((total - e['n']) / rate)}")
            if e["postfix"]:
                parts.append(f"({e['postfix']})")
        elif self.runs and self.runs["n"] and self.runs["elapsed"] > 0:  # worker processes
            r = self.runs
            parts.append(f"{r['elapsed'] / r['n']:.0f} s/run ETA "
                         f"{duration((r['total'] - r['n']) * r['elapsed'] / r['n'])}")
        elif self.runs:
            parts.append("starting")
        return " ".join(parts)

    def _print(self, text: str) -> None:
        self._last_print = time.monotonic()
        if self.tty:
            pad = max(0, self._width - len(text))
            self.stream.write("\r" + text + " " * pad)
            self._width = len(text)
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def end_line(self) -> None:
        """Leave the status line (on a terminal) before the next message."""
        if self.tty and self._width:
            self.stream.write("\r" + " " * self._width + "\r")
            self.stream.flush()
            self._width = 0

    # running beside papermill
    def __enter__(self):
        def loop():
            while not self._stop.wait(0.25):
                self.poll()
        self._thread = threading.Thread(target=loop, name="wtm-progress", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._last_print = -1e9  # a last read, not printed: the caller says how it ended
        saved, self.every_s = self.every_s, float("inf")
        self.poll()
        self.every_s = saved
        self.end_line()
        return False
