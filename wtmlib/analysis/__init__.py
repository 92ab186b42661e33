"""Analysis: numbers from recorded arrays, with the core alone: statistics (``stats``),
derivative signs (``signs``), the winner-take-most measures (``measures``), selectivity,
nulls at initialization (``nulls``), tables over seeds (``tables``)."""
