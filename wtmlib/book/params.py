"""A chapter's parameters, checked before any kernel starts.

* Sources: ``notebooks/NN_name.py`` (jupytext percent format), each with one cell
  tagged ``parameters`` holding typed ``name: type = value`` lines.
* Profiles: ``notebooks/profiles.toml`` with one table per profile and notebook,
  ``[paper.noise]``, ``[quick.noise]``...; a profile only lists what differs from the
  notebook's own defaults (which are the paper's settings).

An unknown name, a value of another type than the notebook's default, a value outside
what ``CONSTRAINTS`` allows (zero seeds, an empty grid, a negative noise level...) or
one the library's configuration classes refuse is an error naming the parameter and
what is allowed.
"""

from __future__ import annotations

import ast
import json
import os
import tomllib
from pathlib import Path

from wtmlib.book.constraints import ACROSS, CONSTRAINTS, LIBRARY_CONFIGS, Rule
from wtmlib.results.provenance import ROOT  # the checkout

NOTEBOOKS = ROOT / "notebooks"
PROFILES = NOTEBOOKS / "profiles.toml"
INTERACTIVE = "interactive"  # the profile of a notebook run by hand (claims it records)


class ParameterError(ValueError):
    """A notebook parameter that does not exist or has the wrong type."""


def notebook_names() -> list[str]:
    """Short names of the notebooks in book order (``02_data.py`` -> ``data``)."""
    return [p.stem.split("_", 1)[1] for p in sorted(NOTEBOOKS.glob("[0-9A-Z]*_*.py"))]


def source_path(name: str) -> Path:
    """``notebooks/NN_name.py`` for a short name, or a clear error listing the names."""
    hits = [p for p in sorted(NOTEBOOKS.glob("*_*.py")) if p.stem.split("_", 1)[1] == name]
    if not hits:
        raise ParameterError(f"notebook {name!r} does not exist; choose from {notebook_names()}")
    return hits[0]


def default_parameters(name: str) -> dict:
    """The values assigned in the notebook's ``tags=["parameters"]`` cell
    (``n_seeds = 3`` or, typed, ``n_seeds: int = 3``)."""
    return {key: value for key, (value, _) in _parameters_cell(name).items()}


def describe_parameters(name: str) -> list[str]:
    """One line per parameter: ``name = default  (type; allowed values)``."""
    rules = {**CONSTRAINTS["*"], **CONSTRAINTS.get(name, {})}
    cell = _parameters_cell(name)
    defaults = {key: value for key, (value, _) in cell.items()}
    lines = []
    for key, (value, annotation) in cell.items():
        about = [annotation or type(value).__name__]
        if key in rules:
            try:
                about.append(rules[key].allowed.format(**defaults))
            except (KeyError, IndexError):
                about.append(rules[key].allowed)
        lines.append(f"{key} = {value!r}  ({'; '.join(about)})")
    return lines


def _parameters_cell(name: str) -> dict[str, tuple]:
    """``{name: (default, annotation or "")}`` of the notebook's parameters cell."""
    lines = source_path(name).read_text().splitlines()
    try:
        start = next(i for i, line in enumerate(lines)
                     if line.startswith("# %%") and "parameters" in line)
    except StopIteration:
        raise ParameterError(f"notebook {name!r} has no parameters cell") from None
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("# %%")),
               len(lines))
    params = {}
    for node in ast.parse("\n".join(lines[start + 1:end])).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            params[node.targets[0].id] = (ast.literal_eval(node.value), "")
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            params[node.target.id] = (ast.literal_eval(node.value), ast.unparse(node.annotation))
    return params


def profile_names() -> list[str]:
    """The profiles of ``notebooks/profiles.toml`` (``paper``, ``quick``)."""
    return sorted(tomllib.loads(PROFILES.read_text()))


def check_profile(profile: str, interactive: bool = False) -> str:
    """``profile`` if it exists (``interactive`` too when ``interactive``), else an
    error listing the profiles."""
    names = profile_names() + ([INTERACTIVE] if interactive else [])
    if profile not in names:
        raise ParameterError(f"profile {profile!r} does not exist; choose from {names}")
    return profile


def load_profile(profile: str) -> dict[str, dict]:
    """``{notebook: {parameter: value}}`` of a named profile (overrides only)."""
    profiles = tomllib.loads(PROFILES.read_text())
    if profile not in profiles:
        raise ParameterError(f"profile {profile!r} does not exist; choose from {sorted(profiles)}")
    return profiles[profile]


