"""The project's packaging: one list of dependencies, CI runs `make test`, README."""

import re
import tomllib
from pathlib import Path

import pytest
import yaml

import wtmlib

ROOT = Path(__file__).resolve().parent.parent


def _name(requirement: str) -> str:
    """PEP 503 normalised distribution name of a requirement string."""
    name = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement).group(1)
    return re.sub(r"[-_.]+", "-", name).lower()


def _spec(requirement: str) -> str:
    return re.sub(r"\s+", "", requirement).lower()


def _pyproject():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _pyproject_requirements():
    project = _pyproject()["project"]
    return project["dependencies"] + project["optional-dependencies"]["dev"]


def _environment_pip():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip = [d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d]
    assert len(pip) == 1, "environment.yml: one pip section expected"
    return env, pip[0]


def test_environment_names_the_same_dependencies_as_pyproject():
    env, pip = _environment_pip()
    assert "pip" in env["dependencies"]
    editable = [r for r in pip if r.startswith("-e")]
    assert [_spec(r) for r in editable] == ["-e.[dev]"]  # installs this package with dev extras
    reqs = [r for r in pip if not r.startswith("-e")]
    assert len({_name(r) for r in reqs}) == len(reqs), "a dependency listed twice"
    assert {_name(r) for r in reqs} == {_name(r) for r in _pyproject_requirements()}
    assert {_spec(r) for r in reqs} == {_spec(r) for r in _pyproject_requirements()}


def test_name_normalisation():
    assert _name("jupyter_book>=1,<2") == _name("Jupyter.Book") == "jupyter-book"
    assert _name("torch") != _name("torchvision")


def test_version_and_entry_point():
    project = _pyproject()["project"]
    assert project["version"] == wtmlib.__version__
    module, func = project["scripts"]["wtm"].split(":")
    assert module.startswith("wtmlib.") and func


def test_ci_runs_make_test():
    ci = ROOT / ".ci" / "run"
    lines = [ln.strip() for ln in ci.read_text().splitlines()
             if ln.strip() and not ln.strip().startswith("#")]
    assert "make test" in lines
    assert ci.stat().st_mode & 0o111, ".ci/run must be executable"


def test_makefile_has_the_readme_targets():
    text = (ROOT / "Makefile").read_text()
    targets = set(re.findall(r"^([\w.-]+):", text, flags=re.M))
    assert {"test", "book"} <= targets
    test_recipe = re.search(r"^test:.*\n((?:\t.*\n)+)", text, flags=re.M).group(1)
    assert "pytest" in test_recipe


def test_readme_documents_the_commands():
    readme = ROOT / "README.md"
    text = readme.read_text() if readme.exists() else ""
    if not text.strip():
        pytest.skip("README.md not written yet")
    assert "make test" in text and "make book" in text
