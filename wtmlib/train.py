"""The two training regimes of Section 2.2, with recording.

* Section 3.1: SGD, learning rate 1, batch 64, binary cross-entropy, until every
  training sample is classified correctly (bounded by ``epochs``; a run that hits the
  bound says so in ``hit_max_epochs``).  ``TrainConfig.section3()``.
* Section 4: Layca, full batch, 400 epochs, learning rate 3**-3 divided by 5 at epoch
  375 (the original Layca code uses rates 3**-k, so the paper's "3^{-3}" is 1/27).
  ``TrainConfig()`` (the defaults).

``train`` is a pure function of (data, model config, train config): the model's
initial weights and the mini-batch order come from ``TrainConfig.seed``.

A model without batch norm trains through ``wtmlib.model.mlp_logits``: equation (1)
with its gradient written out, the same numbers as autograd through ``MLP.forward`` to
float rounding (tested), at about 1.6x the speed (one reused ``[n, h]`` buffer, two
large products per step). Its mini-batch SGD steps (Section 3.1) go through
``wtmlib.model.sgd_step_``, the whole step written out with the update folded into the
weight-gradient product. With batch norm (Appendix A.1) it trains through
``wtmlib.model.bn_mlp_logits`` and evaluates through ``bn_eval_logits``: the same
written-out approach, the values of ``MLP.forward`` in training and evaluation mode.
"""

from __future__ import annotations

import hashlib
import json
import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
# torch.optim.Optimizer imports torch._dynamo (about 2.5 s here) the first time one is
# built; importing it with this module keeps that one-off cost out of a process's first
# run's training time (wall_s)
import torch._dynamo  # noqa: F401
import torch.nn.functional as F
from tqdm.auto import tqdm

from .checks import ConfigError, check_choice, check_float, check_int, check_type
from .model import (ACTIVATIONS, MLP, Buffers, bn_eval_logits, bn_mlp_logits, mlp_logits,
                    sgd_step_)
from .optim import Layca
from .record import Recorder


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
      ``output_lr`` (default ``lr``).
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
    device: str = "auto"  # "auto" (CUDA when present), "cpu", "cuda", "cuda:1", ...
    threads: int = 0  # CPU threads for torch; 0: leave torch's setting
    progress: bool = True  # tqdm progress bar
    checkpoint_every: int = 25  # epochs between checkpoints (when train gets a path); 0: none
    checkpoint_every_s: float = 60.0  # and at least this many seconds since the last one

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
        check_type("device", self.device, str, "a device name such as 'auto', 'cpu', 'cuda'")
        if not (self.device == "auto" or self.device == "cpu" or self.device.startswith("cuda")
                or self.device == "mps"):
            raise ConfigError(f"device={self.device!r}: must be 'auto', 'cpu', 'cuda[:N]' or 'mps'")
        check_int("threads", self.threads, 0)
        check_type("progress", self.progress, bool, "True or False")
        check_int("checkpoint_every", self.checkpoint_every, 0)
        check_float("checkpoint_every_s", self.checkpoint_every_s, 0.0)

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


# settings that choose where a run executes, not what it computes: kept out of the cache key
EXECUTION_FIELDS = ("device", "threads", "progress", "checkpoint_every", "checkpoint_every_s")


def resolve_device(name: str) -> torch.device:
    """``"auto"`` is CUDA when available, else the CPU; anything else as given."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(name)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device={name!r}: CUDA is not available on this machine")
    return dev


def build_model(n_in: int, model_cfg: ModelConfig, seed: int) -> MLP:
    """The MLP with PyTorch's default initialisation drawn from ``seed`` (on the CPU)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return MLP(n_in, model_cfg.n_hidden, model_cfg.activation, model_cfg.batchnorm)


def build_optimizer(model: MLP, cfg: TrainConfig) -> torch.optim.Optimizer:
    """SGD on every parameter, or Layca with the parameter groups the config chooses."""
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(model.parameters(), lr=cfg.lr)
    others = [p for n, p in model.named_parameters() if n not in ("hidden.weight", "out.weight")]
    return Layca([
        dict(params=[model.hidden.weight], mode="layca"),
        dict(params=[model.out.weight], mode=cfg.output_layer,
             lr=cfg.output_lr or cfg.lr),
        dict(params=others, mode=cfg.biases),
    ], lr=cfg.lr)


def set_lr(opt: torch.optim.Optimizer, cfg: TrainConfig, epoch: int) -> None:
    scale = cfg.lr_at(epoch) / cfg.lr
    for i, group in enumerate(opt.param_groups):
        base = cfg.output_lr if (i == 1 and cfg.optimizer == "layca" and cfg.output_lr) else cfg.lr
        group["lr"] = base * scale


