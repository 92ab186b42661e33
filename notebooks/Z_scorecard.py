# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Scorecard: the paper's claims, reproduced or not
#
# Every claim of the paper that this book tests: the paper's words and number, how we
# test it (the measure and the threshold of each verdict were fixed in
# `wtmlib/claims.py` before the runs), our value (mean ± standard deviation over seeds,
# with the number of seeds or models) and the verdict. The values are read from the
# files the chapters wrote when they ran (`results/claims/`), never typed in; the same
# table prints in a terminal with `wtm claims`. Each row links to the chapter whose
# figure supports it.

# %% tags=["parameters"]
show_tests = True  # include the "how we test it" column

# %%
import html
import os

from IPython.display import HTML, display

from wtmlib import claims, report

P = report.parameters("scorecard", globals())
profile = claims.current_profile()
rows = claims.table(profile)
colors = {claims.REPRODUCED: "#d4edda", claims.PARTLY: "#fff3cd", claims.NOT: "#f8d7da",
          claims.MISSING: "#e2e3e5", claims.UNTESTABLE: "#e2e3e5"}
head = ["claim", "section", "the paper says", "paper", *(["how we test it"] if show_tests
                                                         else []), "ours", "verdict"]
body = []
for r in rows:
    stale = r["profile"] and r["profile"] != profile
    ours = claims.format_value(r) + (f" <br><small>({html.escape(r['note'])})</small>"
                                     if r["note"] else "")
    if stale:
        ours += f" <br><small><b>from profile {html.escape(r['profile'])}</b></small>"
    cells = [f'<a href="{r["chapter"]}.html">{r["id"]}</a>', r["section"],
             f"<i>“{html.escape(r['quote'])}”</i>", html.escape(r["paper"]),
             *([html.escape(r["test"])] if show_tests else []), ours,
             f'<span style="background:{colors[r["verdict"]]};padding:2px 4px">'
             f'{r["verdict"]}</span>']
    body.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
display(HTML('<table class="table" style="font-size:85%">'
             + "<tr>" + "".join(f"<th>{h}</th>" for h in head) + "</tr>"
             + "".join(body) + "</table>"))
counts = {v: sum(r["verdict"] == v for r in rows) for v in colors}
for verdict, n in counts.items():
    report.glue(f"n_{verdict.replace(' ', '_')}", n)
report.glue("n_claims", len(rows))
report.glue("profile", profile)

# %% [markdown]
# Of {glue:text}`n_claims` claims: {glue:text}`n_reproduced` reproduced,
# {glue:text}`n_partly` partly, {glue:text}`n_not_reproduced` not reproduced,
# {glue:text}`n_missing` without a value (profile of this build: {glue:text}`profile`).
# Where a verdict is "not reproduced", the chapter it links to says what was tried and
# what the data shows instead.
