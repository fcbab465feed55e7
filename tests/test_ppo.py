"""PPO's pure functions (labgpt.ppo): rewards, GAE, whitening, the clipped losses."""

import pytest
import torch

from labgpt import ppo
from labgpt.gpt import GPT, GPTConfig
from labgpt.heads import GPTWithHead

MASK = torch.tensor([[0, 0, 1, 1, 1, 0], [0, 1, 1, 0, 0, 0]], dtype=torch.bool)


def test_kl_penalty_is_negative_where_the_policy_is_more_sure_and_the_score_sits_at_the_end():
    logp = torch.tensor([[0.0, 0.0, -0.1, -0.2, -0.3, 0.0], [0.0, -1.0, -0.5, 0.0, 0.0, 0.0]])
    ref = torch.tensor([[0.0, 0.0, -0.6, -0.2, -0.1, 0.0], [0.0, -1.5, -0.5, 0.0, 0.0, 0.0]])
    r = ppo.kl_penalised_rewards(torch.tensor([2.0, -1.0]), logp, ref, MASK, beta=0.1)
    want = torch.tensor([[0, 0, -0.05, 0, 0.02 + 2.0, 0], [0, -0.05, -1.0, 0, 0, 0]])
    assert torch.allclose(r, want, atol=1e-6)
    # summed penalty = -beta * (sum logp - sum ref): a positive KL sample costs reward
    assert (r[0].sum() - 2.0).item() == pytest.approx(-0.1 * (-0.6 - -0.9))
    zero = ppo.kl_penalised_rewards(torch.tensor([2.0, -1.0]), logp, ref, MASK, beta=0.0)
    assert zero.sum().item() == pytest.approx(1.0)
    with pytest.raises(ValueError, match="beta"):
        ppo.kl_penalised_rewards(torch.zeros(2), logp, ref, MASK, beta=-1.0)
    with pytest.raises(ValueError, match="response token"):
        ppo.kl_penalised_rewards(torch.zeros(2), logp, ref, MASK & False, beta=0.1)
    with pytest.raises(ValueError, match="mask's shape"):
        ppo.kl_penalised_rewards(torch.zeros(2), logp[:, :5], ref, MASK, beta=0.1)


def test_gae_reduces_to_td_error_at_lambda_0_and_to_the_return_at_lambda_1():
    g = torch.Generator().manual_seed(0)
    rewards = torch.randn(2, 6, generator=g) * MASK
    values = torch.randn(2, 6, generator=g)
    gamma = 0.9
    adv0, _ = ppo.gae(rewards, values, MASK, gamma, lam=0.0)
    adv1, ret1 = ppo.gae(rewards, values, MASK, gamma, lam=1.0)
    for b in range(2):
        pos = MASK[b].nonzero().flatten().tolist()  # response positions, in order
        for i, t in enumerate(pos):
            nxt = values[b, pos[i + 1]] if i + 1 < len(pos) else 0.0
            assert adv0[b, t].item() == pytest.approx(
                (rewards[b, t] + gamma * nxt - values[b, t]).item(), abs=1e-5)
            ret = sum(gamma ** k * rewards[b, s].item() for k, s in enumerate(pos[i:]))
            assert adv1[b, t].item() == pytest.approx(ret - values[b, t].item(), abs=1e-5)
            assert ret1[b, t].item() == pytest.approx(ret, abs=1e-5)
    assert (adv0[~MASK] == 0).all() and (ret1[~MASK] == 0).all()


def test_whiten_gives_mean_0_variance_1_on_the_mask_only():
    x = torch.tensor([[9.0, 9.0, 1.0, 2.0, 3.0, 9.0], [9.0, 4.0, 5.0, 9.0, 9.0, 9.0]])
    w = ppo.whiten(x, MASK)
    assert w[MASK].mean().item() == pytest.approx(0.0, abs=1e-6)
    assert (w[MASK] ** 2).mean().item() == pytest.approx(1.0, abs=1e-5)
    assert (w[~MASK] == 0).all()


def test_clipped_policy_loss_on_hand_made_ratios():
    mask = torch.ones(1, 4, dtype=torch.bool)
    ratio = torch.tensor([[0.5, 1.1, 1.5, 1.5]])
    adv = torch.tensor([[1.0, 1.0, 1.0, -1.0]])
    logp = torch.log(ratio).requires_grad_()
    loss = ppo.clipped_policy_loss(logp, torch.zeros(1, 4), adv, mask, clip=0.2)
    # min(r A, clip(r) A): 0.5 (below the range, A > 0: unclipped is smaller), 1.1, 1.2, -1.5
    assert loss.item() == pytest.approx(-(0.5 + 1.1 + 1.2 - 1.5) / 4)
    loss.backward()
    # the clipped token (ratio 1.5, A > 0) gives no gradient; the others d/dlogp = -r A / 4
    assert torch.allclose(logp.grad, torch.tensor([[-0.125, -0.275, 0.0, 0.375]]))


