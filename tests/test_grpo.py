"""GRPO's pieces (labgpt.grpo)."""

import pytest
import torch

from labgpt import grpo
from labgpt.gpt import GPT, GPTConfig


def test_group_advantages_standardise_within_each_group():
    rewards = torch.tensor([[1.0, 0.0, 0.0, 1.0], [1.0, 1.0, 1.0, 1.0], [3.0, 1.0, 2.0, 2.0]])
    adv = grpo.group_advantages(rewards)
    # mean 0.5, sample std sqrt(1/3): +-0.5 / 0.5774
    assert torch.allclose(adv[0], torch.tensor([1.0, -1.0, -1.0, 1.0]) * 0.8660, atol=1e-3)
    assert (adv[1] == 0).all()  # no signal when every sample scores the same
    assert adv[2].mean().abs() < 1e-6 and adv[2, 0] > adv[2, 2] > adv[2, 1]
    with pytest.raises(ValueError, match="group"):
        grpo.group_advantages(torch.ones(3, 1))


def test_k3_is_zero_at_the_reference_and_positive_elsewhere():
    mask = torch.tensor([[True, True, False]])
    logp = torch.tensor([[-1.0, -2.0, -9.0]])
    assert grpo.k3_kl(logp, logp, mask).item() == pytest.approx(0.0)
    assert grpo.k3_kl(logp, logp - 0.5, mask).item() > 0
    assert grpo.k3_kl(logp, logp + 0.5, mask).item() > 0


def test_train_grpo_raises_a_checkable_reward():
    torch.manual_seed(0)
    cfg = GPTConfig(vocab_size=12, block_size=16, n_layer=1, n_head=2, n_embd=16)
    policy, reference = GPT(cfg).eval(), GPT(cfg).eval()
    reference.load_state_dict(policy.state_dict())

    def reward(r):  # the verifier: does the response start with token 3?
        assert all(r.prompt(i) == [1, 2] for i in range(len(r.responses)))
        return torch.tensor([float(resp[0] == 3) for resp in r.responses])

    config = grpo.GRPOConfig(iterations=30, prompts_per_iteration=4, group_size=8, lr=3e-3,
                             max_new_tokens=3, eval_every=10)
    history = grpo.train_grpo(policy, reference, lambda it: [[1, 2]] * 4, reward, eos_id=0,
                              config=config, measure=lambda m: {"measured": 1.0})
    first = sum(h["reward"] for h in history[:5]) / 5
    last = sum(h["reward"] for h in history[-5:]) / 5
    assert last > first + 0.3 and not policy.training
    assert [h["iteration"] for h in history if "measured" in h] == [10, 20, 30]
    with pytest.raises(ValueError, match="group"):
        grpo.GRPOConfig(group_size=1)
