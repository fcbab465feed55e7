"""PPO for a language model, as pure functions (Schulman et al., 2017; Ouyang et al., 2022).

The policy writes a response one token at a time; each token is an action. InstructGPT's
reward for a response y to a prompt x is the reward model's score minus a penalty for moving
away from the supervised (SFT) model, its equation 2:

    R(x, y) = r(x, y) - beta * log(pi_RL(y | x) / pi_SFT(y | x))

Following Huang et al. ("The N Implementation Details of RLHF with PPO", 2024), the penalty is
paid per token, ``-beta * (log pi_RL(y_t) - log pi_SFT(y_t))`` at each response token, and the
score is added at the last one (:func:`kl_penalised_rewards`). Advantages come from the value
model by generalised advantage estimation (:func:`gae`), are whitened over the batch
(:func:`whiten`), and the policy and value are updated with PPO's clipped losses
(:func:`clipped_policy_loss`, :func:`clipped_value_loss`). Every function takes a ``mask``
(b, t) that is true at response tokens: prompts and padding take no part.

A :class:`Rollout` holds sampled prompt-response sequences, right-padded, as the other
functions want them: responses are sampled through :func:`labgpt.decoding.generate` and
scored token by token through :func:`labgpt.logprobs.token_logprobs`, the paths every other
chapter uses.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from labgpt.batching import pad_sequences
from labgpt.decoding import generate
from labgpt.gpt import GPT
from labgpt.heads import GPTWithHead
from labgpt.logprobs import IGNORE_INDEX, token_logprobs


@dataclass
class Rollout:
    """Prompt-response sequences, right-padded: ``ids`` (b, t); ``mask`` (b, t - 1), true where
    ``ids[:, 1:]`` is a response token (the positions whose next-token log-probs PPO uses);
    ``lengths`` (b,), each sequence's real length; ``responses``, the response ids per row."""

    ids: torch.Tensor
    mask: torch.Tensor
    lengths: torch.Tensor
    responses: list[list[int]]


@torch.no_grad()
def rollout(policy: GPT, prompts: Sequence[Sequence[int]], max_new_tokens: int, eos_id: int,
            generator: torch.Generator, pad_id: int | None = None) -> Rollout:
    """Sample one response per prompt (up to ``max_new_tokens``, ``eos_id`` kept) and lay the
    sequences out for PPO."""
    outs = generate(policy, [list(p) for p in prompts], max_new_tokens, eos_id=eos_id,
                    generator=generator)
    ids, lengths = pad_sequences([o.tolist() for o in outs], eos_id if pad_id is None else pad_id)
    positions = torch.arange(ids.shape[1] - 1)[None]  # (1, t - 1): predicts token j + 1
    starts = torch.tensor([len(p) for p in prompts])[:, None]
    mask = (positions >= starts - 1) & (positions < lengths[:, None] - 1)  # response tokens
    if not mask.any(1).all():
        raise ValueError("max_new_tokens must allow at least one response token")
    responses = [o[len(p):].tolist() for o, p in zip(outs, prompts, strict=True)]
    return Rollout(ids, mask, lengths, responses)


def response_logprobs(model: GPT, r: Rollout) -> torch.Tensor:
    """log p(token) of each response token under ``model``, (b, t - 1), 0 off the mask."""
    logits, _ = model(r.ids[:, :-1])  # (b, t - 1, V)
    return token_logprobs(logits, r.ids[:, 1:].masked_fill(~r.mask, IGNORE_INDEX))


def token_values(value_model: GPTWithHead, r: Rollout) -> torch.Tensor:
    """The value head read at every position that predicts a response token, (b, t - 1), 0
    off the mask: V(s_t), the expected reward-to-go before the token is written."""
    _, hidden = value_model.features(r.ids[:, :-1], (r.lengths - 1).clamp(min=1))
    return value_model.head(hidden)[..., 0] * r.mask  # (b, t - 1)


def _masked_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return (x * mask).sum() / mask.sum().clamp(min=1)


def _check(mask: torch.Tensor, *tensors: torch.Tensor) -> None:
    for x in tensors:
        if x.shape != mask.shape:
            raise ValueError(f"every per-token tensor must have the mask's shape "
                             f"{tuple(mask.shape)}, got {tuple(x.shape)}")


