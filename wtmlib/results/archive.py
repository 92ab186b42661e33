"""The stored results as one download: ``wtm results pack`` and ``wtm results fetch``.

Training the paper's runs takes hours; rendering the book from them takes minutes. As
in showyourwork, the slow part's output is cached and shared: a build packs its results
folder into one tar, published beside the book, and another checkout fetches it and
builds the book without training (``make book RESULTS=URL``). A fetched result is used
exactly as if trained here, so nothing from the archive is trusted until checked.

The archive is a plain tar (the ``.npz`` files are compressed already; ``.tar.gz`` is
read too). Its first member, ``MANIFEST.json``, names the numerics version, the library
version, the commit, the profile, the creation time and, for every other member
(``<experiment>/<16 hex>.npz|json``), its size and SHA-256. Only complete results of the
current numerics version are packed; checkpoints and other files never are.

``fetch`` downloads into a partial file beside the results folder (an interrupted
download leaves only that file and the same command resumes it with an HTTP Range
request; a server that ignores Range is read again from the start), then verifies
everything before installing anything: the manifest first and of this numerics version;
every member a regular file with a safe, relative result name, listed in the manifest
with its size and SHA-256, every listed file present; then each result passes the
cache's own checks (``cache.read``: its JSON's checksum, the arrays' checksum, arrays
read with ``allow_pickle=False``). The files are unpacked into a staging folder inside
the results folder (same file system) and only then moved into place, ``.npz`` first
and the JSON last, as ``cache.save`` writes them. A refused archive installs nothing.

A result already stored here under the same key is kept: identical files are left
alone, and a valid local result that differs from the archive's (the same run made on
another machine) stays, and is named, unless ``replace=True``. A damaged or incomplete
local result is replaced, and said so.
"""

from __future__ import annotations

import hashlib
import http.client
import io
import json
import os
import re
import shutil
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
import zlib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from tqdm import tqdm

from wtmlib import __version__
from wtmlib.results import cache
from wtmlib.results.provenance import git_commit
from wtmlib.training.files import sha256_file

MANIFEST = "MANIFEST.json"
FORMAT = 1  # of the manifest
MEMBER = re.compile(r"[A-Za-z0-9_-]+/[0-9a-f]{16}\.(npz|json)")  # experiment/key.suffix
SCHEMES = ("http", "https")
MAX_MANIFEST_BYTES = 64 << 20
CHUNK = 1 << 20


class ArchiveError(RuntimeError):
    """An archive or a download that cannot be installed; the message names the entry."""


# ---------------------------------------------------------------------------------- pack

def packable(root: Path | None = None) -> tuple[list[tuple[str, str, dict]], list[str]]:
    """``(experiment, key, json document)`` of every complete result of the current
    numerics version under ``root``, and a note for each stored result left out."""
    root = Path(root) if root else cache.results_root()
    keep, notes = [], []
    for row in cache.stored(root):
        exp, key = row["experiment"], row["key"]
        if row["numerics"] != cache.NUMERICS_VERSION:
            notes.append(f"{exp}/{key}: numerics version {row['numerics']}, not "
                         f"{cache.NUMERICS_VERSION}")
        elif not row["current"]:
            notes.append(f"{exp}/{key}: the key is not its configuration's hash")
        elif not MEMBER.fullmatch(f"{exp}/{key}.json"):
            notes.append(f"{exp}/{key}: not a result name (experiment/<16 hex>)")
        else:
            try:
                keep.append((exp, key, cache.check(exp, key, root)))
            except Exception as err:  # noqa: BLE001 - any damage: leave it out
                notes.append(f"{exp}/{key}: damaged ({type(err).__name__}: {err})")
    return keep, notes


class _Hashing:
    """A file read through SHA-256 (and a progress bar) on its way into the tar."""

    def __init__(self, f, bar):
        self.f, self.bar, self.sha = f, bar, hashlib.sha256()

    def read(self, n=-1):
        data = self.f.read(n)
        self.sha.update(data)
        self.bar.update(len(data))
        return data


