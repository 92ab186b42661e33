"""What the chapters share: one set-up call, claims recorded through the evidence
functions (never a rule or threshold in a notebook), the data parameters agreeing with
the one definition of data set S (``SyntheticConfig``)."""

import dataclasses
import re
import tomllib

import numpy as np
import pytest

from wtmlib.book import chapter
from wtmlib.book.params import NOTEBOOKS, PROFILES, default_parameters
from wtmlib.claims import evidence
from wtmlib.claims.registry import MODERATE_NOISE, NOT, PARTLY, REPRODUCED, UNTESTABLE
from wtmlib.data import SyntheticConfig
from wtmlib.results.experiments import NoiseGrid

DATA_FIELDS = ("n_dim", "l_pat", "n_pat", "n_train", "n_test", "delta")


def test_the_data_parameters_of_every_chapter_are_algorithm_1s_defaults():
    paper = {f.name: f.default for f in dataclasses.fields(SyntheticConfig)}
    checked = 0
    for name in ("data", "noise", "wtm"):
        defaults = default_parameters(name)
        for key in DATA_FIELDS:
            assert defaults[key] == paper[key], (name, key)
            checked += 1
    assert checked == 18


def test_each_profile_gives_the_chapters_on_s_the_same_data():
    profiles = tomllib.loads(PROFILES.read_text())
    for profile, chapters in profiles.items():
        for key in DATA_FIELDS:
            values = {name: {**default_parameters(name), **chapters.get(name, {})}[key]
                      for name in ("data", "noise", "wtm")}
            assert len(set(values.values())) == 1, (profile, key, values)


def test_no_notebook_judges_a_claim_itself():
    """Verdicts come from ``evidence.save`` (the registry's rules); a notebook that
    called a rule or compared a value with a threshold would say the old thing after
    a rule change."""
    for path in sorted(NOTEBOOKS.glob("*.py")):
        code = "\n".join(line for line in path.read_text().splitlines()
                         if not line.lstrip().startswith("#"))
        assert not re.search(r"store\.(verdict|save|save_seeds)\(|\.rule\(", code), path
        assert "between(0.3, 0.5)" not in code and "2 * null" not in code, path


def _grid(mean_acc: np.ndarray, sigmas, n_seeds: int = 3, sd: float = 0.0) -> NoiseGrid:
    rng = np.random.default_rng(0)
    acc = mean_acc[None] + sd * rng.standard_normal((n_seeds,) + mean_acc.shape)
    shape = (n_seeds, len(sigmas))
    return NoiseGrid(list(sigmas), list(sigmas), list(range(n_seeds)), acc,
                     np.ones(shape, int), np.zeros(shape, bool), np.zeros(shape))


SIGMAS = [0.1, 0.2, 0.4, 0.8, 1.2]


def test_f1_counts_the_test_levels_whose_best_training_noise_is_moderate():
    # every column peaks at sigma_train 0.4, except the lowest test noise (best at 0.1)
    mean = np.repeat((0.9 - 0.1 * np.abs(np.array(SIGMAS) - 0.4))[:, None], len(SIGMAS), 1)
    mean[:, 0] = np.linspace(0.99, 0.90, len(SIGMAS))
    found, best = evidence.noise(_grid(mean, SIGMAS))
    f1 = found["F1-best-sigma"]
    assert f1.values == [pytest.approx(4 / 5)] and f1.n == 3
    assert list(best.moderate) == [False, True, True, True, True]
    assert best.best_sigma_train.tolist() == [0.1, 0.4, 0.4, 0.4, 0.4]
    # Figure 2's cells: sigma_train 0.4 and 1.2 at sigma_test 0.4, in %
    assert found["F2-acc-generalizing"].values == pytest.approx([90.0] * 3)
    assert found["F2-acc-memorizing"].values == pytest.approx([100 * (0.9 - 0.08)] * 3)


def test_f1_fails_when_the_least_noise_always_wins():
    mean = np.repeat(np.linspace(0.99, 0.80, len(SIGMAS))[:, None], len(SIGMAS), 1)
    found, best = evidence.noise(_grid(mean, SIGMAS))
    assert found["F1-best-sigma"].values == [0.0] and not best.moderate.any()
    assert MODERATE_NOISE[0] <= 0.4 <= MODERATE_NOISE[1]


