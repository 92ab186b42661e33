"""End to end: every notebook at the quick profile, then the HTML book (slow)."""

import functools
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from wtmlib.book import jobs
from wtmlib.build import pipeline, plan
from wtmlib.claims import readings, store
from wtmlib.book import params
from wtmlib.claims import registry

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def built_book(tmp_path_factory):
    """A copy of the book sources, every chapter executed (quick profile), built to HTML."""
    root = tmp_path_factory.mktemp("book")
    shutil.copy(params.ROOT / "_config.yml", root)
    shutil.copytree(params.ROOT / "book", root / "book",
                    ignore=shutil.ignore_patterns("chapters", ".chapters_staging", "_build"))
    mp = pytest.MonkeyPatch()
    mp.setenv("WTM_RESULTS", str(root / "results"))
    lines = []
    html = pipeline.build_book("quick", root=root, log=lines.append)
    mp.undo()
    (root / "build.log").write_text("\n".join(map(str, lines)))
    return root, html


def _figures_in(nb_path) -> int:
    nb = nbformat.read(nb_path, as_version=4)
    return sum("image/png" in out.get("data", {})
               for cell in nb.cells if cell.cell_type == "code" for out in cell.outputs)


def test_every_chapter_is_built_with_its_figures_and_no_traceback(built_book):
    root, html = built_book
    assert (html / "index.html").exists()
    assert (html / "book" / "references.html").exists()
    for name in params.notebook_names():
        stem = params.source_path(name).stem
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
    from wtmlib.build.cli import main

    root, _ = built_book
    monkeypatch.setenv("WTM_RESULTS", str(root / "results"))
    assert main(["claims", "--profile", "quick"]) == 0, capsys.readouterr().out
    rows = store.table("quick")
    assert all(r["verdict"] != registry.MISSING for r in rows)
    assert main(["claims", "--profile", "paper"]) == 1  # nothing measured at paper settings here
    page = (root / "_build" / "html" / "book" / "chapters" / "Z_scorecard.html").read_text()
    for r in rows:
        assert r["id"] in page


def test_no_claim_reproduced_in_the_quick_book_passes_in_its_controls(built_book, monkeypatch):
    """The control columns the quick book stored (the linear model, the literal reading):
    a claim counted as reproduced must not be reproduced there too."""
    from wtmlib.claims import scorecard

    root, _ = built_book
    monkeypatch.setenv("WTM_RESULTS", str(root / "results"))
    stored = [store.table(column) for column in scorecard.controls("quick").values()]
    assert all(any(r["verdict"] != registry.MISSING for r in rows) for rows in stored)
    assert scorecard.control_conflicts("quick") == []


def test_the_first_page_is_the_summary_of_every_claim(built_book, monkeypatch):
    root, html = built_book
    monkeypatch.setenv("WTM_RESULTS", str(root / "results"))
    assert "book/chapters/Zz_summary.html" in (html / "index.html").read_text()
    page = (html / "book" / "chapters" / "Zz_summary.html").read_text()
    for heading in ("Scope of reproducibility", "Methodology", "Results", "What was easy",
                    "What was difficult", "Communication with the original authors"):
        assert heading in page, heading
    for r in store.table("quick"):
        assert f'<a href="{r["chapter"]}.html"><code>{r["id"]}</code></a>' in page, r["id"]
    assert "Preview at reduced size" in page and "{glue" not in _text(page)
    assert (html / "book" / "intro.html").exists()  # what the paper claims, second


def test_the_explorer_shows_the_section4_chapters_reading(built_book, monkeypatch):
    # the explorer's Section 4.1 model is the run the wtm chapter's Figure 3 shows
    root, html = built_book
    monkeypatch.setenv("WTM_RESULTS", str(root / "results"))
    name = readings.main(params.resolve("quick", names=["wtm"])["wtm"])[3]
    page = (html / "book" / "chapters" / "Y_explorer.html").read_text()
    assert f"neurons, {name}, seed 0)" in page


def test_the_plan_trains_every_run_before_any_notebook(built_book, monkeypatch):
    # the plan lists exactly the runs the notebooks read: none is trained by a notebook
    # (it would be later, on fewer workers), none is trained that no notebook reads
    from wtmlib.results.runs import key_of
    root, _ = built_book
    assert "no notebook trained a run" in (root / "build.log").read_text()
    monkeypatch.setenv("WTM_RESULTS", str(root / "results"))
    p = jobs.Plan(params.resolve("quick", library=True), "quick")
    planned = {(j.experiment, key_of(*j.configs)) for j in p.first() + p.under_reading()}
    stored = {(f.parent.name, f.stem) for f in (root / "results").glob("*/*.json")}
    assert stored == planned


