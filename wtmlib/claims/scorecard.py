"""The scorecard as a reader sees it: values formatted, verdicts coloured (neutral in a
preview at reduced size), as an HTML table for the book and as text for ``wtm claims``.
"""

from __future__ import annotations

import html
import math

from wtmlib.claims.registry import (BY_CONSTRUCTION, CALIBRATED, CLAIMS, MISSING, NOT, OWN,
                                    PAPER, PARTLY, REPRODUCED, UNTESTABLE)
from wtmlib.claims.reading_rule import CONTROL_LINEAR, LITERAL, reading_slug
from wtmlib.claims.store import claims_dir, counts, table
from wtmlib.results.provenance import current_profile, is_preview


def format_value(row: dict) -> str:
    """Mean ± sd, unit and n. An infinite mean over several seeds means that at least one
    seed never got there (``store.save_seeds``), not that none did: it reads so."""
    if row["value"] is None:
        return "-"
    v = row["value"]
    text = (("never" if (row["n"] or 1) == 1 else "never in some seed") if math.isinf(v)
            else f"{v:.3g}")
    if row["sd"] is not None and math.isfinite(row["sd"]) and row["n"] and row["n"] > 1:
        text += f" ± {row['sd']:.2g}"
    unit = "" if math.isinf(v) else row["unit"]
    return f"{text} {unit}".strip() + (f" (n={row['n']})" if row["n"] else "")


def format_null(row: dict) -> str:
    """The null beside a value ("-" where the claim records none)."""
    if row.get("null") is None:
        return "-"
    return f"{row['null']:.3g} {row['unit']}".strip()


def format_interval(row: dict) -> str:
    """`` (95 % CI +- h)`` of a mean over several seeds, "" where there is none."""
    h = row.get("interval")
    return f" (95% CI ±{h:.3g})" if h is not None and math.isfinite(h) and h > 0 else ""


COLOURS = {REPRODUCED: "#d4edda", PARTLY: "#fff3cd", NOT: "#f8d7da", MISSING: "#e2e3e5",
           UNTESTABLE: "#e2e3e5", BY_CONSTRUCTION: "#d6e4f0", CALIBRATED: "#e8dff5",
           OWN: "#dff0f5"}
PREVIEW_COLOUR = "#e9ecef"  # one neutral colour for every verdict of a preview




def _verdict_html(verdict: str, preview: bool) -> str:
    colour = PREVIEW_COLOUR if preview else COLOURS[verdict]
    text = f"preview: {verdict}" if preview and verdict != MISSING else verdict
    return (f'<span class="wtm-verdict" style="background:{colour};padding:2px 4px;'
            f'white-space:nowrap">{text}</span>')


def _category_html(row: dict) -> str:
    """A calibrated number or an own finding, named under its verdict (and counted apart)."""
    if row["category"] == PAPER:
        return ""
    return (f' <span class="wtm-category" style="background:{COLOURS[row["category"]]};'
            f'padding:1px 3px" title="{html.escape(row["category_note"])}"><small>'
            f'{html.escape(row["category"])}</small></span>')


def banner_html(profile: str | None = None) -> str:
    """The banner of a preview's scorecard: its verdicts say how a small build came out,
    and whether paper-profile values stand beside them ("" at the paper's settings)."""
    profile = profile or current_profile()
    if not is_preview(profile):
        return ""
    with_paper = any(r["verdict"] != MISSING for r in table("paper"))
    return (f'<div class="wtm-preview admonition warning"><p class="admonition-title">'
            f"Preview at reduced size (profile <code>{html.escape(profile)}</code>)</p>"
            f"<p>These values come from a build with fewer samples, neurons, epochs or "
            f"seeds than the paper. Their verdicts say how this small build came out, "
            f"not whether the paper reproduces: they are shown in one neutral colour. "
            + ("The paper-profile columns hold the values of a build at the paper's "
               "settings found in the results cache."
               if with_paper else "No paper-profile values are in the results cache "
               "(<code>make book</code> makes them).") + "</p></div>")


