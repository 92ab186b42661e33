"""Results stored under ``results/<experiment>/<key>.{npz,json}``.

``key`` is a hash of the run's full configuration (what it computes: data, model,
training) and of ``NUMERICS_VERSION``, an integer raised by hand when a change of code is
meant to change the numbers. The golden-run tests (``tests/test_golden.py``) catch a
change nobody meant: they fail, and say to raise the version and regenerate them.
Execution settings (engine, device, threads) are not in the key; the JSON beside the
arrays records them, with the commit, the torch version, the metrics, the SHA-256 of the
``.npz`` and its own SHA-256 (of the document without that field).

Writes are atomic (temporary file, fsync, rename; the JSON goes last and marks the
result complete). On load, a missing, truncated or edited file is detected by its
checksum and the run is recomputed, with a warning; arrays are read with
``allow_pickle=False`` so a results folder from elsewhere cannot run code. Arrays are
compressed (``np.savez_compressed``): the recorded integer counts shrink several times.

A stored result may be *thinned* (``thin``): its per-epoch arrays (the pattern means,
``[epochs+1, n_hidden, n_pat]``) keep only some epochs, and a few neurons at every epoch
(``Kept``). On disk they are the kept rows and their indices, under other names than the
array's (``thinned``); ``load`` expands the array back to its full shape, its dropped
epochs all NaN (``expanded``): a reader of a dropped epoch gets NaN, never another
epoch's numbers, and the neurons kept at every epoch are read by ``Result.trajectory``.
What to keep is decided by the build, which knows what its chapters read
(``wtmlib.build.thin``); thinning changes no number that is kept, nor the key.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from wtmlib import __version__
from wtmlib.training.files import atomic_write, sha256_file

NUMERICS_VERSION = 2  # raise when the numbers of any stored result are meant to change


def results_root() -> Path:
    """``$WTM_RESULTS`` if set, else ``results/`` at the project root."""
    env = os.environ.get("WTM_RESULTS")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "results"


def config_key(config: dict) -> str:
    """Hash of a JSON-able configuration and the numerics version."""
    blob = json.dumps({"config": config, "numerics": NUMERICS_VERSION}, sort_keys=True)
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

    def __contains__(self, name: str) -> bool:
        return name in self.arrays

    @property
    def history(self) -> dict[str, np.ndarray]:
        """Per-epoch curves (index 0 = initialisation)."""
        return history(self.arrays)

    def trajectory(self, name: str, neuron: int) -> np.ndarray:
        """``self[name][:, neuron]``: one neuron's values at every epoch (a figure's line
        over training). A thinned run keeps a few neurons at every epoch (its top-|W2|
        ``final_neurons``, ``Kept.neurons``): theirs come from there; another neuron of a
        thinned run is a ``KeyError``."""
        kept = self.arrays.get(name + NEURONS)
        if kept is None:
            return self.arrays[name][:, neuron]
        hit = np.flatnonzero(kept == neuron)
        if not len(hit):
            raise KeyError(f"{name}: neuron {neuron} was not kept at every epoch by this "
                           f"thinned run (kept: {sorted(int(n) for n in kept)})")
        return self.arrays[name + NEURON_ROWS][:, hit[0]]


@dataclass(frozen=True)
class Kept:
    """What a thinned array ``[epochs+1, n_hidden, ...]`` keeps: every neuron at the
    row indices ``epochs`` (the last row among them: it gives the full length), and the
    neurons ``neurons`` at every epoch (``Result.trajectory``)."""

    epochs: tuple
    neurons: tuple = ()


# the parts a thinned array ``<name>`` is stored as (none of them is ``<name>``: a reader
# that does not expand them, such as an older checkout, finds no ``<name>`` at all)
ROWS, EPOCHS, NEURONS, NEURON_ROWS = "__rows", "__epochs", "__neurons", "__neuron_rows"


def thinned(arrays: dict, kept: dict) -> dict:
    """The arrays as stored when each ``kept[name]`` (a ``Kept``) thins ``arrays[name]``:
    ``<name>__rows`` its rows at ``epochs``, ``<name>__epochs`` their indices,
    ``<name>__neurons`` the neurons kept at every epoch and ``<name>__neuron_rows`` those
    ``[epochs+1, k, ...]``; ``kept[name] = None``: the array is not stored at all."""
    out = dict(arrays)
    for name, k in kept.items():
        if k is None:
            out.pop(name, None)
            continue
        a, epochs = out.pop(name), np.asarray(k.epochs, dtype=np.int64)
        neurons = np.asarray(k.neurons, dtype=np.int64)
        if not (len(epochs) and epochs[-1] == len(a) - 1 and np.all(np.diff(epochs) > 0)):
            raise ValueError(f"{name}: kept epochs must increase and end with the last row "
                             f"{len(a) - 1}; got {epochs.tolist()}")
        out[name + ROWS], out[name + EPOCHS] = a[epochs], epochs
        out[name + NEURONS], out[name + NEURON_ROWS] = neurons, a[:, neurons]
    return out


def expanded(stored: dict) -> dict:
    """The arrays of a result as its readers see them: each thinned array (``thinned``)
    back at its full shape, its rows not kept all NaN (the neurons kept at every epoch
    are not put back there: a median over neurons at a dropped epoch is NaN, not a
    median over a few; ``Result.trajectory`` reads them); an array stored whole as is."""
    out = {k: v for k, v in stored.items() if not k.endswith((ROWS, EPOCHS))}
    for name in [k[:-len(EPOCHS)] for k in stored if k.endswith(EPOCHS)]:
        rows, epochs = stored[name + ROWS], stored[name + EPOCHS]
        full = np.full((int(epochs[-1]) + 1, *rows.shape[1:]), np.nan, dtype=rows.dtype)
        full[epochs] = rows
        out[name] = full
    return out


def history(arrays: dict) -> dict[str, np.ndarray]:
    """The per-epoch curves of a run's arrays, keyed without the ``history_`` prefix."""
    return {k[len("history_"):]: v for k, v in arrays.items() if k.startswith("history_")}


