"""What the notebooks call: their parameters (``params``, ``constraints``), the report
helpers (``report``), figures (``plots``), the neuron explorer (``explorer``)."""
