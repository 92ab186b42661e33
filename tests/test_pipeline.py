"""Notebook parameters, profiles and the CLI: refused before anything runs."""

import re
import subprocess
import sys

import pytest
import yaml

from wtmlib.book.params import (ROOT, ParameterError, default_parameters, describe_parameters,
                                load_profile, notebook_names, profile_names, resolve, source_path)
from wtmlib.book import params
from wtmlib.build import pipeline
from wtmlib.build.cli import main


def test_every_notebook_has_a_parameters_cell_of_plain_values():
    names = notebook_names()
    assert names[0] == "data" and "noise" in names and "mnist" in names
    for name in names:
        params = default_parameters(name)
        assert params, name
        for key, value in params.items():
            assert isinstance(value, (int, float, str, bool, list)), (name, key)


def _parameter_lines(name):
    lines = source_path(name).read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if 'tags=["parameters"]' in line)
    end = next(i for i in range(start + 1, len(lines)) if lines[i].startswith("# %%"))
    return [line for line in lines[start + 1:end] if line.strip() and not line.startswith("#")]


def test_every_parameter_is_typed_and_its_type_matches_its_default():
    import ast

    kinds = {"int": int, "float": float, "str": str, "bool": bool, "list[int]": list,
             "list[float]": list}
    for name in notebook_names():
        for line in _parameter_lines(name):
            node = ast.parse(line).body[0]
            assert isinstance(node, ast.AnnAssign), (name, line)
            annotation = ast.unparse(node.annotation)
            value = ast.literal_eval(node.value)
            assert type(value) is kinds[annotation], (name, line)
            if annotation == "list[int]":
                assert all(type(v) is int for v in value), (name, line)


def test_default_parameters_reads_plain_and_annotated_assignments(tmp_path, monkeypatch):
    (tmp_path / "01_toy.py").write_text(
        '# %% tags=["parameters"]\nn_seeds: int = 3  # seeds\nsigma = 0.4\n'
        'grid: list[float] = [0.1, 0.2]\n\n# %%\nprint(n_seeds)\n')
    monkeypatch.setattr(params, "NOTEBOOKS", tmp_path)
    assert default_parameters("toy") == {"n_seeds": 3, "sigma": 0.4, "grid": [0.1, 0.2]}


def test_papermill_help_shows_the_parameter_types(tmp_path):
    """Plain papermill on a jupytext-converted chapter: `--help-notebook` lists types."""
    import jupytext

    nb = jupytext.read(source_path("noise"))
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    path = tmp_path / "03_noise.ipynb"
    jupytext.write(nb, path)
    out = subprocess.run([sys.executable, "-m", "papermill", "--help-notebook", str(path)],
                         capture_output=True, text=True, check=True).stdout
    assert "Unknown type" not in out
    assert re.search(r"n_seeds: int \(default 5\)", out), out
    assert re.search(r"sigmas_train: list\[float\]", out), out


def test_profiles_resolve_to_checked_parameters():
    quick = resolve("quick")
    paper = resolve("paper")
    assert set(quick) == set(paper) == set(notebook_names())
    assert quick["data"]["n_train"] < paper["data"]["n_train"]
    assert paper["data"] == default_parameters("data")


def test_override_merges_and_int_is_accepted_for_float():
    params = resolve("quick", {"data": {"sigma_train": 1}}, ["data"])
    assert params["data"]["sigma_train"] == 1.0 and isinstance(params["data"]["sigma_train"], float)


@pytest.mark.parametrize("over, match", [
    ({"data": {"sigma_trian": 0.5}}, "no parameter 'sigma_trian'"),
    ({"data": {"n_train": "many"}}, "parameter 'n_train'.*expected int"),
    ({"data": {"n_train": 1.5}}, "parameter 'n_train'.*expected int"),
    ({"data": {"sigmas": 0.4}}, "parameter 'sigmas'.*expected list"),
])
def test_bad_parameters_are_refused(over, match):
    with pytest.raises(ParameterError, match=match):
        resolve("paper", over, ["data"])


