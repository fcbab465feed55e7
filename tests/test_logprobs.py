import math

import pytest
import torch
import torch.nn.functional as F

from labgpt.logprobs import IGNORE_INDEX, lm_loss, sequence_logprob, token_logprobs


def case(b=3, t=5, v=11, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(b, t, v, generator=g) * 3, torch.randint(v, (b, t), generator=g)


def test_token_logprobs_equal_log_softmax_then_gather():
    logits, targets = case()
    expected = F.log_softmax(logits, -1).gather(-1, targets[..., None])[..., 0]
    assert torch.allclose(token_logprobs(logits, targets), expected, atol=1e-6)


def test_ignored_positions_add_nothing():
    logits, targets = case()
    targets[0, :2] = IGNORE_INDEX
    lp = token_logprobs(logits, targets)
    assert (lp[0, :2] == 0).all() and (lp[0, 2:] < 0).all()


def test_bf16_logits_are_scored_in_float32():
    logits, targets = case()
    lp = token_logprobs(logits.bfloat16(), targets)
    assert lp.dtype == torch.float32


def test_sequence_logprob_sums_only_the_masked_positions():
    logits, targets = case()
    mask = torch.zeros_like(targets, dtype=torch.bool)
    mask[:, 3:] = True  # a prompt of 3 tokens, a continuation of 2
    expected = token_logprobs(logits, targets)[:, 3:].sum(-1)
    assert torch.allclose(sequence_logprob(logits, targets, mask), expected)
    assert torch.allclose(sequence_logprob(logits, targets),
                          token_logprobs(logits, targets).sum(-1))
    with pytest.raises(ValueError, match="mask"):
        sequence_logprob(logits, targets, mask[:, :2])


def test_lm_loss_is_cross_entropy_and_skips_ignored_targets():
    logits, targets = case()
    assert torch.allclose(lm_loss(logits, targets),
                          F.cross_entropy(logits.reshape(-1, 11), targets.reshape(-1)))
    targets[:, :3] = IGNORE_INDEX
    kept = -token_logprobs(logits, targets)[:, 3:]
    assert torch.allclose(lm_loss(logits, targets), kept.mean(), atol=1e-6)
    assert torch.allclose(lm_loss(logits, targets, reduction="sum"), kept.sum(), atol=1e-5)
    assert lm_loss(logits, targets, reduction="none").shape == targets.shape


def test_uniform_logits_cost_log_v():
    assert lm_loss(torch.zeros(2, 4, 7), torch.zeros(2, 4, dtype=torch.long)).item() == \
        pytest.approx(math.log(7))


@pytest.mark.parametrize(("logits", "targets", "message"), [
    (torch.zeros(2, 5, 7), torch.zeros(2, 4, dtype=torch.long), "do not line up"),
    (torch.zeros(2, 5, 7), torch.zeros(2, 5), "torch.long"),
])
def test_mismatched_inputs_get_a_clear_error(logits, targets, message):
    with pytest.raises(ValueError, match=message):
        token_logprobs(logits, targets)
    with pytest.raises(ValueError, match=message):
        lm_loss(logits, targets)
