"""Many models of one shape trained together: stacked weights, batched matmuls.

A sweep (Figure 1: sigma_train x seeds) trains dozens of identical MLPs on data sets of
the same size. ``train_many`` stacks their weights (``W1 [M, h, d]``) and takes each
mini-batch step of all of them at once (``wtmlib.model.sgd_step_`` on the stack: one
``torch.bmm`` forward, one ``baddbmm_`` update), with a per-model stopping rule:
a model that fits its training set (Section 3.1's until-fit rule) leaves the stack at
once and is handed to ``on_done`` (the sweep stores it), the others go on.

Each member follows exactly the computation of ``wtmlib.train.train`` for its own
configuration: the same initial weights and batch order (from its seed), the same
loss, the same plain SGD update, the same recorder. On the CPU every slice of a ``bmm``
(``baddbmm_``) is the ``mm`` (``addmm_``) of the single model, so the recorded arrays
are bit-for-bit those
of training the models one by one (``tests/test_batched.py``); on a GPU the kernels
may differ in the last bits. That is why a batched run may fill the same cache entry
as a single run. On 2 CPU cores batching is slower than one by one (``wtm bench``); it
is meant for a GPU.

Scope: the Section 3 regime (``optimizer="sgd"``, mini-batches), no batch norm, no
callbacks. Anything else is refused with a ``ConfigError``; train those one by one.
"""

from __future__ import annotations

import time
from dataclasses import asdict

import torch
from tqdm.auto import tqdm

from .checks import ConfigError
from .model import Buffers, mlp_logits, sgd_step_
from .record import Recorder
from .train import (EXECUTION_FIELDS, ModelConfig, TrainConfig, TrainOutput, build_model,
                    evaluate_accuracy, model_from_arrays, resolve_device)


def check_batchable(datas: list, model_cfg: ModelConfig, cfgs: list) -> None:
    """Refuse, before any work, what ``train_many`` cannot train together."""
    if not datas or len(datas) != len(cfgs):
        raise ConfigError(f"train_many: got {len(datas)} data sets and {len(cfgs)} "
                          "configurations; need the same number, at least one")
    if model_cfg.batchnorm:
        raise ConfigError("batchnorm=True: batched training has no batch norm; "
                          "train these models one by one")

    def shared(cfg):
        return {k: v for k, v in asdict(cfg).items() if k not in EXECUTION_FIELDS + ("seed",)}

    for cfg in cfgs:
        if shared(cfg) != shared(cfgs[0]):
            raise ConfigError("train_many: the configurations may differ only in seed "
                              f"(and execution settings); got {cfgs[0]} and {cfg}")
    cfg = cfgs[0]
    if cfg.optimizer != "sgd":
        raise ConfigError(f"optimizer={cfg.optimizer!r}: batched training supports 'sgd' "
                          "(Section 3); train Layca runs one by one")
    shapes = {(tuple(d.x_train.shape), tuple(d.x_test.shape), d.centroids.shape[0])
              for d in datas}
    if len(shapes) != 1:
        raise ConfigError(f"train_many: the data sets differ in shape {sorted(shapes)}; "
                          "n_train, n_test, n_dim and n_pat must be equal")
    if not 0 < cfg.batch_size < len(datas[0].x_train):
        raise ConfigError(f"batch_size={cfg.batch_size}: batched training needs mini-batches "
                          f"(1 <= batch_size < n_train={len(datas[0].x_train)})")


class _Stack:
    """The active members' weights, stacked (``W1 [A, h, d]``, ``w2 [A, h]``, ``b2 [A]``)."""

    def __init__(self, w1, w2, b2, relu: bool, buffers: Buffers):
        self.w1, self.w2, self.b2 = (t.detach().clone() for t in (w1, w2, b2))
        self.relu, self.buffers = relu, buffers

    def keep(self, rows: list[int]) -> "_Stack":
        """The members in ``rows`` only (the others have stopped)."""
        return _Stack(self.w1[rows], self.w2[rows], self.b2[rows], self.relu, self.buffers)

    def logits(self, x: torch.Tensor, kind: str) -> torch.Tensor:
        """``x [A, B, d]`` -> logits ``[A, B]``: ``mlp_logits`` on the stack (each member
        through the kernels of the single model, so the same rounding)."""
        with torch.no_grad():
            buf = self.buffers.get(kind, (*x.shape[:2], self.w1.shape[1]), x)
            return mlp_logits(x, self.w1, self.w2, self.b2, self.relu, buf)

    def sgd_step(self, x: torch.Tensor, y: torch.Tensor, lr: float, on_grad) -> None:
        """One SGD step of every member on its mini-batch (``x [A, B, d]``, ``y [A, B]``;
        ``x`` is overwritten) through ``sgd_step_``, as ``wtmlib.train`` takes it."""
        buf = self.buffers.get("step", (len(x), self.w1.shape[1], x.shape[1]), x)
        sgd_step_(x, y, self.w1, self.w2, self.b2, lr, self.relu, buf, on_grad)

    def state(self, k: int) -> dict:
        """Member ``k``'s weights under the single model's names (``MLP.state_dict``)."""
        return {"hidden.weight": self.w1[k].detach().cpu().clone(),
                "out.weight": self.w2[k][None].detach().cpu().clone(),
                "out.bias": self.b2[k][None].detach().cpu().clone()}


