"""The build's training plan (wtmlib.build.plan): which runs, trained once, stored, and a
failure that stops the build before any notebook."""

import re

import numpy as np
import pytest

from wtmlib.book import jobs
from wtmlib.build import pipeline, plan
from wtmlib.results import cache
from wtmlib.book.params import notebook_names, resolve, source_path
from wtmlib.results.runs import key_of, run

TINY = {"n_train": 240, "n_test": 120, "n_dim": 40, "n_pat": 6, "n_hidden": 16,
        "epochs": 2, "n_seeds": 1, "sigmas_train": [0.2, 0.6], "sigmas_test": [0.2],
        "fig2_sigmas": [0.6], "threads": 1}


def _noise(workers=0, **more):
    return resolve("quick", {"noise": {**TINY, "workers": workers, **more}}, ["noise"],
                   library=True)


def test_every_chapter_that_reads_the_chosen_reading_is_planned_after_the_sweep():
    # a chapter calling readings.main (itself, or through the set-up of Section 4 or of
    # Appendix A.1, or readings.mnist) needs the sweep first: the plan must know it
    readers = {n for n in notebook_names() if re.search(
        r"readings\.(main|mnist)\(|chapter\.setup\(.*\"(4|mnist)\"\)",
        source_path(n).read_text())}
    assert {"wtm", "mnist", "explorer"} <= readers <= set(jobs.READING_CHAPTERS)


TINY_WTM = {"n_dim": 40, "l_pat": 2, "n_pat": 6, "n_train": 300, "n_test": 120,
            "n_hidden": 12, "epochs": 6, "lr_decay_epoch": 4, "early_epoch": 2,
            "output_lrs": [1 / 27, 1.0], "reading_seeds": 1, "n_seeds": 1, "dz_seeds": 1,
            "causal_bases": 1, "causal_redraws": 1, "onset_epochs": [0, 2], "threads": 1}
TINY_MNIST = {"n_train": 600, "n_test": 200, "n_hidden": 8, "epochs": 3, "lr_decay_epoch": 2,
              "batch_size": 200, "n_seeds": 2, "early_epoch": 1, "threads": 1}


def test_the_plan_lists_exactly_the_mnist_runs_the_chapter_loads(tmp_path, monkeypatch):
    # Appendix A.1 loads its seeds under the chosen reading and under its fixed setting:
    # the fixed ones need no sweep (first), the others are listed once it is stored
    import json  # noqa: PLC0415
    from wtmlib.book import chapter  # noqa: PLC0415
    from wtmlib.results import experiments  # noqa: PLC0415
    from wtmlib.results.pool import seed_jobs  # noqa: PLC0415
    monkeypatch.setenv("WTM_RESULTS", str(tmp_path))
    params = resolve("quick", {"wtm": TINY_WTM, "mnist": TINY_MNIST}, ["wtm", "mnist"],
                     library=True)
    monkeypatch.setenv("WTM_BOOK_PARAMS", json.dumps({"wtm": params["wtm"]}))
    p = jobs.Plan(params, "quick")
    first = [key_of(*j.configs) for j in p.first() if j.chapter == "mnist"]
    later = [key_of(*j.configs) for j in p.under_reading() if j.chapter == "mnist"]
    section = chapter.setup("mnist", params["mnist"], "mnist")  # as the notebook does
    seeds = range(params["mnist"]["n_seeds"])
    assert section.reading in section.reading_configs
    assert first == [key_of(*j) for j in seed_jobs(section.data, section.model, section.fixed,
                                                   seeds)]
    assert later == [key_of(*j) for j in seed_jobs(*section.configs, seeds)
                     + seed_jobs(*experiments.linear_control(*section.configs), seeds)]
    # the three calls by which the notebook loads its runs
    text = source_path("mnist").read_text()
    assert 'pool.seed_runs(data_cfg, model_cfg, train_cfg, seeds, "mnist")' in text
    assert 'pool.seed_runs(data_cfg, model_cfg, section.fixed, seeds, "mnist")' in text
    assert ("pool.seed_runs(*experiments.linear_control(data_cfg, model_cfg, train_cfg),\n"
            '                                seeds, "mnist")') in text
    assert text.count("pool.seed_runs(") == 3


@pytest.mark.parametrize("workers", [0, 2])
def test_the_plan_trains_each_missing_run_once_and_the_notebook_loads_it(tmp_path, workers):
    params, lines = _noise(workers), []
    assert plan.train_plan(params, "quick", root=tmp_path, log=lines.append, every_s=0) == 2
    assert "run 2/2 (noise)" in lines[-2] and lines[-1].startswith("[wtm] trained 2 run(s)")
    assert plan.train_plan(params, "quick", root=tmp_path, log=lines.append) == 0  # all stored
    # the run the notebook asks for is the one stored, not trained again
    job = jobs.Plan(params, "quick").first()[-1]  # Figure 2's model: a duplicate of the grid's
    stored = cache.paths("noise", key_of(*job.configs), tmp_path)[1]
    mtime = stored.stat().st_mtime_ns
    res = run(*job.configs, "noise", root=tmp_path)
    assert stored.stat().st_mtime_ns == mtime and res.metrics["train_acc"] > 0


