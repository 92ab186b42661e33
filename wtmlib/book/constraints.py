"""What each notebook parameter may be, beyond its type, and which library configurations
a notebook builds from its parameters: both checked before any kernel starts
(``wtmlib.book.params.check_parameters``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from wtmlib.claims.reading_rule import OTHER_LR, reading_names


@dataclass(frozen=True)
class Rule:
    """What one parameter may be, beyond its type: ``ok(value, params)`` decides,
    ``allowed`` (formatted with the notebook's parameters) says it in the error."""

    allowed: str
    ok: Callable[[object, dict], bool]


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and v == v and abs(v) != float("inf")


def at_least(low) -> Rule:
    return Rule(f"a number >= {low}", lambda v, P: _is_number(v) and v >= low)


def above(low) -> Rule:
    return Rule(f"a finite number > {low}", lambda v, P: _is_number(v) and v > low)


def one_of(*choices) -> Rule:
    return Rule(f"one of {list(choices)}", lambda v, P: v in choices)


def between(low: str | int, high: str | int) -> Rule:
    """A number in ``[low, high]``; a bound may name another parameter."""
    def text(b):
        return f"{b} = {{{b}}}" if isinstance(b, str) else str(b)

    def bound(b, P):
        return P[b] if isinstance(b, str) else b
    return Rule(f"a number from {text(low)} to {text(high)}",
                lambda v, P: _is_number(v) and bound(low, P) <= v <= bound(high, P))


def grid(item: Rule, integers: bool = False) -> Rule:
    """A non-empty list whose every item satisfies ``item`` (and is an integer)."""
    what = "integers" if integers else "numbers"
    text = item.allowed.replace("a number ", "").replace("a finite number ", "")
    return Rule(f"a non-empty list of {what} {text}",
                lambda v, P: isinstance(v, (list, tuple)) and len(v) > 0 and all(
                    item.ok(x, P) and (isinstance(x, int) or not integers) for x in v))


# A reading of Section 2.2's optimizer settings in the Section 4.1 chapter's sweep
# (``P``: that chapter's parameters).
READING = Rule("'chosen' or a reading of the sweep over output_lrs = {output_lrs} "
               "(wtmlib.claims.reading_rule.reading_names)",
               lambda v, P: v == "chosen" or v in reading_names(P["output_lrs"]))

# What each parameter may be, checked before any kernel starts. ``"*"`` holds the rules
# of parameters several notebooks share (a rule applies where the notebook has the
# parameter); a notebook's own table adds or overrides. Values the library's
# configuration classes check themselves (``LIBRARY_CONFIGS``) are checked again there.
CONSTRAINTS: dict[str, dict[str, Rule]] = {
    "*": {
        "n_dim": at_least(1), "l_pat": between(1, "n_dim"), "n_pat": at_least(2),
        "n_train": at_least(1), "n_test": at_least(1), "delta": at_least(0),
        "sigma_train": at_least(0), "sigma_test": at_least(0), "seed": at_least(0),
        "n_seeds": at_least(1), "n_hidden": at_least(1), "lr": above(0),
        "epochs": at_least(1), "batch_size": at_least(0), "lr_decay_epoch": at_least(-1),
        "output_lr": at_least(0), "threads": at_least(0), "workers": at_least(0),
        "batch_models": at_least(0), "early_epoch": between(0, "epochs"),
        "n_neurons_shown": between(1, "n_hidden"), "activation": one_of("relu", "linear"),
        "biases": one_of("frozen", "sgd"), "output_layer": one_of("layca", "sgd"),
    },
    "data": {"sigmas": grid(at_least(0)), "n_projection": at_least(1)},
    "noise": {"sigmas_train": grid(at_least(0)), "sigmas_test": grid(at_least(0)),
              "fig2_sigmas": grid(at_least(0)), "n_neurons_shown": between(2, "n_hidden")},
    "wtm": {"output_lrs": grid(above(0)), "reading_seeds": at_least(1),
            "causal_bases": between(1, "n_seeds"), "causal_redraws": at_least(1),
            "reading": READING},
    "ablation": {"ablation_sigmas": grid(at_least(0)), "ablation_seeds": at_least(1),
                 "widths": grid(at_least(1), integers=True), "grid_sigmas": grid(at_least(0)),
                 "grid_seeds": at_least(1)},
    "difficulty": {"onset_factor": above(0), "grad_seeds": at_least(1)},
    "related": {"rise_window": at_least(1), "coherence_seeds": at_least(1),
                "snapshots": grid(at_least(0), integers=True),
                "clustering_split": one_of("train", "test")},
    "mnist": {"scaling": one_of("pixels/255", "standardize")},
    "explorer": {"max_epochs": at_least(2)},
    "readings": {"columns_shown": at_least(0)},
}

# A parameter judged against another chapter's parameters of the same build, for a
# chapter that reads or re-runs the other's runs: ``(notebook, parameter) -> (other
# notebook, rule)``; the rule's ``ok(value, P)`` and its ``allowed`` read the other's ``P``.
ACROSS: dict[tuple[str, str], tuple[str, Rule]] = {
    # Section 4.1's runs, weights kept
    ("related", "snapshots"): ("wtm", Rule(
        "integers from 0 to the wtm chapter's epochs = {epochs} (this chapter re-runs its runs)",
        lambda v, P: all(e <= P["epochs"] for e in v))),
    # Appendix A.1's output layer: a reading of the Section 4.1 chapter's sweep, the same
    # check as that chapter's own ``reading``; not the other reading of "3^-3", which sets
    # the hidden layer's Layca rate (the A.1 chapter has its own ``lr``)
    # Section 4.2.2's gradient-share runs: seeds of Section 4.1's runs, run again
    ("difficulty", "grad_seeds"): ("wtm", Rule(
        "a number from 1 to the wtm chapter's n_seeds = {n_seeds} (this chapter re-runs "
        "its seeds)", lambda v, P: v <= P["n_seeds"])),
    ("mnist", "reading"): ("wtm", Rule(
        READING.allowed.replace("the sweep", "the wtm chapter's sweep")
        + f", except {OTHER_LR!r}",
        lambda v, P: v != OTHER_LR and READING.ok(v, P))),
}

# The library's configuration classes each notebook builds from its parameters (by
# field name): built here too, so what they refuse is refused before the kernel starts.
_SYNTHETIC, _MNIST = "wtmlib.data:SyntheticConfig", "wtmlib.mnist:AggregatedMNISTConfig"
_RUN = ("wtmlib.config:ModelConfig", "wtmlib.config:TrainConfig", "wtmlib.config:Execution")
LIBRARY_CONFIGS = {
    "data": (_SYNTHETIC,),
    "noise": (_SYNTHETIC, *_RUN),
    "wtm": (_SYNTHETIC, *_RUN),
    "ablation": ("wtmlib.config:Execution",),
    "difficulty": ("wtmlib.config:Execution",),
    "related": ("wtmlib.config:Execution",),
    "mnist": (_MNIST, *_RUN),
    "explorer": ("wtmlib.config:Execution",),
    "readings": ("wtmlib.config:Execution",),
}