def test_parameters_cells_are_hidden(built_book):
    root, _ = built_book
    nb = nbformat.read(root / "book" / "chapters" / "02_data.ipynb", as_version=4)
    for cell in nb.cells:
        tags = cell.metadata.get("tags", [])
        if "parameters" in tags or "injected-parameters" in tags:
            assert "remove-cell" in tags


def test_a_bad_parameter_is_refused_and_keeps_the_old_book(built_book):
    root, html = built_book
    before = (html / "index.html").read_text()
    chapter = (root / "book" / "chapters" / "02_data.ipynb").read_bytes()
    with pytest.raises(params.ParameterError, match="^parameter 'sigma_train' of notebook"):
        pipeline.build_book("quick", {"data": {"sigma_train": -1.0}}, ["data"], root=root,
                            log=lambda *_: None)
    assert (html / "index.html").read_text() == before
    assert (root / "book" / "chapters" / "02_data.ipynb").read_bytes() == chapter


# ----------------------------------------------------------- what a reader of the book meets

CLAIM_PAGES = ("Z_scorecard", "Zz_summary")  # pages of stored claims: no runs, no code


def _chapter_pages(html):
    return {p.stem: p.read_text() for p in sorted((html / "book" / "chapters").glob("*.html"))}


def _text(page: str) -> str:
    """The visible text of a page: no scripts, styles or tags."""
    page = re.sub(r"(?s)<(script|style)\b.*?</\1>", "", page)
    return re.sub("<[^>]+>", " ", page)


def test_no_page_loads_a_script_from_the_network(built_book):
    _, html = built_book
    pages = sorted(html.rglob("*.html"))
    assert len(pages) >= 10
    for page in pages:
        for src in re.findall(r'<script\b[^>]*\bsrc="([^"]*)"', page.read_text()):
            assert not re.match(r"(?i)(https?:)?//", src), (page.name, src)
    assert (html / "_static" / "mathjax" / "tex-chtml.js").exists()
    assert "_static/mathjax/tex-chtml.js" in (html / "book" / "chapters" / "03_noise.html").read_text()


def test_provenance_is_a_real_table_in_every_chapter(built_book):
    _, html = built_book
    for stem, page in _chapter_pages(html).items():
        if stem in CLAIM_PAGES:
            continue
        assert '<table class="table wtm-parameters">' in page, stem
        assert re.search(r"<td><em>commit</em></td>", page), stem
        assert "|---|" not in _text(page) and "| parameter | value |" not in _text(page), stem


def test_readers_meet_figures_and_prose_not_plumbing_or_warnings(built_book):
    root, html = built_book
    display_tags = {"hide-input", "remove-input", "remove-cell", "parameters",
                    "injected-parameters"}
    for stem, page in _chapter_pages(html).items():
        nb = nbformat.read(root / "book" / "chapters" / f"{stem}.ipynb", as_version=4)
        for cell in nb.cells:
            if cell.cell_type != "code":
                continue
            assert display_tags & set(cell.metadata.get("tags", [])), (stem, cell.source[:60])
            assert pipeline.PROGRESS_TAG not in cell.metadata.get("tags", []), stem
            for out in cell.outputs:
                assert out.get("output_type") != "error", stem
                assert not (out.get("output_type") == "stream" and out.get("name") == "stderr"), \
                    (stem, out.get("text", "")[:200])
        text = _text(page)
        assert "from wtmlib import" not in text, stem  # the setup cell's input is removed
        assert "store.save(" not in text, stem  # claims recording is removed
        assert "Warning" not in text and "Traceback" not in text, stem
        if stem not in CLAIM_PAGES:
            assert "tag_hide-input" in page, stem  # analysis code is folded


def test_wide_tables_scroll_and_their_headers_are_words(built_book):
    _, html = built_book
    page = (html / "book" / "chapters" / "04b_ablation.html").read_text()
    assert '<div class="wtm-scroll">' in page
    headers = re.findall(r"<th[^>]*>([^<]*)</th>", page)
    assert "test accuracy" in headers and "rank_corr_active_median" not in headers


