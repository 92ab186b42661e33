"""Validation helpers shared by the configuration dataclasses.

Every configuration checks itself in ``__post_init__`` so that bad input fails
at construction, before any data is drawn or any model is trained. Messages
name the parameter, its value and what is allowed.
"""

from __future__ import annotations

import math
import numbers


class ConfigError(ValueError):
    """A configuration value outside its allowed range or of the wrong type."""


def check_type(name: str, value, kind, allowed: str) -> None:
    """Refuse ``value`` unless it is an instance of ``kind`` (bools are never numbers)."""
    is_bool = isinstance(value, bool)
    wants_bool = kind is bool or (isinstance(kind, tuple) and bool in kind)
    if (is_bool and not wants_bool) or not isinstance(value, kind):
        raise ConfigError(f"{name}={value!r} ({type(value).__name__}): expected {allowed}")


def check_int(name: str, value, low: int | None = None, high: int | None = None) -> None:
    """An integer in ``[low, high]`` (either bound may be open)."""
    check_type(name, value, numbers.Integral, "an integer")
    _check_range(name, value, low, high)


def check_float(name: str, value, low: float | None = None, high: float | None = None,
                low_open: bool = False) -> None:
    """A finite real number in ``[low, high]``, or ``(low, high]`` when ``low_open``."""
    check_type(name, value, numbers.Real, "a number")
    if not math.isfinite(value):  # NaN passes every comparison below
        raise ConfigError(f"{name}={value!r}: must be a finite number")
    if low is not None and low_open and not value > low:
        raise ConfigError(f"{name}={value!r}: must be > {low}")
    _check_range(name, value, None if low_open else low, high)


def check_choice(name: str, value, choices) -> None:
    """One of a fixed set of strings."""
    if value not in choices:
        raise ConfigError(f"{name}={value!r}: must be one of {sorted(choices)}")


def _check_range(name, value, low, high) -> None:
    if low is not None and value < low:
        raise ConfigError(f"{name}={value!r}: must be >= {low}")
    if high is not None and value > high:
        raise ConfigError(f"{name}={value!r}: must be <= {high}")