def _doc_sha256(doc: dict) -> str:
    """SHA-256 of a result's JSON document without its own ``sha256`` field, in a
    canonical form (what survives a JSON round trip, keys sorted)."""
    body = json.loads(json.dumps({k: v for k, v in doc.items() if k != "sha256"}))
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def paths(experiment: str, key: str, root: Path | None = None) -> tuple[Path, Path]:
    folder = (Path(root) if root else results_root()) / experiment
    return folder / f"{key}.npz", folder / f"{key}.json"


def checkpoint_path(experiment: str, key: str, root: Path | None = None) -> Path:
    """Where an unfinished run keeps its training state (removed once the result is saved)."""
    return (Path(root) if root else results_root()) / experiment / f"{key}.ckpt.pt"


def _write(result: Result, stored: dict, experiment: str, root, info: dict) -> dict:
    """Write ``stored`` (the arrays as stored) then the JSON of ``result`` with ``info``
    and the arrays' checksum, each atomically; the info written."""
    npz, meta = paths(experiment, result.key, root)
    try:
        npz.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(npz, lambda f: np.savez_compressed(f, **stored))
        info = dict(info, npz_sha256=sha256_file(npz))
        doc = dict(key=result.key, config=result.config, metrics=result.metrics, info=info)
        doc["sha256"] = _doc_sha256(doc)  # an edited JSON is detected like an edited .npz
        atomic_write(meta, lambda f: f.write(json.dumps(doc, indent=1, sort_keys=True).encode()))
    except OSError as err:
        raise OSError(f"could not write results to {npz.parent} ({err.strerror or err}); "
                      "set WTM_RESULTS to a writable folder") from err
    return info


def save(result: Result, experiment: str, root: Path | None = None) -> Result:
    """Store ``result`` atomically; the JSON (written last) marks it complete."""
    result.info = _write(result, result.arrays, experiment, root, dict(
        result.info, numerics=NUMERICS_VERSION, version=__version__,
        saved=time.strftime("%Y-%m-%d %H:%M:%S")))
    return result