def pack(out: Path, profile: str = "paper", root: Path | None = None,
         progress: bool = True) -> dict:
    """Write the current complete results under ``root`` into the tar ``out`` (gzip when
    it ends in ``.gz``/``.tgz``), ``MANIFEST.json`` first; return the manifest with the
    notes on what was left out under ``"skipped"``. ``profile`` is recorded, not used to
    choose: results are keyed by configuration, so every current result is packed."""
    root = Path(root) if root else cache.results_root()
    out = Path(out)
    results, notes = packable(root)
    if not results:
        raise ArchiveError(f"no complete results of numerics version {cache.NUMERICS_VERSION} "
                           f"in {root} (--root or $WTM_RESULTS); nothing packed")
    files = []
    for exp, key, doc in results:
        npz, meta = cache.paths(exp, key, root)
        files.append(dict(path=f"{exp}/{key}.npz", bytes=npz.stat().st_size,
                          sha256=doc["info"]["npz_sha256"]))
        files.append(dict(path=f"{exp}/{key}.json", bytes=meta.stat().st_size,
                          sha256=sha256_file(meta)))
    manifest = dict(format=FORMAT, numerics=cache.NUMERICS_VERSION, wtmlib=__version__,
                    commit=git_commit(), profile=profile,
                    created=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                    results=len(results), total_bytes=sum(f["bytes"] for f in files),
                    files=files)
    mode = "w:gz" if out.name.endswith((".gz", ".tgz")) else "w"
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
    os.close(fd)
    try:
        with tarfile.open(tmp, mode, format=tarfile.PAX_FORMAT) as tar, \
                _bar("pack", manifest["total_bytes"], 0, progress) as bar:
            blob = json.dumps(manifest, indent=1).encode()
            tar.addfile(_info(MANIFEST, len(blob)), io.BytesIO(blob))
            for entry in files:
                with open(root / entry["path"], "rb") as f:
                    src = _Hashing(f, bar)
                    tar.addfile(_info(entry["path"], entry["bytes"]), src)
                if src.sha.hexdigest() != entry["sha256"]:
                    raise ArchiveError(f"{root / entry['path']} changed while packing; "
                                       "pack again once no build writes results")
        os.chmod(tmp, 0o644)
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return dict(manifest, skipped=notes)


def _bar(desc: str, total: int | None, initial: int, progress: bool) -> tqdm:
    """Bytes done of ``total``, rate and ETA on stderr (a line every 30 s in a log)."""
    tty = sys.stderr.isatty()
    return tqdm(total=total, initial=initial, desc=desc, unit="B", unit_scale=True,
                unit_divisor=1024, disable=not progress, file=sys.stderr,
                mininterval=0.2 if tty else 30.0)


