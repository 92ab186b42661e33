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
# # A.1 The winner-take-most mechanism on Aggregated MNIST (Figure 6)
#
# This chapter is not written yet: its issue is open. It will re-make the paper's
# figure(s) of this section from cached, seeded runs of `wtmlib`, with the claims of
# the section measured over all neurons and several seeds.

# %% tags=["parameters"]
seed = 0  # first seed

# %%
from wtmlib import report

P = report.parameters("mnist", globals())
report.show_parameters(P)
