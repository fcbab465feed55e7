"""In-context linear regression (Garg et al., 2022): a Transformer that learns a function
class, not a function.

Every prompt draws a fresh weight vector ``w`` and shows the pairs ``(x_1, y_1), ...,
(x_k, y_k)`` with ``y_i = w . x_i``; the model reads them as a sequence of vectors and predicts
``y_{k+1}`` from ``x_{k+1}``. No ``w`` is ever seen twice, so a model that predicts well must
work out ``w`` from the examples in its context: in-context learning with nothing to
recognise from training.

:func:`regression_prompts` draws prompts; :class:`InContextRegressor` is the Transformer
(the blocks of :mod:`labgpt.transformer`, a linear read-in and read-out in place of token
embedding and vocabulary head); :func:`train_regressor` trains it through
:func:`labgpt.train`. The baselines that see the same examples: :func:`least_squares` (the
minimum-norm solution, which is also the posterior mean for this prior),
:func:`nearest_neighbour` and :func:`averaging` (Garg et al.'s simple estimators).
"""

from __future__ import annotations

import torch
from torch import nn

from labgpt.training import History, TrainConfig, train
from labgpt.transformer import Block

DIM = 4  # the inputs' dimension
POINTS = 12  # (x, y) pairs per prompt


def regression_prompts(batch: int, generator: torch.Generator, points: int = POINTS,
                       dim: int = DIM, active: int | None = None,
                       ) -> tuple[torch.Tensor, torch.Tensor]:
    """``batch`` prompts: inputs xs (b, points, dim) and targets ys (b, points), x ~ N(0, I),
    one w ~ N(0, I) per prompt, y = w . x. With ``active`` set, only the first ``active``
    coordinates of x and w are non-zero (the curriculum of :func:`train_regressor`)."""
    active = dim if active is None else active
    if not 1 <= active <= dim:
        raise ValueError(f"active must be in [1, {dim}], got {active}")
    xs = torch.randn(batch, points, dim, generator=generator)
    w = torch.randn(batch, dim, generator=generator)
    xs[:, :, active:] = 0
    w[:, active:] = 0
    return xs, torch.einsum("bpd,bd->bp", xs, w)


class InContextRegressor(nn.Module):
    """A GPT over vectors: the sequence ``x_1, y_1, x_2, y_2, ...`` (an x as ``[x, 0]``, a y as
    ``[0, ..., 0, y]``) goes through a linear read-in plus learned positions, causal
    Transformer blocks and a final LayerNorm; a linear read-out at each x's position predicts
    its y from the pairs before it."""

    def __init__(self, dim: int = DIM, points: int = POINTS, n_layer: int = 3,
                 n_embd: int = 64, n_head: int = 4):
        super().__init__()
        self.dim, self.points = dim, points
        self.read_in = nn.Linear(dim + 1, n_embd)
        self.wpe = nn.Embedding(2 * points, n_embd)
        self.h = nn.ModuleList(Block(n_embd, n_head) for _ in range(n_layer))
        self.ln_f = nn.LayerNorm(n_embd)
        self.read_out = nn.Linear(n_embd, 1)

    def forward(self, xs: torch.Tensor, ys: torch.Tensor) -> torch.Tensor:
        """xs (b, k, dim), ys (b, k) -> predictions (b, k): entry i from x_i and the i pairs
        before it (so entry 0 has seen no example)."""
        b, k, dim = xs.shape
        if dim != self.dim or ys.shape != (b, k) or k > self.points:
            raise ValueError(f"expected xs (b, k <= {self.points}, {self.dim}) and ys (b, k), "
                             f"got {tuple(xs.shape)} and {tuple(ys.shape)}")
        seq = xs.new_zeros(b, k, 2, dim + 1)
        seq[:, :, 0, :dim] = xs
        seq[:, :, 1, dim] = ys
        h = self.read_in(seq.view(b, 2 * k, dim + 1))
        h = h + self.wpe(torch.arange(2 * k, device=xs.device))
        for block in self.h:
            h = block(h, is_causal=True)
        return self.read_out(self.ln_f(h))[:, 0::2, 0]  # at the x positions


