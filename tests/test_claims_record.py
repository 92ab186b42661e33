"""``claims.record_seeds``: the mean, spread and count of per-seed values, stored with
the verdict its rule gives."""

import math

import pytest

from wtmlib import claims


def test_mean_sd_and_count_of_the_seeds(results):
    verdict = claims.record_seeds("S-acc", [95.0, 96.0, 97.0], note="three seeds")
    got = claims.load("S-acc", "paper")
    assert (got["value"], got["sd"], got["n"]) == (96.0, 1.0, 3)
    assert verdict == got["verdict"] == claims.REPRODUCED  # within 1.5 of 96.1
    assert got["note"] == "three seeds"


def test_one_seed_has_no_spread(results):
    claims.record_seeds("S-acc", [90.0])
    got = claims.load("S-acc", "paper")
    assert got["n"] == 1 and math.isnan(got["sd"]) and got["verdict"] == claims.NOT


@pytest.mark.parametrize("values", [[4.0, math.inf], [4.0, math.nan]])
def test_a_seed_that_never_gets_there_makes_the_mean_infinite(results, values):
    verdict = claims.record_seeds("F5-crossing", values)
    got = claims.load("F5-crossing", "paper")
    assert math.isinf(got["value"]) and math.isnan(got["sd"]) and got["n"] == 2
    assert verdict == got["verdict"] == claims.NOT


def test_the_reading_of_a_profile_is_recorded(results):
    from wtmlib import claims
    assert claims.reading_of("paper") is None
    claims.record_reading("W2 lr 3, b2 frozen", "chosen by the registered rule")
    assert claims.reading_of("paper") == {"name": "W2 lr 3, b2 frozen",
                                          "how": "chosen by the registered rule"}
    assert all(r["verdict"] == claims.MISSING for r in claims.table("paper"))  # not a claim
