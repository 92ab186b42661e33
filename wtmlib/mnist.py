"""Aggregated MNIST (Section 2.1, Appendix A.1): digits 0-4 are class 0, 5-9 class 1.

Each digit is one "pattern" (``p`` = the digit, 0..9), so the class rule is
``y = (p >= 5)``, the same as ``wtmlib.data.pattern_class(10)``, and the difficulty of
eq. 2 is computed as for S with the per-digit mean training images as centroids.

Shapes follow ``wtmlib.data``: ``x [n, 784]`` float32, ``y [n]`` and ``p [n]`` int64,
``centroids [10, 784]``.

Files. The four uncompressed IDX files are read from ``<root>/MNIST/raw`` (the layout
``torchvision.datasets.MNIST`` uses)::

    train-images-idx3-ubyte  train-labels-idx1-ubyte
    t10k-images-idx3-ubyte   t10k-labels-idx1-ubyte

``root`` is ``AggregatedMNISTConfig.root``, or when that is empty the environment
variable ``WTM_DATA``, or else ``./data``. When the files are missing and ``download``
is set, torchvision fetches them; when that fails (offline machine) or ``download`` is
off, ``DataNotFoundError`` says where it looked and how to provide the files. The
network is only tried when the files are missing, so an offline machine that has them
never waits on it. ``check_mnist_available`` does that check (and download) without
reading the data, for notebooks to call before any training.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from wtmlib.config import ConfigError, check_choice, check_int, check_type
from wtmlib.data import pattern_class

ENV_VAR = "WTM_DATA"  # data root when AggregatedMNISTConfig.root is empty
DEFAULT_ROOT = "./data"  # ... and when WTM_DATA is unset too
RAW_FILES = {  # split -> (images, labels), in <root>/MNIST/raw
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
N_FULL = {"train": 60000, "test": 10000}  # sizes of the official splits
N_PIXELS = 28 * 28
N_DIGITS = 10
MNIST_MEAN = 0.1307  # mean and std of the training pixels scaled to [0, 1]
MNIST_STD = 0.3081
SCALINGS = ("pixels/255", "standardize")


class DataNotFoundError(FileNotFoundError):
    """The MNIST files are not on this machine and could not be downloaded."""


@dataclass(frozen=True)
class AggregatedMNISTConfig:
    """Which part of Aggregated MNIST to load, and how its pixels are scaled.

    * ``root``: the data folder holding ``MNIST/raw`` ("" = ``$WTM_DATA``, else
      ``./data``). It says where the files are, not what they contain: two machines
      with different roots load the same arrays (a path is kept as a string).
    * ``n_train``, ``n_test``: subset sizes for quick runs (at most 60000 and 10000,
      the full splits). A subset is a uniform random sample without replacement: the
      first ``n`` indices of a seeded permutation of the split, put back in file order.
      The training and test subsets use independent streams of ``seed``, so changing
      ``n_train`` leaves the test subset unchanged; the full splits (the defaults) are
      the files in their order whatever the seed.
    * ``scaling``: "pixels/255" (default; values in [0, 1]) or "standardize"
      (pixels/255, then ``(x - 0.1307) / 0.3081``, the usual MNIST mean and std). The
      paper does not state its preprocessing.
    * ``download``: fetch the files with torchvision when they are missing.
    * ``seed``: the subset choice (unused for the full splits).
    """

    root: str = ""
    n_train: int = N_FULL["train"]
    n_test: int = N_FULL["test"]
    scaling: str = "pixels/255"
    download: bool = True
    seed: int = 0

    def __post_init__(self):
        if isinstance(self.root, os.PathLike):
            object.__setattr__(self, "root", os.fspath(self.root))
        check_type("root", self.root, str, "a folder path (str), or '' for $WTM_DATA")
        check_int("n_train", self.n_train, 1, N_FULL["train"])
        check_int("n_test", self.n_test, 1, N_FULL["test"])
        check_choice("scaling", self.scaling, SCALINGS)
        check_type("download", self.download, bool, "True or False")
        check_int("seed", self.seed, 0, 2**63 - 1)


@dataclass
class AggregatedMNIST:
    """Aggregated MNIST, shaped like ``wtmlib.data.SyntheticData``."""

    x_train: torch.Tensor  # [n_train, 784] float32, scaled as config.scaling says
    y_train: torch.Tensor  # [n_train] int64: 0 for digits 0-4, 1 for 5-9
    p_train: torch.Tensor  # [n_train] int64: the digit
    x_test: torch.Tensor  # [n_test, 784]
    y_test: torch.Tensor  # [n_test]
    p_test: torch.Tensor  # [n_test]
    centroids: torch.Tensor  # [10, 784] float32: mean training image of each digit
    config: AggregatedMNISTConfig

    @property
    def n_pat(self) -> int:
        return N_DIGITS

    def pattern_class(self) -> torch.Tensor:
        """Class of each digit ``[10]``: 0 for digits 0-4, 1 for 5-9."""
        return pattern_class(N_DIGITS)


def resolve_root(cfg: AggregatedMNISTConfig = AggregatedMNISTConfig()) -> Path:
    """The data root: ``cfg.root``, else ``$WTM_DATA``, else ``./data`` (``~`` expanded)."""
    root = cfg.root or os.environ.get(ENV_VAR, "") or DEFAULT_ROOT
    return Path(root).expanduser()


def raw_folder(cfg: AggregatedMNISTConfig = AggregatedMNISTConfig()) -> Path:
    """Where the IDX files are read from: ``<root>/MNIST/raw``."""
    return resolve_root(cfg) / "MNIST" / "raw"


def _missing(folder: Path) -> list[str]:
    return [f for pair in RAW_FILES.values() for f in pair if not (folder / f).is_file()]


def _not_found(cfg: AggregatedMNISTConfig, folder: Path, missing: list[str],
               why: str) -> DataNotFoundError:
    if cfg.root:
        source = f"root={cfg.root!r} in AggregatedMNISTConfig"
    elif os.environ.get(ENV_VAR):
        source = f"root='' and ${ENV_VAR}={os.environ[ENV_VAR]!r}"
    else:
        source = f"root='' and ${ENV_VAR} unset, so the default {DEFAULT_ROOT!r}"
    gz = [f + ".gz" for f in missing if (folder / (f + ".gz")).is_file()]
    hint = (f"\n  Found compressed copies ({', '.join(gz)}): gunzip them in that folder, "
            "or load with download=True (torchvision extracts them offline)." if gz else "")
    return DataNotFoundError(
        f"Aggregated MNIST: {why}.\n"
        f"  Looked in: {folder.resolve()} (from {source}).\n"
        f"  Missing: {', '.join(missing)}.\n"
        "  To provide the files, either\n"
        "  * on a machine with internet, run\n"
        "      python -c \"import torchvision; torchvision.datasets.MNIST('DIR', "
        "download=True)\"\n"
        "    and copy DIR/MNIST/raw to this machine, or\n"
        f"  * copy the four uncompressed IDX files above into <root>/MNIST/raw;\n"
        f"  then pass AggregatedMNISTConfig(root=<root>) or set the environment variable "
        f"{ENV_VAR}=<root>.{hint}")


def check_mnist_available(cfg: AggregatedMNISTConfig = AggregatedMNISTConfig()) -> Path:
    """Make sure the four IDX files are there, without reading them; return their folder.

    When files are missing and ``cfg.download`` is set, torchvision downloads them
    (the network is never touched when they are all present). Raises
    ``DataNotFoundError`` (a ``FileNotFoundError``) naming the folder and ``WTM_DATA``
    when they are missing and cannot be downloaded. Cheap: call it at the top of a
    notebook so a missing data set fails before any training.
    """
    folder = raw_folder(cfg)
    missing = _missing(folder)
    if not missing:
        return folder
    if not cfg.download:
        raise _not_found(cfg, folder, missing, "data files not found and download=False")
    from torchvision.datasets import MNIST  # noqa: PLC0415  (only needed to download)

    try:
        MNIST(str(resolve_root(cfg)), train=False, download=True)
    except Exception as err:  # offline (URLError/RuntimeError), read-only root (OSError)
        raise _not_found(cfg, folder, missing,
                         f"data files not found and the download failed "
                         f"({type(err).__name__})") from err
    missing = _missing(folder)
    if missing:
        raise _not_found(cfg, folder, missing, "data files still missing after the download")
    return folder


def _read_split(root: Path, train: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Raw images ``[N, 28, 28]`` uint8 and digits ``[N]`` int64 of one split, read
    through torchvision's tensors (not its slow per-item ``__getitem__``)."""
    from torchvision.datasets import MNIST  # noqa: PLC0415  (import is slow-ish)

    ds = MNIST(str(root), train=train, download=False)
    return ds.data, ds.targets.long()


