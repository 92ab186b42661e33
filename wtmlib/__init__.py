"""wtmlib: the library behind the wtm-repro book.

The thin core, in the order data flows through it (the paper's Sections 2-4):

* ``data`` (Algorithm 1, eq. 2), ``mnist`` (Aggregated MNIST, Appendix A.1): the data sets;
* ``config``: what a run computes (``ModelConfig``, ``TrainConfig``) and, apart, where
  and how it executes (``Execution``), with the checks every configuration runs;
* ``model`` (eq. 1 with its hook points), ``optim`` (Layca), ``record`` (the signals
  the paper records: pattern means, derivative signs, losses).

The machinery, one subpackage per kind of thing, arrows pointing down this list:

* ``training``: one loop over the readable ``reference`` engine or the ``fast`` one;
* ``results``: the cache, one run, the worker pool, the runs each chapter needs;
* ``analysis``: numbers from recorded arrays (reads the core only);
* ``claims``: the registry of claims and rules, their evidence, the optimizer readings;
* ``book``: what the notebooks call (parameters, report, figures, explorer);
* ``build``: what ``wtm`` runs (CLI, plan, papermill pipeline); ``perf``: ``wtm bench``.
"""

__version__ = "0.1.0"

import warnings as _warnings

# tqdm.auto warns once per kernel when ipywidgets is absent; its text bars still work
_warnings.filterwarnings("ignore", message="IProgress not found")
