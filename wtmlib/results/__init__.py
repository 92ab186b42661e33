"""Results: the cache keyed by configuration and numerics version (``cache``), one run
(``runs``), the worker pool (``pool``), the runs each chapter needs (``experiments``),
how and where a result was made (``provenance``), the results as one download
(``archive``: ``wtm results pack`` and ``fetch``)."""
