"""End to end: every notebook at the quick profile, then the HTML book (slow)."""

import json
import re
import shutil

import nbformat
import pytest

from wtmlib import pipeline

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def built_book(tmp_path_factory):
    """A copy of the book sources, every chapter executed (quick profile), built to HTML."""
    root = tmp_path_factory.mktemp("book")
    shutil.copy(pipeline.ROOT / "_config.yml", root)
    shutil.copytree(pipeline.ROOT / "book", root / "book",
                    ignore=shutil.ignore_patterns("chapters", ".chapters_staging", "_build"))
    mp = pytest.MonkeyPatch()
    mp.setenv("WTM_RESULTS", str(root / "results"))
    html = pipeline.build_book("quick", root=root, log=lambda *_: None)
    mp.undo()
    return root, html


def _figures_in(nb_path) -> int:
    nb = nbformat.read(nb_path, as_version=4)
    return sum("image/png" in out.get("data", {})
               for cell in nb.cells if cell.cell_type == "code" for out in cell.outputs)


def test_every_chapter_is_built_with_its_figures_and_no_traceback(built_book):
    root, html = built_book
    assert (html / "index.html").exists()
    assert (html / "book" / "references.html").exists()
    for name in pipeline.notebook_names():
        stem = pipeline.source_path(name).stem
        nb_path = root / "book" / "chapters" / f"{stem}.ipynb"
        page = (html / "book" / "chapters" / f"{stem}.html").read_text()
        assert page.count("<img") >= _figures_in(nb_path), stem
        nb = nbformat.read(nb_path, as_version=4)
        for cell in nb.cells:
            for out in cell.get("outputs", []):
                assert out.get("output_type") != "error", (stem, out.get("ename"))
                assert "Traceback" not in json.dumps(out), stem
        assert "Traceback" not in page


def test_data_chapter_is_complete(built_book):
    root, html = built_book
    nb = root / "book" / "chapters" / "02_data.ipynb"
    assert _figures_in(nb) >= 5
    page = (html / "book" / "chapters" / "02_data.html").read_text()
    text = re.sub("<[^>]+>", "", page)
    assert "{glue" not in text  # every glued number was found
    assert "wtmlib" in text and "commit" in text  # the provenance table


def test_every_claim_has_a_value_after_the_quick_book(built_book, monkeypatch, capsys):
    from wtmlib import claims
    from wtmlib.cli import main

    root, _ = built_book
    monkeypatch.setenv("WTM_RESULTS", str(root / "results"))
    assert main(["claims", "--profile", "quick"]) == 0, capsys.readouterr().out
    rows = claims.table("quick")
    assert all(r["verdict"] != claims.MISSING for r in rows)
    assert main(["claims", "--profile", "paper"]) == 1  # nothing measured at paper settings here
    page = (root / "_build" / "html" / "book" / "chapters" / "Z_scorecard.html").read_text()
    for r in rows:
        assert r["id"] in page


def test_parameters_cells_are_hidden(built_book):
    root, _ = built_book
    nb = nbformat.read(root / "book" / "chapters" / "02_data.ipynb", as_version=4)
    for cell in nb.cells:
        tags = cell.metadata.get("tags", [])
        if "parameters" in tags or "injected-parameters" in tags:
            assert "remove-cell" in tags


def test_a_failing_notebook_fails_with_its_name_and_keeps_the_old_book(built_book, monkeypatch):
    root, html = built_book
    before = (html / "index.html").read_text()
    with pytest.raises(pipeline.NotebookFailed, match="notebook 'data' failed: ConfigError"):
        pipeline.build_book("quick", {"data": {"sigma_train": -1.0}}, ["data"], root=root,
                            log=lambda *_: None)
    assert (html / "index.html").read_text() == before
    assert (root / "book" / "chapters" / "02_data.ipynb").exists()
