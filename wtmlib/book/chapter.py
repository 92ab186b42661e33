"""A chapter's set-up in one call, and prose chosen by verdicts.

Every chapter starts the same way: collect its parameters (``report.parameters``), make
its execution settings the process's default, say what it will train and about how long
when it runs by hand rather than in a ``wtm`` build (``jobs.run_note``; a build trains
every run before any chapter), build the configurations of the section it
re-makes, set the figure style and show the parameters with their provenance. ``setup``
does all of it and returns what the chapter reads: its parameters and the data, model
and training configurations of its section (Section 3.1's SGD regime, Section 4's Layca
regime under the optimizer reading the Section 4.1 chapter uses, or Appendix A.1's
Aggregated MNIST regime with that reading's output layer).

``by_verdict`` picks a chapter's sentence by the verdict the registry returned, so a
page never restates a rule's threshold (and never contradicts its scorecard).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from wtmlib.book import jobs, plots, report
from wtmlib.book.params import chapter_parameters, default_parameters
from wtmlib.claims import readings
from wtmlib.claims.registry import NOT, PARTLY, REPRODUCED
from wtmlib.data import SyntheticConfig, pattern_class
from wtmlib.results import experiments
from wtmlib.results.provenance import current_profile

SECTIONS = ("data", "3", "4", "mnist", "none")


@dataclass(frozen=True)
class Setup:
    """What a chapter reads after ``setup``: its parameters as run, and its section's
    configurations (``None`` where the section has none)."""

    params: dict
    data: object = None  # SyntheticConfig or AggregatedMNISTConfig
    model: object = None  # ModelConfig
    train: object = None  # TrainConfig
    reading: str = ""  # the optimizer reading of Section 4's runs (its name)
    reading_configs: dict | None = None  # every reading's TrainConfig, by name
    wtm: dict | None = None  # the Section 4.1 chapter's parameters (seeds, early epoch)
    fixed: object = None  # Appendix A.1: its TrainConfig under its own output-layer setting

    @property
    def configs(self) -> tuple:
        """``(data, model, train)``."""
        return self.data, self.model, self.train

    @property
    def classes(self) -> np.ndarray:
        """The class of each pattern of the synthetic data (Algorithm 1)."""
        return pattern_class(self.data.n_pat).numpy()


def setup(name: str, namespace: dict, section: str) -> Setup:
    """Set up chapter ``name`` from its notebook's ``namespace`` (``globals()``) for
    ``section``: ``"data"`` (Algorithm 1's configuration), ``"3"`` (Section 3.1's SGD
    until fit), ``"4"`` (Section 4's Layca, under the reading the Section 4.1 chapter
    uses), ``"mnist"`` (Appendix A.1's regime with the output layer of its ``reading``
    parameter, a reading of the Section 4.1 chapter's sweep; ``fixed``: the chapter's own
    output-layer setting, shown beside) or ``"none"``."""
    if section not in SECTIONS:
        raise ValueError(f"section={section!r}: expected one of {', '.join(SECTIONS)}")
    params = report.parameters(name, namespace)
    experiments.use_execution(params)
    if current_profile() == "interactive":  # run by hand, not by ``wtm`` (which trains first)
        note = jobs.run_note(name, params, default_parameters(name))
        if note:
            print(note)
    found = Setup(params)
    if section == "data":
        found = Setup(params, experiments.configs(params, SyntheticConfig))
    elif section == "3":
        found = Setup(params, *experiments.section3(params))
    elif section == "mnist":
        wtm = chapter_parameters("wtm")
        data, model, train, fixed, reading, configs = readings.mnist(params, wtm)
        found = Setup(params, data, model, train, reading, configs, wtm, fixed)
    elif section == "4":
        wtm = params if name == "wtm" else chapter_parameters("wtm")
        data, model, train, reading, configs = readings.main(wtm)
        found = Setup(params, data, model, train, reading, configs, wtm)
    plots.style()
    report.show_parameters(params)
    return found


def by_verdict(verdict: str, reproduced: str, partly: str, not_reproduced: str,
               untestable: str = "") -> str:
    """The sentence for ``verdict`` (a registry verdict); any other verdict (not
    testable, missing, by construction) reads ``untestable``, or names itself."""
    chosen = {REPRODUCED: reproduced, PARTLY: partly, NOT: not_reproduced}.get(verdict)
    return chosen if chosen is not None else untestable or f"{verdict} at this build's settings"