def squared_error(predictions: torch.Tensor, ys: torch.Tensor, dim: int = DIM) -> torch.Tensor:
    """Mean squared error per number of examples seen, (b, k) -> (k,), divided by the inputs'
    dimension ``dim`` (the variance of y): predicting 0 then scores about 1."""
    return ((predictions - ys) ** 2).mean(dim=0) / dim


def _from_earlier_pairs(xs: torch.Tensor, ys: torch.Tensor, predict) -> torch.Tensor:
    """(b, k) predictions: entry i is ``predict(earlier_xs, earlier_ys, x_i)`` on the i pairs
    before it, (b, i, d), (b, i), (b, d) -> (b,); 0 for i = 0, where there is nothing to go on."""
    predictions = torch.zeros_like(ys)
    for i in range(1, xs.shape[1]):
        predictions[:, i] = predict(xs[:, :i], ys[:, :i], xs[:, i])
    return predictions


def least_squares(xs: torch.Tensor, ys: torch.Tensor) -> torch.Tensor:
    """(b, k) predictions: entry i from the minimum-norm least-squares fit to the i pairs
    before it (0 for i = 0). Below ``dim`` examples many w fit exactly; the minimum-norm one is
    the mean of w's posterior under the N(0, I) prior."""
    def predict(px, py, x):
        w = torch.linalg.pinv(px) @ py[:, :, None]  # (b, dim, 1)
        return (x[:, None] @ w)[:, 0, 0]
    return _from_earlier_pairs(xs, ys, predict)


def nearest_neighbour(xs: torch.Tensor, ys: torch.Tensor) -> torch.Tensor:
    """(b, k) predictions: the y of the nearest earlier x (0 for i = 0)."""
    def predict(px, py, x):
        nearest = torch.cdist(x[:, None], px)[:, 0].argmin(dim=1)  # (b,)
        return py.gather(1, nearest[:, None])[:, 0]
    return _from_earlier_pairs(xs, ys, predict)


def averaging(xs: torch.Tensor, ys: torch.Tensor) -> torch.Tensor:
    """(b, k) predictions from w estimated as the mean of y_j x_j over the earlier pairs
    (unbiased for x ~ N(0, I), but noisy)."""
    def predict(px, py, x):
        w = (py[:, :, None] * px).mean(dim=1)  # (b, dim)
        return (x * w).sum(dim=1)
    return _from_earlier_pairs(xs, ys, predict)


def regression_loss(model: InContextRegressor, batch) -> torch.Tensor:
    """Mean squared error over every position of every prompt: the training loss."""
    xs, ys = batch
    return ((model(xs, ys) - ys) ** 2).mean()


def train_regressor(steps: int = 2500, seed: int = 0, lr: float = 1e-3, batch: int = 64,
                    curriculum: float = 0.5, n_layer: int = 3, n_embd: int = 64,
                    ) -> tuple[InContextRegressor, History]:
    """Train an :class:`InContextRegressor` on fresh prompts for ``steps`` steps (AdamW at a
    constant ``lr``, no weight decay or clipping: measured here, clipping at norm 1 and a
    cosine decay both left runs on the plateau where the model predicts from a vague guess of
    w). The first ``curriculum`` share of the steps grows the number of active
    input dimensions from 1 to ``DIM`` (Garg et al.'s curriculum, which shortens the start);
    it counts the training batches drawn, so it assumes one uninterrupted run."""
    torch.manual_seed(seed)
    model = InContextRegressor(n_layer=n_layer, n_embd=n_embd)
    ramp = max(1, int(curriculum * steps))
    drawn = 0

    def get_batch(split: str, generator: torch.Generator):
        nonlocal drawn
        active = DIM
        if split == "train":
            active = min(DIM, 1 + drawn * DIM // ramp)
            drawn += 1
        return regression_prompts(batch, generator, active=active)

    config = TrainConfig(steps=steps, lr=lr, min_lr=lr, weight_decay=0.0, grad_clip=None,
                         betas=(0.9, 0.999), eval_every=max(1, steps // 10), eval_batches=4,
                         seed=seed, quiet=True)
    return model, train(model, get_batch, config, loss_fn=regression_loss)
