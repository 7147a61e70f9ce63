"""The training loop of the neural families, in small pieces.

- :class:`Task` turns (example, time step) pairs into a :class:`GraphBatch` with targets
  (steady fields, or normalised increments from a noisy state for rollouts);
- :func:`epoch_batches` draws the data order of an epoch and this process's share;
- :func:`lr_at` is the learning-rate schedule (a pure function of the step, so a
  resumed run needs no scheduler state);
- :func:`loss_terms` is the loss: per-mesh mean squared error over nodes, averaged over
  meshes (so W processes with batch B equal one with batch W * B), plus the scalar loss;
- :func:`train_epoch` runs one epoch;
- :func:`fit_member` trains one network with atomic per-epoch checkpoints and resume.
"""
from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import SurrogateError
from .batching import GraphBatch, GraphItem, collate, pool_mean
from .checkpoint import TrainState, capture_rng, load_checkpoint, restore_rng, save_checkpoint
from .config import NeuralConfig
from .distributed import DistInfo, all_mean, barrier, wrap
from .encoding import Encoder, Example

__all__ = [
    "Batch",
    "Task",
    "checkpoint_path",
    "epoch_batches",
    "fit_member",
    "loss_terms",
    "lr_at",
    "train_epoch",
]

log = logging.getLogger(__name__)

#: config keys that may change between a checkpoint and its resume
_RESUME_FREE = {"device", "amp", "activation_checkpointing", "ddp_backend", "tensorboard"}


@dataclass(eq=False)
class Batch:
    """A collated batch with its targets.

    Attributes
    ----------
    graph : the meshes as one block-diagonal graph (node inputs in ``graph.x``).
    targets : (N, F_out) normalised target fields (or increments).
    scalars : (B, S) normalised target scalars.
    """

    graph: GraphBatch
    targets: torch.Tensor
    scalars: torch.Tensor

    def to(self, device: torch.device) -> Batch:
        """The batch on ``device``."""
        return Batch(self.graph.to(device), self.targets.to(device), self.scalars.to(device))


class Task:
    """Builds network inputs and targets from encoded examples.

    Parameters
    ----------
    encoder : the fitted encoder.
    examples : the encoded training samples.
    noise : std of the Gaussian noise on normalised states (time series only).
    prepare : a network's hook that adds family structure to a collated batch.
    """

    def __init__(self, encoder: Encoder, examples: Sequence[Example], noise: float,
                 prepare: Callable[[GraphBatch], GraphBatch] | None = None) -> None:
        self.encoder, self.examples, self.noise = encoder, list(examples), noise
        self.prepare = prepare
        self.pairs = [(e, t) for e, ex in enumerate(self.examples) for t in range(ex.n_steps)]
        if encoder.transient:
            _, sf = encoder.column_stats("field")
            md, sd = encoder.column_stats("delta")
            self._field_std, self._delta_mean, self._delta_std = sf, md, sd

    def __len__(self) -> int:
        return len(self.pairs)

    def item(self, pair: int, seed: Sequence[int] | None = None) -> tuple[GraphItem, torch.Tensor, torch.Tensor]:
        """Input graph, (N, F_out) target and (S,) scalars of pair ``pair``.

        ``seed`` seeds the noise of this pair (no noise when None or ``noise == 0``).
        """
        e, t = self.pairs[pair]
        ex = self.examples[e]
        if not self.encoder.transient:
            return ex.item, ex.targets, ex.scalars
        state, nxt = ex.states[t], ex.states[t + 1]
        if self.noise > 0 and seed is not None:
            gen = torch.Generator().manual_seed(int(np.random.SeedSequence(list(seed)).generate_state(1)[0]))
            state = state + self.noise * torch.randn(state.shape, generator=gen, dtype=state.dtype)
        target = self.increment_target(state, nxt)
        x = torch.cat([ex.item.x, state, ex.forcing[t], ex.forcing[t + 1]], dim=1)
        return GraphItem(x, ex.item.pos, ex.item.edges), target, ex.scalars

    def increment_target(self, state: torch.Tensor, nxt: torch.Tensor) -> torch.Tensor:
        """Normalised increment from (possibly noisy) normalised ``state`` to ``nxt``."""
        return ((nxt - state) * self._field_std - self._delta_mean) / self._delta_std

    def batch(self, pairs: Sequence[int], seeds: Sequence[Sequence[int]] | None = None) -> Batch:
        """Collate pairs into a :class:`Batch` (and run the network's ``prepare`` hook)."""
        items = [self.item(p, None if seeds is None else seeds[i]) for i, p in enumerate(pairs)]
        g = collate([it[0] for it in items])
        if self.prepare is not None:
            g = self.prepare(g)
        return Batch(g, torch.cat([it[1] for it in items]), torch.stack([it[2] for it in items]))