def thin(experiment: str, key: str, keep, root: Path | None = None) -> Result | None:
    """Rewrite the stored result ``key`` thinned, in place: ``keep(result)`` returns
    ``(kept, reads)``, ``kept`` a ``Kept`` per array to thin (``None``: an array not kept
    at all) and ``reads`` what the thinning guarantees its readers (stored in
    ``info["thinned"]``), or ``None`` to leave the result whole. The arrays first, then the JSON (with their new checksum), each
    atomically, as ``save``; the provenance is kept. Returns the result as it now loads,
    or ``None`` when nothing was rewritten: absent, damaged, already thinned (a thinned
    result is never thinned again: what it dropped is gone), or nothing to drop."""
    result = load(experiment, key, root)
    if result is None or "thinned" in result.info:
        return None
    decision = keep(result)
    if decision is None:
        return None
    kept, reads = decision
    kept = {name: k for name, k in kept.items() if name in result.arrays
            and (k is None or len(k.epochs) < len(result.arrays[name]))}
    if not kept:
        return None
    stored = thinned(result.arrays, kept)
    info = {k: v for k, v in result.info.items() if k != "npz_sha256"}
    info["thinned"] = dict(reads, time=time.strftime("%Y-%m-%d %H:%M:%S"), arrays={
        name: "not kept" if k is None else {"epochs": len(k.epochs), "neurons": len(k.neurons)}
        for name, k in kept.items()})
    info = _write(result, stored, experiment, root, info)
    return Result(result.config, expanded(stored), result.metrics, key, info)


def check(experiment: str, key: str, root: Path | None = None) -> dict:
    """A stored result's JSON document after the checks every load makes: it names
    ``key``, its own checksum matches its content and ``npz_sha256`` the ``.npz``'s bytes.
    Raises (``ValueError``, ``OSError``, ``KeyError``...) on any damage; reads no arrays."""
    npz, meta = paths(experiment, key, root)
    doc = json.loads(meta.read_text())
    if doc.get("key") != key:
        raise ValueError(f"the file holds key {doc.get('key')!r}")
    if doc.get("sha256") != _doc_sha256(doc):
        raise ValueError("the JSON's checksum does not match its content")
    if doc["info"]["npz_sha256"] != sha256_file(npz):
        raise ValueError("the arrays' checksum does not match the .npz")
    return doc


def read(experiment: str, key: str, root: Path | None = None) -> Result:
    """The stored result, checked as ``check`` does, its arrays read with
    ``allow_pickle=False``; raises on any damage (``load`` warns and returns ``None``)."""
    doc = check(experiment, key, root)
    with np.load(paths(experiment, key, root)[0], allow_pickle=False) as f:
        arrays = expanded({name: f[name] for name in f.files})
    return Result(doc["config"], arrays, doc["metrics"], key, doc["info"])


def load(experiment: str, key: str, root: Path | None = None) -> Result | None:
    """The stored result, or ``None`` if absent or damaged (with a warning)."""
    meta = paths(experiment, key, root)[1]
    if not meta.exists():
        return None
    try:
        return read(experiment, key, root)
    except Exception as err:  # noqa: BLE001 - any damage means recompute
        warnings.warn(f"ignoring damaged result {meta} ({type(err).__name__}: {err}); "
                      "recomputing", stacklevel=2)
        return None


def stored_metrics(experiment: str, key: str, root: Path | None = None) -> dict | None:
    """A stored result's metrics from its JSON alone (its own checksum checked; the arrays
    are checked when ``load`` reads them), or ``None`` if absent or damaged."""
    doc = _stored_doc(experiment, key, root)
    return None if doc is None else doc["metrics"]


def stored_info(experiment: str, key: str, root: Path | None = None) -> dict | None:
    """A stored result's ``info`` (provenance, checksum, ``thinned``) from its JSON alone,
    as ``stored_metrics``."""
    doc = _stored_doc(experiment, key, root)
    return None if doc is None else doc["info"]


