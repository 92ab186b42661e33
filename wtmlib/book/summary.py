"""The reproducibility summary, the book's first page: the claims tested (scope), how they
were tested (methodology), what came out (results), in the order of the ML
Reproducibility Challenge's reports.

Every sentence about a result is chosen by the verdicts the chapters stored
(``wtmlib.claims.store.table``), and every number in it is read from the stored claims or
the results cache, so another build or profile can change what the page says but never
make it contradict its scorecard.
"""

from __future__ import annotations

import html
import math

from wtmlib.claims.registry import (BY_CONSTRUCTION, CALIBRATED, COUNTED, MISSING, NOT, OWN, PAPER,
                                    PARTLY, REPRODUCED, UNTESTABLE)
from wtmlib.claims.scorecard import format_interval, format_null, format_value

# How a verdict (or the column a claim is counted in) reads inside a sentence.
_SAID = {REPRODUCED: "reproduced", PARTLY: "partly reproduced", NOT: "not reproduced",
         UNTESTABLE: "not testable here", MISSING: "not measured in this build",
         BY_CONSTRUCTION: "true by construction (of any network)",
         CALIBRATED: "calibrated", OWN: "this book's own finding"}

# The findings the first page states, each a few claims under one heading: the paper's
# central mechanism, its necessary conditions, the timing of Figure 5, the noise
# experiments that open the paper, and the two numbers that are not the paper's claims
# (the calibrated accuracy and the book's own condition).
FINDINGS = (
    ("Winner-take-most within a class, the paper's central observation (Section 4.1, "
     "Figure 3)", ("F3-winner-take-most", "F3-losers-fall", "F3-one-class")),
    ("Its necessary conditions (Section 4.2.1, Figure 4): no winner-take-most without "
     "ReLU, with a single hidden neuron or with too little noise",
     ("F4-linear-no-wtm", "F4-one-neuron-no-wtm", "F4-less-noise-no-wtm")),
    ("The timing of Figure 5 (Section 4.2.2): the difficult samples' share of the loss "
     "meets the regular samples' share around epoch 6, when the mechanism appears",
     ("F5-crossing-occurs", "F5-crossing-epoch", "F5-same-time")),
    ("Noise and generalization (Section 3, Figures 1 and 2): a moderate training noise "
     "generalizes best, and the generalizing and memorizing models' accuracies",
     ("F1-best-sigma", "F2-acc-generalizing", "F2-acc-memorizing")),
    ("The numbers that are not the paper's claims: the test accuracy on S, which the "
     "choice of the optimizer reading is calibrated against, and this book's own "
     "condition that the output scale must grow", ("S-acc", "B-output-scale")),
)


def link(row: dict, text: str | None = None) -> str:
    """A claim's id (or ``text``) linked to the chapter that measures it (the page sits
    beside the chapters, in ``book/chapters/``)."""
    return (f'<a href="{html.escape(row["chapter"])}.html"><code>'
            f'{html.escape(text or row["id"])}</code></a>')


def said(row: dict) -> str:
    """A claim's outcome in words: its verdict, and the column it counts in where that
    differs (a calibrated number or an own finding)."""
    if row["counted"] in (CALIBRATED, OWN):
        return f"{_SAID[row['counted']]}, {_SAID[row['verdict']]} by its rule"
    return _SAID[row["counted"]]


def _paper_said(paper: str) -> bool:
    """Whether the paper's entry of a claim says something beside its quote (a number,
    a setting), not only "qualitative" or "not in the paper"."""
    return bool(paper) and not paper.startswith(("qualitative", "not in the paper"))


def scope_html(rows: list[dict]) -> str:
    """The claims tested, one line each in registry order (the paper's order): id linked
    to its chapter, section, the paper's words and number."""
    items = []
    for r in rows:
        number = f" <small>(paper: {html.escape(r['paper'])})</small>" \
            if _paper_said(r["paper"]) else ""
        kind = "" if r["category"] == PAPER else f" <small>[{html.escape(r['category'])}]</small>"
        items.append(f"<li>{link(r)} <small>§ {html.escape(r['section'])}</small> "
                     f"<i>“{html.escape(r['quote'])}”</i>{number}{kind}</li>")
    return (f'<details class="wtm-scope"><summary>The {len(rows)} claims, one line each '
            f'(id linked to its chapter)</summary><ul style="font-size:90%">' + "".join(items)
            + "</ul></details>")


def _measured(row: dict) -> str:
    """``ours v (95% CI), null n`` of a claim, or "" where it has no value."""
    if row["value"] is None or math.isnan(row["value"]):
        return ""
    out = f"ours {format_value(row)}{format_interval(row)}"
    if row.get("null") is not None:
        out += f", null {format_null(row)}"
    if _paper_said(row["paper"]):
        out += f", paper {row['paper']}"
    return html.escape(out)


def _lead(rows: list[dict]) -> str:
    """What a group of claims adds up to, from their counted columns alone."""
    columns = [r["counted"] for r in rows]
    if all(c == MISSING for c in columns):
        return "not measured in this build"
    judged = [c for c in columns if c in (REPRODUCED, PARTLY, NOT)]
    if not judged:
        return ("counted apart from the paper's claims"
                if all(c in (CALIBRATED, OWN, MISSING) for c in columns) else
                "cannot be judged in this build")
    if all(c == REPRODUCED for c in judged):
        return "holds"
    if all(c == NOT for c in judged):
        return "does not hold as the paper states it"
    return "holds in part"


def findings_html(rows: list[dict], preview: bool = False) -> str:
    """The findings that matter (``FINDINGS``), each a paragraph whose lead (holds, holds
    in part, does not hold) and per-claim outcomes are chosen by the stored verdicts."""
    by_id = {r["id"]: r for r in rows}
    items = []
    for what, ids in FINDINGS:
        group = [by_id[i] for i in ids if i in by_id]
        if not group:
            continue
        parts = []
        for r in group:
            measured = _measured(r)
            parts.append(f"{link(r)} {said(r)}" + (f" <small>({measured})</small>"
                                                   if measured else ""))
        lead = _lead(group)
        if preview:
            lead = f"in this preview, {lead}"
        items.append(f"<li><b>{html.escape(what)}</b>: {lead}. " + "; ".join(parts)
                     + ".</li>")
    return '<ul class="wtm-findings">' + "".join(items) + "</ul>"


def columns_html(rows: list[dict]) -> str:
    """Every claim under the column it is counted in (``registry.COUNTED`` order), linked
    to its chapter; empty columns left out."""
    lines = []
    for column in COUNTED:
        ids = [r for r in rows if r["counted"] == column]
        if ids:
            lines.append(f"<li><b>{html.escape(column)}</b> ({len(ids)}): "
                         + ", ".join(link(r) for r in ids) + "</li>")
    return '<ul class="wtm-columns" style="font-size:90%">' + "".join(lines) + "</ul>"


def compute_sentence(spent: dict) -> str:
    """The compute behind the stored results, from ``cache.training_time``."""
    if not spent["runs"]:
        return "No training run is stored in this build's results cache."
    minutes = spent["wall_s"] / 60
    where = ", ".join(spent["devices"]) or "an unrecorded device"
    engines = ", ".join(spent["engines"])
    torch = ", ".join(spent["torch"])
    return (f"The results cache this build read holds {spent['runs']} training runs, whose "
            f"own clocks add up to {minutes:.1f} min of training (device: {where}"
            + (f"; engine: {engines}" if engines else "")
            + (f"; torch {torch}" if torch else "") + ")")
