"""What a run computes, and apart from it, where and how it executes.

``ModelConfig`` and ``TrainConfig`` (with the data configuration) key a result: change
one field and it is another run. ``Execution`` chooses the device, the threads, the
engine (readable reference or fast hand-written passes), the progress bar and the
checkpoint cadence: it never enters a result's key, and each result records the
execution it was made with.

The two training regimes of Section 2.2:

* Section 3.1: SGD, learning rate 1, batch 64, binary cross-entropy, until every
  training sample is classified correctly (bounded by ``epochs``).
  ``TrainConfig.section3()``.
* Section 4: Layca, full batch, 400 epochs, learning rate 3**-3 divided by 5 at epoch
  375 (the original Layca code uses rates 3**-k, so the paper's "3^{-3}" is 1/27).
  ``TrainConfig()`` (the defaults).
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch



# the checks every configuration runs in __post_init__: bad input fails at construction,
# before any data is drawn or any model is trained; messages name the parameter, its
# value and what is allowed

class ConfigError(ValueError):
    """A configuration value outside its allowed range or of the wrong type."""


def check_type(name: str, value, kind, allowed: str) -> None:
    """Refuse ``value`` unless it is an instance of ``kind`` (bools are never numbers)."""
    is_bool = isinstance(value, bool)
    wants_bool = kind is bool or (isinstance(kind, tuple) and bool in kind)
    if (is_bool and not wants_bool) or not isinstance(value, kind):
        raise ConfigError(f"{name}={value!r} ({type(value).__name__}): expected {allowed}")


def check_int(name: str, value, low: int | None = None, high: int | None = None) -> None:
    """An integer in ``[low, high]`` (either bound may be open)."""
    check_type(name, value, numbers.Integral, "an integer")
    _check_range(name, value, low, high)


def check_float(name: str, value, low: float | None = None, high: float | None = None,
                low_open: bool = False) -> None:
    """A finite real number in ``[low, high]``, or ``(low, high]`` when ``low_open``."""
    check_type(name, value, numbers.Real, "a number")
    if not math.isfinite(value):  # NaN passes every comparison below
        raise ConfigError(f"{name}={value!r}: must be a finite number")
    if low is not None and low_open and not value > low:
        raise ConfigError(f"{name}={value!r}: must be > {low}")
    _check_range(name, value, None if low_open else low, high)


def check_choice(name: str, value, choices) -> None:
    """One of a fixed set of strings."""
    if value not in choices:
        raise ConfigError(f"{name}={value!r}: must be one of {sorted(choices)}")


def _check_range(name, value, low, high) -> None:
    if low is not None and value < low:
        raise ConfigError(f"{name}={value!r}: must be >= {low}")
    if high is not None and value > high:
        raise ConfigError(f"{name}={value!r}: must be <= {high}")


ACTIVATIONS = ("relu", "linear")
_ADDED = "added"  # field metadata: see ``added_field``


def added_field(default):
    """A configuration field added after results were stored under the configurations
    without it: at its default it stays out of a result's key (``keyed``), so those
    results keep their keys; set to anything else it keys the result like any field."""
    return dataclasses.field(default=default, metadata={_ADDED: True})


def keyed(cfg) -> dict:
    """``asdict(cfg)`` less the ``added_field`` fields that hold their default: the part of
    a configuration that keys a result (``wtmlib.results.runs.run_config``)."""
    d = dataclasses.asdict(cfg)
    for f in dataclasses.fields(cfg):
        if f.metadata.get(_ADDED) and d[f.name] == f.default:
            del d[f.name]
    return d

ENGINES = ("fast", "reference")
OUTPUT_NORMS = ("free", "fixed")  # TrainConfig.output_norm


@dataclass(frozen=True)
class ModelConfig:
    """The MLP of equation (1): width, activation (ablation: "linear"), batch norm."""

    n_hidden: int = 1000
    activation: str = "relu"
    batchnorm: bool = False

    def __post_init__(self):
        check_int("n_hidden", self.n_hidden, 1)
        check_choice("activation", self.activation, ACTIVATIONS)
        check_type("batchnorm", self.batchnorm, bool, "True or False")


@dataclass(frozen=True)
class TrainConfig:
    """How a model is trained and what is recorded. Defaults: Section 4 (Layca).

    Parameter readings the paper leaves open (Section 2.2), each a setting:

    * ``lr``: 3**-3 = 1/27 (Layca's 3**-k convention); ``3e-3`` is the other reading.
    * ``biases``: Layca's original code leaves biases and batch-norm parameters at
      their initial values ("frozen"); "sgd" trains them with plain SGD at ``lr``.
    * ``output_layer``: "layca" rotates W2 like W1; "sgd" trains it with plain SGD at
      ``output_lr`` (default ``lr``); ``bias_lr`` is the rate of "sgd" biases (default
      ``lr``; the output layer's rate is the other reading of "b2 trained").
    * ``output_norm``: with ``output_layer="sgd"``, "free" leaves W2's norm to SGD;
      "fixed" projects W2 back to its initial norm after every step (plain SGD at
      ``output_lr``, then rescaled). The controlled test of this book's claim that the
      mechanism needs the output scale to grow: only W2's norm differs from the free
      run, not its optimizer (Layca on W2, the literal reading, changes both).
    * ``keep_mean_sign``: store the per-sample mean sign of dL/da ``[n_train, n_hidden]``
      (Figure 3 row 4); off, only its per-class summaries are stored (all that the
      class-level measures need). ``keep_probe_means``: store the probe set's pattern
      means (Figure 2); off, only the probe's accuracy and loss per epoch. Both choose
      what is stored, so they key the result like any other field.
    * ``keep_dz_sign``: also store the per-sample and per-class sums of the sign of
      dL/dz = dL/da * 1[z > 0] (Section 4.1's sign gated by the ReLU: zero where the
      neuron is off), the informative variant of a sign that dL/da fixes by the class.
    * ``keep_grad_shares``: also record, per epoch, the difficult samples' (d > 0, eq. 2)
      share of the hidden layer's gradient, |G_d| / (|G_d| + |G_r|) with G_g the W1
      gradient of the summed per-sample losses of group g (Frobenius norms; Section
      4.2.2: the difficult samples "become the dominant force driving the gradient
      directions"). Full-batch Layca only (the regime of Section 4).
    """

    optimizer: str = "layca"  # "layca" | "sgd"
    lr: float = 3.0**-3  # learning rate (Section 2.2)
    batch_size: int = 0  # 0: full batch; else mini-batches, reshuffled each epoch
    epochs: int = 400  # fixed number of epochs, or the bound when until_fit
    until_fit: bool = False  # stop when every training sample is classified correctly
    lr_decay_epoch: int = 375  # from this 0-based epoch on, lr / lr_decay_factor; -1: never
    lr_decay_factor: float = 5.0
    biases: str = "frozen"  # Layca only: "frozen" | "sgd" (biases and batch norm)
    output_layer: str = "layca"  # Layca only: "layca" | "sgd"
    output_lr: float = 0.0  # lr of an "sgd" output layer; 0: same as lr
    seed: int = 0  # initial weights and mini-batch order
    probe: bool = True  # record pattern means and accuracy on the test set every epoch
    keep_neurons: int = 16  # final pre-activations kept for this many top-|W2| neurons
    snapshots: tuple = ()  # epochs after which the weights are stored (e.g. Section 5.2)
    keep_mean_sign: bool = True  # store the per-sample mean sign of dL/da
    keep_probe_means: bool = True  # store the probe set's pattern means (with probe)
    bias_lr: float = added_field(0.0)  # lr of "sgd" biases; 0: same as lr
    keep_dz_sign: bool = added_field(False)  # also count the sign of dL/dz (ReLU-gated)
    output_norm: str = added_field("free")  # "sgd" output layer: "free" | "fixed" (projected)
    keep_grad_shares: bool = added_field(False)  # record the difficult share of the W1 gradient

    def __post_init__(self):
        check_choice("optimizer", self.optimizer, ("layca", "sgd"))
        check_float("lr", self.lr, 0.0, low_open=True)
        check_int("batch_size", self.batch_size, 0)
        check_int("epochs", self.epochs, 1)
        check_type("until_fit", self.until_fit, bool, "True or False")
        check_int("lr_decay_epoch", self.lr_decay_epoch, -1)
        check_float("lr_decay_factor", self.lr_decay_factor, 0.0, low_open=True)
        check_choice("biases", self.biases, ("frozen", "sgd"))
        check_choice("output_layer", self.output_layer, ("layca", "sgd"))
        check_float("output_lr", self.output_lr, 0.0)
        check_int("seed", self.seed, 0, 2**63 - 1)
        check_type("probe", self.probe, bool, "True or False")
        check_int("keep_neurons", self.keep_neurons, 0)
        check_type("snapshots", self.snapshots, (tuple, list), "a sequence of epochs")
        for e in self.snapshots:
            check_int("snapshots[...]", e, 0, self.epochs)
        object.__setattr__(self, "snapshots", tuple(sorted(set(self.snapshots))))
        check_type("keep_mean_sign", self.keep_mean_sign, bool, "True or False")
        check_type("keep_probe_means", self.keep_probe_means, bool, "True or False")
        check_float("bias_lr", self.bias_lr, 0.0)
        check_type("keep_dz_sign", self.keep_dz_sign, bool, "True or False")
        check_choice("output_norm", self.output_norm, OUTPUT_NORMS)
        check_type("keep_grad_shares", self.keep_grad_shares, bool, "True or False")
        if self.keep_grad_shares and (self.optimizer, self.batch_size) != ("layca", 0):
            raise ConfigError(
                f"keep_grad_shares=True with optimizer={self.optimizer!r}, batch_size="
                f"{self.batch_size}: the gradient shares are recorded in Section 4's regime "
                "only (optimizer='layca', batch_size=0: full batch)")
        if self.output_norm == "fixed" and (self.optimizer, self.output_layer) != ("layca", "sgd"):
            raise ConfigError(
                f"output_norm='fixed' with optimizer={self.optimizer!r}, output_layer="
                f"{self.output_layer!r}: W2's norm is projected back only when W2 is trained "
                "by plain SGD beside Layca (optimizer='layca', output_layer='sgd'); Layca on "
                "W2 keeps its norm already")

    @classmethod
    def section3(cls, **changes) -> "TrainConfig":
        """Section 3.1: SGD, lr 1, batch 64, until the training set is fitted."""
        base = dict(optimizer="sgd", lr=1.0, batch_size=64, epochs=1000, until_fit=True,
                    lr_decay_epoch=-1)
        return cls(**{**base, **changes})

    def lr_at(self, epoch: int) -> float:
        """Learning rate of 0-based ``epoch`` (step decay, Section 2.2)."""
        decayed = 0 <= self.lr_decay_epoch <= epoch
        return self.lr / self.lr_decay_factor if decayed else self.lr


@dataclass(frozen=True)
class Execution:
    """Where and how runs execute; never part of a result's key.

    ``engine``: "fast" trains through the hand-written passes of ``wtmlib.training.fast``;
    "reference" through ``MLP.forward``, autograd and the model's hook points
    (``wtmlib.training.reference``): the readable definition the fast engine is tested against.
    """

    device: str = "auto"  # "auto" (CUDA when present), "cpu", "cuda", "cuda:1", "mps"
    threads: int = 0  # CPU threads for torch; 0: leave torch's setting
    engine: str = "fast"  # "fast" | "reference"
    progress: bool = True  # a progress bar while training
    checkpoint_every: int = 25  # epochs between checkpoints (when a run has a path); 0: none
    checkpoint_every_s: float = 60.0  # and at least this many seconds since the last one
    workers: int = 0  # local worker processes for a sweep's missing runs (0 or 1: none)
    batch_models: int = 0  # train up to this many same-shape SGD runs stacked (0: one by one)

    def __post_init__(self):
        check_type("device", self.device, str, "a device name such as 'auto', 'cpu', 'cuda'")
        if not (self.device in ("auto", "cpu", "mps") or self.device.startswith("cuda")):
            raise ConfigError(f"device={self.device!r}: must be 'auto', 'cpu', 'cuda[:N]' or 'mps'")
        check_int("threads", self.threads, 0)
        check_choice("engine", self.engine, ENGINES)
        check_type("progress", self.progress, bool, "True or False")
        check_int("checkpoint_every", self.checkpoint_every, 0)
        check_float("checkpoint_every_s", self.checkpoint_every_s, 0.0)
        check_int("workers", self.workers, 0)
        check_int("batch_models", self.batch_models, 0)

    def torch_device(self) -> torch.device:
        """``"auto"`` is CUDA when available, else the CPU; anything else as given."""
        import torch  # noqa: PLC0415  (checking a configuration needs no torch)

        if self.device == "auto":
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        dev = torch.device(self.device)
        if dev.type == "cuda" and not torch.cuda.is_available():
            raise ConfigError(f"device={self.device!r}: CUDA is not available on this machine")
        return dev


_default = [Execution()]


def default_execution() -> Execution:
    """The execution runs use when they are given none (``set_default_execution``)."""
    return _default[0]


def set_default_execution(execution: Execution) -> Execution:
    """Make ``execution`` the default of this process (a notebook sets it once from its
    parameters) and apply its thread count; returns it."""
    check_type("execution", execution, Execution, "an Execution")
    if execution.threads:
        import torch  # noqa: PLC0415

        torch.set_num_threads(execution.threads)
    _default[0] = execution
    return execution