def epoch_batches(n: int, config: NeuralConfig, order: torch.Generator, info: DistInfo
                  ) -> list[tuple[list[int], list[int]]]:
    """This process's batches of one epoch: (pair indices, positions in the epoch order).

    The permutation is drawn from ``order`` (same state on every process). One process
    keeps a last, smaller batch; with W > 1 processes an incomplete last global batch is
    dropped so that every process runs the same number of steps.
    """
    perm = torch.randperm(n, generator=order).tolist()
    if config.samples_per_epoch is not None:
        perm = perm[: config.samples_per_epoch]
    b, w = config.batch_size, info.world
    gb = b * w
    if w > 1 and len(perm) < gb:
        raise SurrogateError(f"{len(perm)} examples per epoch cannot fill one global batch of "
                             f"{gb} ({w} processes x batch_size {b})")
    n_batches = len(perm) // gb if w > 1 else math.ceil(len(perm) / gb)
    out = []
    for k in range(n_batches):
        pos = list(range(k * gb + info.rank * b, min(k * gb + (info.rank + 1) * b, len(perm))))
        out.append(([perm[p] for p in pos], pos))
    return out


def lr_at(step: int, total: int, config: NeuralConfig) -> float:
    """Learning rate of optimiser step ``step`` (0-based) out of ``total``."""
    if config.warmup_steps and step < config.warmup_steps:
        return config.lr * (step + 1) / config.warmup_steps
    if config.schedule == "constant" or total <= config.warmup_steps + 1:
        return config.lr
    frac = (step - config.warmup_steps) / max(total - config.warmup_steps - 1, 1)
    frac = min(max(frac, 0.0), 1.0)
    if config.schedule == "cosine":
        return config.lr_min + 0.5 * (config.lr - config.lr_min) * (1 + math.cos(math.pi * frac))
    return config.lr * (max(config.lr_min, 1e-12) / config.lr) ** frac