def kl_penalised_rewards(scores: torch.Tensor, logp: torch.Tensor, logp_ref: torch.Tensor,
                         mask: torch.Tensor, beta: float) -> torch.Tensor:
    """Per-token rewards (b, t): ``-beta * (logp - logp_ref)`` at every response token, plus
    each response's ``scores`` (b,) at its last response token; 0 elsewhere.

    ``logp``, ``logp_ref``: log-probs of the sampled tokens under the policy and the reference
    (SFT) model. Summed over a response, the penalty is ``-beta`` times a one-sample estimate
    of KL(pi_RL || pi_SFT): positive KL, negative reward."""
    _check(mask, logp, logp_ref)
    if beta < 0:
        raise ValueError(f"beta must be non-negative, got {beta}")
    m = mask.to(logp.dtype)
    if (m.sum(1) == 0).any():
        raise ValueError("every row needs at least one response token")
    rewards = -beta * (logp - logp_ref) * m  # (b, t)
    last = (m.cumsum(1) == m.sum(1, keepdim=True)) & mask.bool()  # the last response token
    last &= torch.cumsum(last, 1) == 1
    return rewards + last.to(m.dtype) * scores[:, None]


def gae(rewards: torch.Tensor, values: torch.Tensor, mask: torch.Tensor, gamma: float = 1.0,
        lam: float = 0.95) -> tuple[torch.Tensor, torch.Tensor]:
    """Generalised advantage estimation (Schulman et al., 2016) over response tokens.

    rewards, values, mask (b, t) -> (advantages, returns), each (b, t), 0 outside the mask.
    delta_t = r_t + gamma * V_{t+1} - V_t, with V after the last response token taken as 0;
    A_t = delta_t + gamma * lam * A_{t+1}; returns = A + V, the value model's target.
    lam = 0 gives the one-step TD error, lam = 1 the Monte-Carlo return minus V."""
    _check(mask, rewards, values)
    m = mask.to(rewards.dtype)
    advantages = torch.zeros_like(rewards)
    next_value = torch.zeros_like(rewards[:, 0])
    next_adv = torch.zeros_like(rewards[:, 0])
    for t in reversed(range(rewards.shape[1])):  # masked-out positions are skipped over
        delta = rewards[:, t] + gamma * next_value - values[:, t]
        adv = delta + gamma * lam * next_adv
        advantages[:, t] = adv * m[:, t]
        next_value = torch.where(m[:, t] > 0, values[:, t], next_value)
        next_adv = torch.where(m[:, t] > 0, adv, next_adv)
    return advantages, (advantages + values) * m


def whiten(x: torch.Tensor, mask: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """``x`` shifted and scaled to mean 0 and variance 1 over the masked positions."""
    _check(mask, x)
    m = mask.to(x.dtype)
    mean = _masked_mean(x, m)
    var = _masked_mean((x - mean) ** 2, m)
    return (x - mean) * torch.rsqrt(var + eps) * m


def clipped_policy_loss(logp: torch.Tensor, logp_old: torch.Tensor, advantages: torch.Tensor,
                        mask: torch.Tensor, clip: float = 0.2) -> torch.Tensor:
    """PPO's clipped surrogate, as a loss to minimise (a scalar):

        -mean( min(ratio * A, clip(ratio, 1 - clip, 1 + clip) * A) ),  ratio = exp(logp - logp_old)

    A token whose ratio has already moved past the clip range in the advantage's direction
    gives no gradient: one batch of samples cannot pull the policy far from where it was."""
    _check(mask, logp, logp_old, advantages)
    ratio = torch.exp(logp - logp_old)
    unclipped = ratio * advantages
    clipped = ratio.clamp(1.0 - clip, 1.0 + clip) * advantages
    return -_masked_mean(torch.minimum(unclipped, clipped), mask.to(logp.dtype))


def clipped_value_loss(values: torch.Tensor, values_old: torch.Tensor, returns: torch.Tensor,
                       mask: torch.Tensor, clip: float = 0.2) -> torch.Tensor:
    """The value model's loss, clipped like the policy's: 0.5 * mean(max((V - R)^2,
    (V_clipped - R)^2)), V_clipped kept within ``clip`` of the values at sampling time."""
    _check(mask, values, values_old, returns)
    clipped = values_old + (values - values_old).clamp(-clip, clip)
    loss = torch.maximum((values - returns) ** 2, (clipped - returns) ** 2)
    return 0.5 * _masked_mean(loss, mask.to(values.dtype))
