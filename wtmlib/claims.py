"""The reproduction scorecard: every claim of the paper, its number, ours, a verdict.

``CLAIMS`` is the registry, written before any run: each claim has the paper's words,
the paper's value (where it gives one), how we test it and the rule that turns our
measured value into a verdict. Chapters call ``record(claim_id, value, ...)`` as they
run; the values land in ``results/claims/<claim_id>.json`` with the run's provenance.
``table()`` joins both, for the book's scorecard page and ``wtm claims``.
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .cache import results_root
from .files import atomic_write as _atomic_write

REPRODUCED, PARTLY, NOT, UNTESTABLE, MISSING = (
    "reproduced", "partly", "not reproduced", "not testable", "missing")


@dataclass(frozen=True)
class Claim:
    id: str
    section: str
    quote: str  # the paper's words, short
    paper: str  # the paper's figure or number ("" for a qualitative claim)
    test: str  # our measure and threshold, fixed before the run
    rule: Callable[[float], str]  # measured value -> verdict
    chapter: str  # notebook stem that measures it
    unit: str = ""


def _within(target: float, full: float, part: float):
    """Reproduced within ``full`` of ``target``, partly within ``part``."""
    def rule(v):
        return REPRODUCED if abs(v - target) <= full else PARTLY if abs(v - target) <= part else NOT
    return rule


def _at_least(full: float, part: float):
    def rule(v):
        return REPRODUCED if v >= full else PARTLY if v >= part else NOT
    return rule


def _between(lo: float, hi: float, part_lo: float, part_hi: float):
    def rule(v):
        return REPRODUCED if lo <= v <= hi else PARTLY if part_lo <= v <= part_hi else NOT
    return rule


CLAIMS = [
    Claim("S-acc", "2.2", "These models reach test accuracies of 96.1% ... for S", "96.1 %",
          "mean test accuracy of the Section 4 model (Layca, full batch, 400 epochs) over "
          "seeds; reproduced within 1.5 points, partly within 5", _within(96.1, 1.5, 5.0),
          "04a_wtm", "%"),
    Claim("MNIST-acc", "2.2, A.1", "... and 98% for ... Aggregated MNIST", "98 %",
          "test accuracy of the Aggregated MNIST model; reproduced within 1 point, partly "
          "within 3", _within(98.0, 1.0, 3.0), "A1_mnist", "%"),
    Claim("F1-best-sigma", "3.1", "networks trained with a moderate amount of noise "
          "(sigma_train ~ 0.4) tend to perform better ... for any value of sigma_test",
          "sigma_train ~ 0.4 best for every sigma_test",
          "share of sigma_test levels whose best mean sigma_train lies in [0.3, 0.5]; "
          "reproduced >= 0.8, partly >= 0.5", _at_least(0.8, 0.5), "03_noise"),
    Claim("F2-acc-generalizing", "3.2", "a model that generalizes well (Figure 2a, with "
          "95.1% test accuracy)", "95.1 %", "test accuracy at sigma_train = 0.4, "
          "sigma_test = 0.4, SGD until fit, mean over seeds; within 1.5 / 5 points",
          _within(95.1, 1.5, 5.0), "03_noise", "%"),
    Claim("F2-acc-memorizing", "3.2", "and a model that does not (Figure 2b, with 80.9% "
          "test accuracy)", "80.9 %", "the same at sigma_train = 1.2; within 1.5 / 5 points",
          _within(80.9, 1.5, 5.0), "03_noise", "%"),
    Claim("F3-winner-take-most", "4.1", "patterns with larger average pre-activations are "
          "pushed towards even larger pre-activations, while patterns with smaller "
          "pre-activations are pushed towards even smaller", "qualitative (Figure 3)",
          "median over all neurons of the rank correlation between a pattern's mean at the "
          "early epoch and its later change, in the neuron's active class; reproduced >= "
          "0.3, partly > 0", _at_least(0.3, 1e-9), "04a_wtm"),
    Claim("F3-one-class", "4.1, 4.2.5", "we observe the winner-take-most mechanism ... "
          "occurring with samples of the negative modal derivative sign class",
          "qualitative", "the rank-correlation median of the active class minus that of "
          "the other class; reproduced >= 0.3, partly > 0", _at_least(0.3, 1e-9), "04a_wtm"),
    Claim("F3-intraclass", "4.1", "neurons sometimes differentiate patterns belonging to "
          "the same class more strongly than patterns from different classes",
          "qualitative ('sometimes')", "share of neurons whose widest within-class range "
          "of pattern means exceeds the gap between the class averages; reproduced >= "
          "0.05, partly > 0", _at_least(0.05, 1e-9), "04a_wtm"),
    Claim("F3-divide-and-conquer", "4.2.4", "different neurons specialize in the "
          "classification of different patterns of a class", "qualitative",
          "normalised entropy of the neurons' favoured patterns in their active class; "
          "reproduced >= 0.7, partly >= 0.3", _at_least(0.7, 0.3), "04a_wtm"),
    Claim("F3-init-decides", "4.2.4", "The neuron-level differences in favored clusters are "
          "determined by the random weight initialization", "qualitative",
          "share of neurons whose final favoured pattern was already top at initialization, "
          "divided by the chance share; reproduced >= 2, partly > 1", _at_least(2.0, 1.0 + 1e-9),
          "04a_wtm", "x chance"),
    Claim("F3-sign-class", "4.1", "This sign appears to be correlated with the sample's "
          "class across the whole training process", "qualitative",
          "median over neurons of |corr(mean sign of dL/da, class)|; reproduced >= 0.9, "
          "partly >= 0.5", _at_least(0.9, 0.5), "04a_wtm"),
    Claim("F4-ablation-acc", "4.2.1", "we also observe a decrease in model performance, "
          "with test accuracies ranging from 80% to 84%", "80-84 %",
          "mean test accuracy of the three ablations (linear, one neuron, less noise); "
          "reproduced in [79, 85], partly in [75, 90]", _between(79, 85, 75, 90),
          "04b_ablation", "%"),
    Claim("F4-ablation-no-wtm", "4.2.1", "several elements without which the "
          "winner-take-most phenomenon does not occur", "qualitative (Figure 4)",
          "winner-take-most rank-correlation median of the full model minus the largest "
          "of the three ablations'; reproduced >= 0.2, partly > 0", _at_least(0.2, 1e-9),
          "04b_ablation"),
    Claim("F5-crossing", "4.2.2", "Very quickly (around the 6th epoch), the share of the "
          "difficult group matches and even exceeds the share of the regular group",
          "epoch ~6", "first epoch at which the difficult share of the training loss "
          "reaches the regular share, mean over seeds (never: infinite); reproduced in "
          "[3, 12], partly when it happens at all", _between(3, 12, 0, 1e9), "04c_difficulty",
          "epoch"),
    Claim("F5-same-time", "4.2.2", "this happens around the same time the winner-take-most "
          "phenomenon appears", "qualitative", "|crossing epoch - onset of the "
          "within-class spread growth (1.5x its initial median)|, mean over seeds; "
          "reproduced <= 5 epochs, partly <= 20", lambda v: REPRODUCED if v <= 5 else
          PARTLY if v <= 20 else NOT, "04c_difficulty", "epochs"),
    Claim("S5-easy-first", "5.1", "easy samples are learned before difficult ones",
          "qualitative", "mean over the first epochs (rise window) of the regular group's "
          "training accuracy minus the difficult group's; reproduced > 0.1, partly > 0",
          _at_least(0.1, 1e-9), "05_related"),
    Claim("S5-difficult-loss-rises", "5.1", "the loss of difficult samples increases in "
          "the first training iterations", "qualitative", "largest rise of the difficult "
          "group's mean loss over its initial value in the first 20 epochs; reproduced > 0",
          lambda v: REPRODUCED if v > 0 else NOT, "05_related"),
    Claim("S5-clustering-generalization", "5.3", "the better the clusters of a class are "
          "differentiated, the better the generalization performance", "qualitative",
          "Spearman correlation over the sigma_train grid between c1 (subclass "
          "selectivity) and test accuracy; reproduced >= 0.5, partly > 0",
          _at_least(0.5, 1e-9), "05_related"),
]
BY_ID = {c.id: c for c in CLAIMS}


def current_profile() -> str:
    """The profile the chapters run with (``$WTM_PROFILE``), ``interactive`` if unset."""
    return os.environ.get("WTM_PROFILE") or "interactive"


def claims_dir(profile: str | None = None) -> Path:
    """``results/claims/<profile>/``: a quick preview never overwrites paper values."""
    return results_root() / "claims" / (profile or current_profile())


def record(claim_id: str, value: float, sd: float = float("nan"), n: int = 1,
           note: str = "") -> None:
    """Store the measured value of a claim (mean over ``n`` seeds, with ``sd``)."""
    if claim_id not in BY_ID:
        raise KeyError(f"claim_id={claim_id!r}: unknown; known ids: {sorted(BY_ID)}")
    from .report import provenance  # noqa: PLC0415

    doc = dict(id=claim_id, value=float(value), sd=float(sd), n=int(n), note=note,
               verdict=BY_ID[claim_id].rule(float(value)) if math.isfinite(value) else NOT,
               time=time.strftime("%Y-%m-%d %H:%M:%S"), **provenance())
    path = claims_dir() / f"{claim_id}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    _atomic_write(path, lambda f: f.write(json.dumps(doc, indent=1).encode()))


def load(claim_id: str, profile: str | None = None) -> dict | None:
    path = claims_dir(profile) / f"{claim_id}.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def table(profile: str | None = None) -> list[dict]:
    """One row per claim: registry fields, our value and the verdict (or missing)."""
    rows = []
    for c in CLAIMS:
        got = load(c.id, profile)
        rows.append(dict(id=c.id, section=c.section, quote=c.quote, paper=c.paper, test=c.test,
                         chapter=c.chapter, unit=c.unit,
                         value=None if got is None else got["value"],
                         sd=None if got is None else got["sd"],
                         n=None if got is None else got["n"],
                         note="" if got is None else got.get("note", ""),
                         profile="" if got is None else got.get("profile", ""),
                         verdict=MISSING if got is None else got["verdict"]))
    return rows


def format_value(row: dict) -> str:
    if row["value"] is None:
        return "-"
    v = row["value"]
    text = "never" if math.isinf(v) else f"{v:.3g}"
    if row["sd"] is not None and math.isfinite(row["sd"]) and row["n"] and row["n"] > 1:
        text += f" ± {row['sd']:.2g}"
    return f"{text} {row['unit']}".strip() + (f" (n={row['n']})" if row["n"] else "")


COLOURS = {REPRODUCED: "#d4edda", PARTLY: "#fff3cd", NOT: "#f8d7da", MISSING: "#e2e3e5",
           UNTESTABLE: "#e2e3e5"}
PREVIEW_COLOUR = "#e9ecef"  # one neutral colour for every verdict of a preview


def is_preview(profile: str | None) -> bool:
    """Values measured at reduced size: any profile but ``paper`` and ``interactive``."""
    return (profile or current_profile()) not in ("paper", "interactive")


def _verdict_html(verdict: str, preview: bool) -> str:
    colour = PREVIEW_COLOUR if preview else COLOURS[verdict]
    text = f"preview: {verdict}" if preview and verdict != MISSING else verdict
    return (f'<span class="wtm-verdict" style="background:{colour};padding:2px 4px;'
            f'white-space:nowrap">{text}</span>')


def scorecard_html(profile: str | None = None, show_tests: bool = True) -> str:
    """The scorecard as an HTML table. In a preview (reduced size) every verdict is
    marked as one, in a neutral colour, under a banner; the paper-profile verdicts
    stand beside them when the paper profile's values exist."""
    import html  # noqa: PLC0415

    profile = profile or current_profile()
    preview = is_preview(profile)
    rows = table(profile)
    paper = {r["id"]: r for r in table("paper")} if preview else {}
    with_paper = any(r["verdict"] != MISSING for r in paper.values())
    head = ["claim", "the paper says", *(["how we test it"] if show_tests else []),
            "ours" + (f" ({profile})" if preview else ""), "verdict",
            *(["paper profile"] if with_paper else [])]
    body = []
    for r in rows:
        ours = format_value(r) + (f" <br><small>({html.escape(r['note'])})</small>"
                                  if r["note"] else "")
        if r["profile"] and r["profile"] != profile:
            ours += f" <br><small><b>from profile {html.escape(r['profile'])}</b></small>"
        said = f"<i>“{html.escape(r['quote'])}”</i>" + (
            f"<br><small>paper: {html.escape(r['paper'])}</small>" if r["paper"] else "")
        cells = [f'<a href="{r["chapter"]}.html">{r["id"]}</a><br><small>§ {r["section"]}'
                 f"</small>", said, *([f"<small>{html.escape(r['test'])}</small>"]
                                      if show_tests else []),
                 ours, _verdict_html(r["verdict"], preview)]
        if with_paper:
            p = paper[r["id"]]
            cells.append(f"{format_value(p)}<br>{_verdict_html(p['verdict'], False)}")
        body.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    banner = ""
    if preview:
        banner = (f'<div class="wtm-preview admonition warning"><p class="admonition-title">'
                  f"Preview at reduced size (profile <code>{html.escape(profile)}</code>)</p>"
                  f"<p>These values come from a build with fewer samples, neurons, epochs or "
                  f"seeds than the paper. Their verdicts say how this small build came out, "
                  f"not whether the paper reproduces: they are shown in one neutral colour. "
                  + ("The paper-profile columns hold the values of a build at the paper's "
                     "settings found in the results cache."
                     if with_paper else "No paper-profile values are in the results cache "
                     "(<code>make book</code> makes them).") + "</p></div>")
    return (banner + '<div class="wtm-scroll"><table class="table wtm-scorecard" '
            'style="font-size:85%"><thead><tr>' + "".join(f"<th>{h}</th>" for h in head)
            + "</tr></thead><tbody>" + "".join(body) + "</tbody></table></div>")


