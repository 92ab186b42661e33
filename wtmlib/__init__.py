"""wtmlib: the library behind the wtm-repro book.

Modules, in the order data flows through them: ``data`` (Algorithm 1, eq. 2),
``model`` (eq. 1), ``optim`` (Layca), ``record`` (neuron-level signals), ``train``
(Section 2.2 regimes), ``cache`` (results keyed by configuration).
"""

__version__ = "0.1.0"

import warnings as _warnings

# tqdm.auto warns once per kernel when ipywidgets is absent; its text bars still work
_warnings.filterwarnings("ignore", message="IProgress not found")