def _subset(n_total: int, n: int, gen: torch.Generator, split: str) -> torch.Tensor | None:
    """Indices of a uniform subset of size ``n`` in file order; ``None`` for all."""
    if n > n_total:
        raise ConfigError(f"n_{split}={n}: the {split} files hold only {n_total} images")
    if n == n_total:
        return None
    return torch.randperm(n_total, generator=gen)[:n].sort().values


def _scale(images: torch.Tensor, scaling: str) -> torch.Tensor:
    x = images.reshape(len(images), -1).float().div_(255.0)  # [n, 784] in [0, 1]
    if scaling == "standardize":
        x.sub_(MNIST_MEAN).div_(MNIST_STD)
    return x


def digit_centroids(x: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
    """Mean image of each digit ``[10, n_dim]`` (zeros for a digit absent from ``p``)."""
    sums = torch.zeros(N_DIGITS, x.shape[1], dtype=x.dtype).index_add_(0, p, x)
    counts = torch.bincount(p, minlength=N_DIGITS).clamp_min(1).to(x.dtype)
    return sums / counts[:, None]


def load_aggregated_mnist(cfg: AggregatedMNISTConfig = AggregatedMNISTConfig()) -> AggregatedMNIST:
    """Load (downloading if allowed and needed) Aggregated MNIST as ``cfg`` describes.

    Deterministic in ``cfg`` (all on the CPU). Raises ``DataNotFoundError`` before
    reading anything when the files are missing and cannot be downloaded.
    """
    check_mnist_available(cfg)
    root = resolve_root(cfg)
    states = np.random.SeedSequence(cfg.seed).generate_state(2, dtype=np.uint64)
    gens = [torch.Generator().manual_seed(int(s) & (2**63 - 1)) for s in states]
    out = []
    for split, train, n, gen in (("train", True, cfg.n_train, gens[0]),
                                 ("test", False, cfg.n_test, gens[1])):
        images, digits = _read_split(root, train)
        idx = _subset(len(images), n, gen, split)
        if idx is not None:
            images, digits = images[idx], digits[idx]
        x = _scale(images, cfg.scaling)
        y = pattern_class(N_DIGITS)[digits]
        out += [x, y, digits]
    centroids = digit_centroids(out[0], out[2])
    return AggregatedMNIST(*out, centroids, cfg)