def _info(name: str, size: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = size, 0o644, int(time.time())
    return info


# ------------------------------------------------------------------------------ download

def is_url(src: str) -> bool:
    return re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", src) is not None


def partial_path(src: str, root: Path | None = None) -> Path:
    """Where a download of ``src`` into ``root`` is kept until complete (beside the
    results folder; one file per URL, so a rerun resumes the same download)."""
    root = Path(root) if root else cache.results_root()
    tag = hashlib.sha256(src.encode()).hexdigest()[:12]
    return root.parent / f"{root.name}-download-{tag}.part"


def download(url: str, dest: Path, retries: int = 3, timeout: float = 60,
             progress: bool = True) -> Path:
    """Download ``url`` into ``dest``, resuming from what ``dest`` holds already (HTTP
    Range); retry a connection that ends early up to ``retries`` times. Raises
    ``ArchiveError`` (``dest`` kept for the next try) when still incomplete."""
    scheme = url.split("://", 1)[0].lower()
    if scheme not in SCHEMES:
        raise ArchiveError(f"SRC {url!r}: scheme {scheme!r} is not supported; give an "
                           f"{' or '.join(SCHEMES)} URL or a local file path")
    dest.parent.mkdir(parents=True, exist_ok=True)
    last = "the connection closed early"
    for attempt in range(retries + 1):
        if attempt:
            time.sleep(min(2.0 ** attempt / 4, 5.0))
        try:
            if _download_once(url, dest, timeout, progress):
                return dest
        except urllib.error.HTTPError as err:
            raise ArchiveError(f"SRC {url!r}: the server answered {err.code} {err.reason}") \
                from None
        except (OSError, http.client.HTTPException) as err:  # URLError, reset, IncompleteRead
            last = f"{type(err).__name__}: {getattr(err, 'reason', err)}"
    have = dest.stat().st_size if dest.exists() else 0
    raise ArchiveError(f"download of {url} incomplete after {retries + 1} tries ({have} bytes "
                       f"so far; {last}); the partial file {dest} is kept and the same "
                       "command resumes it")


def _download_once(url: str, dest: Path, timeout: float, progress: bool) -> bool:
    """One request; True when ``dest`` holds the whole file."""
    have = dest.stat().st_size if dest.exists() else 0
    headers = {"User-Agent": f"wtmlib/{__version__}"}
    if have:
        headers["Range"] = f"bytes={have}-"
    try:
        resp = urllib.request.urlopen(urllib.request.Request(url, headers=headers),
                                      timeout=timeout)
    except urllib.error.HTTPError as err:
        if err.code != 416 or not have:
            raise
        total = _content_range(err.headers.get("Content-Range"))[2]
        if total == have:
            return True  # the partial file was complete already
        dest.unlink()  # the file on the server changed: start again
        return False
    with resp:
        start, _, total = _content_range(resp.headers.get("Content-Range"))
        if resp.status == 206:
            if not have or start != have:  # not the part asked for: start again
                dest.unlink(missing_ok=True)
                return False
            mode = "ab"
        else:  # a fresh download, or a server that ignores Range: from the start
            if have:
                print(f"wtm: {url} does not resume downloads; starting again", file=sys.stderr)
            have, mode = 0, "wb"
            length = resp.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
        with open(dest, mode) as f, _bar("download", total, have, progress) as bar:
            while chunk := resp.read(CHUNK):
                f.write(chunk)
                bar.update(len(chunk))
    size = dest.stat().st_size
    if total is not None and size > total:
        dest.unlink()
        raise ArchiveError(f"download of {url}: got {size} bytes, the server announced "
                           f"{total}; the download is deleted")
    return total is None or size == total  # without a length, the verification decides


def _content_range(value: str | None) -> tuple[int | None, int | None, int | None]:
    """``bytes START-END/TOTAL`` (or ``bytes */TOTAL``) as integers (None where absent)."""
    m = re.fullmatch(r"\s*bytes\s+(?:(\d+)-(\d+)|\*)/(\d+|\*)\s*", value or "")
    if not m:
        return None, None, None
    return tuple(int(g) if g and g != "*" else None for g in m.groups())


# -------------------------------------------------------------------------------- verify

@dataclass
class Installed:
    """What ``install`` did, result by result (``experiment/key``)."""

    root: Path
    manifest: dict
    installed: list[str] = field(default_factory=list)
    identical: list[str] = field(default_factory=list)  # already here, same bytes
    kept: list[str] = field(default_factory=list)  # a valid local result that differs
    replaced: list[str] = field(default_factory=list)  # damaged, incomplete, or --replace


def _check_manifest(manifest, where: str) -> dict[str, dict]:
    """The manifest's entries by path, after checking its form and numerics version."""
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), list):
        raise ArchiveError(f"{where}: {MANIFEST} is not a manifest of results")
    theirs, ours = manifest.get("numerics"), cache.NUMERICS_VERSION
    if theirs != ours:
        raise ArchiveError(
            f"{where}: the archive holds results of numerics version {theirs}, this checkout "
            f"computes numerics version {ours}; none of them would ever be used. Fetch an "
            f"archive packed at numerics version {ours}, or check out the commit that packed "
            f"this one ({manifest.get('commit', 'unknown')}) to build its book.")
    if manifest.get("format") != FORMAT:
        raise ArchiveError(f"{where}: manifest format {manifest.get('format')!r}, this "
                           f"checkout reads format {FORMAT}")
    entries = {}
    for e in manifest["files"]:
        ok = (isinstance(e, dict) and isinstance(e.get("path"), str)
              and isinstance(e.get("bytes"), int) and e["bytes"] >= 0
              and re.fullmatch(r"[0-9a-f]{64}", str(e.get("sha256", ""))))
        if not ok or not MEMBER.fullmatch(e["path"]) or e["path"] in entries:
            raise ArchiveError(f"{where}: {MANIFEST} has a bad or repeated entry: {e!r}")
        entries[e["path"]] = e
    return entries


