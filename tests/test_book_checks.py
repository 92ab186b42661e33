"""Fast checks of the book's set-up: the page checker itself, the tests workflow, the
JupyterLab route (extra, make target, jupytext pairing, default viewer, README line)."""

import json
import re
import tomllib
from pathlib import Path

import pytest
import yaml

from test_book import rendering_problems
from wtmlib.book import params

ROOT = params.ROOT


def test_the_page_checker_finds_what_a_reader_would_see_broken():
    ok = '<p>noise <mjx-container class="MathJax"><mjx-math>σ</mjx-math></mjx-container></p>'
    assert rendering_problems(ok) == []
    assert rendering_problems(r"<p>noise \(\sigma_\text{train}\)</p>")
    assert rendering_problems("<p>| parameter | value | |---|---| | n_dim | 500 |</p>")
    assert rendering_problems("<pre>RuntimeWarning: invalid value encountered</pre>")
    assert rendering_problems("<pre>Traceback (most recent call last)</pre>")
    # script bodies are not text a reader sees
    assert rendering_problems(r"<script>var tex = '\\(';</script><p>fine</p>") == []


def test_tests_workflow_runs_make_test_on_push_and_pull_request():
    wf = yaml.safe_load((ROOT / ".github" / "workflows" / "tests.yml").read_text())
    on = wf[True]  # yaml reads the key `on` as True
    assert "push" in on and "pull_request" in on
    runs = " ".join(s.get("run", "") for job in wf["jobs"].values() for s in job["steps"])
    assert "make test" in runs


def test_the_jupyterlab_route_is_one_extra_one_target_one_readme_line():
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"]
    assert any(d.startswith("jupyterlab") for d in extras["lab"])
    assert any(d.startswith("jupytext") for d in extras["lab"])
    makefile = (ROOT / "Makefile").read_text()
    assert "\nlab:" in makefile and ".[lab]" in makefile
    readme = (ROOT / "README.md").read_text()
    assert "make book    #" in readme and "make test    #" in readme  # the two commands
    assert sum("make lab" in line for line in readme.splitlines()) == 1
    import jupytext.config

    config = jupytext.config.load_jupytext_config(str(ROOT / "notebooks"))
    assert "py:percent" in str(config.formats)  # notebooks/*.py pair with notebooks


def test_make_lab_opens_a_chapter_as_a_notebook_with_a_double_click():
    """`make lab` points JupyterLab's app settings folder at the project's, whose
    ``overrides.json`` (JupyterLab's defaults, under the user's own settings) makes
    jupytext's notebook the default viewer of Python files."""
    makefile = (ROOT / "Makefile").read_text()
    folder = re.search(r"^LAB_SETTINGS\s*:?=\s*\$\(abspath (\S+)\)", makefile, re.M).group(1)
    recipe = re.search(r"^lab:.*\n((?:\t.*\n)+)", makefile, re.M).group(1)
    assert re.search(r"jupyter lab --LabApp\.app_settings_dir=\"\$\(LAB_SETTINGS\)\"", recipe)
    overrides = json.loads((ROOT / folder / "overrides.json").read_text())
    viewers = overrides["@jupyterlab/docmanager-extension:plugin"]["defaultViewers"]
    assert viewers["python"] == "Jupytext Notebook"  # the viewer jupytext's extension adds
    readme = (ROOT / "README.md").read_text()
    assert f"{folder}/overrides.json" in readme and "Open With" not in readme
    setup = readme.split("## Set up and run", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    commands = [ln for ln in setup.splitlines() if ln.strip() and not ln.startswith("#")]
    assert [c.split("#")[0].strip() for c in commands] == ["make book", "make test"]


def test_math_is_served_by_the_book_itself():
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert "sphinx-mathjax-offline" in config["sphinx"]["extra_extensions"]
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert any(d.startswith("sphinx-mathjax-offline") for d in deps)


@pytest.mark.slow
def test_plain_papermill_runs_a_jupytext_converted_chapter(tmp_path, monkeypatch):
    """The route without wtm: jupytext converts, papermill runs with -p overrides."""
    import subprocess
    import sys

    import nbformat

    bin_dir = Path(sys.executable).parent
    nb = tmp_path / "02_data.ipynb"
    subprocess.run([bin_dir / "jupytext", "--to", "ipynb", "--set-kernel", "python3",
                    str(params.source_path("data")), "-o", str(nb)], check=True,
                   capture_output=True)
    out = tmp_path / "out.ipynb"
    monkeypatch.setenv("WTM_RESULTS", str(tmp_path / "results"))
    monkeypatch.delenv("WTM_PROFILE", raising=False)
    subprocess.run([bin_dir / "papermill", str(nb), str(out), "--cwd", str(ROOT / "notebooks"),
                    "-p", "n_train", "600", "-p", "n_test", "120", "-p", "n_projection", "100",
                    "-y", "sigmas: [0.4, 1.2]"], check=True, capture_output=True, timeout=600)
    cells = nbformat.read(out, as_version=4).cells
    html = json.dumps([o for c in cells if c.cell_type == "code" for o in c.outputs])
    assert "wtm-parameters" in html and "interactive" in html  # provenance table, no profile
    assert "Preview at reduced size" not in html  # no profile: not a preview, but
    assert "other settings than the paper" in html and "n_train" in html  # it says what differs