def print_table(profile: str | None = None, file=None) -> int:
    """Print the scorecard; return the number of claims without a value."""
    profile = profile or current_profile()
    preview = is_preview(profile)
    rows = table(profile)
    print(f"claims measured with profile {profile!r} ({claims_dir(profile)})", file=file)
    if preview:
        print(f"PREVIEW: profile {profile!r} runs at reduced size; its verdicts say how this "
              "small build came out, not whether the paper reproduces", file=file)
    paper = {r["id"]: r for r in table("paper")} if preview else {}
    with_paper = any(r["verdict"] != MISSING for r in paper.values())
    width = max(len(r["id"]) for r in rows)
    for r in rows:
        verdict = f"preview: {r['verdict']}" if preview and r["verdict"] != MISSING \
            else r["verdict"]
        line = (f"{r['id']:<{width}}  {r['section']:<10} paper: {r['paper']:<38} ours: "
                f"{format_value(r):<26} {verdict}")
        if with_paper:
            line += f"   [paper profile: {format_value(paper[r['id']])}, {paper[r['id']]['verdict']}]"
        print(line, file=file)
    missing = sum(r["verdict"] == MISSING for r in rows)
    counts = {}
    for r in rows:
        counts[r["verdict"]] = counts.get(r["verdict"], 0) + 1
    print(("preview " if preview else "") + "; ".join(f"{k}: {v}" for k, v in counts.items()),
          file=file)
    return missing
