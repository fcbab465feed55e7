import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

import labgpt
from labgpt.attention import MultiHeadAttention, causal_mask, scaled_dot_product_attention
from labgpt.transformer import Seq2SeqTransformer, sinusoidal_positions

dims = st.integers(1, 6)


@settings(max_examples=40, deadline=None)
@given(b=dims, tq=dims, tk=dims, d=dims, causal=st.booleans(), seed=st.integers(0, 1000))
def test_formula_equals_pytorch_sdpa(b, tq, tk, d, causal, seed):
    torch.manual_seed(seed)
    q, k, v = torch.randn(b, tq, d), torch.randn(b, tk, d), torch.randn(b, tk, d)
    mask = torch.rand(b, tq, tk) > 0.3
    if causal:
        mask = mask & torch.ones(tq, tk, dtype=torch.bool).tril()
    mask[:, 0] = False  # a fully masked row: zeros, not NaN
    got, _ = scaled_dot_product_attention(q, k, v, mask)
    expected = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    assert not torch.isnan(got).any()
    assert (got - expected).abs().max().item() <= 1e-6


@settings(max_examples=25, deadline=None)
@given(b=dims, t=dims, heads=st.sampled_from([1, 2, 4]), dh=st.integers(1, 5),
       seed=st.integers(0, 1000), fused=st.booleans())
def test_multi_head_equals_torch_multiheadattention(b, t, heads, dh, seed, fused):
    torch.manual_seed(seed)
    d = heads * dh
    reference = torch.nn.MultiheadAttention(d, heads, batch_first=True)
    ours = MultiHeadAttention(d, heads, fused=fused)
    ours.in_proj.weight.data.copy_(reference.in_proj_weight)
    ours.in_proj.bias.data.copy_(reference.in_proj_bias)
    ours.out_proj.load_state_dict(reference.out_proj.state_dict())
    x = torch.randn(b, t, d)
    expected, _ = reference(x, x, x, attn_mask=~causal_mask(t), need_weights=False)
    got = ours(x, is_causal=True)
    assert torch.allclose(got, expected, atol=1e-5)
    memory = torch.randn(b, t + 1, d)
    expected, _ = reference(x, memory, memory, need_weights=False)
    assert torch.allclose(ours(x, context=memory), expected, atol=1e-5)


def test_causal_mask_blocks_the_future():
    torch.manual_seed(0)
    attn = MultiHeadAttention(8, 2)
    x = torch.randn(1, 6, 8)
    changed = x.clone()
    changed[0, 4:] += 1.0
    a, b = attn(x, is_causal=True), attn(changed, is_causal=True)
    assert torch.allclose(a[0, :4], b[0, :4], atol=1e-6)
    assert not torch.allclose(a[0, 4:], b[0, 4:])


def test_clear_errors():
    with pytest.raises(ValueError, match="not divisible by n_head"):
        MultiHeadAttention(10, 3)
    attn = MultiHeadAttention(8, 2)
    with pytest.raises(ValueError, match=r"expected input \(batch, time, 8\)"):
        attn(torch.randn(1, 3, 7))
    with pytest.raises(ValueError, match="does not broadcast"):
        attn(torch.randn(1, 3, 8), mask=torch.ones(4, 4, dtype=torch.bool))
    with pytest.raises(ValueError, match="must be boolean"):
        scaled_dot_product_attention(torch.randn(2, 3), torch.randn(2, 3), torch.randn(2, 3),
                                     mask=torch.ones(2, 2))
    with pytest.raises(ValueError, match="shape mismatch"):
        scaled_dot_product_attention(torch.randn(2, 3), torch.randn(2, 4), torch.randn(2, 4))


def test_sinusoidal_positions_formula():
    pe = sinusoidal_positions(10, 6)
    assert torch.allclose(pe[3, 0], torch.sin(torch.tensor(3.0)))
    assert torch.allclose(pe[3, 3], torch.cos(torch.tensor(3.0 / 10000 ** (2 / 6))))


def test_seq2seq_learns_to_copy():
    torch.manual_seed(0)
    model = Seq2SeqTransformer(8, 8, d_model=32, n_head=2, n_layers=1, max_len=8, pre_ln=True)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(400):
        src = torch.randint(3, 8, (32, 5))
        tgt_in = torch.cat([torch.ones(32, 1, dtype=torch.long), src[:, :-1]], dim=1)
        _, loss = model(src, tgt_in, src)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert loss.item() < 0.3  # from ln 5 = 1.6 at the start
    src = torch.randint(3, 8, (64, 5))
    bos = torch.ones(64, 1, dtype=torch.long)
    decoded = labgpt.generate(model, bos, 5, greedy=True, state=model.start(src))[:, 1:]
    token_accuracy = (decoded == src).float().mean()
    assert token_accuracy > 0.8