def train_many(datas: list, model_cfg: ModelConfig, cfgs: list, on_done=None,
               progress: bool = True) -> list[TrainOutput]:
    """Train model ``i`` on ``datas[i]`` with ``cfgs[i]``, all together (module docstring).

    ``on_done(i, output)`` is called as soon as model ``i`` stops (fitted, or at the epoch
    bound), so a sweep can store it before the others finish. Returns the outputs in the
    order of ``datas``; each is what ``train(datas[i], model_cfg, cfgs[i])`` returns,
    except ``wall_s`` (the batch's time when the model stopped) and ``batched_with``.
    """
    from .data import difficulty  # noqa: PLC0415

    check_batchable(datas, model_cfg, cfgs)
    cfg = cfgs[0]
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    device = resolve_device(cfg.device)
    start = time.perf_counter()
    n_models = len(datas)

    def stacked(name):
        return torch.stack([getattr(d, name) for d in datas]).to(device)

    x, y, xt, yt = stacked("x_train"), stacked("y_train"), stacked("x_test"), stacked("y_test")
    yf = y.float()
    recs = []
    for i, d in enumerate(datas):
        hard = difficulty(x[i], y[i], d.centroids.to(device)) > 0
        recs.append(Recorder(x[i], d.p_train.to(device), y[i], hard, d.centroids.shape[0],
                             model_cfg.n_hidden,
                             *((xt[i], d.p_test.to(device), yt[i]) if cfg.probe else ())))
    models = [build_model(x.shape[2], model_cfg, c.seed) for c in cfgs]
    stack = _Stack(torch.stack([m.hidden.weight for m in models]).to(device),
                   torch.stack([m.w2 for m in models]).to(device),
                   torch.stack([m.out.bias[0] for m in models]).to(device),
                   relu=model_cfg.activation == "relu", buffers=Buffers())
    gens = [torch.Generator().manual_seed(c.seed) for c in cfgs]
    active = list(range(n_models))  # model index of each row of the stack
    xa, xta, ya = x, xt, yf  # the active models' data (copied only when the stack shrinks)
    snaps: list[dict] = [{} for _ in range(n_models)]
    outputs: list[TrainOutput | None] = [None] * n_models
    epochs_run, steps = 0, 0

    def evaluate(epoch):
        """Every active model on its whole training set (and probe): the recorded state."""
        logits = stack.logits(xa, "train")
        logits_t = stack.logits(xta, "probe") if cfg.probe else None
        for k, i in enumerate(active):
            recs[i].observe_train(stack.w1[k], logits[k])
            if epoch in cfg.snapshots:
                for name, t in stack.state(k).items():
                    snaps[i].setdefault(name, []).append(t)
                snaps[i].setdefault("epochs", []).append(torch.tensor(epoch))
            if cfg.probe:
                recs[i].observe_probe(stack.w1[k], logits_t[k])

    def finish(k, i):
        rec = recs[i]
        arrays = rec.arrays(x[i], stack.w1[k], stack.w2[k], cfg.keep_neurons)
        arrays.update({name: t.numpy() for name, t in stack.state(k).items()})
        arrays.update({f"snapshot_{name}": torch.stack(v).numpy() for name, v in snaps[i].items()})
        train_acc = float(arrays["history_train_acc"][-1])
        if cfg.probe:
            test_acc = float(arrays["history_probe_acc"][-1])
        else:  # as train() does it
            test_acc = evaluate_accuracy(model_from_arrays(arrays, model_cfg).to(device),
                                         xt[i], yt[i])
        metrics = dict(
            epochs_run=epochs_run, steps=steps, train_acc=train_acc, fitted=train_acc == 1.0,
            hit_max_epochs=bool(cfg.until_fit and train_acc < 1.0), test_acc=test_acc,
            wall_s=time.perf_counter() - start, device=str(device),
            threads=torch.get_num_threads(), resumed_from_epoch=0, batched_with=n_models)
        outputs[i] = TrainOutput(arrays, metrics)
        if on_done is not None:
            on_done(i, outputs[i])

    def stop_finished(last: bool) -> None:
        nonlocal stack, active, xa, xta, ya
        done = [k for k, i in enumerate(active) if last or (
            cfg.until_fit and bool(recs[i].history["train_acc"][-1] == 1.0))]
        for k in done:
            finish(k, active[k])
        if done and not last:
            rows = [k for k in range(len(active)) if k not in done]
            stack = stack.keep(rows)
            active = [active[k] for k in rows]
            xa, xta, ya = x[active], xt[active], yf[active]

    def observe_grads(grad_logits, idx):
        """dL/dlogit ``[A, B]`` of one step, with the W2 that produced it (not yet stepped)."""
        for k, i in enumerate(active):
            recs[i].observe_output_grad(grad_logits[k], stack.w2[k], idx[k])

    evaluate(0)
    stop_finished(last=cfg.epochs == 0)
    bar = tqdm(total=cfg.epochs, disable=not (progress and cfg.progress),
               desc=f"train {n_models} models", leave=False)
    for epoch in range(cfg.epochs):
        if not active:
            break
        lr = cfg.lr_at(epoch)
        perms = torch.stack([torch.randperm(x.shape[1], generator=gens[i]) for i in active])
        perms = perms.to(device)
        rows = torch.arange(len(active), device=device)[:, None]
        for idx in perms.split(cfg.batch_size, dim=1):  # idx [A, B]
            stack.sgd_step(xa[rows, idx], ya[rows, idx], lr,
                           lambda g, idx=idx: observe_grads(g, idx))
            steps += 1
        epochs_run = epoch + 1
        evaluate(epoch + 1)
        stop_finished(last=epoch + 1 == cfg.epochs)
        bar.update()
        bar.set_postfix(training=len(active))
    bar.close()
    return outputs
