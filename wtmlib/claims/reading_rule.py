"""The readings of Section 2.2's optimizer settings: their names, and the rule that chooses
the one the book's Section 4 and 5 verdicts use (the sweep itself is ``wtmlib.claims.readings``).

No torch here: the parameter checks and ``wtm claims`` read these before any kernel.
"""

from __future__ import annotations

import re

# The rule that chooses, among the output-rate grid, the reading the book's Section 4 and
# 5 verdicts use (``wtmlib.claims.readings.choose``); the registry logs it beside S-acc.
PAPER_ACC_S = 0.961  # Section 2.2: the model on S reaches 96.1 % test accuracy
FIT = 0.99  # mean training accuracy of a reading that "fits its training set"
DATE = "2026-12-01"  # written before the sweep's first result was read
BEFORE = "W2 by plain SGD at learning rate 1, b2 frozen (one reading, not swept)"
CLOSEST_RULE = (
    f"among the readings whose mean training accuracy over seeds is at least {FIT:.0%} "
    f"(they fit their training set), the one whose mean test accuracy is closest to the "
    f"paper's {PAPER_ACC_S:.1%}; ties go to the smaller output rate, then to a frozen b2; "
    "if no reading fits, the one with the highest training accuracy")
CLOSEST_WHY = (
    "three to four verdicts hinged on the output layer's rate, which the paper "
    "does not give; S-acc under the chosen reading is calibrated by this rule, so the "
    "literal and rate-1 columns of the readings page are its independent checks")
# The rule in force: the paper's own fitting criterion (Section 3.1 trains "until every
# training sample is classified correctly"), blind to the test set.
FIT_DATE = "2026-12-07"
RULE = (
    "the smallest output rate at which every seed classifies every training sample "
    "correctly (the paper's fitting criterion of Section 3.1), b2 frozen before trained; "
    "if no reading fits in every seed, the one with the highest mean training accuracy "
    "(ties to the smaller rate, then to a frozen b2); the test set is never read")
WHY = (
    "the rule it replaces chose the reading whose test accuracy is closest to the paper's "
    "96.1 %, so S-acc under it matched by construction; this rule reads only the training "
    "set. Written after the sweep's results were seen (W2 lr 3, b2 frozen fits in 3 of 3 "
    "seeds at paper size and was the old rule's choice too): it cannot make S-acc "
    "evidence at the paper's settings, which stays calibrated; it makes the choice "
    "test-blind for every other profile, seed or grid")

CONTROL_LINEAR = "control-linear"  # the linear ablation's claims, as a column of controls
LITERAL = "Layca on W1 and W2"  # the Layca authors' code: both layers rotated, norms fixed
OTHER_LR = "Layca lr 3e-3, W2 lr 1"  # the other reading of "3^-3"


def grid_name(output_lr: float, b2: str) -> str:
    """A reading of the output-rate grid: ``"W2 lr 3, b2 frozen"``, ``"W2 lr 1/27, b2 trained"``."""
    inv = 1 / output_lr
    rate = f"1/{round(inv)}" if output_lr < 1 and abs(inv - round(inv)) < 1e-9 else f"{output_lr:g}"
    return f"W2 lr {rate}, b2 {b2}"


def reading_slug(name: str) -> str:
    """A reading's name as a folder name: ``"W2 lr 1/27, b2 frozen"`` -> ``w2-lr-1-27-b2-frozen``."""
    return re.sub(r"[^a-z0-9.]+", "-", name.lower()).strip("-")


def reading_names(output_lrs) -> list[str]:
    """Every reading a sweep over ``output_lrs`` holds, the literal one first."""
    return [LITERAL, *(grid_name(lr, b2) for lr in output_lrs for b2 in ("frozen", "trained")),
            OTHER_LR]


