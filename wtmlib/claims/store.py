"""The reproduction scorecard: every claim's measured value and null, and its verdict.

The claims, their tests and rules are the registry (``wtmlib.claims.registry``). Chapters
``save(claim_id, value, null=...)`` into ``results/claims/<profile>/<claim_id>.json``;
``table()`` joins both, judging each stored value under today's rule. A profile
``"<profile>@<reading>"`` holds the values measured under another reading of the paper's
optimizer settings (``wtmlib.claims.readings``), in ``results/claims/<profile>/readings/<reading>/``."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np

from wtmlib.analysis.stats import t_interval
from wtmlib.results.cache import results_root
from wtmlib.results.provenance import build_provenance, current_profile
from wtmlib.training.files import atomic_write as _atomic_write
from wtmlib.claims.registry import (BY_ID, CLAIMS, COUNTED, MISSING, NOT, UNTESTABLE, Claim,
                                    counted_as)



def claims_dir(profile: str | None = None) -> Path:
    """``results/claims/<profile>/`` (a quick preview never overwrites paper values), or
    ``.../<profile>/readings/<reading>/`` for ``"<profile>@<reading>"``."""
    base, _, reading = (profile or current_profile()).partition("@")
    folder = results_root() / "claims" / base
    return folder / "readings" / reading if reading else folder


def _claim(claim_id: str) -> Claim:
    if claim_id not in BY_ID:
        raise KeyError(f"claim_id={claim_id!r}: unknown; known ids: {sorted(BY_ID)}")
    return BY_ID[claim_id]


def verdict(claim_id: str, value: float | None, null: float | None = None,
            profile: str | None = None, n: int | None = None) -> str:
    """``value`` under the claim's rule; missing for ``None``; not testable when it
    ``depends_on`` a claim failed or missing in ``profile`` (a failure counts once), a
    ``vs_null`` claim has no finite null, or ``n`` is below the claim's ``min_n``; not
    reproduced for NaN or infinity."""
    c = _claim(claim_id)
    if value is None:
        return MISSING
    if c.depends_on and _verdict_of(c.depends_on, profile) in (NOT, UNTESTABLE, MISSING):
        return UNTESTABLE
    if n is not None and n < c.min_n:
        return UNTESTABLE
    if not math.isfinite(value):
        return NOT
    if c.vs_null:
        return c.rule(value, null) if null is not None and math.isfinite(null) else UNTESTABLE
    return c.rule(value)


def _verdict_of(claim_id: str, profile: str | None) -> str:  # a record, under today's rule
    got = load(claim_id, profile) or {}
    return verdict(claim_id, got.get("value"), got.get("null"), profile, got.get("n"))


def save(claim_id: str, value: float, sd: float = float("nan"), n: int = 1,
           note: str = "", null: float | None = None, null_note: str = "",
           profile: str | None = None) -> str:
    """Store a claim's value (mean over ``n`` seeds, with ``sd``), its ``null`` (the measure
    where the effect is absent, as ``null_note`` says) and verdict; return the verdict."""
    if _claim(claim_id).vs_null and null is None:
        raise ValueError(f"null: claim {claim_id!r} is judged against its null (value minus "
                         "null, or a share against chance); pass null=")

    value, null = float(value), None if null is None else float(null)
    doc = dict(id=claim_id, value=value, sd=float(sd), n=int(n), note=note, null=null,
               null_note=null_note, verdict=verdict(claim_id, value, null, profile, n),
               time=time.strftime("%Y-%m-%d %H:%M:%S"), **build_provenance())
    path = claims_dir(profile) / f"{claim_id}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    _atomic_write(path, lambda f: f.write(json.dumps(doc, indent=1).encode()))
    return doc["verdict"]


def save_reading(name: str, how: str) -> None:
    """Store which reading of the paper's optimizer settings this profile's Section 4 and 5
    values were measured under (``wtmlib.claims.readings``), and how it was picked."""
    path = claims_dir() / "_reading.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    _atomic_write(path, lambda f: f.write(json.dumps(dict(name=name, how=how)).encode()))


def reading_of(profile: str | None = None) -> dict | None:
    """``{"name", "how"}`` stored by ``save_reading``, or ``None``."""
    try:
        return json.loads((claims_dir(profile) / "_reading.json").read_text())
    except (OSError, ValueError):
        return None


def load(claim_id: str, profile: str | None = None) -> dict | None:
    path = claims_dir(profile) / f"{claim_id}.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def table(profile: str | None = None) -> list[dict]:
    """One row per claim: registry fields and ``log``, value, null, verdict under today's rule."""
    rows = []
    for c in CLAIMS:
        got = load(c.id, profile) or {}
        rows.append(dict(id=c.id, section=c.section, quote=c.quote, paper=c.paper, test=c.test,
                         chapter=c.chapter, unit=c.unit, construction=c.construction,
                         depends_on=c.depends_on, log=c.log, value=got.get("value"),
                         sd=got.get("sd"), n=got.get("n"), null=got.get("null"),
                         null_note=got.get("null_note", ""), note=got.get("note", ""),
                         profile=got.get("profile", ""),  # verdict under today's rule:
                         verdict=verdict(c.id, got.get("value"), got.get("null"), profile,
                                         got.get("n")),
                         category=c.category, category_note=c.category_note,
                         interval=t_interval(got.get("sd"), got.get("n"))))
        rows[-1]["counted"] = counted_as(c, rows[-1]["verdict"])
        rows[-1]["reaches"] = reaches(rows[-1])
    return rows