def test_clipped_value_loss_keeps_the_worse_of_clipped_and_unclipped():
    mask = torch.ones(1, 3, dtype=torch.bool)
    old = torch.zeros(1, 3)
    values = torch.tensor([[0.1, 1.0, -1.0]])
    returns = torch.tensor([[0.0, 1.0, 0.0]])
    # token 2: unclipped 0.0, clipped to 0.2 -> 0.64: the max keeps 0.64
    want = 0.5 * (0.01 + 0.64 + 1.0) / 3
    assert ppo.clipped_value_loss(values, old, returns, mask, clip=0.2).item() == pytest.approx(
        want)


def tiny_gpt(seed=0):
    torch.manual_seed(seed)
    return GPT(GPTConfig(vocab_size=12, block_size=16, n_layer=1, n_head=2, n_embd=16)).eval()


def test_rollout_lays_out_responses_and_their_logprobs_do_not_depend_on_padding():
    policy = tiny_gpt()
    prompts = [[1, 2, 3], [4, 5], [6]]
    r = ppo.rollout(policy, prompts, 5, eos_id=0, generator=torch.Generator().manual_seed(0))
    assert r.ids.shape[0] == 3 and r.mask.shape == (3, r.ids.shape[1] - 1)
    lp = ppo.response_logprobs(policy, r)
    for i, (prompt, response) in enumerate(zip(prompts, r.responses, strict=True)):
        assert 1 <= len(response) <= 5 and r.ids[i, :len(prompt)].tolist() == prompt
        assert r.ids[i, len(prompt):r.lengths[i]].tolist() == response
        assert r.mask[i].sum().item() == len(response)  # one position per response token
        alone = torch.tensor([prompt + response])  # the same row without any padding
        logits, _ = policy(alone[:, :-1])
        want = torch.log_softmax(logits, -1)[0, len(prompt) - 1:].gather(
            -1, alone[0, len(prompt):, None])[:, 0]
        assert torch.allclose(lp[i][r.mask[i]], want, atol=1e-5)
    assert (lp[~r.mask] == 0).all()
    value = GPTWithHead(tiny_gpt(1), 1)
    v = ppo.token_values(value, r)
    assert v.shape == r.mask.shape and (v[~r.mask] == 0).all()


class FirstTokenReward(torch.nn.Module):
    """A stand-in reward model: 1 when the response (after a 2-token prompt) starts with 3."""

    def forward(self, ids, lengths):
        return (ids[:, 2] == 3).float()[:, None]


def first_token_reward():
    return ppo.model_reward(FirstTokenReward())


def test_train_ppo_raises_the_reward_and_reports_kl_and_entropy():
    policy, reference = tiny_gpt(), tiny_gpt()
    value = GPTWithHead(tiny_gpt(1), 1)
    cfg = ppo.PPOConfig(iterations=25, batch_size=32, minibatch_size=16, lr=3e-3, beta=0.05,
                        max_new_tokens=3, eval_every=5)
    history = ppo.train_ppo(policy, value, reference, first_token_reward(),
                            lambda it: [[1, 2]] * 32, eos_id=0, config=cfg,
                            measure=lambda m: {"measured": 1.0})
    assert len(history) == 25 and not policy.training
    first, last = (sum(h["score"] for h in part) / 5 for part in (history[:5], history[-5:]))
    assert last > first + 0.3
    assert history[0]["kl"] == pytest.approx(0, abs=1e-5)  # the policy starts as the reference
    assert history[-1]["kl"] > 0.05  # and moved away from it to earn the reward
    assert all(h["entropy"] >= 0 for h in history)
    assert [h["iteration"] for h in history if "measured" in h] == [5, 10, 15, 20, 25]
    with pytest.raises(ValueError, match="pretraining"):
        ppo.train_ppo(policy, value, reference, first_token_reward(), lambda it: [[1, 2]],
                      eos_id=0, config=ppo.PPOConfig(ptx=1.0))
    with pytest.raises(ValueError, match="minibatch_size"):
        ppo.PPOConfig(batch_size=8, minibatch_size=16)
