"""Checkers for the InstructGPT chapter (the pairwise reward-model loss, GAE, PPO's clipped
objective)."""

from __future__ import annotations

from collections.abc import Callable

import torch

from labgpt import ppo, reward_model
from labgpt.checks.core import CheckFailed, check_close, check_scalar, exercise


@exercise("labgpt.reward_model.logsig_loss", "labgpt.reward_model.logexp_loss")
def check_pairwise_loss(fn: Callable, seed: int = 0) -> None:
    """Check ``fn(r_chosen, r_rejected)`` -> the mean of -log sigma(r_chosen - r_rejected),
    finite for margins of any size."""
    g = torch.Generator().manual_seed(seed)
    chosen, rejected = torch.randn(64, generator=g) * 3, torch.randn(64, generator=g) * 3
    got = fn(chosen, rejected)
    want = reward_model.logsig_loss(chosen, rejected)
    check_scalar(got, "the pairwise loss", ": average over the pairs")
    swapped = reward_model.logsig_loss(rejected, chosen)
    if torch.isclose(torch.as_tensor(got, dtype=torch.float32), swapped, atol=1e-5):
        raise CheckFailed("the loss is low when the *preferred* response scores higher: use "
                          "r_chosen - r_rejected, not the other way round")
    if torch.isclose(torch.as_tensor(got, dtype=torch.float32),
                     torch.sigmoid(chosen - rejected).log().neg().sum(), atol=1e-4):
        raise CheckFailed("average over the pairs (mean), do not sum")
    check_close(got, want, "the pairwise loss")
    extreme = fn(torch.tensor([0.0, 0.0]), torch.tensor([200.0, -200.0]))
    if not torch.isfinite(extreme):
        raise CheckFailed("with a margin of -200 the loss is inf: exp(200) overflows, and "
                          "sigmoid(-200) underflows to 0 before the log; use "
                          "torch.nn.functional.logsigmoid or softplus, which stay finite")
    check_close(extreme, torch.tensor(100.0),
                "the loss at margins -200 and +200 (the mean of 200 and 0)", atol=1e-3)
    print("the pairwise loss passes.")


@exercise("labgpt.ppo.gae")
def check_gae(fn: Callable, seed: int = 0) -> None:
    """Check ``fn(rewards, values, gamma, lam)`` -> advantages, for one response: 1-D tensors
    of its tokens' rewards and values, the value after the last token taken as 0."""
    g = torch.Generator().manual_seed(1 + seed)
    rewards, values = torch.randn(5, generator=g), torch.randn(5, generator=g)
    mask = torch.ones(1, 5, dtype=torch.bool)
    for gamma, lam in ((1.0, 0.95), (0.9, 0.5)):
        got = fn(rewards.clone(), values.clone(), gamma, lam)
        want, returns = ppo.gae(rewards[None], values[None], mask, gamma, lam)
        got = torch.as_tensor(got, dtype=torch.float32)
        if got.shape != (5,):
            raise CheckFailed(f"return one advantage per token, shape (5,); got "
                              f"{tuple(got.shape)}")
        if torch.allclose(got, returns[0], atol=1e-5):
            raise CheckFailed("that is the return (advantage + value): subtract V(s_t)")
        td = rewards + gamma * torch.cat([values[1:], torch.zeros(1)]) - values
        if lam != 0 and torch.allclose(got, td, atol=1e-5):
            raise CheckFailed("that is the one-step TD error alone: the advantage also adds "
                              "gamma * lam times the next token's advantage, from the end back")
        ahead = torch.zeros(5)
        for t in range(5):  # a common slip: the recursion run forwards
            ahead[t] = td[t] + (gamma * lam * ahead[t - 1] if t else 0.0)
        if torch.allclose(got, ahead, atol=1e-5):
            raise CheckFailed("the recursion runs from the last token backwards: A_t needs "
                              "A_{t+1}, not A_{t-1}")
        check_close(got, want[0], f"the advantages (gamma={gamma}, lam={lam})", atol=1e-5)
    print("GAE passes.")


@exercise("labgpt.ppo.clipped_policy_loss")
def check_clipped_objective(fn: Callable, seed: int = 0) -> None:
    """Check ``fn(ratio, advantages, clip)`` -> the mean over tokens of
    min(ratio * A, clip(ratio, 1 - clip, 1 + clip) * A), the objective PPO maximises."""
    ratio = torch.tensor([0.5, 0.9, 1.1, 1.5, 0.5, 1.5])
    adv = torch.tensor([1.0, 1.0, 1.0, 1.0, -1.0, -1.0])
    mask = torch.ones(1, 6, dtype=torch.bool)
    want = -ppo.clipped_policy_loss(ratio.log()[None], torch.zeros(1, 6), adv[None], mask, 0.2)
    got = fn(ratio.clone(), adv.clone(), 0.2)
    check_scalar(got, "the clipped objective", ": take the mean over tokens")
    if abs(float(got) + want.item()) < 1e-5:
        raise CheckFailed("the sign is flipped: this is the objective to maximise (the loss is "
                          "its negative)")
    clipped_only = (ratio.clamp(0.8, 1.2) * adv).mean().item()
    if abs(float(got) - clipped_only) < 1e-5:
        raise CheckFailed("take the minimum of the clipped and the unclipped term: with the "
                          "clipped term alone, a ratio that moved the wrong way (0.5 with A > 0) "
                          "is not penalised fully")
    maxed = torch.maximum(ratio * adv, ratio.clamp(0.8, 1.2) * adv).mean().item()
    if abs(float(got) - maxed) < 1e-5:
        raise CheckFailed("the minimum, not the maximum: PPO's objective is a pessimistic "
                          "bound")
    check_close(got, want, "the clipped objective")
    g = torch.Generator().manual_seed(seed)  # and tokens drawn afresh
    ratio, adv = torch.rand(20, generator=g) + 0.5, torch.randn(20, generator=g)
    want = -ppo.clipped_policy_loss(ratio.log()[None], torch.zeros(1, 20), adv[None],
                                    torch.ones(1, 20, dtype=torch.bool), 0.2)
    check_close(fn(ratio.clone(), adv.clone(), 0.2), want, "the clipped objective on 20 random "
                "tokens")
    print("the clipped objective passes.")
