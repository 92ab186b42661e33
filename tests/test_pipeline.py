"""Notebook parameters, profiles and the CLI: refused before anything runs."""

import subprocess
import sys

import pytest
import yaml

from wtmlib import pipeline
from wtmlib.cli import main

ROOT = pipeline.ROOT


def test_every_notebook_has_a_parameters_cell_of_plain_values():
    names = pipeline.notebook_names()
    assert names[0] == "data" and "noise" in names and "mnist" in names
    for name in names:
        params = pipeline.default_parameters(name)
        assert params, name
        for key, value in params.items():
            assert isinstance(value, (int, float, str, bool, list)), (name, key)


def test_profiles_resolve_to_checked_parameters():
    quick = pipeline.resolve("quick")
    paper = pipeline.resolve("paper")
    assert set(quick) == set(paper) == set(pipeline.notebook_names())
    assert quick["data"]["n_train"] < paper["data"]["n_train"]
    assert paper["data"] == pipeline.default_parameters("data")


def test_override_merges_and_int_is_accepted_for_float():
    params = pipeline.resolve("quick", {"data": {"sigma_train": 1}}, ["data"])
    assert params["data"]["sigma_train"] == 1.0 and isinstance(params["data"]["sigma_train"], float)


@pytest.mark.parametrize("over, match", [
    ({"data": {"sigma_trian": 0.5}}, "no parameter 'sigma_trian'"),
    ({"data": {"n_train": "many"}}, "parameter 'n_train'.*expected int"),
    ({"data": {"n_train": 1.5}}, "parameter 'n_train'.*expected int"),
    ({"data": {"sigmas": 0.4}}, "parameter 'sigmas'.*expected list"),
])
def test_bad_parameters_are_refused(over, match):
    with pytest.raises(pipeline.ParameterError, match=match):
        pipeline.resolve("paper", over, ["data"])


def test_unknown_profile_and_notebook_are_refused():
    with pytest.raises(pipeline.ParameterError, match="profile 'fast'"):
        pipeline.resolve("fast")
    with pytest.raises(pipeline.ParameterError, match="notebook 'nosie'"):
        pipeline.source_path("nosie")


def test_cli_refuses_bad_input_before_running(capsys, monkeypatch):
    ran = []
    monkeypatch.setattr(pipeline, "execute", lambda *a, **k: ran.append(a))
    assert main(["run", "data", "-p", "sigma_train", "high"]) == 1
    assert "sigma_train" in capsys.readouterr().err
    assert main(["book", "-p", "n_train", "10"]) == 1
    assert "name the notebook" in capsys.readouterr().err
    assert main(["run", "noise", "--profile", "nope"]) == 1
    assert ran == []


def test_cli_run_passes_overrides_to_papermill(monkeypatch):
    seen = {}
    monkeypatch.setattr(pipeline, "execute",
                        lambda name, params, out, profile, *_: seen.update(name=name, **params))
    assert main(["run", "data", "--profile", "quick", "-p", "sigma_train", "0.6"]) == 0
    assert seen["name"] == "data" and seen["sigma_train"] == 0.6
    assert seen["n_train"] == pipeline.load_profile("quick")["data"]["n_train"]


def test_pages_workflow_builds_with_the_readme_target():
    wf = yaml.safe_load((ROOT / ".github" / "workflows" / "pages.yml").read_text())
    steps = wf["jobs"]["build"]["steps"]
    runs = " ".join(s.get("run", "") for s in steps)
    uses = [s.get("uses", "") for s in steps] + [s.get("uses", "") for s in
                                                 wf["jobs"]["deploy"]["steps"]]
    assert "make book" in runs
    assert "make book" in (ROOT / "README.md").read_text()
    assert any(u.startswith("actions/upload-pages-artifact") for u in uses)
    assert any(u.startswith("actions/deploy-pages") for u in uses)
    assert wf[True]["push"]["branches"] == ["main"]  # yaml reads the key `on` as True


def test_wtm_entry_point_is_installed():
    out = subprocess.run([sys.executable, "-m", "wtmlib.cli", "params", "data"],
                         capture_output=True, text=True, check=True).stdout
    assert "sigma_train = 0.4" in out
