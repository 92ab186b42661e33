"""The results as one download (``wtm results pack``/``fetch``): what is packed, what a
fetch refuses (damage, truncation, another numerics version, unsafe entries), resuming
an interrupted download over HTTP, and that a refused archive installs nothing."""

import hashlib
import io
import json
import re
import tarfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from wtmlib.build import cli
from wtmlib.results import archive, cache


# ------------------------------------------------------------------------------ fixtures

def _result(experiment, seed, root, n=400):
    config = {"seed": seed, "n": n}
    rng = np.random.default_rng(seed)
    arrays = {"w": rng.normal(size=(n, 3)).astype(np.float32), "counts": np.arange(n)}
    return cache.save(cache.Result(config, arrays, {"acc": 0.5 + seed / 100},
                                   cache.config_key(config)), experiment, root)


@pytest.fixture
def stored(tmp_path):
    """A small results folder: three results in two experiments."""
    root = tmp_path / "src"
    made = [_result("runs", 0, root), _result("runs", 1, root), _result("section4", 2, root)]
    return root, {(exp, r.key): r for exp, r in zip(("runs", "runs", "section4"), made)}


@pytest.fixture
def packed(stored, tmp_path):
    root, results = stored
    out = tmp_path / "wtm-results-paper.tar"
    archive.pack(out, "paper", root, progress=False)
    return out, results


def _snapshot(root: Path) -> dict:
    """Every path under ``root`` with its bytes' hash (None for folders)."""
    if not root.exists():
        return {"<absent>": None}
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            if p.is_file() else None for p in sorted(root.rglob("*"))}


def _assert_installed(root, results):
    for (exp, key), r in results.items():
        back = cache.load(exp, key, root)
        assert back is not None and back.arrays.keys() == r.arrays.keys()
        for name in r.arrays:
            np.testing.assert_array_equal(back[name], r[name])
        assert back.metrics == r.metrics
    assert not list(root.glob(".fetch-*")), "the staging folder is removed"


def _members(path: Path) -> list[tuple[tarfile.TarInfo, bytes]]:
    with tarfile.open(path) as tar:
        return [(m, tar.extractfile(m).read() if m.isreg() else b"") for m in tar.getmembers()]


def _write(path: Path, members) -> Path:
    with tarfile.open(path, "w") as tar:
        for m, data in members:
            m.size = len(data) if m.isreg() else 0
            tar.addfile(m, io.BytesIO(data) if m.isreg() else None)
    return path


def _flip(data: bytes) -> bytes:
    i = len(data) // 2
    return data[:i] + bytes([data[i] ^ 0xFF]) + data[i + 1:]


# ------------------------------------------------------------------------------ a server

class _State:
    """What the test server does: serve ``data``; honour Range or not; send
    Content-Length or not; drop the connection at byte ``cut_at`` for ``cuts`` requests."""

    def __init__(self, data: bytes):
        self.data, self.ranges, self.length = data, True, True
        self.cut_at, self.cuts = None, 0
        self.requests: list[str | None] = []  # the Range header of each request


@pytest.fixture
def server():
    state = _State(b"")

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_):
            pass

        def do_GET(self):
            data, rng = state.data, self.headers.get("Range")
            state.requests.append(rng)
            start = 0
            if rng and state.ranges:
                start = int(re.fullmatch(r"bytes=(\d+)-", rng).group(1))
                if start >= len(data):
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{len(data)}")
                    self.end_headers()
                    return
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            else:
                self.send_response(200)
            body = data[start:]
            if state.length:
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if state.cuts and state.cut_at is not None:
                state.cuts -= 1
                body = body[:max(0, state.cut_at - start)]  # then the connection closes
            self.wfile.write(body)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{httpd.server_port}/wtm-results-paper.tar"
    yield state
    httpd.shutdown()
    httpd.server_close()


# ---------------------------------------------------------------------------------- pack