# (notebook, parameter, value, words of the allowed values in the message)
OUT_OF_RANGE = [
    ("noise", "n_seeds", 0, "a number >= 1"),
    ("wtm", "n_seeds", 0, "a number >= 1"),
    ("mnist", "n_seeds", -1, "a number >= 1"),
    ("noise", "sigmas_train", [], "a non-empty list of numbers >= 0"),
    ("noise", "sigmas_test", [], "a non-empty list of numbers >= 0"),
    ("noise", "sigmas_train", [0.4, -0.1], "a non-empty list of numbers >= 0"),
    ("noise", "fig2_sigmas", [], "a non-empty list"),
    ("data", "sigmas", [0.1, float("nan")], "a non-empty list of numbers >= 0"),
    ("data", "sigma_train", -1.0, "a number >= 0"),
    ("ablation", "widths", [0, 10], "a non-empty list of integers >= 1"),
    ("ablation", "grid_sigmas", [], "a non-empty list"),
    ("ablation", "grid_seeds", 0, "a number >= 1"),
    ("wtm", "output_lrs", [1.0, 0.0], "a non-empty list of numbers > 0"),
    ("wtm", "reading", "W2 lr 7, b2 frozen", "'chosen' or a reading of the sweep over "
     "output_lrs = [0.037037037037037035, 1.0, 3.0, 10.0, 30.0]"),
    ("wtm", "reading_seeds", 0, "a number >= 1"),
    ("ablation", "ablation_sigmas", [], "a non-empty list of numbers >= 0"),
    ("related", "snapshots", [-1], "a non-empty list of integers >= 0"),
    ("wtm", "early_epoch", 500, "from 0 to epochs = 400"),
    ("wtm", "n_neurons_shown", 2000, "from 1 to n_hidden = 1000"),
    ("wtm", "activation", "tanh", "one of ['relu', 'linear']"),
    ("related", "clustering_split", "both", "one of ['train', 'test']"),
    ("related", "rise_window", 0, "a number >= 1"),
    ("difficulty", "onset_factor", 0.0, "a finite number > 0"),
    ("difficulty", "grad_seeds", 0, "a number >= 1"),
    ("noise", "threads", -1, "a number >= 0"),
]


@pytest.mark.parametrize("name, key, value, allowed", OUT_OF_RANGE,
                         ids=[f"{c[0]}-{c[1]}-{c[2]}" for c in OUT_OF_RANGE])
def test_out_of_range_parameters_are_refused_naming_the_parameter(name, key, value, allowed):
    with pytest.raises(ParameterError) as err:
        resolve("paper", {name: {key: value}}, [name])
    text = str(err.value)
    assert text.startswith(f"parameter {key!r} of notebook {name!r}: got {value!r}"), text
    assert allowed in text and "\n" not in text


def test_snapshots_beyond_the_wtm_chapters_epochs_are_refused_before_the_kernel():
    # the related chapter re-runs Section 4.1's runs keeping the weights at `snapshots`
    with pytest.raises(ParameterError) as err:
        resolve("paper", {"related": {"snapshots": [0, 500]}}, ["related"])
    assert str(err.value).startswith("parameter 'snapshots' of notebook 'related': got [0, 500]")
    assert "the wtm chapter's epochs = 400" in str(err.value)
    # the bound is the other chapter's value in the same build, overrides included
    with pytest.raises(ParameterError, match="wtm chapter's epochs = 100"):
        resolve("paper", {"wtm": {"epochs": 100, "early_epoch": 10}})
    ok = resolve("paper", {"wtm": {"epochs": 600}, "related": {"snapshots": [0, 500]}},
                          ["wtm", "related"])
    assert ok["related"]["snapshots"] == [0, 500]


