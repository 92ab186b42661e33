"""The reproducibility summary: what it links, and sentences chosen by stored verdicts."""

import math

from wtmlib.book import summary
from wtmlib.book.params import NOTEBOOKS
from wtmlib.claims import store
from wtmlib.claims.registry import BY_ID, CLAIMS


def test_every_claim_links_to_a_chapter_of_the_book():
    stems = {p.stem for p in NOTEBOOKS.glob("*_*.py")}
    assert {c.chapter for c in CLAIMS} <= stems
    for _, ids in summary.FINDINGS:
        assert set(ids) <= set(BY_ID), ids


def test_the_scope_lists_every_claim_once_with_its_chapter(results):
    rows = store.table("paper")
    page = summary.scope_html(rows)
    assert page.count("<li>") == len(CLAIMS)
    assert '<a href="04a_wtm.html"><code>F3-winner-take-most</code></a>' in page
    assert "(paper: 96.1 %)" in page and "(paper: qualitative" not in page


def _finding(page: str, head: str) -> str:
    return next(item for item in page.split("<li>") if head in item)


def test_findings_follow_the_stored_verdicts(results):
    rows = store.table("paper")
    page = summary.findings_html(rows)
    assert page.count("not measured in this build") >= len(summary.FINDINGS)
    store.save("F3-winner-take-most", 0.6, null=0.0)
    store.save("F3-losers-fall", 0.6, null=0.0)
    store.save("F3-one-class", 0.6, null=0.0)
    store.save_seeds("F5-crossing-occurs", [0.0, 0.0, 0.0], null=0.0)
    store.save_seeds("S-acc", [96.0, 96.2])
    rows = store.table("paper")
    page = summary.findings_html(rows)
    wtm = _finding(page, "Winner-take-most within a class")
    assert ": holds." in wtm and "F3-losers-fall</code></a> reproduced" in wtm
    assert "null 0" in wtm
    timing = _finding(page, "The timing of Figure 5")
    assert ": does not hold as the paper states it." in timing
    assert "F5-crossing-epoch</code></a> not measured in this build" in timing
    acc = _finding(page, "The numbers that are not the paper")
    assert "counted apart from the paper's claims" in acc
    assert "calibrated, reproduced by its rule" in acc and "paper 96.1 %" in acc
    assert "in this preview, holds" in summary.findings_html(rows, preview=True)


def test_an_infinite_value_reads_as_never_in_a_finding(results):
    store.save_seeds("F5-crossing-occurs", [1.0, 1.0, 1.0], null=0.0)
    store.save_seeds("F5-crossing-epoch", [math.inf, 31.0, 32.0])
    page = summary.findings_html(store.table("paper"))
    assert "never in some seed" in _finding(page, "The timing of Figure 5")


def test_columns_and_compute_sentences():
    rows = [dict(id="a", chapter="03_noise", counted="reproduced"),
            dict(id="b", chapter="04a_wtm", counted="not reproduced"),
            dict(id="c", chapter="04a_wtm", counted="reproduced")]
    page = summary.columns_html(rows)
    assert "<b>reproduced</b> (2)" in page and "<b>not reproduced</b> (1)" in page
    assert "partly" not in page
    assert "No training run" in summary.compute_sentence(dict(runs=0, wall_s=0.0, devices=[],
                                                              engines=[], torch=[]))
    text = summary.compute_sentence(dict(runs=3, wall_s=90.0, devices=["cpu"],
                                         engines=["fast"], torch=["2.1"]))
    assert "3 training runs" in text and "1.5 min" in text and "device: cpu" in text


def test_a_nan_value_and_a_claim_not_in_the_paper_add_no_words(results):
    store.save("F5-same-time", float("nan"), null=0.0)
    store.save("B-output-scale", 0.1, n=3)
    rows = store.table("paper")
    page = summary.findings_html(rows)
    assert "nan" not in page and "paper not in the paper" not in page
    assert "(paper: not in the paper)" not in summary.scope_html(rows)
