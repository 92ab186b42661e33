"""The synthetic data set S (Section 2.1, Algorithm 1) and the difficulty coefficient (eq. 2).

Shapes: samples ``x [n, n_dim]``, labels ``y [n]`` in {0, 1}, patterns ``p [n]`` in
``0..n_pat-1``, pattern masks ``masks [n_pat, n_dim]`` (bool), centroids
``c [n_pat, n_dim]`` (the noiseless pattern masks, entries 0 or delta).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from wtmlib.config import ConfigError, check_float, check_int, check_type
from wtmlib.config import added_field


@dataclass(frozen=True)
class SyntheticConfig:
    """Parameters of Algorithm 1, with the paper's defaults (Section 2.1).

    ``sigma_train`` and ``sigma_test`` are the noise standard deviations of the two
    splits (Section 3.1); both splits share the pattern masks. ``noise_seed`` draws the
    samples (pattern order and noise) of both splits from another seed while the masks
    stay those of ``seed`` (``None``: ``seed`` draws everything); it keeps the patterns
    and the initialization fixed while the data is redrawn. ``pattern_weights``
    (length ``n_pat``, non-negative) makes an unbalanced data set; ``None`` is the
    paper's balanced default (each pattern ``n / n_pat`` times).
    """

    n_dim: int = 500
    l_pat: int = 5
    n_pat: int = 30
    n_train: int = 15000
    n_test: int = 6000
    delta: float = 1.0
    sigma_train: float = 0.4
    sigma_test: float = 0.4
    overlap: bool = False
    pattern_weights: tuple | None = None
    seed: int = 0
    noise_seed: int | None = added_field(None)

    def __post_init__(self):
        check_int("n_dim", self.n_dim, 1)
        check_int("l_pat", self.l_pat, 1, self.n_dim)
        check_int("n_pat", self.n_pat, 2)
        if self.n_pat % 2:
            raise ConfigError(f"n_pat={self.n_pat}: must be even (n_pat/2 patterns per class)")
        check_int("n_train", self.n_train, 1)
        check_int("n_test", self.n_test, 1)
        check_float("delta", self.delta, 0.0)
        check_float("sigma_train", self.sigma_train, 0.0)
        check_float("sigma_test", self.sigma_test, 0.0)
        check_type("overlap", self.overlap, bool, "True or False")
        check_int("seed", self.seed, 0, 2**63 - 1)
        if self.noise_seed is not None:
            check_int("noise_seed", self.noise_seed, 0, 2**63 - 1)
        if not self.overlap and self.n_pat * self.l_pat > self.n_dim:
            raise ConfigError(
                f"n_pat * l_pat = {self.n_pat * self.l_pat} > n_dim={self.n_dim}: "
                "non-overlapping masks need n_pat * l_pat <= n_dim (or set overlap=True)")
        if self.pattern_weights is None:
            for name, n in (("n_train", self.n_train), ("n_test", self.n_test)):
                if n % self.n_pat:
                    raise ConfigError(
                        f"{name}={n}: must be divisible by n_pat={self.n_pat} for a balanced "
                        "data set (or give pattern_weights)")
        else:
            w = self.pattern_weights
            check_type("pattern_weights", w, (tuple, list), f"a sequence of {self.n_pat} weights")
            if len(w) != self.n_pat:
                raise ConfigError(f"pattern_weights has length {len(w)}: must be n_pat={self.n_pat}")
            for i, wi in enumerate(w):
                check_float(f"pattern_weights[{i}]", wi, 0.0)
            if sum(w) <= 0:
                raise ConfigError("pattern_weights: must have a positive sum")
            object.__setattr__(self, "pattern_weights", tuple(float(v) for v in w))


@dataclass
class SyntheticData:
    """One draw of S: train and test splits sharing the pattern masks."""

    x_train: torch.Tensor  # [n_train, n_dim] float32, unit L2 norm
    y_train: torch.Tensor  # [n_train] int64 in {0, 1}
    p_train: torch.Tensor  # [n_train] int64 in 0..n_pat-1
    x_test: torch.Tensor  # [n_test, n_dim]
    y_test: torch.Tensor  # [n_test]
    p_test: torch.Tensor  # [n_test]
    masks: torch.Tensor  # [n_pat, n_dim] bool
    centroids: torch.Tensor  # [n_pat, n_dim] float32, delta on the mask
    config: SyntheticConfig

    @property
    def n_pat(self) -> int:
        return self.masks.shape[0]

    def pattern_class(self) -> torch.Tensor:
        """Class of each pattern ``[n_pat]``: the first half is class 0, the rest class 1."""
        return pattern_class(self.n_pat)


def pattern_class(n_pat: int) -> torch.Tensor:
    """Algorithm 1's class rule ``C = floor(p / (n_pat/2 + 1))`` for 1-based ``p``.

    With 0-based pattern ids this is ``p >= n_pat / 2``: patterns ``0..n_pat/2-1`` are
    class 0, the rest class 1.
    """
    return (torch.arange(n_pat) >= n_pat // 2).long()


def _generators(seed: int) -> tuple[torch.Generator, torch.Generator, torch.Generator]:
    """Independent CPU streams for masks, train split and test split.

    Separate streams keep the masks and the test set unchanged when ``n_train`` or
    ``sigma_train`` change, and the noise of a split is the same standard-normal draw
    scaled by its sigma (common random numbers across a sigma grid).
    """
    states = np.random.SeedSequence(seed).generate_state(3, dtype=np.uint64)
    return tuple(torch.Generator().manual_seed(int(s) & (2**63 - 1)) for s in states)


def _pattern_counts(n: int, cfg: SyntheticConfig) -> np.ndarray:
    """How many samples of each pattern: equal, or proportional to ``pattern_weights``
    (largest remainders get the leftover samples, so the counts sum to ``n``)."""
    if cfg.pattern_weights is None:
        return np.full(cfg.n_pat, n // cfg.n_pat)
    w = np.asarray(cfg.pattern_weights, dtype=np.float64)
    exact = w / w.sum() * n
    counts = np.floor(exact).astype(np.int64)
    rest = n - counts.sum()
    counts[np.argsort(-(exact - counts), kind="stable")[:rest]] += 1
    return counts


def _draw_split(n: int, sigma: float, masks: torch.Tensor, cfg: SyntheticConfig,
                gen: torch.Generator):
    counts = torch.as_tensor(_pattern_counts(n, cfg))
    p = torch.repeat_interleave(torch.arange(cfg.n_pat), counts)
    p = p[torch.randperm(n, generator=gen)]  # [n]
    x = sigma * torch.randn(n, cfg.n_dim, generator=gen)  # x_j ~ N(0, sigma)
    x += cfg.delta * masks[p].float()  # add delta on the pattern's components
    x /= x.norm(dim=1, keepdim=True).clamp_min(torch.finfo(x.dtype).tiny)  # L2-normalise
    y = pattern_class(cfg.n_pat)[p]
    return x, y, p


def make_synthetic(cfg: SyntheticConfig = SyntheticConfig()) -> SyntheticData:
    """Algorithm 1: draw the masks once, then the train and test splits with their own sigma.

    Deterministic in ``cfg.seed`` (all draws on the CPU, so the arrays are the same
    whatever device the model later runs on).
    """
    g_mask, g_train, g_test = _generators(cfg.seed)
    if cfg.noise_seed is not None:
        _, g_train, g_test = _generators(cfg.noise_seed)
    masks = torch.zeros(cfg.n_pat, cfg.n_dim, dtype=torch.bool)
    if cfg.overlap:
        for k in range(cfg.n_pat):
            masks[k, torch.randperm(cfg.n_dim, generator=g_mask)[: cfg.l_pat]] = True
    else:
        chosen = torch.randperm(cfg.n_dim, generator=g_mask)[: cfg.n_pat * cfg.l_pat]
        masks[torch.arange(cfg.n_pat).repeat_interleave(cfg.l_pat), chosen] = True
    x_tr, y_tr, p_tr = _draw_split(cfg.n_train, cfg.sigma_train, masks, cfg, g_train)
    x_te, y_te, p_te = _draw_split(cfg.n_test, cfg.sigma_test, masks, cfg, g_test)
    return SyntheticData(x_tr, y_tr, p_tr, x_te, y_te, p_te, masks,
                         cfg.delta * masks.float(), cfg)


def difficulty(x: torch.Tensor, y: torch.Tensor, centroids: torch.Tensor,
               classes: torch.Tensor | None = None) -> torch.Tensor:
    """Difficulty coefficient d of equation (2), one value per sample ``[n]``.

    ``d(x) = <x, sum_{k not in C(x)} c_k> - <x, sum_{k in C(x)} c_k>``: the sample's
    correlation with the combined centroids of the other class minus that with its own
    class. Samples with ``d > 0`` are the paper's "difficult" samples (Section 4.2.2).
    ``classes [n_pat]`` gives each centroid's class (default: Algorithm 1's rule).
    """
    if classes is None:
        classes = pattern_class(centroids.shape[0])
    classes = classes.to(centroids.device)
    sums = torch.stack([centroids[classes == c].sum(0) for c in (0, 1)])  # [2, n_dim]
    corr = x @ sums.T.to(x.dtype)  # [n, 2]: correlation with each class's centroids
    own = corr.gather(1, y.long().view(-1, 1)).squeeze(1)
    other = corr.gather(1, (1 - y.long()).view(-1, 1)).squeeze(1)
    return other - own
