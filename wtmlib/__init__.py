"""wtmlib: the library behind the wtm-repro book.

Modules, in the order data flows through them:

* ``data`` (Algorithm 1, eq. 2), ``mnist`` (Aggregated MNIST): the data sets;
* ``config``: what a run computes (``ModelConfig``, ``TrainConfig``) and, apart, where
  and how it executes (``Execution``);
* ``model`` (eq. 1 with its hook points), ``optim`` (Layca), ``record`` (the signals
  the paper records);
* ``train``: one training loop over an engine, ``reference`` (``MLP.forward``, autograd,
  hook points) or ``fast`` (the same passes written out, tested equal);
* ``cache``, ``runs``, ``sweeps``: results keyed by configuration and numerics version;
* ``measures``, ``signs``, ``selectivity``, ``stats``, ``nulls`` (the measures at
  initialization, when the mechanism starts), ``analyses``, ``plots``: numbers and
  figures from stored results;
* ``claims`` (the registry), ``scorecard`` (its presentation), ``report``, ``chapter``, ``pipeline``, ``cli``: the scorecard, the
  notebooks' helpers and the ``wtm`` command;
* ``machine``, ``flops``, ``bench``: provenance, FLOP accounting and ``wtm bench``.
"""

__version__ = "0.1.0"

import warnings as _warnings

# tqdm.auto warns once per kernel when ipywidgets is absent; its text bars still work
_warnings.filterwarnings("ignore", message="IProgress not found")
