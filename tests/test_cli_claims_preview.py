"""A quick (reduced-size) build says it is a preview: in the scorecard page and in
`wtm claims`, verdicts marked and neutral, the paper-profile verdicts beside them."""

import io

from wtmlib.claims import scorecard, store
from wtmlib.build.cli import main
from wtmlib.claims import registry


def _record(monkeypatch, profile, claim_id, value):
    monkeypatch.setenv("WTM_PROFILE", profile)
    store.save(claim_id, value, n=2)


def test_preview_scorecard_is_neutral_and_shows_paper_verdicts_beside(tmp_path, monkeypatch):
    monkeypatch.setenv("WTM_RESULTS", str(tmp_path))
    _record(monkeypatch, "quick", "S-acc", 83.1)  # "not reproduced" at reduced size
    page = scorecard.scorecard_html("quick")
    assert "Preview at reduced size" in page and "preview: not reproduced" in page
    assert scorecard.COLOURS[registry.NOT] not in page  # no red
    assert "paper profile" not in page and "No paper-profile values" in page
    _record(monkeypatch, "paper", "S-acc", 96.0)
    page = scorecard.scorecard_html("quick")
    assert "<th>paper profile</th>" in page
    assert "96 % (n=2)" in page and scorecard.COLOURS[registry.REPRODUCED] in page
    paper_page = scorecard.scorecard_html("paper")
    assert "Preview" not in paper_page and "preview:" not in paper_page
    assert scorecard.COLOURS[registry.REPRODUCED] in paper_page


def test_wtm_claims_says_preview(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("WTM_RESULTS", str(tmp_path))
    _record(monkeypatch, "quick", "S-acc", 83.1)
    _record(monkeypatch, "paper", "S-acc", 96.0)
    out = io.StringIO()
    scorecard.print_table("quick", file=out)
    text = out.getvalue()
    assert "PREVIEW" in text and "preview: not reproduced" in text
    assert "[paper profile: 96 % (n=2), reproduced]" in text
    out = io.StringIO()
    scorecard.print_table("paper", file=out)
    assert "PREVIEW" not in out.getvalue() and "preview:" not in out.getvalue()
    assert main(["claims", "--profile", "quick"]) == 1  # 17 claims still without a value
    assert "PREVIEW" in capsys.readouterr().out


def test_claims_of_another_reading(tmp_path, monkeypatch, capsys):
    """`wtm claims --reading NAME` prints the values the readings chapter stored for that
    reading; a reading without stored claims is refused with the stored ones named."""
    monkeypatch.setenv("WTM_RESULTS", str(tmp_path))
    store.save("S-acc", 84.2, profile="paper@layca-on-w1-and-w2")
    assert main(["claims", "--reading", "Layca on W1 and W2"]) == 0
    out = capsys.readouterr().out
    assert "paper@layca-on-w1-and-w2" in out and "84.2 %" in out and "not reproduced" in out
    assert main(["claims", "--reading", "W2 lr 9, b2 frozen"]) == 1
    err = capsys.readouterr().err
    assert "--reading 'W2 lr 9, b2 frozen'" in err and "layca-on-w1-and-w2" in err
