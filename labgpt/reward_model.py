"""A reward model: a GPT with a scalar head, trained on rankings of responses.

InstructGPT's labelers ranked K responses to one prompt (K from 4 to 9). A ranking of K holds
C(K, 2) comparisons (:func:`ranking_pairs`), and the reward model r is trained so that each
preferred response scores higher than the other, with the pairwise (Bradley-Terry) loss

    loss = -log sigma(r(x, y_w) - r(x, y_l))

(Ouyang et al., 2022, equation 1), all C(K, 2) pairs of one prompt in the same batch, since
they share their responses and would otherwise overfit as separate examples. Two spellings of
this loss appear in RLHF code (ColossalAI names them LogSig and LogExp): -log sigma(d) and
log(1 + exp(-d)) for d = r_w - r_l. They are the same function, since sigma(d) = 1 / (1 +
exp(-d)); written naively they fail alike in float32: exp(-d) overflows and sigmoid(d)
underflows once d < -88.7 (a badly wrong reward model, early in training), and the loss
becomes inf. Both are computed here the stable way, ``logsigmoid`` and ``softplus``, which
return |d| there.

The score is read from the head either at the response's last token (the paper's choice) or
as the mean over its tokens (the study notes' reading): :class:`labgpt.heads.GPTWithHead`
``pool="last"`` or ``"mean"``.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import torch
import torch.nn.functional as F

from labgpt.batching import BatchFn, pad_sequences
from labgpt.heads import GPTWithHead
from labgpt.training import History, TrainConfig, train

RM_TRAIN = TrainConfig(steps=600, lr=1e-3, eval_every=200, eval_batches=4, quiet=True)


def ranking_pairs(ranking: list[int]) -> list[tuple[int, int]]:
    """All C(K, 2) (preferred, rejected) pairs of a ranking of K responses, best first:
    ``[2, 0, 1]`` -> ``[(2, 0), (2, 1), (0, 1)]``."""
    if len(set(ranking)) != len(ranking):
        raise ValueError(f"a ranking lists each response once, got {ranking}")
    return list(combinations(ranking, 2))


def logsig_loss(r_chosen: torch.Tensor, r_rejected: torch.Tensor) -> torch.Tensor:
    """-log sigma(r_w - r_l), averaged: the pairwise loss as InstructGPT writes it."""
    return -F.logsigmoid(r_chosen - r_rejected).mean()


def logexp_loss(r_chosen: torch.Tensor, r_rejected: torch.Tensor) -> torch.Tensor:
    """log(1 + exp(r_l - r_w)), averaged: the same loss, as softplus of the negated margin."""
    return F.softplus(r_rejected - r_chosen).mean()


def pairwise_accuracy(r_chosen: torch.Tensor, r_rejected: torch.Tensor) -> float:
    """The share of pairs the reward model orders as the labeler did (ties count half)."""
    d = r_chosen - r_rejected
    return ((d > 0).float().mean() + 0.5 * (d == 0).float().mean()).item()


@dataclass
class Comparison:
    """One prompt's ranked responses: ``prompt`` and ``responses`` as token ids, ``pairs`` the
    (preferred, rejected) indices into ``responses`` (:func:`ranking_pairs`)."""

    prompt: list[int]
    responses: list[list[int]]
    pairs: list[tuple[int, int]]


def _encode(batch: list[Comparison], pad_id: int):
    """Every response of ``batch`` after its prompt, padded: (ids, lengths, chosen, rejected),
    chosen and rejected indexing rows of ids, pair by pair."""
    seqs, chosen, rejected = [], [], []
    for c in batch:
        first = len(seqs)
        seqs += [c.prompt + r for r in c.responses]
        chosen += [first + w for w, _ in c.pairs]
        rejected += [first + lo for _, lo in c.pairs]
    ids, lengths = pad_sequences(seqs, pad_id)
    return ids, lengths, torch.tensor(chosen, dtype=torch.long), torch.tensor(rejected,
                                                                              dtype=torch.long)


def _scores_of_pairs(model: GPTWithHead, encoded) -> tuple[torch.Tensor, torch.Tensor]:
    ids, lengths, chosen, rejected = encoded
    scores = model(ids, lengths)[:, 0]  # each response scored once, however many pairs
    return scores[chosen], scores[rejected]


def pair_scores(model: GPTWithHead, batch: list[Comparison], pad_id: int,
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """The model's scores of the preferred and the rejected response of every pair."""
    return _scores_of_pairs(model, _encode(batch, pad_id))


def comparison_batches(train_data: list[Comparison], val_data: list[Comparison], pad_id: int,
                       prompts_per_batch: int = 16) -> BatchFn:
    """A batch function for :func:`labgpt.train`: each batch holds every pair of
    ``prompts_per_batch`` prompts drawn at random (InstructGPT trains on all C(K, 2)
    comparisons of a prompt as one element: as separate examples they share their responses,
    and the model overfits), as ``(ids, lengths, chosen, rejected)``."""
    splits = {"train": [c for c in train_data if c.pairs], "val": [c for c in val_data if c.pairs]}
    if not splits["train"] or not splits["val"]:
        raise ValueError("no comparison holds a pair (training or validation)")

    def get_batch(split: str, generator: torch.Generator):
        pool = splits[split]
        rows = torch.randint(len(pool), (prompts_per_batch,), generator=generator).tolist()
        return _encode([pool[i] for i in rows], pad_id)

    return get_batch


def pairwise_batch_loss(model: GPTWithHead, batch) -> torch.Tensor:
    """:func:`logsig_loss` on a batch of :func:`comparison_batches`: each response is scored
    once, however many pairs it is in."""
    return logsig_loss(*_scores_of_pairs(model, batch))


def train_reward_model(model: GPTWithHead, train_data: list[Comparison],
                       val_data: list[Comparison], pad_id: int,
                       config: TrainConfig = RM_TRAIN) -> History:
    """Train ``model`` in place on ``train_data`` with the pairwise loss, through the course's
    one training loop (validation loss on ``val_data``); leaves it in eval mode."""
    history = train(model, comparison_batches(train_data, val_data, pad_id), config,
                    loss_fn=pairwise_batch_loss)
    model.eval()
    return history
