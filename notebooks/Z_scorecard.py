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
# test it (the measure and the threshold of each verdict, in `wtmlib/claims/registry.py`, written
# before the runs except the changes listed under *Rule changes* below, each with its
# date and reason), our value (mean ± standard deviation over seeds, with the number of
# seeds or models, and the 95 % t-interval of the mean), its null (the same measure
# where the claimed effect is absent, e.g. the same runs at initialization) and the
# verdict. The mean decides a verdict unless the rule says the interval does; where the
# interval reaches another verdict, the verdict says so ("CI reaches ..."). A claim true
# of any network is marked *holds by construction* and not counted as reproduced; a claim that needs
# another (the Figure 5 crossing) is *not testable* where that one fails, so a failure
# counts once. The values are read from the
# files the chapters wrote when they ran (`results/claims/`), never typed in; the same
# table prints in a terminal with `wtm claims`. Each row links to the chapter whose
# figure supports it and keeps its long texts folded: click the paper's words to unfold
# them with the rule, the notes and the claim's rule changes. The buttons above the table
# show only the claims of one verdict, or of one section of the paper.

# %% tags=["parameters"]
show_tests: bool = True  # include the "how we test it" column

# %% tags=["remove-input"]
from IPython.display import HTML, display

from wtmlib.book import plots, report
from wtmlib.claims import scorecard, store
from wtmlib.results import provenance

report.parameters("scorecard", globals())
profile = provenance.current_profile()
rows = store.table(profile)
plots.style()
display(HTML(scorecard.banner_html(profile)))
# the table first, one line per claim: it is what a reader comes for; the figure after it
display(HTML(scorecard.scorecard_html(profile, show_tests, banner=False, log=False)))
report.figure(plots.claims_figure(rows, provenance.is_preview(profile)),
              plots.claims_caption(provenance.is_preview(profile))
              + " The table above gives each claim's words, rule and values.", "S.2")
display(HTML(scorecard.log_html()))
for column, n in store.counts(rows).items():
    report.glue(f"n_{column.replace(' ', '_')}", n)
report.glue("n_claims", len(rows))
used = store.reading_of(profile)
report.glue("reading_sentence", (
    f"The Section 4 and 5 values were measured under the optimizer reading "
    f"\"{used['name']}\" ({used['how']}; see the readings chapter)" if used else
    "The Section 4.1 chapter has not recorded which optimizer reading it used"))
report.glue("profile", profile + (" (a preview at reduced size)" if provenance.is_preview(profile)
                                  else ""))

# %% [markdown]
# Of {glue:text}`n_claims` claims, the paper's claims judged against a null or a control:
# {glue:text}`n_reproduced` reproduced, {glue:text}`n_partly` partly,
# {glue:text}`n_not_reproduced` not reproduced. Counted apart:
# {glue:text}`n_calibrated` calibrated (a setting was chosen to match the number),
# {glue:text}`n_own_finding` own finding(s) of this book, {glue:text}`n_holds_by_construction`
# holding by construction (true of any network), {glue:text}`n_not_testable` not testable,
# {glue:text}`n_missing` without a value (profile of this build: {glue:text}`profile`).
# {glue:text}`reading_sentence`.
# Where a verdict is "not reproduced", the chapter it links to says what was tried and
# what the data shows instead.
