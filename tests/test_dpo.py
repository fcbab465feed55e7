"""The DPO loss (labgpt.dpo)."""

import math

import pytest
import torch

from labgpt import dpo
from labgpt.batching import prompt_response_batch
from labgpt.gpt import GPT, GPTConfig


def test_dpo_loss_is_ln2_at_the_start_and_falls_as_the_chosen_gains():
    lp = torch.tensor([-3.0, -5.0])
    loss, rc, rr = dpo.dpo_loss(lp, lp - 1, lp, lp - 1, beta=0.1)
    assert loss.item() == pytest.approx(math.log(2)) and (rc == 0).all() and (rr == 0).all()
    better, rc, rr = dpo.dpo_loss(lp + 1, lp - 2, lp, lp - 1, beta=0.1)
    assert better.item() < math.log(2)
    assert torch.allclose(rc, torch.tensor([0.1, 0.1])) and torch.allclose(rr, -rc)
    margin = 0.1 * ((1.0) - (-1.0))  # beta * (chosen log-ratio - rejected log-ratio)
    assert better.item() == pytest.approx(-math.log(1 / (1 + math.exp(-margin))))
    with pytest.raises(ValueError, match="beta"):
        dpo.dpo_loss(lp, lp, lp, lp, beta=0.0)


def test_response_logprob_sums_the_response_tokens_only():
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=10, block_size=8, n_layer=1, n_head=2, n_embd=8)).eval()
    x, y = prompt_response_batch([([1, 2, 3], [4, 5]), ([6], [7, 8, 9])], pad_id=0)
    got = dpo.response_logprob(model, x, y)
    logp = torch.log_softmax(model(x)[0], -1)
    want0 = logp[0, 2, 4] + logp[0, 3, 5]  # positions predicting the response tokens
    want1 = logp[1, 0, 7] + logp[1, 1, 8] + logp[1, 2, 9]
    assert torch.allclose(got, torch.stack([want0, want1]), atol=1e-5)


def test_dpo_through_the_training_loop_prefers_the_chosen_responses():
    from labgpt.reward_model import Comparison
    from labgpt.training import TrainConfig, train

    torch.manual_seed(0)
    cfg = GPTConfig(vocab_size=10, block_size=8, n_layer=1, n_head=2, n_embd=16)
    policy, reference = GPT(cfg), GPT(cfg).eval()
    reference.load_state_dict(policy.state_dict())
    data = [Comparison([1, 2], [[3, 4], [5, 6]], [(0, 1)]) for _ in range(8)]
    batches = dpo.preference_batches(data, data, pad_id=0, pairs_per_batch=8)
    loss_fn = dpo.dpo_batch_loss(reference, beta=0.5)
    first = loss_fn(policy, batches("train", torch.Generator().manual_seed(0))).item()
    assert first == pytest.approx(math.log(2), abs=1e-5)  # the policy starts as the reference
    history = train(policy, batches, TrainConfig(steps=30, lr=1e-2, eval_every=30,
                                                 eval_batches=1, quiet=True), loss_fn=loss_fn)
    assert history.val_loss[-1] < 0.3
    x, y = prompt_response_batch([([1, 2], [3, 4]), ([1, 2], [5, 6])], 0)
    with torch.no_grad():
        gain = dpo.response_logprob(policy.eval(), x, y) - dpo.response_logprob(reference, x, y)
    assert gain[0] > 0 > gain[1]  # up for the chosen, down for the rejected


def test_train_dpo_and_log_ratios_say_where_the_probability_went():
    from labgpt.reward_model import Comparison
    from labgpt.training import TrainConfig

    torch.manual_seed(0)
    cfg = GPTConfig(vocab_size=10, block_size=8, n_layer=1, n_head=2, n_embd=16)
    policy, reference = GPT(cfg), GPT(cfg).eval()
    reference.load_state_dict(policy.state_dict())
    data = [Comparison([1, 2], [[3, 4], [5, 6], [7]], [(0, 1), (0, 2)]) for _ in range(10)]
    chosen, rejected = dpo.log_ratios(policy, reference, data, pad_id=0)
    assert chosen.shape == rejected.shape == (20,)
    assert chosen.abs().max() < 1e-5 and rejected.abs().max() < 1e-5  # policy = reference
    history = dpo.train_dpo(policy, reference, data, pad_id=0, beta=0.5,
                            config=TrainConfig(steps=30, lr=1e-2, eval_every=30, eval_batches=1,
                                               quiet=True))
    assert not policy.training and history.val_loss[-1] < 0.3
    chosen, rejected = dpo.log_ratios(policy, reference, data, pad_id=0)
    assert (chosen > rejected).all()