def test_a_quick_book_marks_itself_as_a_preview(built_book, monkeypatch, capsys):
    from wtmlib.build.cli import main

    root, html = built_book
    for stem, page in _chapter_pages(html).items():
        assert "Preview at reduced size" in page, stem
    card = (html / "book" / "chapters" / "Z_scorecard.html").read_text()
    assert "preview: " in card
    assert "#f8d7da" not in card and "#d4edda" not in card  # no red or green verdicts
    monkeypatch.setenv("WTM_RESULTS", str(root / "results"))
    main(["claims", "--profile", "quick"])
    assert "PREVIEW" in capsys.readouterr().out


# ------------------------------------------------- the built pages in a headless browser

OFFLINE = "--host-resolver-rules=MAP * ~NOTFOUND"  # no host resolves: a page works offline
BROWSER_PAGES = ["book/intro.html", "book/chapters/03_noise.html",
                 "book/chapters/Z_scorecard.html", "book/chapters/Zz_summary.html"]
NO_CHROMIUM = ("no Chromium: none on PATH (chromium, chromium-browser, google-chrome) and "
               "Playwright's own not installed (python -m playwright install chromium)")


@functools.cache
def chromium() -> str | None:
    """A Chromium to drive, the first that starts: the system's (chromium,
    chromium-browser), else the one Playwright installed, else Google Chrome; None when
    there is none."""
    def playwrights() -> str | None:
        try:
            from playwright.sync_api import sync_playwright  # noqa: PLC0415
            with sync_playwright() as p:
                return p.chromium.executable_path
        except Exception:  # noqa: BLE001 - no Playwright, or no driver: look further
            return None

    def starts(path: str | None) -> bool:
        try:
            return bool(path) and subprocess.run([path, "--version"], capture_output=True,
                                                 timeout=60).returncode == 0
        except (OSError, subprocess.SubprocessError):
            return False

    for found in (lambda: shutil.which("chromium"), lambda: shutil.which("chromium-browser"),
                  playwrights, lambda: shutil.which("google-chrome")):
        path = found()
        if starts(path):
            return path
    return None


def browse(page, screenshot=None, budget_ms: int = 5000) -> str:
    """The DOM of ``page`` after its scripts ran (MathJax included) in headless
    Chromium with no network; also a 1400x3000 screenshot when ``screenshot``."""
    base = [chromium(), "--headless=new", "--no-sandbox", "--disable-gpu", OFFLINE,
            f"--virtual-time-budget={budget_ms}"]
    url = Path(page).resolve().as_uri()
    if screenshot:
        subprocess.run([*base, f"--screenshot={screenshot}", "--window-size=1400,3000", url],
                       capture_output=True, timeout=120, check=True)
    return subprocess.run([*base, "--dump-dom", url], capture_output=True, text=True,
                          timeout=120, check=True).stdout


def rendering_problems(dom: str) -> list[str]:
    """What a reader would see broken in a rendered page: raw LaTeX, raw markdown tables,
    error outputs or warnings."""
    text = _text(re.sub(r"(?s)<mjx-assistive-mml\b.*?</mjx-assistive-mml>", "", dom))
    problems = []
    for raw in (r"\(", r"\)", r"\sigma", r"\text{", "$$"):
        if raw in text:
            problems.append(f"raw LaTeX {raw!r}")
    if re.search(r"\|\s*-{3,}\s*\|", text):
        problems.append("a raw markdown table")
    for bad in ("Traceback", "Error:", "Warning:", "RuntimeWarning"):
        if bad in text:
            problems.append(f"an error output ({bad})")
    return problems


def test_pages_render_offline_in_a_headless_browser(built_book, tmp_path):
    if chromium() is None:
        pytest.skip(NO_CHROMIUM)
    _, html = built_book
    for rel in BROWSER_PAGES:
        dom = browse(html / rel, tmp_path / (Path(rel).stem + ".png"))
        assert rendering_problems(dom) == [], rel
        if rel not in ("book/chapters/Z_scorecard.html", "book/chapters/Zz_summary.html"):
            assert "<mjx-container" in dom, rel  # MathJax ran, from _static
        assert (tmp_path / (Path(rel).stem + ".png")).stat().st_size > 10_000
    # the neuron explorer draws its panels in the page, without a kernel
    dom = browse(html / "book" / "chapters" / "Y_explorer.html")
    assert dom.count("<polyline") >= 2 and "by |W2|" in dom
    assert rendering_problems(dom) == []