def test_pack_holds_the_current_complete_results_and_a_manifest_first(stored, tmp_path):
    root, results = stored
    (root / "runs" / "0123456789abcdef.ckpt.pt").write_bytes(b"training state")
    (root / "runs" / "notes.txt").write_text("not a result")
    stale = _result("runs", 7, root)  # a result whose key is not its configuration's
    cache.paths("runs", stale.key, root)[1].rename(root / "runs" / "00000000000000aa.json")
    damaged = _result("runs", 8, root)
    npz = cache.paths("runs", damaged.key, root)[0]
    npz.write_bytes(_flip(npz.read_bytes()))
    out = tmp_path / "a.tar"
    manifest = archive.pack(out, "quick", root, progress=False)
    members = _members(out)
    assert members[0][0].name == "MANIFEST.json"
    on_disk = json.loads(members[0][1])
    assert on_disk == {k: v for k, v in manifest.items() if k != "skipped"}
    names = sorted(m.name for m, _ in members[1:])
    assert names == sorted(f"{e}/{k}.{s}" for e, k in results for s in ("npz", "json"))
    assert on_disk["numerics"] == cache.NUMERICS_VERSION and on_disk["profile"] == "quick"
    assert on_disk["results"] == 3 and {"wtmlib", "commit", "created"} <= set(on_disk)
    for (m, data), entry in zip(members[1:], on_disk["files"]):
        assert (m.name, m.size, hashlib.sha256(data).hexdigest()) == \
            (entry["path"], entry["bytes"], entry["sha256"])
        assert m.isreg() and m.mode == 0o644
    assert on_disk["total_bytes"] == sum(e["bytes"] for e in on_disk["files"])
    skipped = " ".join(manifest["skipped"])
    assert "00000000000000aa" in skipped and f"{damaged.key}: damaged" in skipped


def test_an_empty_results_folder_is_not_packed(tmp_path):
    with pytest.raises(archive.ArchiveError, match="no complete results"):
        archive.pack(tmp_path / "a.tar", "paper", tmp_path / "none", progress=False)
    assert not (tmp_path / "a.tar").exists()


# ----------------------------------------------------------------------------- fetching

def test_a_local_archive_installs_and_loads_equal(packed, tmp_path):
    out, results = packed
    root = tmp_path / "dest"
    done = archive.fetch(str(out), root, progress=False)
    assert sorted(done.installed) == sorted(f"{e}/{k}" for e, k in results)
    _assert_installed(root, results)
    again = archive.fetch(str(out), root, progress=False)  # identical files are kept as they are
    assert again.installed == [] and len(again.identical) == 3
    assert out.exists(), "a local archive is never deleted"


def test_a_gzipped_archive_installs_too(stored, tmp_path):
    root, results = stored
    out = tmp_path / "a.tar.gz"
    archive.pack(out, "paper", root, progress=False)
    archive.fetch(str(out), tmp_path / "dest", progress=False)
    _assert_installed(tmp_path / "dest", results)


def test_an_http_download_installs_and_leaves_no_partial_file(packed, server, tmp_path):
    out, results = packed
    server.data = out.read_bytes()
    root = tmp_path / "dest"
    archive.fetch(server.url, root, progress=False)
    _assert_installed(root, results)
    assert not archive.partial_path(server.url, root).exists()
    assert server.requests == [None]


def test_a_cut_download_is_resumed_with_a_range_request(packed, server, tmp_path):
    out, results = packed
    server.data, server.cut_at, server.cuts = out.read_bytes(), 5000, 1
    root = tmp_path / "dest"
    archive.fetch(server.url, root, retries=2, progress=False)
    assert server.requests == [None, "bytes=5000-"]
    _assert_installed(root, results)


def test_an_interrupted_fetch_leaves_only_the_partial_file_and_a_rerun_resumes(
        packed, server, tmp_path, monkeypatch, capsys):
    out, results = packed
    server.data = out.read_bytes()
    root = tmp_path / "dest"

    class Interrupted(archive.tqdm):  # Ctrl+C after the first chunk
        def update(self, n=1):
            super().update(n)
            raise KeyboardInterrupt

    monkeypatch.setattr(archive, "CHUNK", 4096)
    monkeypatch.setattr(archive, "tqdm", Interrupted)
    before = _snapshot(tmp_path)
    assert cli.main(["results", "fetch", server.url, "--root", str(root)]) == 130
    part = archive.partial_path(server.url, root)
    assert "partial download" in capsys.readouterr().err
    assert set(_snapshot(tmp_path)) - set(before) == {part.name}  # only the partial file
    assert part.stat().st_size == 4096
    monkeypatch.undo()
    assert cli.main(["results", "fetch", server.url, "--root", str(root)]) == 0
    assert server.requests[-1] == "bytes=4096-"
    _assert_installed(root, results)
    assert not part.exists()


