"""Checkers for the chapter after InstructGPT (the DPO loss, GRPO's group-relative advantages,
a verifier for a new task)."""

from __future__ import annotations

import math
import random
from collections.abc import Callable

import torch

from labgpt import dpo, grpo
from labgpt.checks.core import CheckFailed, check_close, check_scalar, exercise
from labgpt.worlds import assistant
from labgpt.worlds.assistant import Request


@exercise("labgpt.dpo.dpo_loss")
def check_dpo_loss(fn: Callable, seed: int = 0) -> None:
    """Check ``fn(policy_chosen, policy_rejected, ref_chosen, ref_rejected, beta)`` -> the mean
    over pairs of -log sigma(beta * ((pc - rc) - (pr - rr))), from summed log-probs (b,)."""
    g = torch.Generator().manual_seed(2 + seed)
    pc, pr, rc, rr = (-torch.rand(32, generator=g) * 10 for _ in range(4))
    at_start = fn(pc.clone(), pr.clone(), pc.clone(), pr.clone(), 0.5)
    check_scalar(at_start, "the DPO loss", ": average over the pairs")
    if not math.isclose(float(at_start), math.log(2), abs_tol=1e-5):
        raise CheckFailed(f"when the policy is the reference every log-ratio is 0 and the loss "
                          f"is ln 2 = {math.log(2):.4f}; got {float(at_start):.4f}")
    for beta in (0.1, 2.0):
        got = torch.as_tensor(fn(pc.clone(), pr.clone(), rc.clone(), rr.clone(), beta),
                              dtype=torch.float32)
        want, _, _ = dpo.dpo_loss(pc, pr, rc, rr, beta)
        swapped, _, _ = dpo.dpo_loss(pr, pc, rr, rc, beta)
        if torch.isclose(got, swapped, atol=1e-5):
            raise CheckFailed("the loss falls when the *preferred* response gains: its "
                              "log-ratio comes first, minus the rejected one's")
        no_ref, _, _ = dpo.dpo_loss(pc, pr, torch.zeros(32), torch.zeros(32), beta)
        if torch.isclose(got, no_ref, atol=1e-5):
            raise CheckFailed("each response's log-prob is measured against the reference: "
                              "use log pi(y) - log pi_ref(y), not log pi(y) alone")
        unscaled, _, _ = dpo.dpo_loss(pc, pr, rc, rr, 1.0)
        if beta != 1.0 and torch.isclose(got, unscaled, atol=1e-5):
            raise CheckFailed("multiply the difference of log-ratios by beta")
        check_close(got, want, f"the DPO loss (beta={beta})", atol=1e-5)
    far = torch.as_tensor(fn(torch.tensor([0.0]), torch.tensor([0.0]), torch.tensor([0.0]),
                             torch.tensor([-500.0]), 1.0), dtype=torch.float32)
    if not torch.isfinite(far):
        raise CheckFailed("when the rejected response has gained 500 nats over the reference "
                          "the loss is 500, but sigmoid(-500) underflows to 0 and its log to "
                          "-inf: use torch.nn.functional.logsigmoid, which stays finite")
    check_close(far, torch.tensor(500.0), "the DPO loss at a log-ratio gap of -500", atol=1e-2)
    print("the DPO loss passes.")


@exercise("labgpt.grpo.group_advantages")
def check_group_advantages(fn: Callable, seed: int = 0) -> None:
    """Check ``fn(rewards)`` -> advantages: rewards (prompts, G) standardised within each
    group (row) by its mean and standard deviation; a group of equal rewards gets zeros."""
    fixed = torch.tensor([[1.0, 0.0, 0.0, 1.0], [1.0, 1.0, 1.0, 0.0], [0.0, 0.0, 0.0, 0.0],
                          [2.5, 0.5, 2.0, 0.0]])
    g = torch.Generator().manual_seed(seed)  # and groups of 8 drawn afresh
    for rewards in (fixed, torch.randint(0, 3, (3, 8), generator=g).float()):
        _check_group_advantages(fn, rewards)
    print("group-relative advantages pass.")


def _check_group_advantages(fn: Callable, rewards: torch.Tensor) -> None:
    got = torch.as_tensor(fn(rewards.clone()), dtype=torch.float32)
    if got.shape != rewards.shape:
        raise CheckFailed(f"one advantage per response, shape {tuple(rewards.shape)}; got "
                          f"{tuple(got.shape)}")
    if not torch.isfinite(got).all():
        raise CheckFailed("a group whose rewards are all equal has standard deviation 0: add a "
                          "small eps to it, and its advantages are 0")
    overall = (rewards - rewards.mean()) / (rewards.std() + 1e-6)
    if torch.allclose(got, overall, atol=1e-4):
        raise CheckFailed("standardise within each group (each row, dim=1), not over the batch: "
                          "a response is compared with the other answers to its own prompt")
    if torch.allclose(got, rewards - rewards.mean(1, keepdim=True), atol=1e-4):
        raise CheckFailed("the mean is subtracted; now divide by the group's standard deviation")
    check_close(got, grpo.group_advantages(rewards), "the group-relative advantages", atol=1e-4)


@exercise("labgpt.worlds.assistant.verify_greeting")
def check_greeting_verifier(fn: Callable, seed: int = 0) -> None:
    """Check ``fn(request, response)`` -> True exactly when the response to ``hi NAME`` is
    ``hello NAME`` and then ``<eot>`` (within the world's 6 words)."""
    names = assistant.NAMES
    cases = []
    for name in random.Random(seed).sample(names, 3):
        req = Request("hi", ("hi", name))
        other = names[(names.index(name) + 1) % len(names)]
        cases += [(req, ["hello", name, "<eot>"]), (req, ["hello", "<eot>"]),
                  (req, ["hello", other, "<eot>"]), (req, ["hello", name]),
                  (req, ["hello", name, name, "<eot>"]), (req, [name, "<eot>"]),
                  (req, ["hello", name, "you", "stink", "<eot>"]), (req, ["<eot>"])]
    for req, response in cases:
        got = fn(req, list(response))
        want = assistant.verify_greeting(req, response)
        if not isinstance(got, bool | int) or bool(got) != want:
            raise CheckFailed(f"{' '.join(req.prompt)} {' '.join(response)}: expected {want}, "
                              f"got {got!r} ({_why(req, response)})")
    print("the greeting verifier passes.")


def _why(req: Request, response: list[str]) -> str:
    """Why a greeting is right or wrong, in the labeler's terms."""
    if assistant.verify_greeting(req, response):
        return "hello, the user's name, then the end: the right answer"
    if assistant.END not in response:
        return "it never ends: a response is right only if <eot> follows the answer"
    body = response[:response.index(assistant.END)]
    if set(body) & (set(assistant.NAMES) - {req.words[1]}):
        return "a name the user did not give is dishonest"
    if body == ["hello"]:
        return "honest, but the name is missing"
    return "only 'hello NAME <eot>' is right"
