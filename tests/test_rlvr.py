"""RL with verifiable rewards on the assistant world's sums (labgpt.rlvr) and the KL measure."""

import copy
from dataclasses import replace

import pytest
import torch

from labgpt import ppo, rlhf, rlvr
from labgpt.gpt import GPT
from labgpt.worlds import assistant


def random_gpt(seed=0):
    torch.manual_seed(seed)
    return GPT(rlhf.config()).eval()


def rollout_of(pairs):
    """A rollout holding the given (prompt words, response words) rows."""
    tok = assistant.tokenizer()
    prompts = [tok.encode(p) for p, _ in pairs]
    ids = [tok.encode(p + r) for p, r in pairs]
    width = max(map(len, ids))
    padded = torch.tensor([row + [0] * (width - len(row)) for row in ids])
    return ppo.Rollout(padded, torch.zeros(len(ids), width - 1, dtype=torch.bool),
                       torch.tensor([len(r) for r in ids]),
                       [row[len(p):] for row, p in zip(ids, prompts, strict=True)])


def test_verifier_reward_reads_each_rows_request_and_checks_it():
    r = rollout_of([(["add", "3", "4", "=>"], ["7", "<eot>"]),
                    (["add", "3", "4", "=>"], ["8", "<eot>"]),
                    (["hi", "kim", "=>"], ["hello", "kim", "<eot>"]),
                    (["add", "9", "9", "=>"], ["18", "<eot>"])])
    assert r.prompt(2) == assistant.tokenizer().encode(["hi", "kim", "=>"])
    assert rlvr.verifier_reward(r).tolist() == [1.0, 0.0, 1.0, 1.0]
    with pytest.raises(ValueError, match="no verifier"):
        rlvr.verifier_reward(rollout_of([(["say", "good", "day", "=>"], ["good", "<eot>"])]))


def test_sum_prompts_and_accuracy():
    prompts = rlvr.sum_prompts(16, seed=0)
    first = prompts(0)
    assert len(first) == 16 and first == prompts(0) and first != prompts(1)
    assert first != rlvr.sum_prompts(16, seed=1)(0)
    words = assistant.tokenizer().decode(first[0])
    assert words[0] == "add" and words[-1] == "=>"
    assert len(rlvr.SUMS) == 100 and len(set(rlvr.SUMS)) == 100
    acc = rlvr.accuracy(random_gpt(), samples=2)
    assert set(acc) == {"sampled", "greedy"} and acc["sampled"] < 0.1  # a random model


def test_kl_from_is_zero_for_the_reference_and_positive_for_another_model():
    model = random_gpt()
    reqs = assistant.requests(50, seed=3)
    assert rlhf.kl_from(model, copy.deepcopy(model), reqs) == pytest.approx(0.0, abs=1e-6)
    assert rlhf.kl_from(model, random_gpt(1), reqs) > 0.1


def test_grpo_and_ppo_against_the_verifier_learn_a_sum():
    """A random model cannot earn the reward; one that half-knows a single sum can learn it."""
    tok = assistant.tokenizer()
    model = random_gpt()
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    good, bad = tok.encode(["add", "3", "4", "=>", "7", "<eot>"]), tok.encode(
        ["add", "3", "4", "=>", "9", "<eot>"])
    for _ in range(60):  # half the time 7, half 9: a policy at about 0.5 accuracy
        x = torch.tensor([good[:-1], bad[:-1]])
        y = torch.tensor([good[1:], bad[1:]])
        model.train()
        loss = model(x, y)[1]
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    only = [tok.encode(["add", "3", "4", "=>"])]

    def reward_of(policy):
        r = ppo.rollout(policy, only * 64, 3, rlhf.eos_id(), torch.Generator().manual_seed(9))
        return rlvr.verifier_reward(r).mean().item()

    start = reward_of(model)
    assert 0.2 < start < 0.8
    for run, config in ((rlvr.grpo, replace(rlvr.GRPO, iterations=15, lr=1e-3)),
                        (rlvr.ppo, replace(rlvr.PPO, iterations=10, lr=1e-3))):
        policy, history = run(model, config, prompts=lambda it: only * 16)
        assert len(history) == config.iterations
        assert reward_of(policy) > start + 0.15, run.__name__
