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
# # Neuron explorer: Figure 3 for any hidden neuron
#
# Figures 3 and 6 show four neurons each. Here any hidden neuron of the Section 4.1
# model (seed 0, under the optimizer reading the Section 4.1 chapter uses) and of the Aggregated MNIST model (Appendix A.1, seed 0, its output layer under the reading the Appendix A.1 chapter uses) can be
# picked, by number or by its rank in $|W_2|$, and its four panels are drawn in the
# page: the mean pre-activation of each pattern's training samples over training, for
# class 0 (blues) and class 1 (oranges); the final pre-activations of each pattern's
# training samples (5 %, 25 %, 50 %, 75 % and 95 % quantiles); the histogram of each
# sample's mean sign of $\partial L / \partial a$ over training, by class.
#
# The page needs no kernel: the runs' numbers are embedded in it, each value stored on
# one byte on its neuron's own scale (1/255 of the neuron's range), the trajectories
# at evenly spaced epochs.

# %% tags=["parameters"]
max_epochs: int = 50  # at most this many epochs per trajectory (evenly spaced, first and last kept)
mnist: bool = True  # also the Aggregated MNIST model (Appendix A.1)
threads: int = 0  # CPU threads for torch (0: torch's default)

# %% tags=["remove-input"]
from IPython.display import HTML, display

from wtmlib.book import chapter, explorer, report
from wtmlib.results import pool
from wtmlib.data import pattern_class
from wtmlib.claims import readings
from wtmlib.mnist import load_aggregated_mnist
from wtmlib.results.runs import load_data_of
from wtmlib.analysis import signs
from wtmlib.book import params

section = chapter.setup("explorer", globals(), "4")  # Section 4.1's model, under its reading

# %% tags=["hide-input"]
models = []
data_cfg, model_cfg, train_cfg = section.configs
reading_name = section.reading
res = pool.seed_runs(data_cfg, model_cfg, train_cfg, [0], "section4")[0]
data = load_data_of(res)
models.append(explorer.model_data(
    res["pattern_means_train"], res["hidden.weight"], res["out.weight"][0],
    signs.mean_sign(res), data.x_train.numpy(), data.p_train.numpy(),
    data.y_train.numpy(), pattern_class(data_cfg.n_pat).numpy(),
    f"Section 4.1 model, data set S ({model_cfg.n_hidden} neurons, {reading_name}, seed 0)",
    max_epochs))
if mnist:
    m_data_cfg, m_model_cfg, m_train_cfg, _, m_reading, _ = readings.mnist(
        params.chapter_parameters("mnist"), section.wtm)  # as the Appendix A.1 chapter
    res = pool.seed_runs(m_data_cfg, m_model_cfg, m_train_cfg, [0], "mnist")[0]
    data = load_aggregated_mnist(m_data_cfg)
    models.append(explorer.model_data(
        res["pattern_means_train"], res["hidden.weight"], res["out.weight"][0],
        signs.mean_sign(res), data.x_train.numpy(), data.p_train.numpy(),
        data.y_train.numpy(), pattern_class(10).numpy(),
        f"Aggregated MNIST model ({m_model_cfg.n_hidden} neurons, output layer {m_reading}, "
        "seed 0)", max_epochs))
page = explorer.explorer_html(models)
display(HTML(page))
report.glue("explorer_kb", len(page.encode()) / 1024, ".0f")
report.glue("explorer_models", len(models))

# %% [markdown]
# The explorer above holds {glue:text}`explorer_models` model(s) in
# {glue:text}`explorer_kb` KiB of this page. It opens on the neuron with the largest
# $|W_2|$; the arrows step through the neuron numbers.
