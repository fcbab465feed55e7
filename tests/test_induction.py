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


def test_an_untied_gpt_keeps_its_own_head_through_records_and_new_tokens():
    config = GPTConfig(vocab_size=32, block_size=16, n_layer=1, n_head=2, n_embd=16,
                       tie_embeddings=False)
    torch.manual_seed(0)
    model = GPT(config)
    tied = GPT(GPTConfig(vocab_size=32, block_size=16, n_layer=1, n_head=2, n_embd=16))
    assert model.lm_head.weight is not model.wte.weight
    assert model.n_params - tied.n_params == 32 * 16  # one more (V, d) matrix
    state = model.half_state()
    assert "lm_head.weight" in state and "lm_head.weight" not in tied.half_state()
    back = GPT.from_half_state(config, state)
    assert torch.equal(back.lm_head.weight, state["lm_head.weight"].float())
    with pytest.raises(ValueError, match="do not fit"):  # a tied record is missing the head
        GPT.from_half_state(config, tied.half_state())
    head = model.lm_head.weight.detach().clone()
    assert model.add_tokens(2) == [32, 33]
    assert model.lm_head.weight.shape == model.wte.weight.shape == (34, 16)
    assert model.lm_head.weight is not model.wte.weight
    assert torch.equal(model.lm_head.weight[:32], head)
    with pytest.raises(ValueError, match="ties its output head"):
        hf_config(config)


def test_the_toy_model_has_unit_scale_embeddings_and_its_own_head():
    model = induction.attention_only_gpt(2, seed=0)
    assert all(block.mlp is None for block in model.h)
    assert model.lm_head.weight is not model.wte.weight
    for table in (model.wte, model.wpe):
        assert 0.9 < table.weight.std().item() < 1.1
    again = induction.attention_only_gpt(2, seed=0)
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(),
                                                  again.state_dict().values(), strict=True))


def test_a_short_run_measures_the_repeated_loss_and_both_scores():
    model, history = induction.train_run(1, seed=0, steps=20, every=10)
    assert len(model.h) == 1
    assert history.val_steps == [10, 20]
    assert set(history.measures) == {"repeated_loss", "induction", "previous_token"}
    assert all(0 < v < 5 for v in history.measures["repeated_loss"])
    assert all(0 <= v <= 1 for v in history.measures["induction"])


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
    ends = set()
    for row in range(8):
        where = mask[row].nonzero()[:, 0]
        n, first = len(where), int(where[0])
        assert 4 <= n <= 16 and torch.equal(where, torch.arange(first, first + n))
        seq = torch.cat([x[row, :1], y[row]])  # the whole row; target j is token j + 1
        assert torch.equal(seq[first + 1:first + 1 + n], seq[first + 1 - n:first + 1])  # again
        ends.add(first + n)
    assert len(ends) > 1  # not always in the same place
    with pytest.raises(ValueError, match="do not fit"):
        induction.repeat_batch(2, 16, 20, g, max_len=16)
    seq = induction.repeated_tokens(4, 6, 20, g)
    assert torch.equal(seq[:, :6], seq[:, 6:])
