"""A stopped build stops: SIGTERM to ``wtm run`` while its two workers train, or SIGKILL
(the workers notice their parent is gone), leaves no process behind within seconds,
the lock free, no half-written file, and the same command resumes to the results of an
uninterrupted build. SIGTERM while a notebook runs stops its kernel too."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from wtmlib.build import pipeline, plan
from wtmlib.book.params import resolve

# ``wtm`` with the lock (and staging) under the test's folder; the plan's training only
BUILD = """
import sys
from pathlib import Path
from wtmlib.build import cli, pipeline
if __name__ == "__main__":
    pipeline.ROOT = Path(sys.argv[1])
    pipeline.run_notebooks = lambda *a, **k: {}
    sys.exit(cli.main(sys.argv[2:]))
"""

# six runs of about a second each (noisy training sets: each trains to its bound)
NOISE = {"n_train": 600, "n_test": 120, "n_dim": 100, "n_pat": 6, "n_hidden": 64,
         "epochs": 100, "n_seeds": 1, "sigmas_train": [1.2, 1.4, 1.6, 1.8, 2.0, 2.4],
         "sigmas_test": [0.2], "fig2_sigmas": [2.0], "threads": 1}
ARGS = ["run", "noise", "--profile", "quick", "-p", "workers", "2"] + [
    a for k, v in NOISE.items() for a in ("-p", k, repr(v))]
N_RUNS = len(NOISE["sigmas_train"])
STOP_S = 10.0  # every process of the build is gone within this


def _start(root: Path, results: Path, script=BUILD, args=ARGS) -> subprocess.Popen:
    env = dict(os.environ, WTM_RESULTS=str(results))
    return subprocess.Popen([sys.executable, "-c", script, str(root), *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _stored(results: Path) -> dict:
    return {p.stem: json.loads(p.read_text())["info"]["npz_sha256"]
            for p in (results / "noise").glob("*.json")}


def _wait_for(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _alive(procs: list) -> list:
    out = []
    for p in procs:
        try:
            if p.status() != psutil.STATUS_ZOMBIE:
                out.append(p)
        except psutil.NoSuchProcess:
            pass
    return out


def _assert_all_gone(procs: list) -> None:
    deadline = time.monotonic() + STOP_S
    while _alive(procs) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = [(p.pid, " ".join(p.cmdline())[:120]) for p in _alive(procs)]
    for p in _alive(procs):  # do not leave them to the next test
        p.kill()
    assert not left, f"processes of the stopped build still running: {left}"


def _lock_is_free(root: Path) -> bool:
    try:
        with pipeline.build_lock(root):
            return True
    except pipeline.BuildLocked:
        return False


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The runs of an uninterrupted build (in this process: the pool's numbers are this
    process's, test_plan.py)."""
    results = tmp_path_factory.mktemp("reference")
    params = resolve("quick", {"noise": {**NOISE, "workers": 0}}, ["noise"], library=True)
    plan.train_plan(params, "quick", root=results, log=lambda *_: None)
    stored = _stored(results)
    assert len(stored) == N_RUNS
    return stored


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_a_stopped_build_leaves_no_process_and_resumes(tmp_path, reference, sig):
    root, results = tmp_path / "checkout", tmp_path / "results"
    root.mkdir()
    proc = _start(root, results)
    parent = psutil.Process(proc.pid)
    try:
        _wait_for(lambda: _stored(results), 120, "the first stored run")
        children = parent.children(recursive=True)
        workers = [c for c in children if "spawn_main" in " ".join(c.cmdline())]
        assert len(workers) == 2, [c.cmdline() for c in children]  # both training
        proc.send_signal(sig)
        out, _ = proc.communicate(timeout=STOP_S)
    finally:
        proc.kill()
    _assert_all_gone(children)  # workers and the resource tracker
    assert _lock_is_free(root)
    assert not [p.name for p in results.rglob("*") if p.name.endswith(".tmp")]
    stored = _stored(results)
    assert 1 <= len(stored) < N_RUNS
    assert all(reference[k] == v for k, v in stored.items())
    if sig == signal.SIGTERM:  # what happened and how to resume; nothing left behind
        assert "leaked" not in out, out  # (a killed parent leaves its semaphores to the tracker)
        assert proc.returncode == 128 + signal.SIGTERM
        assert (f"wtm: stopped by SIGTERM; training stopped: {len(stored)} of {N_RUNS} run(s) "
                f"stored, {N_RUNS - len(stored)} left") in out, out
        assert "The same command resumes: wtm run noise --profile quick -p workers 2" in out

    rerun = _start(root, results)
    out, _ = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, out
    assert f"training {N_RUNS - len(stored)} run(s) for noise" in out, out  # resumed
    assert _stored(results) == reference  # the same bits as an uninterrupted build
    assert not list(results.rglob("*.ckpt.pt")) and not list(results.rglob("*.tmp"))


KERNEL = '''# %% tags=["parameters"]
seconds: int = 120

# %% tags=["hide-input"]
import os, time
open(os.environ["WTM_TEST_KERNEL_PID"], "w").write(str(os.getpid()))
time.sleep(seconds)
'''

RUN_TOY = """
import sys
from pathlib import Path
from wtmlib.book import params
from wtmlib.build import cli, pipeline
if __name__ == "__main__":
    root = Path(sys.argv[1])
    for module in (pipeline, params):
        module.NOTEBOOKS, module.ROOT = root / "notebooks", root
    params.PROFILES = root / "notebooks" / "profiles.toml"
    sys.exit(cli.main(sys.argv[2:]))
"""


def test_sigterm_while_a_notebook_runs_stops_its_kernel(tmp_path, monkeypatch):
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "notebooks" / "01_sleepy.py").write_text(KERNEL)
    (tmp_path / "notebooks" / "profiles.toml").write_text("[paper]\n")
    pid_file = tmp_path / "kernel.pid"
    monkeypatch.setenv("WTM_TEST_KERNEL_PID", str(pid_file))
    proc = _start(tmp_path, tmp_path / "results", RUN_TOY, ["run", "sleepy"])
    try:
        kernel = psutil.Process(int(_wait_for(lambda: pid_file.exists() and pid_file.read_text(),
                                              120, "the kernel")))
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=STOP_S)
    finally:
        proc.kill()
    _assert_all_gone([kernel])
    assert proc.returncode == 128 + signal.SIGTERM, out
    assert "stopped by SIGTERM; chapter sleepy was running (its kernel stopped)" in out, out
    assert _lock_is_free(tmp_path)
    assert not (tmp_path / "book" / ".chapters_staging").exists()
    assert not list((tmp_path / "book" / "chapters").glob("*.ipynb"))
