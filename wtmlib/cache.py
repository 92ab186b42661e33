"""Results stored under ``results/<experiment>/<key>.{npz,json}``.

``key`` is a hash of the run's full configuration and of the source code of the
modules that compute the numbers (``CODE_MODULES``; their syntax trees, so docstrings
and comments do not count), so a result made by code that has changed is never
reused. The JSON beside the arrays holds the configuration, the metrics, the code
hash, the library version, the SHA-256 of the ``.npz`` and its own SHA-256 (of the
document without that field). An unfinished run keeps its checkpoint beside them
(``checkpoint_path``).

Writes are atomic (temporary file, fsync, rename; the JSON goes last and marks the
result complete). On load, a missing, truncated or edited file is detected by its
checksum and the run is recomputed, with a warning; arrays are read with
``allow_pickle=False`` so a results folder from elsewhere cannot run code.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import json
import os
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import __version__

CODE_MODULES = ("data.py", "model.py", "optim.py", "record.py", "train.py", "mnist.py",
                "batched.py")


def results_root() -> Path:
    """``$WTM_RESULTS`` if set, else ``results/`` at the project root."""
    env = os.environ.get("WTM_RESULTS")
    return Path(env) if env else Path(__file__).resolve().parent.parent / "results"


def code_text(source: str) -> str:
    """What of a module's source can change numbers: its syntax tree without docstrings
    (comments and layout are not in the tree), so editing prose keeps the cache."""
    tree = ast.parse(source)
    scopes = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (isinstance(node, scopes) and body and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)):
            node.body = body[1:] or [ast.Pass()]
    return ast.dump(tree)


@functools.lru_cache(maxsize=64)
def _code_text_of(source: str) -> str:
    """``code_text`` remembered by source: parsing and dumping the seven modules takes a
    quarter of a second, and every run asks for the code hash two or three times (a
    cached Figure 1 grid spent 25 s of its 61 s here). The files are still read each
    time, so an edited module changes the hash at once."""
    return code_text(source)


def code_hash() -> str:
    """SHA-256 (16 hex digits) of the library version and the number-making modules
    (``code_text`` of each: docstrings, comments and layout left out)."""
    h = hashlib.sha256(__version__.encode())
    here = Path(__file__).resolve().parent
    for name in CODE_MODULES:
        path = here / name
        if path.exists():
            h.update(name.encode() + b"\0" + _code_text_of(path.read_text()).encode())
    return h.hexdigest()[:16]


def config_key(config: dict) -> str:
    """Hash of a JSON-able configuration and the code hash."""
    blob = json.dumps({"config": config, "code": code_hash()}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


@dataclass
class Result:
    """A stored run: its configuration, recorded arrays and scalar metrics."""

    config: dict
    arrays: dict
    metrics: dict
    key: str = ""
    info: dict = field(default_factory=dict)

    def __getitem__(self, name: str) -> np.ndarray:
        return self.arrays[name]

    @property
    def history(self) -> dict[str, np.ndarray]:
        """Per-epoch curves (index 0 = initialisation)."""
        return history(self.arrays)


def history(arrays: dict) -> dict[str, np.ndarray]:
    """The per-epoch curves of a run's arrays, keyed without the ``history_`` prefix."""
    return {k[len("history_"):]: v for k, v in arrays.items() if k.startswith("history_")}


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _doc_sha256(doc: dict) -> str:
    """SHA-256 of a result's JSON document without its own ``sha256`` field, in a
    canonical form (what survives a JSON round trip, keys sorted)."""
    body = json.loads(json.dumps({k: v for k, v in doc.items() if k != "sha256"}))
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def _atomic_write(path: Path, write) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; results are meant to be shared
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def paths(experiment: str, key: str, root: Path | None = None) -> tuple[Path, Path]:
    folder = (Path(root) if root else results_root()) / experiment
    return folder / f"{key}.npz", folder / f"{key}.json"


def checkpoint_path(experiment: str, key: str, root: Path | None = None) -> Path:
    """Where an unfinished run keeps its training state (removed once the result is saved)."""
    return (Path(root) if root else results_root()) / experiment / f"{key}.ckpt.pt"


def save(result: Result, experiment: str, root: Path | None = None) -> Result:
    """Store ``result`` atomically; the JSON (written last) marks it complete."""
    npz, meta = paths(experiment, result.key, root)
    try:
        npz.parent.mkdir(parents=True, exist_ok=True)
        _atomic_write(npz, lambda f: np.savez(f, **result.arrays))
        info = dict(result.info, npz_sha256=_sha256(npz), code=code_hash(), version=__version__)
        doc = dict(key=result.key, config=result.config, metrics=result.metrics, info=info)
        doc["sha256"] = _doc_sha256(doc)  # an edited JSON is detected like an edited .npz
        _atomic_write(meta, lambda f: f.write(json.dumps(doc, indent=1, sort_keys=True).encode()))
    except OSError as err:
        raise OSError(f"could not write results to {npz.parent} ({err.strerror or err}); "
                      "set WTM_RESULTS to a writable folder") from err
    result.info = info
    return result


def load(experiment: str, key: str, root: Path | None = None) -> Result | None:
    """The stored result, or ``None`` if absent or damaged (with a warning)."""
    npz, meta = paths(experiment, key, root)
    if not meta.exists():
        return None
    try:
        doc = json.loads(meta.read_text())
        if (doc.get("key") != key or doc.get("sha256") != _doc_sha256(doc)
                or doc["info"]["npz_sha256"] != _sha256(npz)):
            raise ValueError("checksum or key mismatch")
        with np.load(npz, allow_pickle=False) as f:
            arrays = {name: f[name] for name in f.files}
    except Exception as err:  # noqa: BLE001 - any damage means recompute
        warnings.warn(f"ignoring damaged result {meta} ({type(err).__name__}: {err}); "
                      "recomputing", stacklevel=2)
        return None
    return Result(doc["config"], arrays, doc["metrics"], key, doc["info"])


def cached(experiment: str, config: dict, compute, root: Path | None = None,
           refresh: bool = False) -> Result:
    """Load the result of ``config`` or compute it with ``compute() -> (arrays, metrics)``
    and store it. ``refresh=True`` recomputes even when a stored result exists."""
    key = config_key(config)
    if not refresh:
        hit = load(experiment, key, root)
        if hit is not None:
            return hit
    arrays, metrics = compute()
    return save(Result(config, arrays, metrics, key), experiment, root)