@dataclass
class TrainOutput:
    """What ``train`` returns: recorded arrays, final weights and summary metrics."""

    arrays: dict  # name -> numpy array (see wtmlib.record), weights "w1", "w2", "b2", ...
    metrics: dict  # scalars: final accuracies, epochs_run, hit_max_epochs, wall_s, ...


class _Passes:
    """The model's forward passes in a training run, each with its gradient written out
    and one reused set of buffers per kind of pass: ``mlp_logits`` without batch norm,
    ``bn_mlp_logits`` (training mode) and ``bn_eval_logits`` (evaluation passes, running
    statistics) with it."""

    def __init__(self, model: MLP):
        self.model, self.buffers = model, Buffers()
        self.norm = model.norm if isinstance(model.norm, torch.nn.BatchNorm1d) else None

    def logits(self, x: torch.Tensor, kind: str, grad: bool = False, on_grad=None):
        """``[n]`` logits of ``x`` for a pass of ``kind`` ("step", "train", "probe");
        with ``on_grad`` the backward of the loss later calls ``on_grad(dL/dlogit)``.
        With batch norm, a pass with ``grad`` is in training mode, one without in
        evaluation mode (as ``MLP.forward`` after ``model.train()`` / ``model.eval()``)."""
        m = self.model
        relu = isinstance(m.act, torch.nn.ReLU)
        shape = (len(x), m.hidden.out_features)
        with torch.set_grad_enabled(grad):
            if self.norm is None:
                logits = mlp_logits(x, m.hidden.weight, m.out.weight, m.out.bias, relu,
                                    self.buffers.get(kind, shape, x),
                                    self.buffers.get(f"{kind} g x", x.shape, x) if grad else None)
            elif grad:
                bufs = [self.buffers.get(f"{kind} {i}", shape, x) for i in range(3)]
                logits = bn_mlp_logits(x, m.hidden.weight, self.norm, m.out.weight,
                                       m.out.bias, relu, bufs)
            else:
                logits = bn_eval_logits(x, m.hidden.weight, self.norm, m.out.weight,
                                        m.out.bias, relu, self.buffers.get(kind, shape, x))
        if on_grad is not None:
            logits.register_hook(on_grad)
        return logits

    def gather(self, x: torch.Tensor, idx: torch.Tensor, name: str) -> torch.Tensor:
        """``x[idx]`` into a reused buffer ``name``."""
        return torch.index_select(x, 0, idx,
                                  out=self.buffers.get(name, (len(idx), *x.shape[1:]), x))

    def sgd_step(self, x: torch.Tensor, y: torch.Tensor, lr: float, on_grad=None) -> None:
        """One plain SGD step on the mini-batch ``x``, ``y`` through ``sgd_step_`` (the
        update written out; ``x`` is overwritten; ``on_grad(dL/dlogit)`` before the weights
        move)."""
        m = self.model
        sgd_step_(x, y, m.hidden.weight.detach(), m.w2.detach(), m.out.bias.detach(), lr,
                  isinstance(m.act, torch.nn.ReLU),
                  self.buffers.get("step", (m.hidden.out_features, len(x)), x), on_grad)


