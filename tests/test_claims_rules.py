"""Every claim rule on ordinary, NaN, infinite and missing values; the nulls beside the
values; the "holds by construction" verdict; a failure counted once; the rule-change log
shown by ``wtm claims`` and on the scorecard."""

import html
import io
import math
import re

import pytest

from wtmlib.claims import scorecard, store
from wtmlib.claims.registry import (BY_CONSTRUCTION, BY_ID, CALIBRATED, CLAIMS, COUNTED,
                                    MISSING, NOT, OWN, PAPER, PARTLY, REPRODUCED, UNTESTABLE)



def _satisfy_dependency(claim):
    """Record a passing value for the claim ``claim`` depends on."""
    if claim.depends_on == "F3-winner-take-most":
        store.save("F3-winner-take-most", 0.6, null=0.0)
    elif claim.depends_on == "A1-winner-take-most":
        store.save("A1-winner-take-most", 0.6, n=3, null=0.0)
    elif claim.depends_on == "F3-losers-fall":
        store.save("F3-losers-fall", 0.7, null=0.4)


# (claim, value, null, verdict): one case per verdict each rule can give
CASES = [
    ("S-acc", 96.0, None, REPRODUCED), ("S-acc", 93.0, None, PARTLY), ("S-acc", 83.0, None, NOT),
    ("MNIST-acc", 97.5, None, REPRODUCED), ("MNIST-acc", 96.0, None, PARTLY),
    ("MNIST-acc", 90.0, None, NOT),
    ("F1-best-sigma", 1.0, None, REPRODUCED), ("F1-best-sigma", 0.6, None, PARTLY),
    ("F3-losers-fall", 0.7, 0.4, REPRODUCED), ("F3-losers-fall", 0.45, 0.4, PARTLY),
    ("F3-losers-fall", 0.55, 0.5, PARTLY), ("F3-losers-fall", 0.3, 0.4, NOT),
    ("F2-different", 0.5, 0.0, REPRODUCED), ("F2-different", 0.1, 0.0, PARTLY),
    ("F2-different", -0.2, 0.0, NOT),
    *[(f"A1-{c}", v, 0.0, verdict) for c in ("winner-take-most", "one-class")
      for v, verdict in ((0.5, REPRODUCED), (0.1, PARTLY), (-0.1, NOT))],
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
    *[(f"B-output-scale{way}", v, 1.0, verdict) for way in ("", "-literal")
      for v, verdict in ((0.1, REPRODUCED), (0.25, REPRODUCED), (0.5, PARTLY), (0.9, NOT))],
    *[(f"F4-{a}-no-wtm", v, 1.0, verdict) for a in ("linear", "one-neuron", "less-noise")
      for v, verdict in ((0.0, REPRODUCED), (0.5, PARTLY), (1.1, NOT))],
    *[(f"F4-{a}-acc", v, None, verdict) for a in ("linear", "one-neuron", "less-noise")
      for v, verdict in ((82.0, REPRODUCED), (76.0, PARTLY), (60.0, NOT))],
    ("F5-crossing-occurs", 0.8, 0.0, REPRODUCED), ("F5-crossing-occurs", 1.0, 0.67, PARTLY),
    ("F5-crossing-occurs", 0.8, 1.0, NOT),  # the paper's settings: the linear network crosses
    ("F5-crossing-epoch", 6.0, None, REPRODUCED), ("F5-crossing-epoch", 20.0, None, PARTLY),
    ("F5-crossing-epoch", 31.5, None, NOT),
    ("F3-onset-epoch", 6.0, None, REPRODUCED), ("F3-onset-epoch", 20.0, None, PARTLY),
    ("F3-onset-epoch", 25.5, None, NOT),
    ("S4-relu-proportional", 0.9, 0.1, REPRODUCED), ("S4-relu-proportional", 0.5, 0.4, PARTLY),
    ("S4-relu-proportional", 0.1, 0.2, NOT),
    ("S4-counterbalance", -0.5, 0.0, REPRODUCED), ("S4-counterbalance", -2.0, 0.0, PARTLY),
    ("S4-counterbalance", -8.0, 0.0, NOT),
    ("F5-gradient-dominant", 0.8, None, REPRODUCED),
    ("F5-gradient-dominant", 0.3, None, PARTLY), ("F5-gradient-dominant", 0.0, None, NOT),
    ("F5-gradient-first", 1.0, None, REPRODUCED), ("F5-gradient-first", 0.5, None, PARTLY),
    ("F5-gradient-first", 0.2, None, NOT),
    ("F5-same-time", 0.6, None, REPRODUCED), ("F5-same-time", 0.2, None, PARTLY),
    ("F5-same-time", -0.3, None, NOT),
    ("F5-order", 0.9, None, REPRODUCED), ("F5-order", 0.6, None, PARTLY),
    ("F5-order", 0.2, None, NOT),
    # Section 5.1 against the linear model (the null slot holds the control's value)
    ("S5-easy-first", 0.73, 0.44, REPRODUCED), ("S5-easy-first", 0.5, 0.44, PARTLY),
    ("S5-easy-first", 0.44, 0.44, NOT),
    ("S5-difficult-loss-rises", 0.24, 0.012, REPRODUCED),
    ("S5-difficult-loss-rises", 0.03, 0.012, PARTLY),
    ("S5-difficult-loss-rises", 0.012, 0.012, NOT),
    ("S5-coherence-early", 0.01, 1.0, REPRODUCED), ("S5-coherence-early", 0.8, 1.0, PARTLY),
    ("S5-coherence-early", 1.2, 1.0, NOT),
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
    assert store.save(claim_id, value, null=null, n=n) == expected
    assert store.load(claim_id, "paper")["verdict"] == expected


@pytest.mark.parametrize("claim", CLAIMS, ids=lambda c: c.id)
@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_nan_and_inf_never_pass(results, claim, value):
    _satisfy_dependency(claim)
    n = max(1, claim.min_n)
    assert store.verdict(claim.id, value, 0.0, n=n) == NOT
    assert store.save(claim.id, value, null=0.0, n=n) == NOT


@pytest.mark.parametrize("claim", CLAIMS, ids=lambda c: c.id)
def test_missing_value_is_missing(results, claim):
    assert store.verdict(claim.id, None, 0.0) == MISSING
    row = {r["id"]: r for r in store.table("paper")}[claim.id]
    assert row["value"] is None and row["null"] is None and row["verdict"] == MISSING


@pytest.mark.parametrize("claim", [c for c in CLAIMS if c.vs_null], ids=lambda c: c.id)
def test_a_claim_judged_against_its_null_needs_one(results, claim):
    _satisfy_dependency(claim)
    with pytest.raises(ValueError, match="null"):
        store.save(claim.id, 0.5)
    assert store.verdict(claim.id, 0.5, math.nan) == UNTESTABLE
    assert re.search("null|initialization|control", claim.test)  # what it is judged on


def test_too_few_values_are_not_testable(results):
    """A Spearman correlation over two noise levels is +-1 whatever the data: below its
    claim's ``min_n`` a value is recorded but not judged."""
    assert store.save("S5-clustering-below-optimum", 1.0, null=0.0, n=2) == UNTESTABLE
    assert store.save("S5-clustering-below-optimum", 1.0, null=0.0, n=3) == REPRODUCED


def test_unknown_claim_is_named(results):
    with pytest.raises(KeyError, match="claim_id='F9'"):
        store.verdict("F9", 1.0)
    with pytest.raises(ValueError, match="values"):
        store.save_seeds("S-acc", [])


def test_a_crossing_is_judged_against_the_control_and_dated_where_it_happens(results):
    """Censored time: whether the crossing happens is judged over the seeds, against the
    linear network's share of seeds that cross; when, only over the seeds where it does,
    whatever the control does, and not at all where no seed crosses."""
    assert store.save("F5-crossing-epoch", float("inf"), n=0) == UNTESTABLE  # none crosses
    # the paper's settings: 4 of 5 seeds cross, and so do 3 of 3 linear ones
    assert store.save("F5-crossing-occurs", 0.8, n=5, null=1.0) == NOT
    assert store.save("F5-crossing-epoch", 31.5, n=4) == NOT  # 5x the paper's epoch 6
    assert store.save("F5-crossing-epoch", 7.0, n=4) == REPRODUCED
    row = {r["id"]: r for r in store.table("paper")}["F5-crossing-epoch"]
    assert row["verdict"] == REPRODUCED  # the control's crossing does not void the date
    out = io.StringIO()
    scorecard.print_table("paper", file=out)
    assert "not reproduced: 1" in out.getvalue()


def test_divide_and_conquer_needs_specialization(results):
    store.save("F3-winner-take-most", -0.8, null=0.0)  # no winner-take-most
    assert store.save("F3-divide-and-conquer", 0.97, null=0.98) == UNTESTABLE
    assert store.save("F3-one-class", 0.4, null=0.0) == UNTESTABLE
    store.save("F3-winner-take-most", 0.1, null=0.0)  # partly
    assert store.save("F3-divide-and-conquer", 0.97, null=0.98) == REPRODUCED
    assert store.save("F3-one-class", 0.4, null=0.0) == REPRODUCED


def test_by_construction_is_not_counted_as_reproduced(results):
    store.save_seeds("F3-sign-class", [1.0, 1.0], null=1.0)
    out = io.StringIO()
    scorecard.print_table("paper", file=out)
    text = out.getvalue()
    assert f"{BY_CONSTRUCTION}: 1" in text and "reproduced: 1" not in text
    assert "holds by construction: with one sigmoid output" in text
    page = scorecard.scorecard_html("paper")
    assert "Holds by construction:" in page and scorecard.COLOURS[BY_CONSTRUCTION] in page


def test_per_seed_nulls_are_averaged_and_shown(results, capsys):
    assert store.save_seeds("F3-intraclass", [1.0, 0.9], null=[0.4, 0.6],
                               null_note="strict share at initialization") == REPRODUCED
    got = store.load("F3-intraclass", "paper")
    assert got["null"] == pytest.approx(0.5) and got["value"] == pytest.approx(0.95)
    assert got["null_note"] == "strict share at initialization"
    out = io.StringIO()
    scorecard.print_table("paper", file=out)
    line = next(s for s in out.getvalue().splitlines() if s.startswith("F3-intraclass"))
    assert re.search(r"ours: 0\.95 ± 0\.071 \(n=2\) \(95% CI ±0\.635\)\s+null: 0\.5\s+"
                     r"reproduced", line)  # t(0.975, 1) = 12.706: 12.706 * 0.0707 / sqrt(2)
    assert "null: strict share at initialization" in out.getvalue()
    assert "<th>null</th>" in scorecard.scorecard_html("paper")


def test_wtm_claims_prints_value_null_rule_verdict_and_log(results, capsys):
    from wtmlib.build.cli import main

    store.save("F3-winner-take-most", 0.6, null=0.0)  # F3-init-decides depends on it
    store.save_seeds("F3-init-decides", [0.17, 0.16], null=[1 / 15, 1 / 15])
    assert main(["claims", "--profile", "paper"]) == 1  # the other claims have no value
    out = capsys.readouterr().out
    line = next(s for s in out.splitlines() if s.startswith("F3-init-decides"))
    assert re.search(r"ours: 0\.165 ± 0\.0071 \(n=2\) \(95% CI ±0\.0635\)\s+null: 0\.0667\s+"
                     r"partly", line)
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


def test_calibrated_numbers_and_own_findings_are_counted_apart(results, capsys):
    from wtmlib.build.cli import main

    assert BY_ID["S-acc"].category == CALIBRATED and BY_ID["S-acc"].category_note
    assert {c.id for c in CLAIMS if c.category == OWN} == {
        "F3-sign-class-gated", "B-output-scale", "B-output-scale-literal"}
    store.save_seeds("S-acc", [96.0, 96.2])  # reproduced by its rule, yet calibrated
    store.save("F3-winner-take-most", 0.6, null=0.0)
    store.save("B-output-scale", 0.1, n=3)  # reproduced by its rule, yet our own claim
    store.save("F3-sign-class", 1.0)  # holds by construction
    store.save("F1-best-sigma", 0.9, n=5)
    rows = {r["id"]: r for r in store.table("paper")}
    assert rows["S-acc"]["verdict"] == REPRODUCED and rows["S-acc"]["counted"] == CALIBRATED
    assert rows["B-output-scale"]["counted"] == OWN
    assert rows["F3-sign-class"]["counted"] == BY_CONSTRUCTION
    assert rows["F1-best-sigma"]["counted"] == REPRODUCED and rows["F1-best-sigma"]["category"] == PAPER
    got = store.counts(list(rows.values()))
    assert list(got) == list(COUNTED) and sum(got.values()) == len(CLAIMS)
    assert (got[REPRODUCED], got[CALIBRATED], got[OWN], got[BY_CONSTRUCTION]) == (2, 1, 1, 1)
    main(["claims", "--profile", "paper"])
    out = capsys.readouterr().out.splitlines()
    assert next(s for s in out if s.startswith("S-acc ")).endswith("reproduced [calibrated]")
    assert out[-1].startswith(f"{len(CLAIMS)} claims: reproduced: 2; partly: ")
    assert "; calibrated: 1; own finding: 1; holds by construction: 1; not testable: " in out[-1]


def test_a_reproduced_claim_that_a_control_also_passes_is_flagged(results):
    """The check of the stored control columns (the linear model, the literal reading):
    a claim counted as reproduced must fail where the mechanism is absent."""
    linear, literal = scorecard.controls("paper").values()
    assert scorecard.control_conflicts("paper") == []  # nothing stored: nothing to flag
    store.save("F3-winner-take-most", 0.6, null=0.0)
    store.save("F3-one-class", 1.5, null=0.0)
    store.save_seeds("S-acc", [96.0, 96.2])  # calibrated: not counted as reproduced
    store.save("F3-winner-take-most", -0.9, null=0.0, profile=literal)  # fails there
    store.save("F3-one-class", 0.0, null=0.0, profile=linear)
    store.save_seeds("S-acc", [96.0, 96.2], profile=linear)
    assert scorecard.control_conflicts("paper") == []
    store.save("F3-winner-take-most", 0.5, null=0.0, profile=linear)  # passes without ReLU
    assert scorecard.control_conflicts("paper") == ["F3-winner-take-most (linear model)"]


def test_the_stored_paper_claims_fail_in_their_controls():
    """The paper profile's stored verdicts (a paper build's results, where present)."""
    if store.load("F3-winner-take-most", "paper") is None:
        pytest.skip("no paper-profile claims stored in this results folder")
    assert scorecard.control_conflicts("paper") == []


def test_scorecard_is_one_row_per_claim_with_long_texts_folded_and_a_filter(results):
    """One row per claim: its short columns in view, its long texts (the paper's words, the
    rule, the notes, the rule changes) inside the row's ``<details>``; each row carries its
    counted column and section for the filter, whose buttons name every column present;
    the filter's script is inline and loads nothing."""
    store.save_seeds("F3-intraclass", [1.0, 0.9], null=[0.4, 0.6],
                     null_note="strict share at initialization")
    store.save_seeds("S-acc", [96.0, 96.2])  # calibrated
    store.save("F3-sign-class", 1.0)  # holds by construction
    page = scorecard.scorecard_html("paper")
    rows = store.table("paper")
    found = re.findall(r'<tr class="wtm-claim" data-counted="([^"]*)" data-section="([^"]*)">'
                       r"(.*?)</tr>", page)
    assert len(found) == len(CLAIMS) == page.count('<tr class="wtm-claim"')
    for r, (counted, section, cells) in zip(rows, found):
        assert (counted, section) == (r["counted"], html.escape(r["section"])), r["id"]
        short, folded = cells.split('<details class="wtm-more">')
        assert f'<a href="{r["chapter"]}.html">{r["id"]}</a>' in short
        assert short.count("<td>") == 6 and "<br>" not in short, r["id"]  # one line each
        assert scorecard.format_value(r) in short and scorecard.format_null(r) in short
        for text in filter(None, (r["quote"], r["test"], r["null_note"],
                                  *(ch.reason for ch in r["log"]))):
            assert html.escape(text) in folded and html.escape(text) not in short, r["id"]
    assert "strict share at initialization" in page and "Holds by construction:" in page
    buttons = re.findall(r'<button type="button" data-counted="([^"]*)"[^>]*>([^<]*)</button>',
                         page)
    present = {c: n for c, n in store.counts(rows).items() if n}
    assert buttons == [("", f"all ({len(CLAIMS)})")] + [
        (c, f"{html.escape(c)} ({n})") for c, n in present.items()]
    assert {CALIBRATED, BY_CONSTRUCTION, REPRODUCED, MISSING} <= set(present)
    for section in {r["section"] for r in rows}:
        assert f'<option value="{html.escape(section)}">' in page, section
    assert '<div class="wtm-filter" hidden>' in page  # shown by its script only
    scripts = re.findall(r"<script\b[^>]*>", page)
    assert scripts == ["<script>"] and "http" not in page.split("<script>")[1].split(
        "</script>")[0]
    assert "fetch(" not in page and "import(" not in page
    short = scorecard.scorecard_html("paper", show_tests=False)
    assert html.escape(BY_ID["S-acc"].test) not in short and "Rule:" not in short


def test_scorecard_without_its_rule_change_table(results):
    """A page that shows the rule-change table elsewhere leaves it out of the scorecard."""
    page = scorecard.scorecard_html("paper", log=False)
    assert "Rule changes</h3>" not in page and page.count('<tr class="wtm-claim"') == len(CLAIMS)
    assert "Rule changes</h3>" in scorecard.scorecard_html("paper")


def test_a_verdict_says_when_its_interval_reaches_another(results):
    """The mean decides; the 95 % interval's ends, judged by the same rule, are shown."""
    store.save("F3-losers-fall", 0.7, null=0.4)
    # the paper build's S4-counterbalance: mean -0.49 points over 5 seeds, sd 1.1
    seeds = [-1.69, -1.44, 0.56, 0.9, -0.77]
    assert store.save_seeds("S4-counterbalance", seeds, null=0.0) == REPRODUCED
    row = {r["id"]: r for r in store.table("paper")}["S4-counterbalance"]
    assert row["reaches"] == [PARTLY]
    assert "(CI reaches partly)" in scorecard.scorecard_html("paper")
    out = io.StringIO()
    scorecard.print_table("paper", file=out)
    assert "reproduced (the 95% interval reaches partly)" in out.getvalue()
    store.save_seeds("S4-counterbalance", [-0.5, -0.49, -0.51], null=0.0)  # tight
    assert {r["id"]: r for r in store.table("paper")}["S4-counterbalance"]["reaches"] == []
    # an interval from not reproduced to reproduced passes through partly
    assert store.save_seeds("F2-acc-memorizing", [66.0, 74.0, 82.0]) == NOT
    assert {r["id"]: r for r in store.table("paper")}["F2-acc-memorizing"]["reaches"] \
        == sorted([PARTLY, REPRODUCED])
    store.save("S4-counterbalance", -0.5, null=0.0)  # one value: no interval
    assert {r["id"]: r for r in store.table("paper")}["S4-counterbalance"]["reaches"] == []


def test_wtm_claims_says_when_a_reproduced_claim_also_passes_in_a_control(results):
    """The terminal table checks the control columns the build stored: a claim counted as
    reproduced that the linear model also reproduces is named above the counts."""
    store.save("F3-winner-take-most", 0.6, null=0.0)
    out = io.StringIO()
    scorecard.print_table("paper", file=out)
    assert "control columns" not in out.getvalue()  # none stored: nothing to check
    store.save("F3-winner-take-most", -0.5, null=0.0, profile="paper@control-linear")
    out = io.StringIO()
    scorecard.print_table("paper", file=out)
    assert "no claim counted as reproduced is reproduced there" in out.getvalue()
    store.save("F3-winner-take-most", 0.6, null=0.0, profile="paper@control-linear")
    out = io.StringIO()
    scorecard.print_table("paper", file=out)
    lines = out.getvalue().splitlines()
    assert "ALSO REPRODUCED IN A CONTROL" in lines[-2] and "F3-winner-take-most (linear model)" \
        in lines[-2]
    assert lines[-1].startswith(f"{len(CLAIMS)} claims:")  # the counts stay the last line