def test_gradient_seeds_beyond_the_wtm_chapters_seeds_are_refused_before_the_kernel():
    with pytest.raises(ParameterError, match="the wtm chapter's n_seeds = 5"):
        resolve("paper", {"difficulty": {"grad_seeds": 6}}, ["difficulty"])
    ok = resolve("paper", {"difficulty": {"grad_seeds": 5}}, ["difficulty"])
    assert ok["difficulty"]["grad_seeds"] == 5


def test_the_mnist_reading_is_checked_against_the_wtm_chapters_sweep_before_the_kernel():
    # Appendix A.1 takes its output layer from a reading of the Section 4.1 chapter's
    # sweep: the same check as that chapter's own `reading`, with its output_lrs
    with pytest.raises(ParameterError) as err:
        resolve("paper", {"mnist": {"reading": "W2 lr 7, b2 frozen"}}, ["mnist"])
    text = str(err.value)
    assert text.startswith("parameter 'reading' of notebook 'mnist': got 'W2 lr 7, b2 frozen'")
    assert "output_lrs = [0.037037037037037035, 1.0, 3.0, 10.0, 30.0]" in text
    with pytest.raises(ParameterError, match="except 'Layca lr 3e-3, W2 lr 1'"):
        resolve("paper", {"mnist": {"reading": "Layca lr 3e-3, W2 lr 1"}}, ["mnist"])
    ok = resolve("paper", {"wtm": {"output_lrs": [7.0]}, "mnist": {"reading": "W2 lr 7, b2 frozen"}},
                 ["wtm", "mnist"])
    assert ok["mnist"]["reading"] == "W2 lr 7, b2 frozen"
    assert resolve("quick", names=["mnist"])["mnist"]["reading"] == "chosen"


def test_library_configurations_are_checked_before_the_kernel():
    # what only the library's dataclasses know (n_pat even, MNIST split sizes)
    with pytest.raises(ParameterError, match="^parameter 'n_pat' of notebook 'data'"):
        resolve("paper", {"data": {"n_pat": 5}}, ["data"], library=True)
    with pytest.raises(ParameterError, match="^parameter 'n_train' of notebook 'mnist'"):
        resolve("paper", {"mnist": {"n_train": 70000}}, ["mnist"], library=True)


def test_every_profile_passes_its_own_checks():
    for profile in profile_names():
        resolve(profile, library=True)


def test_unknown_profile_and_notebook_are_refused():
    with pytest.raises(ParameterError, match="profile 'fast'"):
        resolve("fast")
    with pytest.raises(ParameterError, match="notebook 'nosie'"):
        source_path("nosie")
    with pytest.raises(ParameterError, match="notebook 'nosie' does not exist"):
        resolve("paper", {"nosie": {"n_seeds": 1}})


def test_cli_refuses_bad_input_before_running(capsys, monkeypatch):
    ran = []
    monkeypatch.setattr(pipeline, "execute", lambda *a, **k: ran.append(a))
    assert main(["run", "data", "-p", "sigma_train", "high"]) == 1
    assert "sigma_train" in capsys.readouterr().err
    assert main(["book", "-p", "n_train", "10"]) == 1
    assert "name the notebook" in capsys.readouterr().err
    assert main(["run", "noise", "--profile", "nope"]) == 1
    assert ran == []


@pytest.mark.parametrize("argv, words", [
    (["run", "noise", "-p", "n_seeds", "0"], "parameter 'n_seeds' of notebook 'noise': got 0"),
    (["run", "noise", "-p", "sigmas_train", "[]"], "parameter 'sigmas_train'"),
    (["run", "wtm", "-p", "n_seeds", "0"], "parameter 'n_seeds' of notebook 'wtm'"),
    (["book", "--profile", "quick", "-p", "noise.sigmas_test", "[-1.0]"], "'sigmas_test'"),
    (["run", "data", "--profile", "nosuch"], "profile 'nosuch' does not exist"),
    (["book", "--profile", "nosuch"], "profile 'nosuch' does not exist"),
    (["claims", "--profile", "nosuch"], "profile 'nosuch' does not exist"),
])
def test_cli_bad_input_is_one_line_naming_it_and_nothing_runs(argv, words, capsys, monkeypatch):
    ran = []
    monkeypatch.setattr(pipeline, "execute", lambda *a, **k: ran.append(a))
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert words in err and err.startswith("wtm: error: ") and err.count("\n") == 1, err
    assert ran == []


