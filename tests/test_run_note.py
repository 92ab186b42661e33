"""A chapter run by hand (outside ``wtm``) says first what it will train and about how
long, and how to take the published results instead (``wtmlib.book.jobs.run_note``)."""

import re

import pytest

from wtmlib.book import chapter, jobs
from wtmlib.book.params import ROOT, default_parameters
from wtmlib.results.runs import key_of


@pytest.fixture
def by_hand(tmp_path, monkeypatch):
    """An empty results folder, no ``wtm`` build around, two cores."""
    monkeypatch.setenv("WTM_RESULTS", str(tmp_path))
    monkeypatch.delenv("WTM_PROFILE", raising=False)
    monkeypatch.delenv("WTM_BOOK_PARAMS", raising=False)
    monkeypatch.setattr(jobs.os, "cpu_count", lambda: 2)
    return tmp_path


def test_a_chapter_says_what_it_trains_how_long_and_where_the_results_are(by_hand):
    P = default_parameters("noise")  # the paper's settings: 55 SGD runs, two workers
    keys = {key_of(*j.configs) for j in jobs.Plan({"noise": P}).first()}
    note = jobs.run_note("noise", P, P)
    assert note.startswith("This chapter, run by hand, starts from the paper's settings: "
                           f"it reads {len(keys)} training run(s), 0 of them stored in {by_hand}.")
    runs, seconds = jobs.SPEED_PAGE["noise"]
    assert len(keys) == runs == 55
    minutes = round(len(keys) * seconds / runs / 2 / 60)  # two one-thread workers
    assert f"Training the other 55 (55 for noise) takes about {minutes} min on 2 core(s)" in note
    assert "measured on the Speed page" in note
    assert "wtm results fetch <archive>" in note and "make book RESULTS=<archive>" in note
    assert not any(by_hand.iterdir())  # nothing was trained or written


def test_a_chapter_on_the_sweep_counts_the_runs_under_the_reading_it_will_choose(by_hand):
    P = default_parameters("readings")
    est = jobs.estimate("readings", P)
    wtm = default_parameters("wtm")
    sweep = (len(wtm["output_lrs"]) * 2 + 2) * wtm["reading_seeds"]  # grid, literal, 3e-3
    assert est.by_chapter == {"wtm": sweep, "readings": wtm["reading_seeds"]}
    assert not est.reading_known and est.stored == 0 and est.runs == est.left
    assert "counted at any reading" in jobs.run_note("readings", P, P)
    assert not any(by_hand.iterdir())


def test_stored_runs_are_counted_and_price_the_runs_of_their_kind(by_hand, monkeypatch):
    P = default_parameters("noise")
    all_jobs = jobs.Plan({"noise": P}).first()
    done = {key_of(*j.configs) for j in all_jobs[:5]}

    class Cache:  # five runs stored, each of 20 training seconds
        @staticmethod
        def paths(experiment, key, root=None):
            folder = by_hand / ("stored" if key in done else "missing")
            return folder / f"{key}.npz", folder / f"{key}.json"

        @staticmethod
        def stored_metrics(experiment, key, root=None):
            return {"wall_s": 20.0} if key in done else None

        results_root = staticmethod(lambda: by_hand)

    def store():
        (by_hand / "stored").mkdir(exist_ok=True)
        for key in done:
            (by_hand / "stored" / f"{key}.json").write_text("{}")

    store()
    monkeypatch.setattr(jobs, "cache", Cache)
    est = jobs.estimate("noise", P)
    assert (est.runs, est.stored, est.measured) == (55, 5, 50)  # every noise run is one kind
    assert est.seconds == pytest.approx(50 * 20.0 / 2)
    note = jobs.run_note("noise", P, P)
    assert "5 of them stored" in note and "at the run times of the stored runs" in note
    done |= {key_of(*j.configs) for j in all_jobs}
    store()
    assert "Nothing to train" in jobs.run_note("noise", P, P)
    assert "wtm results fetch" not in jobs.run_note("noise", P, P)


def test_changed_settings_are_named(by_hand):
    P = default_parameters("noise")
    note = jobs.run_note("noise", {**P, "n_seeds": 2, "workers": 1}, P)
    assert note.startswith("This chapter, run by hand, differs from the paper's settings in "
                           "n_seeds: it reads 22 training run(s)")  # workers: not a setting
    assert "on 1 core(s)" in note and "(at the paper's sizes)" in note


def test_chapters_that_read_no_run_say_nothing(by_hand):
    for name in ("data", "scorecard", "summary"):
        P = default_parameters(name)
        assert jobs.run_note(name, P, P) == ""


def test_setup_prints_the_note_first_by_hand_and_never_in_a_build(by_hand, monkeypatch, capsys):
    namespace = dict(default_parameters("noise"))
    chapter.setup("noise", namespace, "3")
    assert capsys.readouterr().out.startswith("This chapter, run by hand, starts from the paper's")
    monkeypatch.setenv("WTM_PROFILE", "paper")  # what wtm sets for a chapter's kernel
    chapter.setup("noise", namespace, "3")
    assert "run by hand" not in capsys.readouterr().out


def test_the_per_run_times_are_the_speed_pages():
    """``SPEED_PAGE`` holds the training table of book/speed.md: runs and seconds summed
    over the rows of each chapter."""
    page = (ROOT / "book" / "speed.md").read_text()
    table = page.split("| chapter | runs | training (sum of runs) |", 1)[1].split("\n\n", 1)[0]
    found: dict[str, list] = {}
    for row in table.splitlines()[2:]:
        cells = [c.strip() for c in row.strip("|").split("|")]
        name = re.match(r"[a-z]+", cells[0]).group(0)
        if name != "all":
            runs, seconds = found.setdefault(name, [0, 0.0])
            found[name] = [runs + int(cells[1]), seconds + float(cells[2].split(" s")[0])]
    assert {k: tuple(v) for k, v in found.items()} == jobs.SPEED_PAGE