def chapter_parameters(name: str) -> dict:
    """The parameters another chapter runs with in this build: from
    ``$WTM_BOOK_PARAMS`` when set by ``execute``, else resolved from ``$WTM_PROFILE``
    (``paper`` when unset, e.g. in an interactive session)."""
    book = json.loads(os.environ.get("WTM_BOOK_PARAMS") or "{}")
    if name in book:
        return check_parameters(name, book[name])
    return resolve(os.environ.get("WTM_PROFILE") or "paper", names=[name])[name]


def parse_value(text: str):
    """A command-line value as a Python literal (``0.6``, ``True``, ``[1, 2]``), else a string."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def _constraint_error(name: str, key: str, value, rule: Rule, params: dict) -> ParameterError:
    try:
        allowed = rule.allowed.format(**params)
    except (KeyError, IndexError):
        allowed = rule.allowed
    return ParameterError(f"parameter {key!r} of notebook {name!r}: got {value!r}; "
                          f"allowed: {allowed}")


def check_constraints(name: str, params: dict) -> None:
    """Refuse a value outside ``CONSTRAINTS``, naming the parameter and what is allowed."""
    rules = {**CONSTRAINTS["*"], **CONSTRAINTS.get(name, {})}
    for key, value in params.items():
        rule = rules.get(key)
        if rule is not None and not rule.ok(value, params):
            raise _constraint_error(name, key, value, rule, params)


def check_library_configs(name: str, params: dict) -> None:
    """Build the notebook's configuration classes (``LIBRARY_CONFIGS``) from its
    parameters; what they refuse (``ConfigError``) becomes a ``ParameterError``."""
    import dataclasses  # noqa: PLC0415
    import importlib  # noqa: PLC0415

    specs = LIBRARY_CONFIGS.get(name, ())
    if not specs:
        return
    from wtmlib.config import ConfigError

    for spec in specs:
        module, _, cls_name = spec.partition(":")
        cls = getattr(importlib.import_module(module), cls_name)
        fields = {f.name for f in dataclasses.fields(cls)}
        values = {k: tuple(v) if isinstance(v, list) else v
                  for k, v in params.items() if k in fields}
        try:
            cls(**values)
        except ConfigError as err:
            key = str(err).partition("=")[0].partition(":")[0].strip()
            raise ParameterError(f"parameter {key!r} of notebook {name!r}: {err}") from None


def check_parameters(name: str, values: dict, library: bool = False) -> dict:
    """``values`` merged over the notebook defaults, each checked against its default's
    type and ``CONSTRAINTS`` (and the library's configurations when ``library``)."""
    defaults = default_parameters(name)
    merged = dict(defaults)
    for key, value in values.items():
        if key not in defaults:
            raise ParameterError(f"notebook {name!r} has no parameter {key!r}; "
                                 f"its parameters are {sorted(defaults)}")
        want = defaults[key]
        if isinstance(want, float) and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if isinstance(want, tuple) and isinstance(value, list):
            value = tuple(value)
        if type(value) is not type(want):
            raise ParameterError(f"parameter {key!r} of notebook {name!r}: got {value!r} "
                                 f"({type(value).__name__}), expected {type(want).__name__} "
                                 f"like the default {want!r}")
        merged[key] = value
    check_constraints(name, merged)
    if library:
        check_library_configs(name, merged)
    return merged


def resolve(profile: str, overrides: dict[str, dict] | None = None,
            names: list[str] | None = None, library: bool = False) -> dict[str, dict]:
    """Checked parameters of every notebook to run: defaults < profile < overrides
    (``library``: also through the library's configuration classes)."""
    prof = load_profile(profile)
    names = names or notebook_names()
    for extra in set(prof) - set(notebook_names()):
        raise ParameterError(f"profile {profile!r} names unknown notebook {extra!r}")
    for extra in set(overrides or {}) - set(notebook_names()):
        raise ParameterError(f"-p {extra}.*: notebook {extra!r} does not exist; "
                             f"choose from {notebook_names()}")
    def values(n):
        return {**prof.get(n, {}), **(overrides or {}).get(n, {})}
    params = {n: check_parameters(n, values(n), library=library) for n in names}
    check_across(params, lambda n: check_parameters(n, values(n)))
    return params


def check_across(params: dict[str, dict], other) -> None:
    """Refuse a value outside ``ACROSS`` (judged against another chapter's parameters of
    the same build; ``other(name)`` gives a chapter's parameters not in ``params``)."""
    for (name, key), (theirs, rule) in ACROSS.items():
        if name not in params:
            continue
        P = params.get(theirs) or other(theirs)
        value = params[name][key]
        if not rule.ok(value, P):
            raise _constraint_error(name, key, value, rule, P)