def _fake_execute(seen):
    def execute(name, params, out, profile, book_params=None, **kwargs):
        seen.update(name=name, **params)
        path = out / f"{source_path(name).stem}.ipynb"
        path.write_text("{}")
        return pipeline.Executed(path, 0)
    return execute


def test_cli_run_passes_overrides_to_papermill(monkeypatch, tmp_path):
    seen = {}
    monkeypatch.setattr(pipeline, "execute", _fake_execute(seen))
    monkeypatch.setattr(pipeline, "ROOT", tmp_path)
    assert main(["run", "data", "--profile", "quick", "-p", "sigma_train", "0.6"]) == 0
    assert seen["name"] == "data" and seen["sigma_train"] == 0.6
    assert seen["n_train"] == load_profile("quick")["data"]["n_train"]
    assert (tmp_path / "book" / "chapters" / "02_data.ipynb").exists()


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


def test_only_the_release_job_may_write_and_it_runs_no_code_of_ours():
    """The results archive goes to a release from a job of its own: the build job, which
    runs notebooks, keeps a read-only token; the job that can write only downloads the
    artifact and calls gh."""
    wf = yaml.safe_load((ROOT / ".github" / "workflows" / "pages.yml").read_text())
    assert wf["permissions"]["contents"] == "read"
    jobs = wf["jobs"]
    writers = [name for name, job in jobs.items()
               if (job.get("permissions") or {}).get("contents") == "write"]
    assert writers == ["release"]
    steps = jobs["release"]["steps"]
    assert [s["uses"].split("@")[0] for s in steps if "uses" in s] == ["actions/download-artifact"]
    script = "\n".join(s.get("run", "") for s in steps)
    assert "gh release upload" in script
    starts = {line.split()[0].split("=")[0] for line in script.splitlines() if line.strip()}
    assert starts <= {"tag", "archive", "if", "echo", "exit", "fi", "gh", "--title", "--notes"}
    artifact = next(s for s in jobs["build"]["steps"]
                    if s.get("uses", "").startswith("actions/upload-artifact"))
    assert artifact["with"]["name"] == steps[0]["with"]["name"]


def test_wtm_entry_point_is_installed():
    out = subprocess.run([sys.executable, "-m", "wtmlib.build.cli", "params", "data"],
                         capture_output=True, text=True, check=True).stdout
    assert "sigma_train = 0.4  (float; a number >= 0)" in out  # type and allowed values


def test_params_lists_types_and_allowed_values():
    lines = describe_parameters("noise")
    assert "n_seeds = 5  (int; a number >= 1)" in lines
    assert any(line.startswith("sigmas_train = [") and "a non-empty list of numbers >= 0" in line
               for line in lines)
    assert len(lines) == len(default_parameters("noise"))


def test_pages_results_cache_is_keyed_by_the_numerics_version():
    """The workflow reads NUMERICS_VERSION with the sed of its 'numerics' step; the cache
    key and its restore prefix carry it, so results of another version never come back."""
    from wtmlib.results.cache import NUMERICS_VERSION

    wf = yaml.safe_load((ROOT / ".github" / "workflows" / "pages.yml").read_text())
    steps = {s.get("id") or s.get("name"): s for s in wf["jobs"]["build"]["steps"]}
    sed = steps["numerics"]["run"].split("$(", 1)[1].rsplit(")", 1)[0]
    got = subprocess.run(sed, shell=True, cwd=ROOT, capture_output=True, text=True).stdout
    assert got.strip() == str(NUMERICS_VERSION)
    cache = steps["Results cache"]["with"]
    assert "steps.numerics.outputs.version" in cache["key"]
    assert cache["restore-keys"].startswith("results-n${{ steps.numerics.outputs.version }}")
