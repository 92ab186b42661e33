"""Analyses the chapters share, as tested library functions: tables over seeds and runs.

Each takes stored results (``wtmlib.cache.Result``) and returns numbers or tables;
notebooks call one function per computation and keep the prose and the figures.
"""

from __future__ import annotations

import pandas as pd

from .measures import wtm_summary


def wtm_table(results: list, early_epoch: int) -> pd.DataFrame:
    """``measures.wtm_summary`` of each run (rows: seeds), measured over all neurons."""
    rows = {res.config["train"]["seed"]: dict(test_acc=res.metrics["test_acc"],
                                              **wtm_summary(res.arrays, early_epoch))
            for res in results}
    return pd.DataFrame(rows).T.rename_axis("seed")


def mean_sd(table: pd.DataFrame) -> pd.DataFrame:
    """Mean and standard deviation over the rows (seeds) of a table of numbers."""
    t = table.astype(float)
    return pd.DataFrame({"mean": t.mean(), "sd": t.std(ddof=1) if len(t) > 1 else 0.0 * t.mean(),
                         "seeds": len(t)})