# ------------------------------------------- a reader at work: Playwright drives the pages

@pytest.fixture(scope="module")
def reader():
    """Headless Chromium driven by Playwright (the system's Chromium, else Playwright's
    own), with no network: the book is read from file:// URLs, as a downloaded copy is."""
    try:
        from playwright.sync_api import sync_playwright  # noqa: PLC0415
    except ImportError:
        pytest.skip("Playwright is not installed (a dev dependency: pip install -e '.[dev]')")
    if chromium() is None:
        pytest.skip(NO_CHROMIUM)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium(),
                                    args=["--no-sandbox", "--disable-gpu", OFFLINE])
        yield browser
        browser.close()


# what the jupyter-book 1 theme itself logs on every page, the book's scripts aside:
# sphinx-thebe's settings written twice into the head, and the theme's colour mode not
# yet stored (a file:// page starts without it)
THEME_NOISE = ("Identifier 'THEBE_JS_URL' has already been declared",
               "Got invalid theme mode: . Resetting to auto.")


class Visit:
    """One page open in ``reader``, and what went wrong in it (``errors``): script errors,
    console errors (a file that did not load), requests that left the machine; the
    theme's own messages (``THEME_NOISE``) left out."""

    def __init__(self, browser, path: Path):
        self.context = browser.new_context(viewport={"width": 1400, "height": 1000})
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("pageerror", lambda e: self._error(f"script: {e}"))
        self.page.on("console", lambda m: self._error(f"console: {m.text}")
                     if m.type == "error" else None)
        self.page.on("request", lambda r: None if r.url.startswith(("file:", "data:", "blob:"))
                     else self.errors.append(f"network: {r.url}"))
        self.page.goto(Path(path).resolve().as_uri(), wait_until="load")

    def _error(self, text: str) -> None:
        if not any(noise in text for noise in THEME_NOISE):
            self.errors.append(text)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.context.close()
        return False


def test_the_explorer_redraws_for_another_neuron_and_another_model(built_book, reader):
    _, html = built_book
    with Visit(reader, html / "book" / "chapters" / "Y_explorer.html") as v:
        ex = v.page.locator(".wtm-explorer").first
        head, panels, neuron = ex.locator(".head"), ex.locator(".panels"), ex.locator(".neuron")

        def shown() -> tuple[str, str]:
            return head.inner_text(), panels.inner_html()

        first = shown()
        assert ex.locator(".panels svg").count() == 4, first[0]
        assert ex.locator(".panels polyline").count() >= 2
        n = int(neuron.input_value())
        width = int(re.search(r"of (\d+)", first[0]).group(1))
        other = (n + 1) % width
        neuron.fill(str(other))  # typing a neuron number redraws at once
        second = shown()
        assert second[0].startswith(f"neuron {other} of {width}:"), second[0]
        assert second[1] != first[1]  # its own pattern means, quantiles and signs
        ex.locator(".rank").fill("2")  # or by rank: the second largest |W2|
        third = shown()
        assert third[0].startswith(f"neuron {neuron.input_value()} of {width}:"), third[0]
        assert third[0].endswith("rank 2 by |W2|"), third[0]
        models = ex.locator("select.model option")
        assert models.count() >= 2, "the explorer offers one model only"
        label = models.nth(1).inner_text()
        ex.locator("select.model").select_option(index=1)
        fourth = shown()
        assert fourth[1] != third[1], label
        assert fourth[0].endswith("rank 1 by |W2|"), fourth[0]  # a new model: its top neuron
        neurons = re.search(r"\((\d+) neurons", label)
        if neurons:
            assert f" of {neurons.group(1)}:" in fourth[0], (label, fourth[0])
        assert ex.locator(".panels svg").count() == 4
        assert ex.locator(".panels polyline").count() >= 2
        assert v.errors == []


def _shown_rows(page) -> list[dict]:
    """The scorecard's rows a reader sees: their counted column and verdict cell."""
    return page.eval_on_selector_all(
        "table.wtm-scorecard tr.wtm-claim",
        "rows => rows.filter(r => r.offsetParent !== null).map(r => ({counted: "
        "r.dataset.counted, section: r.dataset.section, verdict: r.cells[4].innerText}))")