def test_a_server_that_ignores_range_is_read_again_from_the_start(packed, server, tmp_path):
    out, results = packed
    server.data, server.ranges = out.read_bytes(), False
    root = tmp_path / "dest"
    part = archive.partial_path(server.url, root)
    part.write_bytes(b"garbage from an older download" * 10)
    archive.fetch(server.url, root, progress=False)
    assert server.requests == ["bytes=300-"]
    _assert_installed(root, results)


def test_a_download_that_stays_cut_is_refused_kept_and_resumed_later(packed, server, tmp_path):
    out, results = packed
    server.data, server.ranges, server.cut_at, server.cuts = out.read_bytes(), False, 3000, 99
    root = tmp_path / "dest"
    with pytest.raises(archive.ArchiveError, match="incomplete after 2 tries"):
        archive.fetch(server.url, root, retries=1, progress=False)
    assert not root.exists(), "nothing installed"
    part = archive.partial_path(server.url, root)
    assert part.stat().st_size == 3000
    server.ranges, server.cuts = True, 0  # the server mends
    archive.fetch(server.url, root, progress=False)
    assert server.requests[-1] == "bytes=3000-"
    _assert_installed(root, results)


def test_cut_content_without_a_length_is_refused_and_nothing_installed(packed, server, tmp_path):
    out, _ = packed
    server.data, server.length, server.cut_at, server.cuts = out.read_bytes(), False, 6000, 99
    root = tmp_path / "dest"
    _result("runs", 5, root)
    before = _snapshot(root)
    with pytest.raises(archive.ArchiveError, match="truncated"):
        archive.fetch(server.url, root, progress=False)
    assert _snapshot(root) == before
    assert not archive.partial_path(server.url, root).exists(), "a refused download is deleted"


def test_a_damaged_file_inside_the_archive_is_refused(packed, tmp_path):
    out, results = packed
    members = _members(out)
    npz_name = next(m.name for m, _ in members if m.name.endswith(".npz"))
    bad = _write(tmp_path / "bad.tar", [(m, _flip(d) if m.name == npz_name else d)
                                        for m, d in members])
    root = tmp_path / "dest"
    _result("runs", 5, root)
    before = _snapshot(root)
    with pytest.raises(archive.ArchiveError, match=re.escape(f"'{npz_name}' does not match")):
        archive.fetch(str(bad), root, progress=False)
    assert _snapshot(root) == before


def test_a_damaged_result_with_a_matching_manifest_fails_the_caches_checks(packed, tmp_path):
    out, _ = packed
    members = _members(out)
    manifest = json.loads(members[0][1])
    entry = next(e for e in manifest["files"] if e["path"].endswith(".npz"))
    edited = []
    for m, data in members[1:]:
        if m.name == entry["path"]:
            data = _flip(data)
            entry["sha256"] = hashlib.sha256(data).hexdigest()
        edited.append((m, data))
    bad = _write(tmp_path / "bad.tar", [(members[0][0], json.dumps(manifest).encode())] + edited)
    root = tmp_path / "dest"
    with pytest.raises(archive.ArchiveError, match="fails the cache's checks") as err:
        archive.fetch(str(bad), root, progress=False)
    assert entry["path"][:-len(".npz")] in str(err.value)
    assert not root.exists()


def test_another_numerics_version_is_refused_naming_both(packed, tmp_path, monkeypatch):
    out, _ = packed
    ours = cache.NUMERICS_VERSION
    monkeypatch.setattr(cache, "NUMERICS_VERSION", ours + 97)
    with pytest.raises(archive.ArchiveError) as err:
        archive.fetch(str(out), tmp_path / "dest", progress=False)
    text = str(err.value)
    assert f"numerics version {ours}," in text and f"numerics version {ours + 97}" in text
    assert "commit" in text
    assert not (tmp_path / "dest").exists()


def _link(name, kind, target="runs/0123456789abcdef.json"):
    m = tarfile.TarInfo(name)
    m.type, m.linkname = kind, target
    return m