def _data_digest(data) -> str:
    """SHA-256 of the training and test tensors (a checkpoint resumes on the same data)."""
    h = hashlib.sha256()
    for t in (data.x_train, data.y_train, data.p_train, data.x_test, data.y_test):
        h.update(t.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def _save_checkpoint(path: Path, state: dict) -> None:
    """Write ``state`` (tensors, numbers, lists, dicts) atomically; a failed write warns
    and training goes on (the run itself does not depend on its checkpoint)."""
    from .cache import _atomic_write  # noqa: PLC0415

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        _atomic_write(path, lambda f: torch.save(state, f))
    except OSError as err:
        warnings.warn(f"could not write checkpoint {path} ({err.strerror or err}); "
                      "training goes on without it", stacklevel=3)


def _load_checkpoint(path: Path | None, fingerprint: dict) -> dict | None:
    """The checkpoint at ``path`` if it belongs to this run, else ``None`` (with a warning
    when it exists but cannot be used). ``weights_only=True``: no code runs on load."""
    if path is None or not path.exists():
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        if state.get("fingerprint") != fingerprint:
            raise ValueError("it belongs to another configuration")
        return state
    except Exception as err:  # noqa: BLE001 - any damage means start from scratch
        warnings.warn(f"ignoring checkpoint {path} ({type(err).__name__}: {err}); "
                      "starting from epoch 0", stacklevel=3)
        return None


def train(data, model_cfg: ModelConfig = ModelConfig(), cfg: TrainConfig = TrainConfig(),
          callback=None, checkpoint: str | Path | None = None) -> TrainOutput:
    """Train the MLP on ``data`` (x/y/p train and test tensors) and record everything.

    ``callback(kind, index, model)`` (tests) is called with ``("step", s, model)`` just
    before optimizer step ``s`` (the weights that produced its gradient) and
    ``("epoch", e, model)`` at each recorded state (``e = 0`` is the initialisation).

    ``checkpoint``: a file that receives the whole training state every
    ``cfg.checkpoint_every`` epochs, once ``cfg.checkpoint_every_s`` seconds have passed
    since the last one (a write costs about a second on the paper's shapes: a minute's
    spacing keeps it near 1 % of a run and bounds what a kill loses to a minute and an
    epoch); when it already holds the state of this same
    configuration, training resumes from it and ends with the arrays an uninterrupted
    run gives. The caller deletes it once the result is stored (``wtmlib.runs``).
    """
    from .data import difficulty  # noqa: PLC0415  (data knows nothing of training)

    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    device = resolve_device(cfg.device)
    start = time.perf_counter()
    x, y, p = (t.to(device) for t in (data.x_train, data.y_train, data.p_train))
    xt, yt, pt = (t.to(device) for t in (data.x_test, data.y_test, data.p_test))
    yf = y.float()
    d = difficulty(x, y, data.centroids.to(device)) > 0
    model = build_model(x.shape[1], model_cfg, cfg.seed).to(device)
    opt = build_optimizer(model, cfg)
    passes = _Passes(model)
    rec = Recorder(x, p, y, d, data.centroids.shape[0], model_cfg.n_hidden,
                   *((xt, pt, yt) if cfg.probe else ()))
    full_batch = cfg.batch_size == 0 or cfg.batch_size >= len(x)
    order_gen = torch.Generator().manual_seed(cfg.seed)
    callback = callback or (lambda *a: None)
    snaps: dict[str, list] = {}
    loop = dict(epoch=0, step=0, elapsed=0.0)  # where the run stands (checkpointed)
    last_saved = [start]  # when the last checkpoint was written (or the run started)

    path = Path(checkpoint) if checkpoint is not None else None
    resumed = None
    if path is not None:
        fingerprint = json.loads(json.dumps(dict(model=asdict(model_cfg), train={
            k: v for k, v in asdict(cfg).items() if k not in EXECUTION_FIELDS},
            data=_data_digest(data))))
        resumed = _load_checkpoint(path, fingerprint)
    if resumed is not None:
        model.load_state_dict(resumed["model"])
        opt.load_state_dict(resumed["optimizer"])
        rec.restore(resumed["recorder"])
        order_gen.set_state(resumed["order_gen"])
        snaps = {k: list(v) for k, v in resumed["snapshots"].items()}
        loop = dict(resumed["loop"])
    first_epoch = loop["epoch"]

    def save_checkpoint(next_epoch: int) -> None:
        """State before ``next_epoch`` (model, optimizer, recorder, batch order)."""
        if path is None or not cfg.checkpoint_every or next_epoch % cfg.checkpoint_every:
            return
        if time.perf_counter() - last_saved[0] < cfg.checkpoint_every_s:
            return
        last_saved[0] = time.perf_counter()
        _save_checkpoint(path, dict(
            fingerprint=fingerprint, model=model.state_dict(), optimizer=opt.state_dict(),
            recorder=rec.state(), order_gen=order_gen.get_state(), snapshots=snaps,
            loop=dict(epoch=next_epoch, step=step,
                      elapsed=loop["elapsed"] + time.perf_counter() - start)))

    def probe(epoch):
        if epoch in cfg.snapshots:
            for name, t in model.state_dict().items():
                if t.dtype.is_floating_point:
                    snaps.setdefault(name, []).append(t.detach().cpu().clone())
            snaps.setdefault("epochs", []).append(torch.tensor(epoch))
        if cfg.probe:
            rec.observe_probe(model.hidden.weight, passes.logits(xt, "probe"))
        callback("epoch", epoch, model)

    def fitted() -> bool:
        return cfg.until_fit and bool(rec.history["train_acc"][-1] == 1.0)

    def on_grad(idx=None):
        return lambda g: rec.observe_output_grad(g, model.w2, idx)

    step = loop["step"]
    epochs_run = first_epoch
    bar = tqdm(total=cfg.epochs, initial=first_epoch, disable=not cfg.progress, desc="train",
               leave=False)
    if full_batch:
        # One forward per epoch: the pass that computes the gradient of epoch e also
        # gives the recorded state after e epochs; the last state needs one more pass.
        for epoch in range(first_epoch, cfg.epochs + 1):
            last = epoch == cfg.epochs
            logits = passes.logits(x, "train", grad=not last, on_grad=None if last else on_grad())
            rec.observe_train(model.hidden.weight, logits)
            probe(epoch)
            if last or fitted():
                break
            set_lr(opt, cfg, epoch)
            opt.zero_grad(set_to_none=True)
            callback("step", step, model)
            F.binary_cross_entropy_with_logits(logits, yf).backward()
            opt.step()
            step += 1
            epochs_run = epoch + 1
            bar.update()
            if epochs_run < cfg.epochs:
                save_checkpoint(epochs_run)
    else:
        hand_sgd = passes.norm is None and cfg.optimizer == "sgd"  # sgd_step_: no autograd

        def evaluate(epoch):
            rec.observe_train(model.hidden.weight, passes.logits(x, "train"))
            probe(epoch)

        if resumed is None:
            evaluate(0)
        for epoch in range(first_epoch, cfg.epochs):
            if fitted():
                break
            set_lr(opt, cfg, epoch)
            perm = torch.randperm(len(x), generator=order_gen).to(device)
            # the epoch's samples in batch order, gathered once: each step's batch is a
            # slice (one gather an epoch instead of two a step)
            xs, ys = passes.gather(x, perm, "epoch x"), passes.gather(yf, perm, "epoch y")
            for first in range(0, len(x), cfg.batch_size):
                batch = slice(first, first + cfg.batch_size)
                idx = perm[batch]
                callback("step", step, model)
                if hand_sgd:
                    passes.sgd_step(xs[batch], ys[batch], cfg.lr_at(epoch), on_grad(idx))
                else:
                    opt.zero_grad(set_to_none=True)
                    logits = passes.logits(xs[batch], "step", grad=True, on_grad=on_grad(idx))
                    F.binary_cross_entropy_with_logits(logits, ys[batch]).backward()
                    opt.step()
                step += 1
            epochs_run = epoch + 1
            evaluate(epoch + 1)
            bar.update()
            bar.set_postfix(train_acc=f"{rec.history['train_acc'][-1].item():.4f}")
            if epochs_run < cfg.epochs and not fitted():
                save_checkpoint(epochs_run)
    bar.close()

    arrays = rec.arrays(x, model.hidden.weight, model.w2, cfg.keep_neurons)
    arrays.update({name: t.detach().cpu().numpy().copy() for name, t in model.state_dict().items()
                   if t.dtype.is_floating_point})
    arrays.update({f"snapshot_{name}": torch.stack(v).numpy() for name, v in snaps.items()})
    train_acc = float(arrays["history_train_acc"][-1])
    metrics = dict(
        epochs_run=epochs_run, steps=step, train_acc=train_acc, fitted=train_acc == 1.0,
        hit_max_epochs=bool(cfg.until_fit and train_acc < 1.0),
        test_acc=float(arrays["history_probe_acc"][-1]) if cfg.probe
        else evaluate_accuracy(model, xt, yt),
        wall_s=loop["elapsed"] + time.perf_counter() - start, device=str(device),
        threads=torch.get_num_threads(), resumed_from_epoch=first_epoch)
    return TrainOutput(arrays, metrics)


@torch.no_grad()
def evaluate_accuracy(model: MLP, x: torch.Tensor, y: torch.Tensor) -> float:
    """Fraction of ``x [n, n_in]`` classified as ``y [n]`` (logit > 0 is class 1)."""
    model.eval()
    logits = model(x)
    model.train()
    return ((logits > 0).long() == y.long()).float().mean().item()


def config_dict(*configs) -> dict:
    """JSON-able view of configuration dataclasses, keyed by class name."""
    return {type(c).__name__: asdict(c) for c in configs}


def model_from_arrays(arrays: dict, model_cfg: ModelConfig) -> MLP:
    """Rebuild a trained model from the weights stored in a run's arrays."""
    n_in = arrays["hidden.weight"].shape[1]
    model = MLP(n_in, model_cfg.n_hidden, model_cfg.activation, model_cfg.batchnorm)
    state = model.state_dict()
    for name in state:
        if name in arrays:
            state[name] = torch.as_tensor(np.asarray(arrays[name]))
    model.load_state_dict(state)
    return model