def test_the_scorecard_filter_shows_only_the_chosen_column(built_book, reader):
    _, html = built_book
    with Visit(reader, html / "book" / "chapters" / "Z_scorecard.html") as v:
        page = v.page
        bar = page.locator(".wtm-filter")
        assert bar.is_visible()  # the script showed it
        total = page.locator("table.wtm-scorecard tr.wtm-claim").count()
        assert len(_shown_rows(page)) == total > 0
        buttons = bar.locator("button")
        narrowed = 0
        for i in range(buttons.count()):
            button = buttons.nth(i)
            column = button.get_attribute("data-counted")
            expected = int(re.search(r"\((\d+)\)", button.inner_text()).group(1))
            button.click()
            rows = _shown_rows(page)
            assert len(rows) == expected, (column, button.inner_text())
            assert button.get_attribute("aria-pressed") == "true"
            if column:
                narrowed += expected < total
                assert {r["counted"] for r in rows} == {column}
                for r in rows:  # the verdict a reader reads names the column
                    assert re.search(rf"(?<!not ){re.escape(column)}", r["verdict"]), (column, r)
        assert narrowed >= 2  # at least two columns, each a part of the claims
        # one section on top of one column
        column = buttons.nth(1).get_attribute("data-counted")
        buttons.nth(1).click()
        section = _shown_rows(page)[0]["section"]
        page.locator(".wtm-filter select").select_option(section)
        rows = _shown_rows(page)
        assert rows and all(r["counted"] == column and r["section"] == section for r in rows)
        buttons.nth(0).click()  # "all": every column of that section
        page.locator(".wtm-filter select").select_option("")
        assert len(_shown_rows(page)) == total
        assert v.errors == []


def test_a_claims_link_on_the_scorecard_opens_its_chapter(built_book, reader):
    _, html = built_book
    chapters = html / "book" / "chapters"
    with Visit(reader, chapters / "Z_scorecard.html") as v:
        page = v.page
        links = page.eval_on_selector_all("tr.wtm-claim td:first-child a",
                                          "as => as.map(a => a.getAttribute('href'))")
        assert links and all((chapters / href).exists() for href in links), links
        page.locator(".wtm-filter button[data-counted='reproduced']").click()
        row = page.locator("tr.wtm-claim:visible").first
        claim = row.locator("td:first-child a")
        href = claim.get_attribute("href")
        claim.click()
        page.wait_for_url(f"**/{href}")
        page.wait_for_load_state("load")
        title = page.locator("h1:visible").first.inner_text()
        assert title.strip() and "404" not in title
        assert page.locator("table.wtm-parameters").count() == 1  # a chapter, its provenance
        assert page.locator("img").count() >= 1  # with its figures
        assert v.errors == []


def test_the_first_page_shows_the_claims_figure(built_book, reader):
    _, html = built_book
    with Visit(reader, html / "index.html") as v:
        page = v.page
        page.wait_for_url("**/book/chapters/Zz_summary.html")  # the root redirects there
        page.wait_for_load_state("load")
        caption = page.locator("p", has_text="Every claim as a row on its own axis").first
        caption.scroll_into_view_if_needed()
        figure = caption.locator("xpath=preceding-sibling::*[1][self::img]")
        assert figure.count() == 1, "no figure right above the claims figure's caption"
        assert figure.evaluate("img => img.complete && img.naturalWidth > 0")  # it loaded
        box = figure.bounding_box()
        assert box and box["width"] >= 400 and box["height"] >= 200, box
        assert figure.is_visible()
        assert v.errors == []


if __name__ == "__main__":
    # python tests/test_book.py [_build/html] [out_dir]: check a built book's pages in
    # headless Chromium and keep their screenshots
    html = Path(sys.argv[1] if len(sys.argv) > 1 else params.ROOT / "_build" / "html")
    out = Path(sys.argv[2] if len(sys.argv) > 2 else "book_screenshots")
    out.mkdir(parents=True, exist_ok=True)
    failed = 0
    for rel in BROWSER_PAGES:
        shot = out / (Path(rel).stem + ".png")
        problems = rendering_problems(browse(html / rel, shot))
        failed += bool(problems)
        print(f"{rel}: {'; '.join(problems) or 'ok'} -> {shot}")
    sys.exit(1 if failed else 0)
