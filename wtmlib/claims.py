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


def record_seeds(claim_id: str, values, note: str = "") -> str:
    """``record`` the mean of per-seed (or per-model) ``values`` with their standard
    deviation (``ddof=1``; NaN for one value) and count, and return the verdict. An
    infinite value ("never") makes the mean infinite and the deviation NaN."""
    v = [float(x) for x in values]
    finite = all(math.isfinite(x) for x in v)
    mean = sum(v) / len(v) if finite else float("inf")
    sd = (math.sqrt(sum((x - mean) ** 2 for x in v) / (len(v) - 1))
          if finite and len(v) > 1 else float("nan"))
    record(claim_id, mean, sd, len(v), note)
    return BY_ID[claim_id].rule(mean) if math.isfinite(mean) else NOT
