"""The library's arrows point one way (README, Layout): the core (``wtmlib/*.py``: data,
model, Layca, recorder, configs) imports no subpackage; ``analysis`` reads arrays with the
core alone; ``claims`` never reaches up into ``book`` or ``build``; only ``build`` (what
``wtm`` runs) uses ``perf``. Every import is read, those inside functions too."""

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LIB = ROOT / "wtmlib"
CORE = {"config", "data", "mnist", "model", "optim", "record"}
# what each part may import besides itself and the core
ALLOWED = {
    "core": set(),
    "training": set(),
    "results": {"training"},
    "analysis": set(),
    "claims": {"training", "results", "analysis"},
    "book": {"training", "results", "analysis", "claims"},
    "perf": {"training", "results"},
    "build": {"training", "results", "analysis", "claims", "book", "perf"},
}


def part(module: str) -> str:
    """``wtmlib.results.cache`` -> ``results``; a core module (or the package) -> ``core``."""
    parts = module.split(".")
    return "core" if len(parts) < 2 or parts[1] in CORE or parts[1] == "__version__" else parts[1]


def module_of(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    return ".".join(rel.parts[:-1] if rel.name == "__init__" else rel.parts)


def imports(path: Path) -> list[tuple[int, str]]:
    """``(line, module)`` of every wtmlib import in ``path``, relative ones resolved."""
    here = module_of(path).split(".")
    package = here if path.name == "__init__.py" else here[:-1]
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names if a.name.split(".")[0] == "wtmlib"]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - node.level + 1]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            if name.split(".")[0] != "wtmlib":
                continue
            # ``from wtmlib.results import cache`` imports the module wtmlib.results.cache
            out += [(node.lineno, f"{name}.{a.name}" if name.count(".") < 1 else name)
                    for a in node.names]
    return out


def violations(root: Path = LIB) -> list[str]:
    bad = []
    for path in sorted(root.rglob("*.py")):
        mine = part(module_of(path))
        for line, target in imports(path):
            theirs = part(target)
            if theirs in (mine, "core"):
                continue
            if theirs not in ALLOWED[mine]:
                bad.append(f"{path.relative_to(ROOT)}:{line}: {mine} imports {target} ({theirs})")
    return bad


def test_every_module_belongs_to_a_part():
    for path in LIB.rglob("*.py"):
        assert part(module_of(path)) in ALLOWED, path
    assert {p.stem for p in LIB.glob("*.py")} == CORE | {"__init__"}


def test_the_arrows_point_one_way():
    assert violations() == []


@pytest.mark.parametrize("planted, where", [
    ("from wtmlib.results import cache\n", "model.py"),  # the core reaches into a subpackage
    ("from wtmlib.results.runs import run\n", "analysis/stats.py"),  # analysis beyond the core
    ("from wtmlib.book import report\n", "claims/registry.py"),  # claims reaches up
    ("from wtmlib.build.plan import Plan\n", "claims/store.py"),
    ("import wtmlib.perf.flops\n", "book/plots.py"),  # only build uses perf
    ("from ..perf import bench\n", "results/runs.py"),  # relative imports are read too
])
def test_a_planted_wrong_way_import_is_caught(tmp_path, planted, where):
    copy = tmp_path / "wtmlib"
    for path in LIB.rglob("*.py"):
        dest = copy / path.relative_to(LIB)
        dest.parent.mkdir(parents=True, exist_ok=True)
        text = path.read_text()
        if path.relative_to(LIB).as_posix() == where:
            text = planted + text
        dest.write_text(text)
    global ROOT
    saved, ROOT = ROOT, tmp_path
    try:
        found = violations(copy)
    finally:
        ROOT = saved
    assert len(found) == 1 and found[0].startswith(f"wtmlib/{where}:1:"), found


def test_the_readme_names_only_paths_that_exist():
    readme = (ROOT / "README.md").read_text()
    named = set(re.findall(r"`((?:wtmlib|notebooks|book|tests)/[\w/.]*)`", readme))
    assert len(named) >= 8, named
    missing = [p for p in sorted(named) if not (ROOT / p).exists()]
    assert missing == []


def test_checking_parameters_and_reading_claims_need_no_torch():
    """``wtm params``, ``wtm claims`` and the parameter checks start without torch."""
    code = ("import sys, wtmlib.build.cli, wtmlib.build.pipeline, wtmlib.claims.scorecard; "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=ROOT).stdout.strip()
    assert out == "False"
