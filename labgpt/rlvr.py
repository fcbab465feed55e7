"""Reinforcement learning with verifiable rewards, on the assistant world's sums.

The InstructGPT chapter's reward model learned what the labeler likes from rankings, and on
``add a b =>`` it learned little: whether ``7`` is the sum of 3 and 4 is hard to read off a few
thousand comparisons. A program can check it. Where correctness is checkable (arithmetic, unit
tests of code), the check itself is the reward: 1 for a verified answer, 0 otherwise, with no
reward model to fool (DeepSeekMath, Shao et al., 2024; Tulu 3's RLVR, Lambert et al., 2024;
DeepSeek-R1, 2025). :func:`verifier_reward` scores a rollout with the world's
:data:`labgpt.worlds.assistant.VERIFIERS`; :func:`grpo` and :func:`ppo` train the SFT model
against it, by :mod:`labgpt.grpo` and by :mod:`labgpt.ppo` with a value model, on the same
prompts; :func:`accuracy` measures what they learned on all 100 sums.
"""

from __future__ import annotations

import copy

import torch

from labgpt import grpo as grpo_
from labgpt import ppo as ppo_
from labgpt.gpt import GPT
from labgpt.heads import GPTWithHead
from labgpt.rlhf import eos_id, respond
from labgpt.worlds import assistant
from labgpt.worlds.assistant import DIGITS, Request

SUMS = [Request("add", ("add", a, b)) for a in DIGITS for b in DIGITS]  # every add request
GRPO = grpo_.GRPOConfig(iterations=400, prompts_per_iteration=16, group_size=8, lr=1e-4,
                        beta=0.04)
PPO = ppo_.PPOConfig(iterations=150, batch_size=64, lr=1e-4, beta=0.04)


def verifier_reward(r: ppo_.Rollout) -> torch.Tensor:
    """1.0 for each row of a rollout whose response its request's verifier accepts, else 0.0
    (a :data:`labgpt.ppo.Reward`). A request without a verifier is a ValueError."""
    tok = assistant.tokenizer()
    out = []
    for row, response in enumerate(r.responses):
        req = assistant.parse(tok.decode(r.prompt(row)))
        if req.family not in assistant.VERIFIERS:
            raise ValueError(f"no verifier for {req.family!r} requests")
        out.append(float(assistant.VERIFIERS[req.family](req, tok.decode(response))))
    return torch.tensor(out)


def sum_prompts(n: int, seed: int):
    """``prompts(i)`` for a training loop: ``n`` random sums for iteration i (token ids)."""
    tok = assistant.tokenizer()

    def prompts(it: int) -> list[list[int]]:
        reqs = assistant.requests(n, seed=50_000 + 1_000 * seed + it, family="add")
        return [tok.encode(q.prompt) for q in reqs]

    return prompts


def accuracy(model: GPT, samples: int = 4, seed: int = 1) -> dict[str, float]:
    """Share of verified answers on all 100 sums: ``sampled`` (``samples`` each at temperature
    1) and ``greedy``."""
    said = respond(model, SUMS, torch.Generator().manual_seed(seed), n=samples)
    sampled = sum(assistant.verify_sum(q, s) for q, ss in zip(SUMS, said, strict=True)
                  for s in ss)
    greedy = sum(assistant.verify_sum(q, s[0]) for q, s in zip(SUMS, respond(model, SUMS),
                                                                strict=True))
    return {"sampled": sampled / (samples * len(SUMS)), "greedy": greedy / len(SUMS)}


def grpo(sft_model: GPT, config: grpo_.GRPOConfig = GRPO, measure=None, prompts=None,
         ) -> tuple[GPT, list[dict]]:
    """GRPO from the SFT model (also the KL reference) against the verifier, on ``prompts``
    (default: :func:`sum_prompts`)."""
    policy = copy.deepcopy(sft_model)
    prompts = prompts or sum_prompts(config.prompts_per_iteration, config.seed)
    history = grpo_.train_grpo(policy, sft_model, prompts, verifier_reward, eos_id(), config,
                               measure)
    return policy, history


def ppo(sft_model: GPT, config: ppo_.PPOConfig = PPO, measure=None, prompts=None,
        ) -> tuple[GPT, list[dict]]:
    """PPO from the SFT model against the verifier, on ``prompts`` (default:
    :func:`sum_prompts`); its value model is the SFT model with a fresh scalar head (there is
    no reward model to start it from)."""
    torch.manual_seed(config.seed)  # the value head's initial weights
    policy, value = copy.deepcopy(sft_model), GPTWithHead(copy.deepcopy(sft_model), 1)
    prompts = prompts or sum_prompts(config.batch_size, config.seed)
    history = ppo_.train_ppo(policy, value, sft_model, verifier_reward, prompts, eos_id(),
                             config, measure=measure)
    return policy, history
