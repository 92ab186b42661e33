"""Fast checks of the book's set-up: the page checker itself, the tests workflow, the
JupyterLab route (extra, make target, jupytext pairing, README line)."""

import tomllib

import yaml

from test_book import rendering_problems
from wtmlib import pipeline

ROOT = pipeline.ROOT


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


def test_math_is_served_by_the_book_itself():
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert "sphinx-mathjax-offline" in config["sphinx"]["extra_extensions"]
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert any(d.startswith("sphinx-mathjax-offline") for d in deps)