def _stored_doc(experiment: str, key: str, root: Path | None) -> dict | None:
    meta = paths(experiment, key, root)[1]
    try:
        doc = json.loads(meta.read_text())
        return doc if doc.get("key") == key and doc.get("sha256") == _doc_sha256(doc) \
            and isinstance(doc.get("metrics"), dict) and isinstance(doc.get("info"), dict) \
            else None
    except (OSError, ValueError, KeyError):
        return None


def cached(experiment: str, config: dict, compute, root: Path | None = None,
           refresh: bool = False, info=None) -> Result:
    """Load the result of ``config`` or compute it with ``compute() -> (arrays, metrics)``
    and store it with ``info()`` (provenance: asked only when computing).
    ``refresh=True`` recomputes even when a stored result exists."""
    key = config_key(config)
    if not refresh:
        hit = load(experiment, key, root)
        if hit is not None:
            return hit
    arrays, metrics = compute()
    return save(Result(config, arrays, metrics, key, info() if info else {}), experiment, root)


def stored(root: Path | None = None) -> list[dict]:
    """Every stored result under ``root``: experiment, key, numerics version, size in
    bytes (arrays and JSON), age in days, whether the current version can use it, and
    whether it is thinned (``thin``)."""
    root = Path(root) if root else results_root()
    rows = []
    for meta in sorted(root.glob("*/*.json")):
        try:
            doc = json.loads(meta.read_text())
            numerics = doc.get("info", {}).get("numerics")
        except (OSError, ValueError):
            doc, numerics = {}, None
        if "key" not in doc:  # not a result (e.g. the claims' files)
            continue
        npz = meta.with_suffix(".npz")
        size = meta.stat().st_size + (npz.stat().st_size if npz.exists() else 0)
        rows.append(dict(experiment=meta.parent.name, key=meta.stem, numerics=numerics,
                         bytes=size, age_days=(time.time() - meta.stat().st_mtime) / 86400,
                         current=numerics == NUMERICS_VERSION
                         and config_key(doc.get("config")) == meta.stem,
                         thinned="thinned" in (doc.get("info") or {})))
    return rows


def training_time(root: Path | None = None) -> dict:
    """What the stored runs of the current numerics version cost, for a page that states
    the compute: ``runs``, their summed training seconds ``wall_s`` (each run's own clock,
    not the build's wall clock, which runs several at a time), and the ``devices``,
    ``engines`` and ``torch`` versions they ran on (sorted, distinct)."""
    root = Path(root) if root else results_root()
    out = dict(runs=0, wall_s=0.0, devices=set(), engines=set(), torch=set())
    for meta in sorted(root.glob("*/*.json")):
        try:
            doc = json.loads(meta.read_text())
            if doc.get("info", {}).get("numerics") != NUMERICS_VERSION:
                continue
            wall = float(doc["metrics"]["wall_s"])
        except (OSError, ValueError, KeyError, TypeError):
            continue  # not a run (the claims' files) or damaged
        out["runs"] += 1
        out["wall_s"] += wall
        for name, field_ in (("devices", "device"), ("engines", "engine"), ("torch", "torch")):
            if doc["info"].get(field_):
                out[name].add(str(doc["info"][field_]))
    return {k: sorted(v) if isinstance(v, set) else v for k, v in out.items()}


def prune(root: Path | None = None, dry_run: bool = False) -> list[dict]:
    """Delete the stored results no current configuration can use (another numerics
    version, or a key that is not the hash of its configuration); return what was (or
    would be, with ``dry_run``) deleted."""
    root = Path(root) if root else results_root()
    gone = [r for r in stored(root) if not r["current"]]
    if not dry_run:
        for r in gone:
            npz, meta = paths(r["experiment"], r["key"], root)
            meta.unlink(missing_ok=True)  # the JSON first: the result is no longer complete
            npz.unlink(missing_ok=True)
    return gone
