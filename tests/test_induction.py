"""Attention-only GPTs and the induction and previous-token scores (labgpt.induction)."""

import pytest
import torch

from labgpt import induction
from labgpt.gpt import GPT, GPTConfig, hf_config


def attention_only(n_layer=2):
    torch.manual_seed(0)
    return GPT(GPTConfig(vocab_size=32, block_size=32, n_layer=n_layer, n_head=4, n_embd=32,
                         mlp=False))


def test_an_attention_only_gpt_has_no_feed_forward_and_still_generates():
    model = attention_only()
    full = GPT(GPTConfig(vocab_size=32, block_size=32, n_layer=2, n_head=4, n_embd=32))
    assert all(block.mlp is None and block.ln_2 is None for block in model.h)
    assert full.n_params - model.n_params == 2 * (8 * 32 * 32 + 5 * 32 + 2 * 32)
    logits, _ = model(torch.randint(32, (2, 10)))
    assert logits.shape == (2, 10, 32) and torch.isfinite(logits).all()
    with pytest.raises(ValueError, match="attention-only"):
        hf_config(model.config)


def test_attention_patterns_are_causal_rows_of_probabilities_and_restore_the_model():
    model = attention_only().train()
    idx = torch.randint(32, (3, 12))
    w = induction.attention_patterns(model, idx)
    assert w.shape == (2, 3, 4, 12, 12)
    assert torch.allclose(w.sum(-1), torch.ones(2, 3, 4, 12))
    assert (w.triu(1) == 0).all()  # no attention to the future
    assert model.training and all(block.attn.fused for block in model.h)
    logits, _ = model.eval()(idx)  # the fused path gives the same model
    with induction._unfused(model):
        slow, _ = model(idx)
    assert torch.allclose(logits, slow, atol=1e-5)


def test_the_scores_find_hand_made_heads():
    length, t = 5, 10
    prev = torch.zeros(t, t)
    prev[0, 0] = 1
    prev[torch.arange(1, t), torch.arange(t - 1)] = 1  # attend to the previous token
    ind = torch.eye(t)
    i = torch.arange(length, t)
    ind[i] = 0
    ind[i, i - length + 1] = 1  # attend to the token after the earlier occurrence
    w = torch.stack([prev, ind])[:, None, None].expand(2, 3, 1, t, t)  # 2 layers, 3 rows, 1 head
    assert induction.previous_token_scores(w)[:, 0].tolist() == [1.0, pytest.approx(0.0)]
    assert induction.induction_scores(w, length)[:, 0].tolist() == [0.0, 1.0]


def test_repeat_batches_repeat_their_stretch_and_mask_it():
    g = torch.Generator().manual_seed(0)
    x, y, mask = induction.repeat_batch(8, 32, 20, g, min_len=4, max_len=16)
    assert x.shape == y.shape == mask.shape == (8, 32)
    assert torch.equal(x[:, 1:], y[:, :-1])
    for row in range(8):
        n = int(mask[row].sum())
        assert 4 <= n <= 16 and mask[row, -n:].all()
        assert torch.equal(y[row, -n:], y[row, -2 * n:-n])  # the stretch, again
    with pytest.raises(ValueError, match="do not fit"):
        induction.repeat_batch(2, 16, 20, g, max_len=16)
    seq = induction.repeated_tokens(4, 6, 20, g)
    assert torch.equal(seq[:, :6], seq[:, 6:])
