"""GRPO: PPO without a value model, for rewards a program can check (Shao et al., 2024).

DeepSeekMath's group relative policy optimisation samples a *group* of G responses to each
prompt and uses how each one's reward compares with its group's as the advantage of every one
of its tokens:

    A_i = (r_i - mean(r_1..r_G)) / (std(r_1..r_G) + eps)

No value model is trained: the group is the baseline. The policy is updated with PPO's clipped
surrogate (:func:`labgpt.ppo.clipped_policy_loss`, the same code), and the KL to the reference
model is a loss term rather than a reward penalty, estimated per token with the unbiased,
always non-negative estimator k3 = pi_ref/pi - log(pi_ref/pi) - 1 (Schulman, 2020).
Sampling, log-probs, minibatches and the optimiser step are PPO's (:func:`labgpt.ppo.rollout`,
:func:`labgpt.ppo.response_logprobs`, :func:`labgpt.ppo.minibatches`,
:func:`labgpt.ppo.optimizer_step`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from tqdm import tqdm

from labgpt import ppo
from labgpt.gpt import GPT


def group_advantages(rewards: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """rewards (n_prompts, G) -> advantages (n_prompts, G), each reward standardised within
    its group. A group whose rewards are all equal teaches nothing: its advantages are 0."""
    if rewards.dim() != 2 or rewards.shape[1] < 2:
        raise ValueError(f"rewards must be (prompts, group of at least 2), got "
                         f"{tuple(rewards.shape)}")
    mean = rewards.mean(1, keepdim=True)
    std = rewards.std(1, keepdim=True)
    return (rewards - mean) / (std + eps)


def k3_kl(logp: torch.Tensor, logp_ref: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The mean over response tokens of k3 = exp(ref - logp) - (ref - logp) - 1, an estimate of
    KL(pi || pi_ref) from samples of pi that is never negative."""
    d = (logp_ref - logp) * mask
    k3 = torch.exp(d) - d - 1.0
    return (k3 * mask).sum() / mask.sum().clamp(min=1)


@dataclass
class GRPOConfig:
    """One GRPO run: ``prompts_per_iteration`` prompts, ``group_size`` samples of each, one
    gradient step per minibatch over ``epochs`` passes; ``beta`` weighs the KL term (0 turns it
    off)."""

    iterations: int = 100
    prompts_per_iteration: int = 16
    group_size: int = 8
    epochs: int = 1
    minibatch_size: int = 64
    lr: float = 1e-4
    beta: float = 0.04
    clip: float = 0.2
    max_new_tokens: int = 6
    grad_clip: float = 1.0
    seed: int = 0
    eval_every: int = 10

    def __post_init__(self):
        if self.group_size < 2:
            raise ValueError("a group needs at least 2 samples")
        if self.iterations < 1 or self.epochs < 1 or self.lr <= 0 or self.beta < 0:
            raise ValueError("iterations and epochs must be positive, lr > 0, beta >= 0")


def train_grpo(policy: GPT, reference: GPT, prompts: Callable[[int], Sequence[Sequence[int]]],
               reward: ppo.Reward, eos_id: int,
               config: GRPOConfig, measure: Callable[[GPT], dict] | None = None) -> list[dict]:
    """Fine-tune ``policy`` in place by GRPO. ``prompts(i)`` gives iteration i's prompts;
    ``reward(rollout)`` scores the ``group_size`` responses sampled for each of them (rows in
    prompt order, a group after another), one score per row. Returns one record per iteration
    (mean reward, share of groups with any signal, KL estimate, and every ``eval_every``
    iterations ``measure(policy)``); leaves the policy in eval mode."""
    params = list(policy.parameters())
    opt = torch.optim.AdamW(params, lr=config.lr, weight_decay=0.0)
    gen = torch.Generator().manual_seed(config.seed)
    reference.eval()
    history = []
    show_bar = os.environ.get("LABGPT_PROGRESS", "1") != "0"
    g = config.group_size
    for it in tqdm(range(config.iterations), disable=not show_bar, desc="grpo"):
        batch = [list(p) for p in prompts(it) for _ in range(g)]
        policy.eval()
        with torch.no_grad():
            r = ppo.rollout(policy, batch, config.max_new_tokens, eos_id, gen)
            rewards = reward(r).float()
            adv = group_advantages(rewards.view(-1, g)).view(-1)
            logp_old = ppo.response_logprobs(policy, r)
            logp_ref = ppo.response_logprobs(reference, r)
        policy.train()
        kl = torch.zeros(())
        for _ in range(config.epochs):
            for mb, part in ppo.minibatches(r, config.minibatch_size, gen):
                logp = ppo.response_logprobs(policy, part)
                token_adv = adv[mb][:, None] * part.mask  # every token carries its response's
                loss = ppo.clipped_policy_loss(logp, logp_old[mb], token_adv, part.mask,
                                               config.clip)
                kl = k3_kl(logp, logp_ref[mb], part.mask)
                if config.beta:
                    loss = loss + config.beta * kl
                ppo.optimizer_step(opt, loss, params, config.grad_clip)
        spread = (rewards.view(-1, g).std(1) > 0).float().mean().item()
        record = {"iteration": it + 1, "reward": rewards.mean().item(),
                  "groups_with_signal": spread, "kl": kl.item()}
        history.append(ppo.measure_at(record, policy, measure, config.eval_every,
                                      config.iterations))
    policy.eval()
    return history