def _member_problem(m: tarfile.TarInfo) -> str | None:
    """Why the tar member ``m`` cannot be a result file (None if it can)."""
    name = m.name
    parts = PurePosixPath(name).parts
    if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name):
        return "an absolute path"
    if ".." in parts or "\\" in name:
        return "a path that leaves the results folder"
    if m.issym() or m.islnk():
        return f"a {'symbolic' if m.issym() else 'hard'} link (to {m.linkname!r})"
    if not m.isreg():
        return "not a regular file"
    if not MEMBER.fullmatch(name):
        return "not a result file (experiment/<16 hex>.npz or .json)"
    return None


def unpack_checked(archive: Path, staging: Path, progress: bool = True) \
        -> tuple[dict, list[tuple[str, str]]]:
    """Unpack ``archive`` into ``staging`` checking it member by member against its
    manifest, then check every result with the cache's own checks; return the manifest
    and the ``(experiment, key)`` of its results. Raises ``ArchiveError`` naming the
    first offending entry."""
    where = str(archive)
    try:
        tar = tarfile.open(archive, "r:*")
    except (tarfile.TarError, OSError, EOFError, zlib.error) as err:
        raise ArchiveError(f"{where} is not a readable tar archive ({err})") from None
    name = MANIFEST
    try:
        with tar:
            first = tar.next()
            if first is None or first.name != MANIFEST or not first.isreg():
                raise ArchiveError(f"{where}: its first entry must be {MANIFEST}, found "
                                   f"{first.name if first else 'an empty archive'!r}")
            if first.size > MAX_MANIFEST_BYTES:
                raise ArchiveError(f"{where}: {MANIFEST} is {first.size} bytes, too large")
            try:
                manifest = json.loads(tar.extractfile(first).read())
            except ValueError as err:
                raise ArchiveError(f"{where}: {MANIFEST} is not JSON ({err})") from None
            entries = _check_manifest(manifest, where)
            free = shutil.disk_usage(staging).free
            if free < sum(e["bytes"] for e in entries.values()):
                raise ArchiveError(f"{where}: its results need "
                                   f"{sum(e['bytes'] for e in entries.values())} bytes, "
                                   f"{staging.parent} has {free} free")
            seen: set[str] = set()
            with _bar("verify", sum(e["bytes"] for e in entries.values()), 0, progress) as bar:
                while (m := tar.next()) is not None:
                    name = m.name
                    problem = _member_problem(m)
                    if problem == "not a regular file" and m.isdir():
                        continue  # folders are implied by the files' names
                    if problem:
                        raise ArchiveError(f"{where}: entry {name!r} is {problem}; refused")
                    if name in seen:
                        raise ArchiveError(f"{where}: entry {name!r} appears twice")
                    entry = entries.get(name)
                    if entry is None:
                        raise ArchiveError(f"{where}: entry {name!r} is not in {MANIFEST}")
                    if m.size != entry["bytes"]:
                        raise ArchiveError(f"{where}: entry {name!r} is {m.size} bytes, "
                                           f"{MANIFEST} says {entry['bytes']}")
                    seen.add(name)
                    dest = staging / name
                    dest.parent.mkdir(exist_ok=True)
                    sha = hashlib.sha256()
                    with tar.extractfile(m) as src, open(dest, "wb") as out:
                        while chunk := src.read(CHUNK):
                            sha.update(chunk)
                            out.write(chunk)
                            bar.update(len(chunk))
                    if sha.hexdigest() != entry["sha256"]:
                        raise ArchiveError(f"{where}: entry {name!r} does not match its "
                                           f"SHA-256 in {MANIFEST} (damaged); refused")
    except (tarfile.TarError, EOFError, zlib.error) as err:
        raise ArchiveError(f"{where} is damaged or truncated (at entry {name!r}: {err})") \
            from None
    missing = sorted(set(entries) - seen)
    if missing:
        raise ArchiveError(f"{where}: {len(missing)} file(s) listed in {MANIFEST} are "
                           f"missing, first {missing[0]!r} (truncated download?)")
    results = sorted({tuple(p[:-len(Path(p).suffix)].split("/")) for p in entries})
    for exp, key in results:
        for suffix in (".npz", ".json"):
            if f"{exp}/{key}{suffix}" not in entries:
                raise ArchiveError(f"{where}: result {exp}/{key} has no {suffix} file")
        try:
            result = cache.read(exp, key, staging)
        except Exception as err:  # noqa: BLE001 - any damage refuses the archive
            raise ArchiveError(f"{where}: result {exp}/{key} fails the cache's checks "
                               f"({type(err).__name__}: {err}); refused") from None
        if result.info.get("numerics") != cache.NUMERICS_VERSION or \
                cache.config_key(result.config) != key:
            raise ArchiveError(f"{where}: result {exp}/{key} is not a result of numerics "
                               f"version {cache.NUMERICS_VERSION} under its own key; refused")
    return manifest, results


