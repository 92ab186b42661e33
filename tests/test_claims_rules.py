"""Every claim rule on ordinary, NaN, infinite and missing values; the nulls beside the
values; the "holds by construction" verdict; a failure counted once; the rule-change log
shown by ``wtm claims`` and on the scorecard."""

import io
import math
import re

import pytest

from wtmlib.claims import scorecard, store
from wtmlib.claims.registry import BY_CONSTRUCTION
from wtmlib.claims.registry import BY_ID
from wtmlib.claims.registry import CLAIMS
from wtmlib.claims.registry import MISSING
from wtmlib.claims.registry import NOT
from wtmlib.claims.registry import PARTLY
from wtmlib.claims.registry import REPRODUCED
from wtmlib.claims.registry import UNTESTABLE



def _satisfy_dependency(claim):
    """Record a passing value for the claim ``claim`` depends on."""
    if claim.depends_on == "F5-crossing":
        store.record("F5-crossing", 6.0)
    elif claim.depends_on == "F3-winner-take-most":
        store.record("F3-winner-take-most", 0.6, null=0.0)


# (claim, value, null, verdict): one case per verdict each rule can give
CASES = [
    ("S-acc", 96.0, None, REPRODUCED), ("S-acc", 93.0, None, PARTLY), ("S-acc", 83.0, None, NOT),
    ("MNIST-acc", 97.5, None, REPRODUCED), ("MNIST-acc", 96.0, None, PARTLY),
    ("MNIST-acc", 90.0, None, NOT),
    ("F1-best-sigma", 1.0, None, REPRODUCED), ("F1-best-sigma", 0.6, None, PARTLY),
    ("F1-best-sigma", 0.0, None, NOT),
    ("F2-acc-generalizing", 95.0, None, REPRODUCED), ("F2-acc-generalizing", 91.0, None, PARTLY),
    ("F2-acc-generalizing", 85.0, None, NOT),
    ("F2-acc-memorizing", 81.0, None, REPRODUCED), ("F2-acc-memorizing", 77.0, None, PARTLY),
    ("F2-acc-memorizing", 74.0, None, NOT),
    ("F3-winner-take-most", 0.5, 0.0, REPRODUCED), ("F3-winner-take-most", 0.1, 0.0, PARTLY),
    ("F3-winner-take-most", -0.8, 0.0, NOT), ("F3-winner-take-most", 0.5, 0.3, PARTLY),
    ("F3-one-class", 0.4, 0.0, REPRODUCED), ("F3-one-class", 0.1, 0.0, PARTLY),
    ("F3-one-class", -0.1, 0.0, NOT),
    # the strict intraclass share against its value at initialization
    ("F3-intraclass", 1.0, 0.48, REPRODUCED), ("F3-intraclass", 0.5, 0.48, PARTLY),
    ("F3-intraclass", 0.0, 0.5, NOT), ("F3-intraclass", 0.48, 0.48, NOT),
    # entropy against the entropy of random favourites
    ("F3-divide-and-conquer", 0.96, 0.98, REPRODUCED),
    ("F3-divide-and-conquer", 0.75, 0.97, PARTLY), ("F3-divide-and-conquer", 0.5, 0.97, NOT),
    # share whose initial leader wins, against chance
    ("F3-init-decides", 0.6, 1 / 15, REPRODUCED), ("F3-init-decides", 0.17, 1 / 15, PARTLY),
    ("F3-init-decides", 0.1, 1 / 15, NOT),
    ("F3-sign-class", 1.0, 1.0, BY_CONSTRUCTION), ("F3-sign-class", 0.3, 1.0, NOT),
    # the informative sign: correlated, and more than at the first step
    ("F3-sign-class-gated", 0.8, 0.6, REPRODUCED), ("F3-sign-class-gated", 0.6, 0.6, PARTLY),
    ("F3-sign-class-gated", 0.3, 0.1, NOT),
    # same-weights agreement against new-weights agreement
    ("F3-init-decides-causal", 0.7, 0.05, REPRODUCED),
    ("F3-init-decides-causal", 0.3, 0.05, PARTLY), ("F3-init-decides-causal", 0.6, 0.4, NOT),
    # the share of the mechanism left with the output norm fixed / in each ablation
    ("B-output-scale", 0.1, 1.0, REPRODUCED), ("B-output-scale", 0.5, 1.0, PARTLY),
    ("B-output-scale", 0.9, 1.0, NOT),
    *[(f"F4-{a}-no-wtm", v, 1.0, verdict) for a in ("linear", "one-neuron", "less-noise")
      for v, verdict in ((0.0, REPRODUCED), (0.5, PARTLY), (1.1, NOT))],
    *[(f"F4-{a}-acc", v, None, verdict) for a in ("linear", "one-neuron", "less-noise")
      for v, verdict in ((82.0, REPRODUCED), (76.0, PARTLY), (60.0, NOT))],
    ("F5-crossing", 6.0, None, REPRODUCED), ("F5-crossing", 30.0, None, PARTLY),
    ("F5-crossing", 1.0, None, PARTLY),  # only "never" (infinite) fails
    ("F5-same-time", 3.0, None, REPRODUCED), ("F5-same-time", 10.0, None, PARTLY),
    ("F5-same-time", 40.0, None, NOT),
    ("S5-easy-first", 0.3, None, REPRODUCED), ("S5-easy-first", 0.05, None, PARTLY),
    ("S5-easy-first", -0.1, None, NOT),
    ("S5-difficult-loss-rises", 0.01, None, REPRODUCED),
    ("S5-difficult-loss-rises", 0.0, None, NOT),
    *[(f"S5-clustering-{side}-optimum", v, 0.0, verdict) for side in ("below", "above")
      for v, verdict in ((0.9, REPRODUCED), (0.2, PARTLY), (-0.5, NOT))],
]