@pytest.mark.parametrize("member, reason", [
    (tarfile.TarInfo("../evil.json"), "leaves the results folder"),
    (tarfile.TarInfo("runs/../../0123456789abcdef.json"), "leaves the results folder"),
    (tarfile.TarInfo("/tmp/0123456789abcdef.json"), "an absolute path"),
    (_link("runs/0123456789abcdef.json", tarfile.SYMTYPE, "/etc/passwd"), "a symbolic link"),
    (_link("runs/0123456789abcdef.npz", tarfile.LNKTYPE), "a hard link"),
    (_link("runs/0123456789abcdef.npz", tarfile.CHRTYPE, ""), "not a regular file"),
    (tarfile.TarInfo("runs/0123456789abcdef.ckpt.pt"), "not a result file"),
    (tarfile.TarInfo("runs/0123456789abcdef.json"), "not in MANIFEST.json"),
])
def test_unsafe_or_unlisted_entries_are_refused(packed, tmp_path, member, reason):
    out, _ = packed
    members = _members(out)
    bad = _write(tmp_path / "bad.tar", members[:2] + [(member, b"{}")] + members[2:])
    root = tmp_path / "dest"
    _result("runs", 5, root)
    before = _snapshot(root)
    with pytest.raises(archive.ArchiveError, match=re.escape(reason)) as err:
        archive.fetch(str(bad), root, progress=False)
    assert repr(member.name) in str(err.value)
    assert _snapshot(root) == before
    assert not (tmp_path / "evil.json").exists()


def test_a_manifest_that_is_not_first_or_a_missing_file_is_refused(packed, tmp_path):
    out, _ = packed
    members = _members(out)
    with pytest.raises(archive.ArchiveError, match="first entry must be MANIFEST.json"):
        archive.fetch(str(_write(tmp_path / "a.tar", members[1:] + members[:1])),
                      tmp_path / "dest", progress=False)
    with pytest.raises(archive.ArchiveError, match=re.escape(f"first {members[-1][0].name!r}")):
        archive.fetch(str(_write(tmp_path / "b.tar", members[:-1])), tmp_path / "dest",
                      progress=False)
    (tmp_path / "c.tar").write_bytes(b"not an archive" * 100)
    with pytest.raises(archive.ArchiveError, match="not a readable tar"):
        archive.fetch(str(tmp_path / "c.tar"), tmp_path / "dest", progress=False)
    assert not (tmp_path / "dest").exists()


def test_local_results_are_kept_unless_damaged_or_replaced(packed, tmp_path):
    out, results = packed
    (exp0, key0), (exp1, key1), (exp2, key2) = sorted(results)
    root = tmp_path / "dest"
    archive.fetch(str(out), root, progress=False)
    # the same run made elsewhere: another valid result under the same key
    mine = results[(exp0, key0)]
    cache.save(cache.Result(mine.config, {"w": np.zeros(2)}, mine.metrics, key0), exp0, root)
    npz = cache.paths(exp1, key1, root)[0]  # a damaged local result
    npz.write_bytes(_flip(npz.read_bytes()))
    cache.paths(exp2, key2, root)[1].unlink()  # an incomplete one (no JSON)
    done = archive.fetch(str(out), root, progress=False)
    assert done.kept == [f"{exp0}/{key0}"]
    assert sorted(done.replaced) == sorted([f"{exp1}/{key1}", f"{exp2}/{key2}"])
    np.testing.assert_array_equal(cache.load(exp0, key0, root)["w"], np.zeros(2))
    done = archive.fetch(str(out), root, replace=True, progress=False)
    assert done.replaced == [f"{exp0}/{key0}"]
    _assert_installed(root, results)


# ---------------------------------------------------------------------------------- wtm

def test_the_command_packs_and_fetches(stored, tmp_path, capsys):
    root, results = stored
    out = tmp_path / "r.tar"
    assert cli.main(["results", "pack", "--root", str(root), "--out", str(out)]) == 0
    assert "packed 3 result(s)" in capsys.readouterr().out
    assert cli.main(["results", "fetch", str(out), "--root", str(tmp_path / "d")]) == 0
    assert "3 new" in capsys.readouterr().out
    _assert_installed(tmp_path / "d", results)


@pytest.mark.parametrize("argv, says", [
    (["results", "fetch", "ftp://example.org/r.tar"], "scheme 'ftp' is not supported; give an "
                                                      "http or https URL"),
    (["results", "fetch", "no/such/archive.tar"], "SRC 'no/such/archive.tar': no such file"),
    (["results", "pack", "--profile", "huge"], "profile 'huge' does not exist; choose from"),
])
def test_bad_input_names_the_parameter(argv, says, tmp_path, capsys):
    assert cli.main(argv + ["--root", str(tmp_path / "r")]) == 1
    assert says in capsys.readouterr().err


def test_an_unknown_action_lists_the_allowed_ones(capsys):
    with pytest.raises(SystemExit) as stop:
        cli.main(["results", "unpack"])
    assert stop.value.code == 2
    assert "invalid choice: 'unpack' (choose from 'pack', 'fetch')" in capsys.readouterr().err