def loss_terms(fields: torch.Tensor, scalars: torch.Tensor | None, batch: Batch,
               scalar_weight: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(total, field, scalar) losses of a batch.

    The field loss is the mean over meshes of each mesh's mean squared error over its
    nodes and output columns; the scalar loss the mean squared error of the scalars.
    """
    g = batch.graph
    per_node = (fields.float() - batch.targets).pow(2).mean(dim=1, keepdim=True)
    field_loss = pool_mean(per_node, g.batch, g.num_graphs).mean()
    if scalars is None or batch.scalars.shape[1] == 0:
        scalar_loss = field_loss.new_zeros(())
    else:
        scalar_loss = (scalars.float() - batch.scalars).pow(2).mean()
    return field_loss + scalar_weight * scalar_loss, field_loss, scalar_loss


def train_epoch(model: torch.nn.Module, optimizer: torch.optim.Optimizer, task: Task,
                batches: Sequence[tuple[list[int], list[int]]], config: NeuralConfig, *,
                seed: Sequence[int], step: int, total_steps: int, device: torch.device,
                info: DistInfo) -> tuple[dict[str, float], int]:
    """One epoch of optimiser steps.

    Parameters
    ----------
    model : the network (possibly DDP-wrapped), in training mode.
    optimizer : its optimiser.
    task : builds the batches.
    batches : from :func:`epoch_batches`.
    config : the training configuration.
    seed : (seed, member, epoch): with the position in the epoch, seeds each example's noise.
    step : optimiser steps done before this epoch.
    total_steps : optimiser steps of the whole training (for the schedule).
    device : where the network is.
    info : the process group.

    Returns
    -------
    metrics : mean ``loss``, ``field_loss``, ``scalar_loss`` over the epoch (over all
        processes), ``lr`` of the last step.
    step : optimiser steps done after this epoch.
    """
    sums = np.zeros(3)
    lr = config.lr
    amp = config.amp and device.type in ("cuda", "cpu")  # bf16 autocast exists on both
    for pairs, positions in batches:
        batch = task.batch(pairs, [(*seed, p) for p in positions]).to(device)
        lr = lr_at(step, total_steps, config)
        for group in optimizer.param_groups:
            group["lr"] = lr
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=amp):
            fields, scalars = model(batch.graph)
        loss, fl, sl = loss_terms(fields, scalars, batch, config.scalar_weight)
        loss.backward()
        if config.grad_clip is not None:
            torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        optimizer.step()
        step += 1
        sums += [loss.item(), fl.item(), sl.item()]
    means = all_mean(list(sums / max(len(batches), 1)), info, device)
    return {"loss": means[0], "field_loss": means[1], "scalar_loss": means[2], "lr": lr}, step


def checkpoint_path(workdir: Path, member: int) -> Path:
    """The checkpoint file of ensemble member ``member`` in ``workdir``."""
    return Path(workdir) / f"member-{member}.ckpt"


def fit_member(network: torch.nn.Module, task: Task, config: NeuralConfig, *, member: int,
               device: torch.device, info: DistInfo, workdir: Path | None, resume: bool,
               fingerprint: dict[str, Any],
               on_epoch: Callable[[list[dict[str, Any]]], None] | None = None) -> list[dict[str, Any]]:
    """Train one network (in place) for ``config.epochs`` epochs.

    After every epoch the main process writes the checkpoint atomically to
    ``workdir/member-<m>.ckpt`` and then calls ``on_epoch(history)``; an exception or a
    kill at any point loses at most the running epoch. With ``resume``, training
    continues from that checkpoint (weights, optimiser, counters, every RNG state) and
    ends with the same weights as an uninterrupted run.

    Parameters
    ----------
    network : freshly initialised network on ``device``.
    task : the training examples.
    config : training configuration.
    member : ensemble member index (seeds ``config.seed + member``).
    device : training device.
    info : process group.
    workdir : checkpoint folder; None: no checkpoints.
    resume : continue from ``workdir``'s checkpoint of this member when there is one.
    fingerprint : JSON-able description of the data; a resume with other data is refused.
    on_epoch : called with the history (one dict per completed epoch) after each epoch.

    Returns
    -------
    list of dict
        The metrics history of the member (one row per epoch).

    Raises
    ------
    SurrogateError
        A checkpoint written with another configuration or other data.
    """
    seed = config.seed + member
    order = torch.Generator().manual_seed(seed * 1_000_003 + 17)
    optimizer = torch.optim.AdamW(network.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    model = wrap(network, info, device)
    n_batches = len(epoch_batches(len(task), config, torch.Generator().manual_seed(0), info))
    total = n_batches * config.epochs
    cfg = {**{k: v for k, v in config.model_dump(mode="json").items() if k not in _RESUME_FREE},
           "data": fingerprint}
    epoch, step, history = 0, 0, []
    path = checkpoint_path(workdir, member) if workdir is not None else None
    if resume and path is not None and path.exists():
        st = load_checkpoint(path)
        _check_resumable(st.config, cfg, path)
        network.load_state_dict(st.model)
        if st.optimizer:
            optimizer.load_state_dict(st.optimizer)
        restore_rng(st.rng)
        order.set_state(st.order_rng)
        epoch, step, history = st.epoch, st.step, st.history
        log.info("member %d: resumed after epoch %d from %s", member, epoch, path)
    network.train()
    while epoch < config.epochs:
        t0 = time.perf_counter()
        batches = epoch_batches(len(task), config, order, info)
        metrics, step = train_epoch(model, optimizer, task, batches, config, seed=(config.seed, member, epoch),
                                    step=step, total_steps=total, device=device, info=info)
        epoch += 1
        history.append({"member": member, "epoch": epoch, "step": step, **metrics,
                        "seconds": time.perf_counter() - t0})
        if path is not None and info.main:
            save_checkpoint(path, TrainState(epoch, step, epoch >= config.epochs,
                                             _cpu_state(network), optimizer.state_dict(),
                                             capture_rng(), order.get_state(), history, cfg))
        barrier(info)
        if on_epoch is not None and info.main:
            on_epoch(history)
    network.eval()
    return history


def _cpu_state(network: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu() for k, v in network.state_dict().items()}


def _check_resumable(saved: dict[str, Any], now: dict[str, Any], path: Path) -> None:
    diff = sorted(k for k in set(saved) | set(now) if saved.get(k) != now.get(k))
    if diff:
        detail = "; ".join(f"{k}: {saved.get(k)!r} -> {now.get(k)!r}" for k in diff[:5])
        raise SurrogateError(f"cannot resume from '{path}': it was written with another "
                             f"configuration or data ({detail}); train without --resume")
