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

from itertools import combinations

import torch
import torch.nn.functional as F


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