def test_the_pool_gives_the_same_numbers_as_this_process(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    plan.train_plan(_noise(0), "quick", root=a, log=lambda *_: None)
    plan.train_plan(_noise(2), "quick", root=b, log=lambda *_: None)
    for job in jobs.Plan(_noise(0), "quick").first():
        ra = cache.load("noise", key_of(*job.configs), a)
        rb = cache.load("noise", key_of(*job.configs), b)
        for k in ra.arrays:
            np.testing.assert_array_equal(ra.arrays[k], rb.arrays[k], err_msg=k)


@pytest.mark.parametrize("workers", [0, 2])
def test_a_failing_run_stops_the_build_before_any_notebook(tmp_path, monkeypatch, workers):
    ran, blocked = [], tmp_path / "a_file"
    blocked.write_text("not a folder")  # every run fails to store its result here
    monkeypatch.setattr(pipeline, "run_notebooks", lambda *a, **k: ran.append(a))
    monkeypatch.setenv("WTM_RESULTS", str(blocked))
    with pytest.raises(OSError, match="a_file"):
        pipeline.run_chapters("quick", {"noise": {**TINY, "workers": workers}}, ["noise"],
                              root=tmp_path, log=lambda *_: None)
    assert not ran


def test_the_eta_rates_each_chapter_by_its_own_finished_runs(monkeypatch):
    # a run that stops once it fits is listed at its bound of epochs: its chapter's
    # measured seconds per unit of cost, not another chapter's, must price the rest
    monkeypatch.setattr(plan, "cost", lambda job: job.configs[0])
    lines = []
    status = plan._Status(lines.append, every_s=0, workers=2)
    a1, a2, b = jobs.Job("a", "x", (10.0,)), jobs.Job("a", "x", (10.0,)), jobs.Job("b", "x", (100.0,))
    status.add([a1, a2, b])
    status.done(a1, 5.0)  # a: 0.5 s per unit; b, none finished yet, at the mean
    assert status.eta() == pytest.approx((10 * 0.5 + 100 * 0.5) / 2)
    status.done(b, 20.0)  # b: 0.2 s per unit, and nothing of b is left
    assert status.eta() == pytest.approx(10 * 0.5 / 2)
    assert "run 2/3 (b)" in lines[-1] and lines[-1].endswith("ETA 2 s")  # 2.5 s, rounded


def test_the_eta_rates_each_kind_of_run_by_its_own_finished_runs(monkeypatch):
    # within one chapter a narrow model takes far more seconds per unit of cost than a
    # wide one: once one narrow run is finished, it, not the wide runs, prices the others
    monkeypatch.setattr(plan, "cost", lambda job: job.configs[0])
    status = plan._Status(lambda *_: None, every_s=0, workers=1)
    wide = [jobs.Job("a", "x", (100.0, "wide")) for _ in range(2)]
    narrow = [jobs.Job("a", "x", (1.0, "narrow")) for _ in range(3)]
    status.add(wide + narrow)
    status.done(wide[0], 50.0)  # 0.5 s per unit: the chapter's rate prices both kinds
    assert status.eta() == pytest.approx(100 * 0.5 + 3 * 0.5)
    status.done(narrow[0], 10.0)  # 10 s per unit for the narrow kind
    assert status.eta() == pytest.approx(100 * 0.5 + 2 * 10.0)
    assert jobs.kind(wide[0]) != jobs.kind(narrow[0]) == jobs.kind(narrow[1])


@pytest.mark.parametrize("output_layer", ["sgd", "layca"])
def test_the_readings_chapter_plans_the_chosen_reading_with_w2_norm_fixed(monkeypatch,
                                                                          output_layer):
    """B-output-scale's control: the chosen reading's sweep seeds with W2 projected back to
    its initial norm, listed as soon as the reading is known; none for a reading whose W2
    Layca rotates (its norm is fixed already)."""
    from dataclasses import replace

    from wtmlib.config import TrainConfig
    from wtmlib.results import experiments

    params = resolve("quick", names=["readings"])
    P4 = resolve("quick", names=["wtm"])["wtm"]
    data, model, train = experiments.section4(P4)
    train = replace(train, output_layer=output_layer, output_lr=1.0)
    monkeypatch.setattr(jobs.Plan, "reading", lambda self: (data, model, train))
    listed = [j for j in jobs.Plan(params, "quick").under_reading() if j.chapter == "readings"]
    if output_layer == "layca":
        assert listed == []
        return
    assert [j.configs[2].seed for j in listed] == list(range(P4["reading_seeds"]))
    for j in listed:
        t = j.configs[2]
        assert j.experiment == "section4" and t.output_norm == "fixed"
        assert replace(t, output_norm="free", seed=0) == replace(train, seed=0)
        assert isinstance(t, TrainConfig)


def test_the_plan_lists_the_gradient_share_runs_the_difficulty_chapter_loads(tmp_path,
                                                                             monkeypatch):
    from wtmlib.results import experiments  # noqa: PLC0415
    from wtmlib.results.pool import seed_jobs  # noqa: PLC0415
    monkeypatch.setenv("WTM_RESULTS", str(tmp_path))
    params = resolve("quick", {"wtm": TINY_WTM, "difficulty": {"grad_seeds": 1},
                               "related": {"snapshots": [0, 2, TINY_WTM["epochs"]]}},
                     ["wtm", "difficulty", "related"], library=True)
    p = jobs.Plan(params, "quick")
    grad = experiments.grad_jobs(*p.reading(), 1)
    snap = experiments.snapshot_jobs(*p.reading(), p.P("related"), params["wtm"]["n_seeds"])
    assert [j[2].keep_grad_shares for j in grad] == [True]
    control = seed_jobs(*experiments.linear_control(*p.reading()),
                        range(p.P("ablation")["ablation_seeds"]))
    assert [key_of(*j.configs) for j in p.under_reading() if j.chapter == "difficulty"] \
        == [key_of(*j) for j in grad + snap + control]
    text = source_path("difficulty").read_text()
    assert "experiments.grad_jobs(data_cfg, model_cfg, train_cfg, grad_seeds)" in text
    assert "experiments.snapshot_jobs(data_cfg, model_cfg, train_cfg, related, len(seeds))" in text
    assert "experiments.linear_control(data_cfg, model_cfg, train_cfg)" in text
