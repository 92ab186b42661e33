"""``store.save_seeds``: the mean, spread and count of per-seed values, stored with
the verdict its rule gives."""

import math

import pytest

from wtmlib.claims import store
from wtmlib.claims import registry


def test_mean_sd_and_count_of_the_seeds(results):
    verdict = store.save_seeds("S-acc", [95.0, 96.0, 97.0], note="three seeds")
    got = store.load("S-acc", "paper")
    assert (got["value"], got["sd"], got["n"]) == (96.0, 1.0, 3)
    assert verdict == got["verdict"] == registry.REPRODUCED  # within 1.5 of 96.1
    assert got["note"] == "three seeds"


def test_one_seed_has_no_spread(results):
    store.save_seeds("S-acc", [90.0])
    got = store.load("S-acc", "paper")
    assert got["n"] == 1 and math.isnan(got["sd"]) and got["verdict"] == registry.NOT


@pytest.mark.parametrize("values", [[4.0, math.inf], [4.0, math.nan]])
def test_a_seed_that_never_gets_there_makes_the_mean_infinite(results, values):
    verdict = store.save_seeds("F1-best-sigma", values)
    got = store.load("F1-best-sigma", "paper")
    assert math.isinf(got["value"]) and math.isnan(got["sd"]) and got["n"] == 2
    assert verdict == got["verdict"] == registry.NOT


def test_the_reading_of_a_profile_is_recorded(results):
    assert store.reading_of("paper") is None
    store.save_reading("W2 lr 3, b2 frozen", "chosen by the registered rule")
    assert store.reading_of("paper") == {"name": "W2 lr 3, b2 frozen",
                                          "how": "chosen by the registered rule"}
    assert all(r["verdict"] == registry.MISSING for r in store.table("paper"))  # not a claim