def scorecard_html(profile: str | None = None, show_tests: bool = True,
                   banner: bool = True, log: bool = True) -> str:
    """The scorecard as an HTML table, one row per claim: its short columns (claim and
    section, the paper's value, ours, the null, the verdict) in view, its long texts (the
    paper's words, the rule with ``show_tests``, the notes, the rule changes) folded in the
    row's last cell. Each row carries its counted column and section (``data-counted``,
    ``data-section``) for the filter above the table (``filter_html``; a few lines of
    inline script: without it every row shows). In a preview (reduced size) every verdict
    is marked as one, in a neutral colour, under a banner (``banner_html``; left out with
    ``banner=False``, for a page that shows it above something else); the paper-profile
    verdicts stand beside them when the paper profile's values exist. The table of every
    rule change (``log_html``) follows it, or not with ``log=False``."""
    profile = profile or current_profile()
    preview = is_preview(profile)
    rows = table(profile)
    paper = {r["id"]: r for r in table("paper")} if preview else {}
    with_paper = any(r["verdict"] != MISSING for r in paper.values())
    head = ["claim", "paper", "ours" + (f" ({profile})" if preview else ""), "null",
            "verdict", *(["paper profile"] if with_paper else []),
            "the paper's words" + (", how we test it" if show_tests else "")]
    body = []
    for r in rows:
        ours = format_value(r) + format_interval(r)
        if r["profile"] and r["profile"] != profile:
            ours += f" <small><b>(profile {html.escape(r['profile'])})</b></small>"
        cells = [f'<a href="{r["chapter"]}.html">{r["id"]}</a> <small>§&nbsp;'
                 f'{html.escape(r["section"])}</small>', html.escape(r["paper"]) or "-",
                 ours, format_null(r),
                 _verdict_html(r["verdict"], preview) + _category_html(r) + (
                     f" <small>({html.escape(r['depends_on'])} failed)</small>"
                     if r["verdict"] == UNTESTABLE and r["depends_on"] else "") + (
                     ' <small title="the 95% interval of the mean reaches this verdict too">'
                     f"(CI reaches {html.escape(', '.join(r['reaches']))})</small>"
                     if r["reaches"] else "")]
        if with_paper:
            p = paper[r["id"]]
            cells.append(f"{format_value(p)} {_verdict_html(p['verdict'], False)}")
        cells.append(_folded_html(r, show_tests))
        body.append(f'<tr class="wtm-claim" data-counted="{html.escape(r["counted"])}" '
                    f'data-section="{html.escape(r["section"])}">'
                    + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    top = banner_html(profile) if banner else ""
    return (top + filter_html(rows) + '<div class="wtm-scroll"><table class="table '
            'wtm-scorecard" style="font-size:85%"><thead><tr>'
            + "".join(f"<th>{h}</th>" for h in head) + "</tr></thead><tbody>" + "".join(body)
            + "</tbody></table></div>" + _FILTER_SCRIPT + (log_html() if log else ""))


def _folded_html(row: dict, show_tests: bool) -> str:
    """A claim's long texts, folded: the paper's words (the summary, cut to one line by the
    page's style until unfolded), then the rule, the notes and the claim's rule changes."""
    parts = []
    if show_tests:
        parts.append(f"<p><b>Rule:</b> {html.escape(row['test'])}</p>" + _why_html(row))
    if row["note"]:
        parts.append(f"<p><b>Note:</b> {html.escape(row['note'])}</p>")
    if row["null_note"]:
        parts.append(f"<p><b>Null:</b> {html.escape(row['null_note'])}</p>")
    if row["category_note"]:
        parts.append(f"<p><b>{html.escape(row['category'])}:</b> "
                     f"{html.escape(row['category_note'])}</p>")
    if row["log"]:
        parts.append("<p><b>Rule changes:</b></p><ul>" + "".join(
            f"<li>{html.escape(ch.date)}: was “{html.escape(ch.old)}”, now "
            f"“{html.escape(ch.new)}” ({html.escape(ch.reason)})</li>" for ch in row["log"])
            + "</ul>")
    return (f'<details class="wtm-more"><summary><i>“{html.escape(row["quote"])}”</i>'
            f"</summary>{''.join(parts)}</details>")


# Right after the scorecard's table (the filter before it): shows the filter (hidden
# without scripts) and hides the rows whose data attributes differ from the chosen values;
# loads nothing.
_FILTER_SCRIPT = """<script>
(function () {
  var scroll = document.currentScript.previousElementSibling;
  var bar = scroll.previousElementSibling, table = scroll.querySelector("table");
  var chosen = {counted: "", section: ""};
  function apply() {
    table.querySelectorAll("tr.wtm-claim").forEach(function (tr) {
      tr.hidden = (chosen.counted !== "" && tr.dataset.counted !== chosen.counted) ||
                  (chosen.section !== "" && tr.dataset.section !== chosen.section);
    });
  }
  bar.querySelectorAll("button").forEach(function (b) {
    b.addEventListener("click", function () {
      chosen.counted = b.dataset.counted;
      bar.querySelectorAll("button").forEach(function (o) {
        o.setAttribute("aria-pressed", String(o === b));
      });
      apply();
    });
  });
  bar.querySelector("select").addEventListener("change", function (e) {
    chosen.section = e.target.value;
    apply();
  });
  bar.hidden = false;
})();
</script>"""


def filter_html(rows: list[dict]) -> str:
    """Buttons that show only the claims of one counted column (``registry.COUNTED``, those
    present, with their number) and a list of sections, above the scorecard; the inline
    script after the table (``_FILTER_SCRIPT``) shows them and hides rows. Without it they
    stay hidden and every row shows."""
    n = counts(rows)
    buttons = ['<button type="button" data-counted="" aria-pressed="true">all '
               f"({len(rows)})</button>"] + [
        f'<button type="button" data-counted="{html.escape(c)}" aria-pressed="false">'
        f"{html.escape(c)} ({k})</button>" for c, k in n.items() if k]
    sections = list(dict.fromkeys(r["section"] for r in rows))
    options = '<option value="">every section</option>' + "".join(
        f'<option value="{html.escape(s)}">§ {html.escape(s)}</option>' for s in sections)
    return ('<div class="wtm-filter" hidden>Show: ' + " ".join(buttons)
            + f' <label>section <select>{options}</select></label></div>')


def _note_html(row: dict) -> str:
    """A claim's note (its per-seed values, its null's origin) under its value."""
    return f"<br><small>({html.escape(row['note'])})</small>" if row["note"] else ""


def _seeds_html(row: dict) -> str:
    """A value that is not a mean (some seed never got there): its per-seed note."""
    v = row["value"]
    return _note_html(row) if v is not None and math.isinf(v) else ""


def readings_html(columns: dict, same: dict) -> str:
    """Every claim (rows) under several readings (columns ``{title: profile}``): value and
    verdict, or ``same[claim_id]`` (why the reading does not enter it) where given."""
    tables = {title: {r["id"]: r for r in table(prof)} for title, prof in columns.items()}
    preview = is_preview(next(iter(columns.values())))
    body = []
    for c in CLAIMS:
        if c.id in same:
            cells = [f'<td colspan="{len(columns)}"><small>{html.escape(same[c.id])}</small></td>']
        else:
            cells = [f"<td>{format_value(t[c.id])}{_seeds_html(t[c.id])}<br>"
                     f"{_verdict_html(t[c.id]['verdict'], preview)}</td>"
                     if t[c.id]["verdict"] != MISSING else "<td><small>not run</small></td>"
                     for t in tables.values()]
        body.append(f'<tr><td><a href="{c.chapter}.html">{c.id}</a></td>{"".join(cells)}</tr>')
    return ('<div class="wtm-scroll"><table class="table wtm-readings" style="font-size:85%">'
            "<thead><tr><th>claim</th>" + "".join(f"<th>{html.escape(t)}</th>" for t in columns)
            + "</tr></thead><tbody>" + "".join(body) + "</tbody></table></div>")


def _why_html(row: dict) -> str:
    """Why a claim holds by construction, and which claim it depends on."""
    out = ""
    if row["construction"]:
        out += (f"<p><b>Holds by construction:</b> "
                f"{html.escape(row['construction'])}</p>")
    if row["depends_on"]:
        out += (f"<p>Depends on {html.escape(row['depends_on'])}: not testable "
                f"where that claim fails (the failure counts once).</p>")
    return out


def log_html() -> str:
    """The rule-change log of every claim, oldest first, as an HTML table."""
    rows = [(c.id, ch) for c in CLAIMS for ch in c.log]
    body = "".join(f"<tr><td>{cid}</td><td>{html.escape(ch.date)}</td><td><small>"
                   f"{html.escape(ch.old)}</small></td><td><small>{html.escape(ch.new)}"
                   f"</small></td><td><small>{html.escape(ch.reason)}</small></td></tr>"
                   for cid, ch in sorted(rows, key=lambda r: r[1].date))
    return ('<h3 class="wtm-rule-log">Rule changes</h3><p>Every rule changed after the '
            "registry was first written, with its date, the rule before and after, and the "
            "reason; all other rules are those written before the first run.</p>"
            '<div class="wtm-scroll"><table class="table wtm-rule-log" style="font-size:85%">'
            "<thead><tr><th>claim</th><th>date</th><th>old rule</th><th>new rule</th>"
            "<th>reason</th></tr></thead><tbody>" + body + "</tbody></table></div>")


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
        kind = "" if r["category"] == PAPER else f" [{r['category']}]"
        line = (f"{r['id']:<{width}}  {r['section']:<10} paper: {r['paper']:<38} ours: "
                f"{format_value(r) + format_interval(r):<34} null: {format_null(r):<10} "
                f"{verdict}{kind}")
        if r["reaches"]:
            line += f" (the 95% interval reaches {', '.join(r['reaches'])})"
        if with_paper:
            line += f"   [paper profile: {format_value(paper[r['id']])}, {paper[r['id']]['verdict']}]"
        print(line, file=file)
        pad = " " * (width + 2)
        print(f"{pad}rule: {r['test']}", file=file)
        if r["null_note"]:
            print(f"{pad}null: {r['null_note']}", file=file)
        if r["construction"]:
            print(f"{pad}holds by construction: {r['construction']}", file=file)
        if r["category_note"]:
            print(f"{pad}{r['category']}: {r['category_note']}", file=file)
        for ch in r["log"]:
            print(f"{pad}rule changed {ch.date}: was '{ch.old}', now '{ch.new}' ({ch.reason})",
                  file=file)
    stored = [name for name, column in controls(profile).items()
              if any(r["verdict"] != MISSING for r in table(column))]
    if stored:
        conflicts = control_conflicts(profile)
        print(f"checked against the control columns ({', '.join(stored)}): "
              + ("no claim counted as reproduced is reproduced there" if not conflicts else
                 "ALSO REPRODUCED IN A CONTROL (no evidence for the mechanism): "
                 + ", ".join(conflicts)), file=file)
    missing = sum(r["verdict"] == MISSING for r in rows)
    print(("preview " if preview else "") + f"{len(rows)} claims: " + "; ".join(
        f"{k}: {v}" for k, v in counts(rows).items()), file=file)
    return missing


def controls(profile: str) -> dict:
    """The columns of controls a verdict must not pass in: the linear model (no ReLU,
    the ablation chapter) and the literal reading (W2's norm fixed: no winner-take-most),
    ``{name: "<profile>@<column>"}``."""
    return {"linear model": f"{profile}@{CONTROL_LINEAR}",
            "literal reading": f"{profile}@{reading_slug(LITERAL)}"}


def control_conflicts(profile: str) -> list[str]:
    """The paper's claims counted as reproduced in ``profile`` that are reproduced in a
    control column too (``controls``), as ``"claim (control)"``: a verdict a network
    without the mechanism also earns is no evidence for it."""
    ours = [r["id"] for r in table(profile) if r["counted"] == REPRODUCED]
    found = []
    for name, column in controls(profile).items():
        there = {r["id"]: r["verdict"] for r in table(column)}
        found += [f"{cid} ({name})" for cid in ours if there.get(cid) == REPRODUCED]
    return found
