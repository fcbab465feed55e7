"""Scaling laws at CPU scale: compute per token, power-law fits, and the sweeps behind them.

Kaplan et al. (2020) found a language model's loss falling as a power law in its
non-embedding parameters N, its training tokens D and its compute C, each when the other two
do not limit it: ``L(N) = (N_c / N) ** alpha_N`` with alpha_N = 0.076. Training costs
``C = 6 N D`` FLOPs (2 N per token forward, 4 N backward). Hoffmann et al. (2022, Chinchilla)
asked the practical question: for a compute budget C, which N (and so which D = C / 6N) gives
the lowest loss? Their isoFLOP curves put the optimum near D / N = 20 tokens per parameter.

:func:`sweep` repeats both measurements with character-level GPTs of Tiny Shakespeare, widths
16 to 128 at two layers: every width trained on the same number of tokens (loss against N),
and, for three compute budgets, widths 8 to 64 around each budget's optimum, each trained on
the tokens the budget buys (isoFLOP). It takes about twenty CPU minutes, so it is a record
(``python -m labgpt.records make scaling_sweep``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import torch
from torch import nn

from labgpt.batching import lm_batches
from labgpt.environment import seed_everything
from labgpt.gpt import GPT, GPTConfig
from labgpt.training import TrainConfig, train


def non_embedding_params(model: nn.Module) -> int:
    """Kaplan's N: every parameter except the token and position embeddings (the tied output
    layer is the token embedding, so it is excluded too)."""
    skip = {id(p) for name, p in model.named_parameters() if name.split(".")[0] in ("wte", "wpe")}
    return sum(p.numel() for p in model.parameters() if id(p) not in skip)


def flops_per_token(n_params: int, n_layer: int, n_embd: int, context: int) -> float:
    """Training FLOPs per token: 6 per parameter (a multiply and an add forward, twice that
    backward), plus attention's scores and weighted sums, 12 * n_layer * n_embd * context
    (the estimate of Chowdhery et al., 2022, PaLM, appendix B)."""
    return 6 * n_params + 12 * n_layer * n_embd * context


def training_flops(n_params: float, tokens: float) -> float:
    """C = 6 N D: the compute of training N parameters on D tokens."""
    return 6 * n_params * tokens


@dataclass(frozen=True)
class PowerLaw:
    """``y = (x_c / x) ** alpha``, fitted by least squares on log y against log x."""

    x_c: float
    alpha: float
    r2: float  # the fit's coefficient of determination, on the logs

    def __call__(self, x):
        return (self.x_c / torch.as_tensor(x, dtype=torch.float64)) ** self.alpha


def fit_power_law(x, y) -> PowerLaw:
    """Fit ``y = (x_c / x) ** alpha`` to positive ``x`` and ``y`` (at least 3 points)."""
    x = torch.as_tensor(x, dtype=torch.float64)
    y = torch.as_tensor(y, dtype=torch.float64)
    if x.shape != y.shape or x.ndim != 1 or len(x) < 3:
        raise ValueError(f"need two 1-D sequences of the same length >= 3, got {tuple(x.shape)} "
                         f"and {tuple(y.shape)}")
    if (x <= 0).any() or (y <= 0).any():
        raise ValueError("a power law is fitted on logarithms: x and y must be positive")
    lx, ly = x.log(), y.log()
    slope = ((lx - lx.mean()) * (ly - ly.mean())).sum() / ((lx - lx.mean()) ** 2).sum()
    intercept = ly.mean() - slope * lx.mean()  # log y = intercept + slope log x
    residual = ly - (intercept + slope * lx)
    r2 = 1 - (residual ** 2).sum() / ((ly - ly.mean()) ** 2).sum()
    alpha = -slope
    return PowerLaw(float(torch.exp(intercept / alpha)), float(alpha), float(r2))


# --- The sweep --------------------------------------------------------------------------------
WIDTHS = (16, 24, 32, 48, 64, 96, 128)
N_LAYER = 2
BLOCK_SIZE = 64
BATCH_SIZE = 32
TOKENS = 2_048_000  # per run of the loss-against-size sweep: 1,000 steps of 32 x 64
BUDGETS = {  # FLOPs (C = 6 N D) -> the widths trained at that budget, around its optimum
    3e10: (8, 12, 16, 24, 32),
    1e11: (8, 12, 16, 24, 32, 48),
    3e11: (12, 16, 24, 32, 48, 64),
}
TRAIN = TrainConfig(lr=3e-3, warmup_steps=20, eval_every=10**9, eval_batches=40, quiet=True)


def config(width: int, vocab_size: int = 65) -> GPTConfig:
    return GPTConfig(vocab_size=vocab_size, block_size=BLOCK_SIZE, n_layer=N_LAYER, n_head=4,
                     n_embd=width)


def train_point(width: int, tokens: int, seed: int = 0,
                device: torch.device | str = "cpu") -> dict:
    """Train a width-``width`` character GPT of Tiny Shakespeare on ``tokens`` tokens (rounded
    to whole steps, on ``device``); its non-embedding size, steps and validation loss (nats
    per character, 40 batches)."""
    from labgpt.ladder import char_data

    chars, train_ids, val_ids = char_data()
    steps = max(10, round(tokens / (BATCH_SIZE * BLOCK_SIZE)))
    seed_everything(seed)
    model = GPT(config(width, chars.vocab_size)).to(device)
    history = train(model, lm_batches(train_ids, val_ids, BLOCK_SIZE, BATCH_SIZE),
                    replace(TRAIN, steps=steps, seed=seed, eval_every=steps,
                            warmup_steps=min(TRAIN.warmup_steps, steps // 5)))
    return {"width": width, "n": non_embedding_params(model), "steps": steps,
            "tokens": steps * BATCH_SIZE * BLOCK_SIZE, "val_loss": round(history.final_val_loss, 4)}


def sweep(seed: int = 0) -> dict:
    """Loss against size at a fixed number of tokens (:data:`WIDTHS`), and, for each compute
    budget, the widths of :data:`BUDGETS` each trained on the tokens the budget buys."""
    out = {"widths": list(WIDTHS), "tokens": TOKENS,
           "fixed_tokens": [train_point(w, TOKENS, seed) for w in WIDTHS], "isoflop": {}}
    for budget, widths in BUDGETS.items():
        points = []
        for w in widths:
            n = non_embedding_params(GPT(config(w)))
            points.append({**train_point(w, int(budget / (6 * n)), seed), "budget": budget})
        out["isoflop"][f"{budget:.0e}"] = points
    return out


def isoflop_optimum(points: list[dict]) -> dict:
    """The loss-optimal size for one budget: a parabola in log N through the runs' losses
    (each a :func:`train_point` with its ``budget``), and at its minimum N, the tokens the
    budget buys there, and D / N."""
    n = torch.tensor([p["n"] for p in points], dtype=torch.float64)
    loss = torch.tensor([p["val_loss"] for p in points], dtype=torch.float64)
    budget = points[0]["budget"]
    lx = n.log()
    design = torch.stack([lx ** 2, lx, torch.ones_like(lx)], dim=1)
    a, b, _ = torch.linalg.lstsq(design, loss[:, None]).solution[:, 0].tolist()
    if a <= 0 or not lx.min() <= -b / (2 * a) <= lx.max():
        raise ValueError("the losses do not curve upwards around a minimum: no optimum inside "
                         "the sizes tried")
    n_opt = math.exp(-b / (2 * a))
    d_opt = budget / (6 * n_opt)
    return {"budget": budget, "n_opt": n_opt, "d_opt": d_opt, "tokens_per_param": d_opt / n_opt}