def test_every_claim_has_cases():
    assert {c for c, *_ in CASES} == set(BY_ID)


@pytest.mark.parametrize("claim_id, value, null, expected", CASES)
def test_rule(results, claim_id, value, null, expected):
    _satisfy_dependency(BY_ID[claim_id])
    n = max(1, BY_ID[claim_id].min_n)
    assert store.verdict(claim_id, value, null, n=n) == expected
    assert store.record(claim_id, value, null=null, n=n) == expected
    assert store.load(claim_id, "paper")["verdict"] == expected


@pytest.mark.parametrize("claim", CLAIMS, ids=lambda c: c.id)
@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_nan_and_inf_never_pass(results, claim, value):
    _satisfy_dependency(claim)
    n = max(1, claim.min_n)
    assert store.verdict(claim.id, value, 0.0, n=n) == NOT
    assert store.record(claim.id, value, null=0.0, n=n) == NOT


@pytest.mark.parametrize("claim", CLAIMS, ids=lambda c: c.id)
def test_missing_value_is_missing(results, claim):
    assert store.verdict(claim.id, None, 0.0) == MISSING
    row = {r["id"]: r for r in store.table("paper")}[claim.id]
    assert row["value"] is None and row["null"] is None and row["verdict"] == MISSING


@pytest.mark.parametrize("claim", [c for c in CLAIMS if c.vs_null], ids=lambda c: c.id)
def test_a_claim_judged_against_its_null_needs_one(results, claim):
    _satisfy_dependency(claim)
    with pytest.raises(ValueError, match="null"):
        store.record(claim.id, 0.5)
    assert store.verdict(claim.id, 0.5, math.nan) == UNTESTABLE
    assert re.search("null|initialization", claim.test)  # the test says what it is judged on


def test_too_few_values_are_not_testable(results):
    """A Spearman correlation over two noise levels is +-1 whatever the data: below its
    claim's ``min_n`` a value is recorded but not judged."""
    assert store.record("S5-clustering-below-optimum", 1.0, null=0.0, n=2) == UNTESTABLE
    assert store.record("S5-clustering-below-optimum", 1.0, null=0.0, n=3) == REPRODUCED


def test_unknown_claim_is_named(results):
    with pytest.raises(KeyError, match="claim_id='F9'"):
        store.verdict("F9", 1.0)
    with pytest.raises(ValueError, match="values"):
        store.record_seeds("S-acc", [])


def test_a_missing_crossing_counts_once(results):
    store.record_seeds("F5-crossing", [math.inf, math.inf])
    assert store.record_seeds("F5-same-time", [math.inf, math.inf]) == UNTESTABLE
    store.record_seeds("F5-crossing", [6.0, 8.0])
    assert store.record_seeds("F5-same-time", [math.inf, 2.0]) == NOT  # no onset: a failure
    assert store.record_seeds("F5-same-time", [1.0, 3.0]) == REPRODUCED
    # the table judges by the records as they are now: the crossing fails again
    store.record_seeds("F5-crossing", [math.inf, 8.0])
    row = {r["id"]: r for r in store.table("paper")}["F5-same-time"]
    assert row["verdict"] == UNTESTABLE
    assert "(F5-crossing failed)" in scorecard.scorecard_html("paper")
    out = io.StringIO()
    scorecard.print_table("paper", file=out)
    assert "not reproduced: 1" in out.getvalue() and "not testable: 1" in out.getvalue()


