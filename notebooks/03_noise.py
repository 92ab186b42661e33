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
# # 3. What noise tells us about generalization (Figures 1 and 2)
#
# This chapter is not written yet: its issue is open. It will re-make the paper's
# figure(s) of this section from cached, seeded runs of `wtmlib`, with the claims of
# the section measured over all neurons and several seeds.

# %% tags=["parameters"]
seed = 0  # first seed

# %%
from wtmlib import report

P = report.parameters("noise", globals())
report.show_parameters(P)