def reaches(row: dict) -> list[str]:
    """The other verdicts a row's 95 % interval reaches: its rule applied at 41 evenly spaced
    points from the mean minus to the mean plus the interval's half-width (the verdicts
    between the ends too, and both sides of a target a ``_within`` rule is centred on;
    ``[]`` without an interval). The mean over seeds
    decides every verdict unless the rule says the interval does (those claims record an
    end of their interval as their value, and have no interval of their own); this says
    where another draw of seeds could have given another verdict."""
    v, h = row["value"], row["interval"]
    if row["verdict"] in (MISSING, UNTESTABLE) or v is None or h is None \
            or not (math.isfinite(v) and math.isfinite(h)) or h <= 0:
        return []
    c = _claim(row["id"])  # the row is testable: its dependency and its n already passed
    if c.vs_null and (row["null"] is None or not math.isfinite(row["null"])):
        return []
    judge = (lambda x: c.rule(x, row["null"])) if c.vs_null else c.rule
    seen = {judge(float(v + d)) for d in np.linspace(-h, h, 41)}
    return sorted(seen - {row["verdict"]})


def counts(rows: list[dict]) -> dict:
    """How many claims count in each column of ``registry.COUNTED``, in its order."""
    return {column: sum(r["counted"] == column for r in rows) for column in COUNTED}


def save_seeds(claim_id: str, values, note: str = "", null=None, null_note: str = "",
                 profile: str | None = None) -> str:
    """``save`` the mean, standard deviation (``ddof=1``; NaN for one value) and count of
    per-seed (or per-model) ``values`` and the ``null`` (a number or one per seed); return
    the verdict. A non-finite value ("never") makes the mean infinite, the deviation NaN."""
    v = [float(x) for x in values]
    if not v:
        raise ValueError(f"values: empty for claim {claim_id!r}; pass one value per seed")
    finite = all(math.isfinite(x) for x in v)
    mean = sum(v) / len(v) if finite else float("inf")
    sd = math.sqrt(sum((x - mean) ** 2 for x in v) / (len(v) - 1)) if finite and len(v) > 1 \
        else math.nan
    if null is not None and hasattr(null, "__iter__"):  # one per seed: their mean
        null = math.fsum(n) / len(n) if (n := [float(x) for x in null]) else math.nan
    return save(claim_id, mean, sd, len(v), note, null, null_note, profile)
