"""Running chapters: staged (a failure never replaces a good chapter), locked, and
reporting progress from the kernel. Uses two toy notebooks and a real kernel."""

import io
import json

import nbformat
import pytest

from wtmlib.book import params
from wtmlib.build import pipeline
from wtmlib.build.cli import main
from wtmlib.build.progress import Follower

OK = '''# %% tags=["parameters"]
epochs: int = 3  # epochs of the fake run

# %% tags=["hide-input"]
import time
import warnings

from tqdm.auto import tqdm

for _ in tqdm(range(1), desc="toy: compute"):
    bar = tqdm(total=epochs, desc="train", disable=True)  # as the library's bars: off
    for _ in range(epochs):
        time.sleep(0.3)
        bar.update()
    bar.close()
warnings.warn("a warning for the terminal, not the book")
print("trained", epochs)
'''

BAD = '''# %% tags=["parameters"]
n_seeds: int = 1

# %% tags=["hide-input"]
raise ValueError("the kernel failed\\nsecond line")
'''


@pytest.fixture
def toy(tmp_path, monkeypatch):
    """A checkout with two notebooks (``ok``, ``bad``) and a ``paper`` profile."""
    src = tmp_path / "notebooks"
    src.mkdir()
    (src / "01_ok.py").write_text(OK)
    (src / "02_bad.py").write_text(BAD)
    (src / "profiles.toml").write_text("[paper]\n")
    for module in (pipeline, params):  # sources and profiles (params), where to run (pipeline)
        monkeypatch.setattr(module, "NOTEBOOKS", src)
        monkeypatch.setattr(module, "ROOT", tmp_path)
    monkeypatch.setattr(params, "PROFILES", src / "profiles.toml")
    return tmp_path


def test_a_chapter_runs_with_progress_and_lands_only_after_success(toy):
    out = io.StringIO()
    logged = []
    resolved = params.resolve("paper", names=["ok"])
    pipeline.run_notebooks(resolved, toy / "book" / "chapters", "paper", logged.append, toy, out)
    chapter = toy / "book" / "chapters" / "01_ok.ipynb"
    nb = nbformat.read(chapter, as_version=4)
    assert not any(pipeline.PROGRESS_TAG in c.metadata.get("tags", []) for c in nb.cells)
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert [o.get("name") for o in outputs if o["output_type"] == "stream"] == ["stdout"]
    terminal = out.getvalue()
    assert "[wtm]   ok: run 1/1" in terminal  # the kernel's bars reached the terminal
    assert "warning: UserWarning: a warning for the terminal, not the book" in terminal
    assert any("ok:" in line and "trained 1 run(s)" in line for line in logged), logged
    assert not (toy / "book" / ".chapters_staging").exists()


def test_a_failed_rerun_keeps_the_good_chapter_and_names_the_failed_notebook(toy):
    chapters = toy / "book" / "chapters"
    chapters.mkdir(parents=True)
    good = chapters / "02_bad.ipynb"
    good.write_text("the last good chapter")
    with pytest.raises(pipeline.NotebookFailed) as err:
        pipeline.run_chapters("paper", names=["bad"], log=lambda *_: None)
    failed = toy / "_build" / "failed" / "02_bad.ipynb"
    message = str(err.value)
    assert "ValueError: the kernel failed" in message and str(failed) in message
    assert "\n" not in message and "second line" not in message
    assert good.read_text() == "the last good chapter"
    assert failed.exists() and not (toy / "book" / ".chapters_staging").exists()
    nb = nbformat.read(failed, as_version=4)
    assert any(o.get("output_type") == "error" for c in nb.cells for o in c.get("outputs", []))


def test_the_cli_reports_a_failure_in_one_line(toy, capsys):
    assert main(["run", "bad"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("wtm: error: notebook 'bad' failed: ValueError") and err.count("\n") == 1


def test_two_builds_at_once_are_refused(toy, capsys):
    with pipeline.build_lock(toy):
        with pytest.raises(pipeline.BuildLocked, match="another wtm build is running"):
            pipeline.run_chapters("paper", names=["ok"], log=lambda *_: None)
        assert main(["run", "ok"]) == 1
        assert "another wtm build is running" in capsys.readouterr().err
    with pipeline.build_lock(toy):  # released: taken again
        pass
    assert not (toy / "book" / "chapters" / "01_ok.ipynb").exists()


def _events(path, events):
    path.write_text("".join(json.dumps(e) + "\n" for e in events))


def _bar(bar, desc, n, total, elapsed, event="update"):
    return dict(event=event, bar=bar, desc=desc, n=n, total=total, elapsed=elapsed, initial=0,
                postfix="")


def test_follower_says_which_run_of_how_many_the_epoch_rate_and_eta(tmp_path):
    channel = tmp_path / "progress.jsonl"
    _events(channel, [_bar(0, "noise: compute", 1, 8, 30.0), _bar(1, "train", 0, 60, 0.0),
                      _bar(1, "train", 20, 60, 10.0)])
    f = Follower(channel, "noise", io.StringIO(), every_s=0)
    f.poll()
    assert f.status() == "[wtm]   noise: run 2/8 epoch 20/60 2.00 epochs/s ETA 20 s"
    assert f.trained == 1
    with channel.open("a") as fh:  # the run ends, the next one starts
        for e in (_bar(1, "train", 60, 60, 30.0, "close"), _bar(0, "noise: compute", 2, 8, 61.0),
                  _bar(2, "train", 1, 60, 20.0)):
            fh.write(json.dumps(e) + "\n")
    f.poll()
    assert f.trained == 2 and f.status().startswith("[wtm]   noise: run 3/8 epoch 1/60 20 s/epoch")
    with channel.open("a") as fh:  # four runs trained together (stacked)
        fh.write(json.dumps(_bar(3, "train 4 models", 5, 60, 5.0)) + "\n")
    f.poll()
    assert f.trained == 6 and "epoch 5/60 1.00 epochs/s ETA 55 s" in f.status()


def test_follower_on_a_cached_chapter_stays_quiet(tmp_path):
    channel = tmp_path / "progress.jsonl"
    # a chapter whose runs all come from the cache: bars that load, none that train
    _events(channel, [_bar(0, "section4", 0, 3, 0.0), _bar(0, "section4", 3, 3, 0.4, "close"),
                      _bar(1, "noise grid", 8, 8, 0.1)])
    stream = io.StringIO()
    f = Follower(channel, "data", stream, every_s=0)
    f.poll()
    with f:
        pass
    assert stream.getvalue() == "" and f.trained == 0


def test_follower_counts_and_times_runs_trained_by_worker_processes(tmp_path):
    """Workers' own epoch bars never reach the channel: the compute bar counts their runs
    and its rate gives the ETA."""
    channel = tmp_path / "progress.jsonl"
    _events(channel, [_bar(0, "section4: compute", 0, 22, 0.0),
                      _bar(0, "section4: compute", 4, 22, 80.0)])
    f = Follower(channel, "noise", io.StringIO(), every_s=0)
    f.poll()
    assert f.trained == 4
    assert f.status() == "[wtm]   noise: run 5/22 20 s/run ETA 6 min 00 s"
    with channel.open("a") as fh:
        fh.write(json.dumps(_bar(0, "section4: compute", 22, 22, 440.0, "close")) + "\n")
    f.poll()
    assert f.trained == 22
