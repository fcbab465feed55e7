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

import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import torch
from tqdm import tqdm

from labgpt.batching import BatchFn, pad_sequences
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

    def prompt(self, row: int) -> list[int]:
        """The prompt ids of one row (everything before its response)."""
        return self.ids[row, :int(self.lengths[row]) - len(self.responses[row])].tolist()


Reward = Callable[[Rollout], torch.Tensor]  # a rollout -> one score per row, (b,)


def model_reward(reward_model: GPTWithHead) -> Reward:
    """A reward model as a :data:`Reward`: its scalar score of each sampled sequence."""
    reward_model.eval()
    return lambda r: reward_model(r.ids, r.lengths)[:, 0]


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


def minibatches(r: Rollout, size: int, generator: torch.Generator,
                ) -> Iterator[tuple[torch.Tensor, Rollout]]:
    """One pass over a rollout's rows in random order, ``size`` at a time: each minibatch's
    row indices and the rows themselves as a :class:`Rollout`."""
    order = torch.randperm(len(r.responses), generator=generator)
    for rows in order.split(size):
        yield rows, Rollout(r.ids[rows], r.mask[rows], r.lengths[rows], [])


def optimizer_step(opt: torch.optim.Optimizer, loss: torch.Tensor, params: list,
                   grad_clip: float) -> None:
    """One update: gradients of ``loss``, clipped to a global norm of ``grad_clip``."""
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(params, grad_clip)
    opt.step()


def measure_at(record: dict, policy: GPT, measure: Callable[[GPT], dict] | None,
               every: int, iterations: int) -> dict:
    """``record`` with ``measure(policy)`` added (eval mode, no gradients) at every ``every``-th
    iteration and the last; the policy is left in eval mode when measured."""
    done = record["iteration"]
    if measure is not None and (done % every == 0 or done == iterations):
        policy.eval()
        with torch.no_grad():
            record.update(measure(policy))
    return record


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


@dataclass
class PPOConfig:
    """One PPO run. ``beta``: the KL penalty's weight; ``ptx``: the weight of the pre-training
    language-model loss mixed into every update (InstructGPT's gamma, PPO-ptx; 0 turns it off).
    Each iteration samples ``batch_size`` responses, then makes ``epochs`` passes over them in
    minibatches of ``minibatch_size``."""

    iterations: int = 150
    batch_size: int = 64
    minibatch_size: int = 16
    epochs: int = 4
    lr: float = 1e-4
    beta: float = 1.0
    ptx: float = 0.0
    clip: float = 0.2
    value_coef: float = 0.1
    gamma: float = 1.0
    lam: float = 0.95
    max_new_tokens: int = 6
    grad_clip: float = 1.0
    seed: int = 0
    eval_every: int = 10

    def __post_init__(self):
        if self.iterations < 1 or self.epochs < 1 or self.eval_every < 1:
            raise ValueError("iterations, epochs and eval_every must be positive")
        if not 1 <= self.minibatch_size <= self.batch_size:
            raise ValueError(f"minibatch_size must be in [1, batch_size={self.batch_size}]")
        if self.beta < 0 or self.ptx < 0 or self.lr <= 0:
            raise ValueError("beta and ptx must be non-negative and lr positive")


def train_ppo(policy: GPT, value: GPTWithHead, reference: GPT, reward: Reward,
              prompts: Callable[[int], Sequence[Sequence[int]]], eos_id: int,
              config: PPOConfig, pretraining: BatchFn | None = None,
              measure: Callable[[GPT], dict] | None = None) -> list[dict]:
    """Fine-tune ``policy`` (and ``value``) in place by PPO against ``reward`` (a reward model
    through :func:`model_reward`, or a program that checks the responses), kept near
    ``reference`` by the KL penalty and, if ``config.ptx`` > 0, near the pre-training text by
    ``pretraining``'s batches. ``prompts(i)`` gives iteration i's prompts (token ids).

    Returns one record per iteration: the mean reward of the samples, the mean
    summed KL(policy || reference) estimate per response, the mean per-token entropy estimate
    (-log p of the sampled tokens), and at every ``eval_every`` iterations ``measure(policy)``.
    The policy is left in eval mode."""
    if config.ptx and pretraining is None:
        raise ValueError("config.ptx > 0 needs pretraining batches")
    params = list(policy.parameters()) + list(value.parameters())
    opt = torch.optim.AdamW(params, lr=config.lr, weight_decay=0.0)
    gen = torch.Generator().manual_seed(config.seed)
    reference.eval()
    history = []
    show_bar = os.environ.get("LABGPT_PROGRESS", "1") != "0"
    for it in tqdm(range(config.iterations), disable=not show_bar, desc="ppo"):
        policy.eval()
        value.eval()
        with torch.no_grad():  # sample, then score every response token
            r = rollout(policy, prompts(it), config.max_new_tokens, eos_id, gen)
            logp_old, logp_ref = response_logprobs(policy, r), response_logprobs(reference, r)
            values_old = token_values(value, r)
            scores = reward(r).float()
            rewards = kl_penalised_rewards(scores, logp_old, logp_ref, r.mask, config.beta)
            advantages, returns = gae(rewards, values_old, r.mask, config.gamma, config.lam)
            advantages = whiten(advantages, r.mask)
        policy.train()
        value.train()
        for _ in range(config.epochs):
            for mb, part in minibatches(r, config.minibatch_size, gen):
                loss = clipped_policy_loss(response_logprobs(policy, part), logp_old[mb],
                                           advantages[mb], part.mask, config.clip)
                loss = loss + config.value_coef * clipped_value_loss(
                    token_values(value, part), values_old[mb], returns[mb], part.mask, config.clip)
                if config.ptx:
                    x, y = pretraining("train", gen)
                    loss = loss + config.ptx * policy(x, y)[1]
                optimizer_step(opt, loss, params, config.grad_clip)
        record = {"iteration": it + 1, "score": scores.mean().item(),
                  "kl": ((logp_old - logp_ref) * r.mask).sum(1).mean().item(),
                  "entropy": -(logp_old.sum() / r.mask.sum()).item()}
        history.append(measure_at(record, policy, measure, config.eval_every,
                                  config.iterations))
    policy.eval()
    value.eval()
    return history