def test_divide_and_conquer_needs_specialization(results):
    store.record("F3-winner-take-most", -0.8, null=0.0)  # no winner-take-most
    assert store.record("F3-divide-and-conquer", 0.97, null=0.98) == UNTESTABLE
    assert store.record("F3-one-class", 0.4, null=0.0) == UNTESTABLE
    store.record("F3-winner-take-most", 0.1, null=0.0)  # partly
    assert store.record("F3-divide-and-conquer", 0.97, null=0.98) == REPRODUCED
    assert store.record("F3-one-class", 0.4, null=0.0) == REPRODUCED


def test_by_construction_is_not_counted_as_reproduced(results):
    store.record_seeds("F3-sign-class", [1.0, 1.0], null=1.0)
    out = io.StringIO()
    scorecard.print_table("paper", file=out)
    text = out.getvalue()
    assert f"{BY_CONSTRUCTION}: 1" in text and "reproduced: 1" not in text
    assert "holds by construction: with one sigmoid output" in text
    page = scorecard.scorecard_html("paper")
    assert "Holds by construction:" in page and scorecard.COLOURS[BY_CONSTRUCTION] in page


def test_per_seed_nulls_are_averaged_and_shown(results, capsys):
    assert store.record_seeds("F3-intraclass", [1.0, 0.9], null=[0.4, 0.6],
                               null_note="strict share at initialization") == REPRODUCED
    got = store.load("F3-intraclass", "paper")
    assert got["null"] == pytest.approx(0.5) and got["value"] == pytest.approx(0.95)
    assert got["null_note"] == "strict share at initialization"
    out = io.StringIO()
    scorecard.print_table("paper", file=out)
    line = next(s for s in out.getvalue().splitlines() if s.startswith("F3-intraclass"))
    assert re.search(r"ours: 0\.95 ± 0\.071 \(n=2\)\s+null: 0\.5\s+reproduced", line)
    assert "null: strict share at initialization" in out.getvalue()
    assert "<th>null</th>" in scorecard.scorecard_html("paper")


def test_wtm_claims_prints_value_null_rule_verdict_and_log(results, capsys):
    from wtmlib.build.cli import main

    store.record("F3-winner-take-most", 0.6, null=0.0)  # F3-init-decides depends on it
    store.record_seeds("F3-init-decides", [0.17, 0.16], null=[1 / 15, 1 / 15])
    assert main(["claims", "--profile", "paper"]) == 1  # the other claims have no value
    out = capsys.readouterr().out
    line = next(s for s in out.splitlines() if s.startswith("F3-init-decides"))
    assert re.search(r"ours: 0\.165 ± 0\.0071 \(n=2\)\s+null: 0\.0667\s+partly", line)
    assert "rule: share of neurons whose final favoured pattern" in out
    assert "rule changed 2026-12-01: was 'share / chance >= 2, partly > 1'" in out
    assert "rule changed 2026-11-30" in out  # S5-easy-first, without a value


def test_rule_change_log_is_complete_and_shown(results):
    for c in CLAIMS:
        for ch in c.log:
            assert re.fullmatch(r"\d{4}-\d\d-\d\d", ch.date) and ch.old and ch.new and ch.reason
    easy = BY_ID["S5-easy-first"].log
    assert easy[0].date == "2026-11-30" and "84b5048" in easy[0].reason
    assert "90%" in easy[0].old and "rise window" in easy[0].new
    for cid in ("F3-intraclass", "F3-divide-and-conquer", "F3-init-decides", "F3-sign-class",
                "F5-same-time"):
        assert any(ch.date == "2026-12-01" for ch in BY_ID[cid].log), cid
    out = io.StringIO()
    scorecard.print_table("paper", file=out)
    text = out.getvalue()
    assert "rule changed 2026-11-30: was 'epochs for the regular group" in text
    assert text.count("rule changed ") == sum(len(c.log) for c in CLAIMS)
    assert text.count("  rule: ") == len(CLAIMS)
    page = scorecard.scorecard_html("paper")
    assert "Rule changes" in page and "84b5048" in page
    assert page.count("<td>2026-12-01</td>") == sum(
        ch.date == "2026-12-01" for c in CLAIMS for ch in c.log)
