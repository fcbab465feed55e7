"""Direct preference optimisation (Rafailov et al., 2023): preferences train the policy itself.

The KL-regularised objective of RLHF, max E[r(x, y)] - beta KL(pi || pi_ref), has a closed-form
optimum, pi*(y | x) = pi_ref(y | x) exp(r(x, y) / beta) / Z(x). Solved for the reward,
r(x, y) = beta log(pi*(y | x) / pi_ref(y | x)) + beta log Z(x); put into the reward model's
pairwise loss, Z(x) cancels between the two responses to one prompt, and what is left is a
loss on the policy alone:

    loss = -log sigma( beta [ (log pi(y_w) - log pi_ref(y_w)) - (log pi(y_l) - log pi_ref(y_l)) ] )

No reward model, no sampling: the preference pairs the reward model would have been trained on
train the policy directly. At the start, pi = pi_ref, the bracket is 0 and the loss is ln 2.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from labgpt.batching import BatchFn, prompt_response_batch
from labgpt.logprobs import IGNORE_INDEX, sequence_logprob
from labgpt.reward_model import Comparison
from labgpt.training import History, LossFn, TrainConfig, train


def dpo_loss(policy_chosen: torch.Tensor, policy_rejected: torch.Tensor,
             ref_chosen: torch.Tensor, ref_rejected: torch.Tensor,
             beta: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The DPO loss (a scalar, the mean over pairs) from summed response log-probs (b,) under
    the policy and the reference, and the implicit rewards beta * log(pi / pi_ref) of the
    chosen and the rejected responses (b,), detached, for monitoring."""
    if beta <= 0:
        raise ValueError(f"beta must be positive, got {beta}")
    chosen = beta * (policy_chosen - ref_chosen)
    rejected = beta * (policy_rejected - ref_rejected)
    loss = -F.logsigmoid(chosen - rejected).mean()
    return loss, chosen.detach(), rejected.detach()


def response_logprob(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Summed log-prob of each row's response: ``x, y`` as
    :func:`labgpt.batching.prompt_response_batch` makes them (prompt targets ignored), (b,)."""
    logits, _ = model(x)
    return sequence_logprob(logits, y, y != IGNORE_INDEX)


def preference_batches(train_data: list[Comparison], val_data: list[Comparison], pad_id: int,
                       pairs_per_batch: int = 32) -> BatchFn:
    """A batch function for :func:`labgpt.train` over every (prompt, preferred, rejected)
    pair of the comparisons: ``((x_chosen, y_chosen), (x_rejected, y_rejected))``, rows of
    :func:`labgpt.batching.prompt_response_batch`."""
    def pairs(data):
        return [(c.prompt, c.responses[w], c.responses[lo]) for c in data for w, lo in c.pairs]

    splits = {"train": pairs(train_data), "val": pairs(val_data)}
    if not splits["train"] or not splits["val"]:
        raise ValueError("no comparison holds a pair (training or validation)")

    def get_batch(split: str, generator: torch.Generator):
        pool = splits[split]
        rows = [pool[i] for i in torch.randint(len(pool), (pairs_per_batch,),
                                               generator=generator).tolist()]
        chosen = prompt_response_batch([(p, w) for p, w, _ in rows], pad_id)
        rejected = prompt_response_batch([(p, lo) for p, _, lo in rows], pad_id)
        return chosen, rejected

    return get_batch


def dpo_batch_loss(reference: torch.nn.Module, beta: float) -> LossFn:
    """The loss function for :func:`labgpt.train`: :func:`dpo_loss` on a batch of
    :func:`preference_batches`, the reference's log-probs computed without gradients."""
    reference.eval()

    def loss_fn(model: torch.nn.Module, batch) -> torch.Tensor:
        (xc, yc), (xr, yr) = batch
        with torch.no_grad():
            ref_c, ref_r = response_logprob(reference, xc, yc), response_logprob(reference, xr, yr)
        loss, _, _ = dpo_loss(response_logprob(model, xc, yc), response_logprob(model, xr, yr),
                              ref_c, ref_r, beta)
        return loss

    return loss_fn


def train_dpo(policy: torch.nn.Module, reference: torch.nn.Module, data: list[Comparison],
              pad_id: int, beta: float, config: TrainConfig, pairs_per_batch: int = 32,
              ) -> History:
    """Fine-tune ``policy`` in place by DPO on every pair of ``data`` (its last tenth held back
    for the validation loss), through :func:`labgpt.train`; leaves it in eval mode."""
    n_val = max(1, len(data) // 10)
    batches = preference_batches(data[:-n_val], data[-n_val:], pad_id, pairs_per_batch)
    history = train(policy.train(), batches, config, loss_fn=dpo_batch_loss(reference, beta))
    policy.eval()
    return history


@torch.no_grad()
def log_ratios(policy: torch.nn.Module, reference: torch.nn.Module, data: list[Comparison],
               pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """log pi(y) - log pi_ref(y) of the preferred and of the rejected response of every pair in
    ``data``, two tensors (n_pairs,): DPO's implicit rewards divided by beta. Their difference
    is what DPO's loss raises; each alone says where the probability went."""
    rows = [(c.prompt, c.responses[w], c.responses[lo]) for c in data for w, lo in c.pairs]
    out = []
    for side in (1, 2):
        x, y = prompt_response_batch([(r[0], r[side]) for r in rows], pad_id)
        out.append(response_logprob(policy, x, y) - response_logprob(reference, x, y))
    return out[0], out[1]
