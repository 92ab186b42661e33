"""The claims figure: the paper's numbers read from its words, every kind of row drawn."""

import math

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402

from wtmlib.book import plots  # noqa: E402
from wtmlib.claims.registry import (CALIBRATED, MISSING, NOT, PAPER, REPRODUCED,  # noqa: E402
                                    UNTESTABLE)
from wtmlib.claims.scorecard import COLOURS, PREVIEW_COLOUR  # noqa: E402


@pytest.mark.parametrize("paper, unit, expected", [
    ("96.1 %", "%", (96.1, 96.1)), ("98 %", "%", (98.0, 98.0)), ("80-84 %", "%", (80.0, 84.0)),
    ("epoch ~6", "epoch", (6.0, 6.0)), ("qualitative (Figure 6)", "", None),
    ("sigma_train ~ 0.4 best for every sigma_test", "", None), ("", "", None),
    ("not in the paper", "", None)])
def test_the_papers_number_is_read_only_where_it_is_one(paper, unit, expected):
    assert plots.paper_number(paper, unit) == expected


def _row(cid, value, null=None, interval=float("nan"), paper="", unit="", verdict=REPRODUCED,
         category=PAPER):
    counted = verdict if category == PAPER or verdict == MISSING else category
    return dict(id=cid, value=value, null=null, interval=interval, paper=paper, unit=unit,
                verdict=verdict, category=category, counted=counted)


ROWS = [_row("acc", 95.0, interval=0.8, paper="96.1 %", unit="%", category=CALIBRATED),
        _row("range", 88.0, paper="80-84 %", unit="%", verdict=NOT),
        _row("wtm", 0.3, null=0.0, interval=0.05),
        _row("epoch", math.inf, paper="epoch ~6", unit="epoch", verdict=NOT),
        _row("never-alone", math.inf, verdict=NOT),
        _row("none", None, verdict=MISSING),
        _row("untestable", 0.5, null=1.0, verdict=UNTESTABLE),
        _row("one", 0.0)]


def _texts(fig):
    return [t.get_text() for ax in fig.axes for t in ax.texts]


def test_every_claim_is_a_row_coloured_by_where_it_is_counted():
    fig = plots.claims_figure(ROWS)
    assert len(fig.axes) == len(ROWS)
    for ax, row in zip(fig.axes, ROWS):
        assert matplotlib.colors.to_hex(ax.get_facecolor()) == COLOURS[row["counted"]]
        assert any(t.get_text().startswith(row["id"]) for t in ax.texts)
    texts = _texts(fig)
    assert "acc (%)" in texts and "calibrated (reproduced)" in texts and "missing" in texts
    assert texts.count("no value") == 1 and "never (no finite value)" in texts
    matplotlib.pyplot.close(fig)


def test_values_paper_numbers_and_nulls_are_on_each_rows_axis():
    fig = plots.claims_figure(ROWS)
    acc, rng, wtm, epoch = fig.axes[:4]
    lo, hi = acc.get_xlim()
    assert lo < 95.0 - 0.8 and hi > 96.1  # the interval and the paper's number are in view
    assert rng.get_xlim()[0] < 80 and rng.get_xlim()[1] > 88  # the paper's range too
    assert wtm.get_xlim()[0] < 0.0 < 0.35 < wtm.get_xlim()[1]  # the null at 0
    assert epoch.get_xlim()[0] < 6 < epoch.get_xlim()[1]  # the paper's epoch, ours never
    assert "never" in [t.get_text() for t in epoch.texts]
    assert all(map(math.isfinite, fig.axes[-1].get_xlim()))  # a lone 0 has a finite range
    matplotlib.pyplot.close(fig)


def test_a_preview_draws_every_verdict_in_one_neutral_colour():
    fig = plots.claims_figure(ROWS, preview=True)
    assert {matplotlib.colors.to_hex(ax.get_facecolor()) for ax in fig.axes} == {PREVIEW_COLOUR}
    assert "preview: reproduced" in _texts(fig) and "missing" in _texts(fig)
    matplotlib.pyplot.close(fig)


def test_a_nan_value_reads_as_no_value():
    fig = plots.claims_figure([_row("nan", float("nan"), null=0.0, verdict=UNTESTABLE)])
    assert "no value" in _texts(fig)
    matplotlib.pyplot.close(fig)