def test_f1_and_f2_are_recorded_with_their_verdicts(results):
    mean = np.repeat((0.9 - 0.1 * np.abs(np.array(SIGMAS) - 0.4))[:, None], len(SIGMAS), 1)
    verdicts = evidence.save(evidence.noise(_grid(mean, SIGMAS))[0])
    assert verdicts["F1-best-sigma"] == REPRODUCED  # 5 of 5 levels
    assert verdicts["F2-acc-generalizing"] == NOT  # 90.0 % against the paper's 95.1 %
    stored = (results / "claims" / "paper" / "F1-best-sigma.json").read_text()
    assert '"n": 3' in stored


def test_the_clustering_claims_count_noise_levels_per_side():
    levels = np.repeat([0.1, 0.2, 0.4, 0.8, 1.2, 1.6], 3)
    rho = dict(best_sigma_train=0.4, rho_c1=0.3, rho_c3=0.1, rho_c1_low=0.9, rho_c1_high=-0.2)
    found = evidence.clustering(rho, levels, "test")
    below, above = found["S5-clustering-below-optimum"], found["S5-clustering-above-optimum"]
    assert (below.values, below.n, above.values, above.n) == ([0.9], 3, [-0.2], 4)
    assert below.null == 0.0 and "<= 0.4" in below.note and ">= 0.4" in above.note


def test_sentences_follow_the_verdict():
    pick = lambda v: chapter.by_verdict(v, "yes", "some", "no", "cannot say")  # noqa: E731
    assert [pick(v) for v in (REPRODUCED, PARTLY, NOT, UNTESTABLE)] == [
        "yes", "some", "no", "cannot say"]
    assert chapter.by_verdict(UNTESTABLE, "a", "b", "c") == "not testable at this build's settings"


def test_setup_refuses_an_unknown_section_before_anything_runs():
    with pytest.raises(ValueError, match="section='5'.*data, 3, 4, mnist, none"):
        chapter.setup("noise", {}, "5")


CLAIM_PAGES = ("Z_scorecard", "Zz_summary")  # read the stored claims, run nothing


def test_every_chapter_sets_up_in_one_call():
    for path in sorted(NOTEBOOKS.glob("*.py")):
        if path.stem in CLAIM_PAGES:  # pages of stored claims: no section to set up
            continue
        text = path.read_text()
        assert len(re.findall(r"chapter\.setup\(", text)) == 1, path
        assert "report.show_parameters(" not in text and "plots.style()" not in text, path


def test_figures_3_and_6_are_drawn_by_one_function():
    for name in ("04a_wtm.py", "A1_mnist.py"):
        text = (NOTEBOOKS / name).read_text()
        assert "plots.wtm_figure_of(" in text and "plots.wtm_figure(" not in text, name


def test_f1_counts_a_level_only_when_the_paired_margin_beats_the_seed_spread():
    # moderate noise better by 0.2 points on average, seeds spread by 1 point: no level won
    mean = np.repeat((0.9 - 0.002 * (np.array(SIGMAS) != 0.4))[:, None], len(SIGMAS), 1)
    noisy, _ = evidence.noise(_grid(mean, SIGMAS, n_seeds=5, sd=0.01))
    assert noisy["F1-best-sigma"].values == [0.0]
    # the same margin with no seed spread wins everywhere
    assert evidence.noise(_grid(mean, SIGMAS, n_seeds=5))[0]["F1-best-sigma"].values == [1.0]


def test_coherence_early_reads_each_seed_against_its_own_start(results):
    import pandas as pd

    rows = [dict(seed=s, epoch=e, all=a) for s, curve in
            ((0, {0: 0.01, 3: 0.05, 10: 0.04, 400: 0.001}), (1, {0: 0.02, 5: 0.03, 400: 0.003}),
             (2, {0: 0.01, 2: 0.02, 400: 0.03}))  # the third rises: no fall
            for e, a in curve.items()]
    found = evidence.coherence_early(pd.DataFrame(rows))["S5-coherence-early"]
    assert found.values == [pytest.approx(0.1)] and found.n == 3 and found.null == 1.0
    assert "0: 0.02, 1: 0.1, 2: 1.5" in found.note
    assert evidence.save({"S5-coherence-early": found}) == {
        "S5-coherence-early": REPRODUCED}  # median 0.1 <= 0.5
