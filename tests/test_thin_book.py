"""Thinning changes no verdict and no figure: the quick book built from whole results,
and again from a copy thinned by ``wtm cache --thin``, must store the same claims
(values, intervals, nulls, verdicts, notes) and execute to the same outputs (every
figure's PNG, every table and text) in every chapter (slow).

Also a script, to compare two builds made by hand:

    python tests/test_thin_book.py RESULTS_A CHAPTERS_A RESULTS_B CHAPTERS_B [PROFILE]
"""

import json
import re
import shutil
import sys
from pathlib import Path

import nbformat
import pytest

# what a stored claim records about when and where it was measured, not what
PROVENANCE = ("time", "commit", "wtmlib")
# the same in a chapter's provenance box (its first cell's output): the commit
COMMIT = re.compile(r"(commit(?:</em></td><td>| )<code>|commit = ')[^<']*")


def claims(results: Path, profile: str = "quick") -> dict:
    """Every stored claim of ``profile`` (its readings and controls too), by file,
    without its provenance; NaN compared as text."""
    folder = Path(results) / "claims" / profile
    return {str(p.relative_to(folder)): json.dumps(
        {k: v for k, v in json.loads(p.read_text()).items() if k not in PROVENANCE},
        sort_keys=True) for p in sorted(folder.rglob("*.json"))}


def outputs(chapters: Path) -> dict:
    """Every chapter's code-cell outputs (figures as PNG, tables, text), by chapter."""
    out = {}
    for path in sorted(Path(chapters).glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        out[path.stem] = [COMMIT.sub(r"\1", json.dumps(
            [{k: v for k, v in o.items() if k != "execution_count"}
             for o in cell.get("outputs", [])], sort_keys=True))
            for cell in nb.cells if cell.cell_type == "code"]
    return out


def differences(a: tuple, b: tuple, profile: str = "quick") -> list[str]:
    """What differs between two builds ``(results, chapters)``: claims, then outputs."""
    found = []
    ca, cb = claims(a[0], profile), claims(b[0], profile)
    if not ca:
        found.append(f"no claims stored under {a[0]}")
    for name in sorted(set(ca) | set(cb)):
        if ca.get(name) != cb.get(name):
            found.append(f"claim {name}: {ca.get(name)} != {cb.get(name)}")
    oa, ob = outputs(a[1]), outputs(b[1])
    if not oa:
        found.append(f"no executed chapters in {a[1]}")
    for chapter in sorted(set(oa) | set(ob)):
        cells_a, cells_b = oa.get(chapter, []), ob.get(chapter, [])
        if len(cells_a) != len(cells_b):
            found.append(f"{chapter}: {len(cells_a)} != {len(cells_b)} code cells")
        found += [f"{chapter}: cell {i} differs" for i, (x, y) in
                  enumerate(zip(cells_a, cells_b)) if x != y]
    return found


@pytest.mark.slow
def test_the_quick_book_is_the_same_from_thinned_results(tmp_path, monkeypatch):
    from wtmlib.book import params
    from wtmlib.build import cli, pipeline, thin
    from wtmlib.results import cache

    def copy_of_sources(root):
        root.mkdir()
        shutil.copy(params.ROOT / "_config.yml", root)
        shutil.copytree(params.ROOT / "book", root / "book", ignore=shutil.ignore_patterns(
            "chapters", ".chapters_staging", "_build"))
        return root

    whole, thinned = copy_of_sources(tmp_path / "whole"), copy_of_sources(tmp_path / "thinned")
    # the book from whole results: the build thins nothing
    monkeypatch.setattr(thin, "thin_stored", lambda *a, **k: dict(runs=0, before=0, after=0))
    monkeypatch.setenv("WTM_RESULTS", str(whole / "results"))
    pipeline.run_chapters("quick", root=whole, log=lambda *_: None)
    monkeypatch.undo()
    shutil.copytree(whole / "results", thinned / "results")
    assert not any(r["thinned"] for r in cache.stored(thinned / "results"))
    assert cli.main(["cache", "--thin", "--profile", "quick", "--root",
                     str(thinned / "results")]) == 0
    monkeypatch.setenv("WTM_RESULTS", str(thinned / "results"))
    runs = lambda: [(r["key"], r["thinned"]) for r in cache.stored(thinned / "results")]  # noqa: E731
    stored = runs()
    assert sum(thinned for _, thinned in stored) > len(stored) / 2
    shutil.rmtree(thinned / "results" / "claims")  # every claim measured again
    pipeline.run_chapters("quick", root=thinned, log=lambda *_: None)
    assert runs() == stored  # nothing trained again: the thinned runs hold what is read
    assert differences((whole / "results", whole / "book" / "chapters"),
                       (thinned / "results", thinned / "book" / "chapters")) == []


if __name__ == "__main__":
    a, b = (Path(sys.argv[1]), Path(sys.argv[2])), (Path(sys.argv[3]), Path(sys.argv[4]))
    diffs = differences(a, b, *(sys.argv[5:6] or ["quick"]))
    print("\n".join(diffs) or f"the same: {len(claims(a[0], *(sys.argv[5:6] or ['quick'])))} "
          f"claims, {sum(map(len, outputs(a[1]).values()))} code cells")
    sys.exit(1 if diffs else 0)