# ------------------------------------------------------------------------------- install

def install(archive: Path, root: Path | None = None, replace: bool = False,
            progress: bool = True) -> Installed:
    """Verify ``archive`` completely (``unpack_checked``), then move its results into
    ``root``. A refused archive changes nothing in ``root``."""
    root = Path(root) if root else cache.results_root()
    created = not root.exists()
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=root, prefix=".fetch-"))
    try:
        manifest, results = unpack_checked(Path(archive), staging, progress)
        done = Installed(root, manifest)
        for exp, key in results:
            _place(exp, key, staging, root, replace, done)
        return done
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        if created and not any(root.iterdir()):
            root.rmdir()


def _place(exp: str, key: str, staging: Path, root: Path, replace: bool,
           done: Installed) -> None:
    """Move one verified result from ``staging`` into ``root`` (see the module's rules)."""
    name = f"{exp}/{key}"
    src_npz, src_json = cache.paths(exp, key, staging)
    dst_npz, dst_json = cache.paths(exp, key, root)
    if dst_json.exists() or dst_npz.exists():
        same = all(d.exists() and sha256_file(d) == sha256_file(s)
                   for s, d in ((src_npz, dst_npz), (src_json, dst_json)))
        if same:
            done.identical.append(name)
            return
        try:
            cache.check(exp, key, root)
            valid = True
        except Exception:  # noqa: BLE001 - damaged or incomplete: replace it
            valid = False
        if valid and not replace:
            done.kept.append(name)
            return
        done.replaced.append(name)
        dst_json.unlink(missing_ok=True)  # the result is incomplete until its JSON is back
    else:
        done.installed.append(name)
    dst_npz.parent.mkdir(parents=True, exist_ok=True)
    os.replace(src_npz, dst_npz)
    os.replace(src_json, dst_json)  # last: it marks the result complete


def fetch(src: str, root: Path | None = None, replace: bool = False, retries: int = 3,
          timeout: float = 60, progress: bool = True) -> Installed:
    """``wtm results fetch SRC``: download (an http(s) URL) or read (a local path) an
    archive, verify it and install its results into ``root``. A verified download is
    deleted; a refused one too (the next fetch starts afresh); an incomplete one is kept
    for the next fetch to resume."""
    root = Path(root) if root else cache.results_root()
    if is_url(src):
        part = download(src, partial_path(src, root), retries, timeout, progress)
        try:
            done = install(part, root, replace, progress)
        except ArchiveError as err:
            part.unlink(missing_ok=True)
            raise ArchiveError(f"{err} (the download {part} is deleted)") from None
        part.unlink()  # an interruption (Ctrl+C) while verifying keeps it for the next fetch
        return done
    path = Path(src)
    if not path.is_file():
        raise ArchiveError(f"SRC {src!r}: no such file; give a local archive path or an "
                           f"{' or '.join(SCHEMES)} URL")
    return install(path, root, replace, progress)
