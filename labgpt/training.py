"""The training loop every chapter uses: AdamW, warmup + cosine decay, clipping, validation.

A run is defined by its step count and seed, never by elapsed time, so the same call gives the
same numbers. The loss is the model's own language-model loss unless ``train(..., loss_fn=...)``
names another: fine-tuning, supervised fine-tuning, a reward model or DPO reuse this one loop.
With ``checkpoint_path`` set it saves model, optimizer, data order and RNG state;
``train(..., resume_from=path)`` then continues exactly as the uninterrupted run would have.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields, is_dataclass, replace
from pathlib import Path
from typing import Any

import torch
from torch import nn
from tqdm import tqdm

from labgpt.batching import BatchFn
from labgpt.checkpoint import load_checkpoint, save_checkpoint


@dataclass
class TrainConfig:
    steps: int = 1000
    lr: float = 1e-3
    min_lr: float | None = None  # where the cosine ends; None means lr / 10
    warmup_steps: int = 0
    weight_decay: float = 0.1  # applied to matrices only, not to biases and norm gains
    betas: tuple[float, float] = (0.9, 0.95)
    grad_clip: float | None = 1.0  # max global gradient norm; None turns clipping off
    eval_every: int = 100
    eval_batches: int = 20
    seed: int = 0
    checkpoint_path: str | None = None
    checkpoint_every: int | None = None  # None: at every evaluation
    progress: bool | None = None  # None: a bar unless LABGPT_PROGRESS=0 is set
    quiet: bool = False  # True: no bar and no evaluation lines (many short runs in a row)

    def __post_init__(self):
        if self.steps < 1 or self.eval_every < 1 or self.eval_batches < 1:
            raise ValueError("steps, eval_every and eval_batches must be positive")
        if self.warmup_steps < 0 or self.warmup_steps > self.steps:
            raise ValueError(f"warmup_steps must be in [0, steps={self.steps}]")
        if self.lr <= 0:
            raise ValueError(f"lr must be positive, got {self.lr}")


@dataclass
class History:
    """What a run measured. Train losses are per step; validation every ``eval_every`` steps."""

    steps: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    grad_norm: list[float] = field(default_factory=list)
    val_steps: list[int] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    tokens_per_s: list[float] = field(default_factory=list)  # one per evaluation interval
    measures: dict[str, list[float]] = field(default_factory=dict)  # train(measure=...), per eval

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> History:
        return cls(**d)

    @property
    def final_val_loss(self) -> float:
        if not self.val_loss:
            raise ValueError("this run has not been evaluated yet")
        return self.val_loss[-1]


def lr_at(step: int, config: TrainConfig) -> float:
    """Learning rate for (0-based) ``step``: linear warmup, then cosine decay to ``min_lr``."""
    min_lr = config.lr / 10 if config.min_lr is None else config.min_lr
    if step < config.warmup_steps:
        return config.lr * (step + 1) / config.warmup_steps
    decay_steps = max(1, config.steps - config.warmup_steps)
    progress = min(1.0, (step - config.warmup_steps) / decay_steps)
    return min_lr + 0.5 * (config.lr - min_lr) * (1 + math.cos(math.pi * progress))


def make_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.AdamW:
    """AdamW with weight decay on weight matrices and embeddings only (as in GPT-2/nanoGPT)."""
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [
        {"params": [p for p in params if p.dim() >= 2], "weight_decay": config.weight_decay},
        {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=config.lr, betas=config.betas)


LossFn = Callable[[nn.Module, Any], torch.Tensor]
MeasureFn = Callable[[nn.Module], dict[str, float]]


def lm_batch_loss(model: nn.Module, batch) -> torch.Tensor:
    """The default loss: ``model(x, y)``'s own loss on an ``(x, y)`` batch.

    ``x`` may be a tuple of tensors (several model inputs): the model gets ``model(*x, y)``."""
    x, y = batch
    _, loss = model(*x, y) if isinstance(x, tuple) else model(x, y)
    if loss is None:
        raise ValueError("model(x, y) returned no loss; it must return (logits, loss)")
    return loss


def _map_tensors(batch, fn):
    """``batch`` with ``fn`` applied to every tensor in it (inside tuples, lists, dicts and
    dataclasses)."""
    if torch.is_tensor(batch):
        return fn(batch)
    if isinstance(batch, (tuple, list)):
        return type(batch)(_map_tensors(b, fn) for b in batch)
    if isinstance(batch, dict):
        return {k: _map_tensors(v, fn) for k, v in batch.items()}
    if is_dataclass(batch) and not isinstance(batch, type):
        return replace(batch, **{f.name: _map_tensors(getattr(batch, f.name), fn)
                                 for f in fields(batch)})
    return batch


def to_device(batch, device: torch.device):
    """``batch`` with every tensor in it on ``device``."""
    return _map_tensors(batch, lambda t: t.to(device, non_blocking=True))


def count_targets(batch) -> int:
    """Predictions in a batch, for tokens/s: the numel of ``y`` in an ``(x, y)`` batch, else of
    the largest tensor in the batch."""
    if isinstance(batch, tuple) and len(batch) == 2 and torch.is_tensor(batch[1]):
        return batch[1].numel()
    sizes = []
    _map_tensors(batch, lambda t: sizes.append(t.numel()))
    return max(sizes, default=0)


@torch.no_grad()
def estimate_loss(
    model: nn.Module, get_batch: BatchFn, split: str, n_batches: int, seed: int,
    loss_fn: LossFn = lm_batch_loss,
) -> float:
    """Mean loss over ``n_batches`` batches drawn with a fresh generator: the same batches at
    every evaluation, so the curve moves only because the model does."""
    device = next(model.parameters()).device
    generator = torch.Generator().manual_seed(seed)
    was_training = model.training
    model.eval()
    total = 0.0
    for _ in range(n_batches):
        total += loss_fn(model, to_device(get_batch(split, generator), device)).item()
    model.train(was_training)
    return total / n_batches


def _rng_state(generator: torch.Generator) -> dict[str, torch.Tensor]:
    state = {"rng/batches": generator.get_state(), "rng/torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        for i, s in enumerate(torch.cuda.get_rng_state_all()):
            state[f"rng/cuda/{i}"] = s
    return state


def _set_rng_state(generator: torch.Generator, state: dict[str, torch.Tensor]) -> None:
    generator.set_state(state["rng/batches"])
    torch.set_rng_state(state["rng/torch"])
    cuda = [state[k] for k in sorted(state) if k.startswith("rng/cuda/")]
    if cuda and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(cuda)


def train(
    model: nn.Module,
    get_batch: BatchFn,
    config: TrainConfig,
    resume_from: str | Path | None = None,
    loss_fn: LossFn = lm_batch_loss,
    measure: MeasureFn | None = None,
) -> History:
    """Train ``model`` for ``config.steps`` steps and return its :class:`History`.

    ``get_batch(split, generator)`` returns a batch for split ``"train"`` or ``"val"`` (see
    :func:`labgpt.lm_batches`); every tensor in it is moved to the model's device. ``loss_fn(
    model, batch)`` returns the scalar loss to minimise, for training and validation alike; the
    default, :func:`lm_batch_loss`, takes ``(x, y)`` batches and calls ``model(x, y)``, which
    must return ``(logits, loss)`` (``model(*x, y)`` when ``x`` is a tuple of tensors).
    ``measure(model)``, if given, runs at every evaluation (in eval mode, without gradients) and
    returns named numbers, kept in ``history.measures`` next to ``history.val_steps``: what a
    chapter watches while a model learns (an attention score, a reward, a KL).
    Resuming restores the model, the optimizer, the position in the data and the RNG state, so
    the rest of the run is identical to an uninterrupted one.
    """
    device = next(model.parameters()).device
    optimizer = make_optimizer(model, config)
    generator = torch.Generator()
    history = History()
    start = 0
    if resume_from is not None:
        metadata, extra = load_checkpoint(resume_from, model, optimizer)
        start = metadata["step"]
        history = History.from_dict(metadata["history"])
        _set_rng_state(generator, extra)
    else:
        generator.manual_seed(config.seed)
        torch.manual_seed(config.seed)  # dropout and other in-model randomness

    def checkpoint(done: int) -> None:
        save_checkpoint(
            config.checkpoint_path,
            model,
            optimizer,
            extra=_rng_state(generator),
            metadata={"step": done, "history": history.to_dict(), "config": asdict(config)},
        )

    show_bar = config.progress
    if show_bar is None:
        show_bar = os.environ.get("LABGPT_PROGRESS", "1") != "0"
    show_bar = show_bar and not config.quiet
    bar = tqdm(total=config.steps, initial=start, disable=not show_bar, desc="train")
    log = bar.write if show_bar else (lambda line: None) if config.quiet else print
    checkpoint_every = config.checkpoint_every or config.eval_every
    interval_start, interval_tokens = time.perf_counter(), 0
    model.train()
    for step in range(start, config.steps):
        lr = lr_at(step, config)
        for group in optimizer.param_groups:
            group["lr"] = lr
        batch = to_device(get_batch("train", generator), device)
        loss = loss_fn(model, batch)
        if loss.dim() != 0:
            raise ValueError(f"the loss must be a scalar, got shape {tuple(loss.shape)}")
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        max_norm = config.grad_clip if config.grad_clip is not None else math.inf
        grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)
        optimizer.step()

        done = step + 1
        history.steps.append(done)
        history.train_loss.append(loss.item())
        history.lr.append(lr)
        history.grad_norm.append(grad_norm.item())
        interval_tokens += count_targets(batch)  # predictions made
        bar.update(1)
        bar.set_postfix(loss=f"{history.train_loss[-1]:.3f}", refresh=False)

        if done % config.eval_every == 0 or done == config.steps:
            elapsed = time.perf_counter() - interval_start
            val = estimate_loss(model, get_batch, "val", config.eval_batches, config.seed + 1,
                                loss_fn)
            history.val_steps.append(done)
            history.val_loss.append(val)
            history.tokens_per_s.append(interval_tokens / max(elapsed, 1e-9))
            if measure is not None:
                model.eval()
                with torch.no_grad():
                    for name, value in measure(model).items():
                        history.measures.setdefault(name, []).append(float(value))
                model.train()
            since = history.val_steps[-2] if len(history.val_steps) > 1 else 0
            recent = history.train_loss[-(done - since):]
            log(
                f"step {done:>6}/{config.steps} | train {sum(recent) / len(recent):.4f} | "
                f"val {val:.4f} | lr {lr:.2e} | {history.tokens_per_s[-1]:,.0f} tok/s"
            )
            interval_start, interval_tokens = time.perf_counter(), 0
        if config.checkpoint_path and (done % checkpoint_every == 0 or done == config.steps):
            checkpoint(done)
    bar.close()
    return history
