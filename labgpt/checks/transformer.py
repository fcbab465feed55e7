"""Checkers for the Transformer chapter (attention, masks, heads, positions)."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from labgpt.checks.core import CheckFailed, check_close, check_shape, exercise


@exercise("torch.nn.functional.scaled_dot_product_attention",
          "labgpt.attention.scaled_dot_product_attention")
def check_attention(fn: Callable, seed: int = 0) -> None:
    """Check ``fn(q, k, v, mask=None)`` against PyTorch's fused attention."""
    generator = torch.Generator().manual_seed(seed)
    shapes = (((2, 5, 8), (2, 5, 8)), ((3, 2, 4, 6), (3, 2, 7, 6)), ((1, 1, 3), (1, 1, 3)))
    for shape_q, shape_k in shapes:
        q = torch.randn(*shape_q, generator=generator)
        k = torch.randn(*shape_k, generator=generator)
        v = torch.randn(*shape_k, generator=generator)
        expected = F.scaled_dot_product_attention(q, k, v)
        got = fn(q, k, v, None)
        unscaled = F.scaled_dot_product_attention(q, k, v, scale=1.0)
        if (torch.is_tensor(got) and got.shape == expected.shape and k.shape[-2] > 1
                and torch.allclose(got, unscaled, atol=1e-5)):
            raise CheckFailed("attend forgot the 1/sqrt(d) scaling of the scores")
        check_close(got, expected, f"attention output for q {shape_q}, k {shape_k}")
    q, k, v = (torch.randn(2, 4, 8, generator=generator) for _ in range(3))
    mask = torch.ones(4, 4, dtype=torch.bool).tril().expand(2, 4, 4).clone()
    mask[1, 2] = False  # a fully masked row
    got = fn(q, k, v, mask)
    if torch.isnan(got).any():
        raise CheckFailed("a fully masked row gives NaN: set its weights to 0 after the softmax")
    check_close(got, F.scaled_dot_product_attention(q, k, v, attn_mask=mask),
                "attention output with a causal mask and a fully masked row")
    print("attend passes all 4 checks.")


@exercise("labgpt.attention.causal_mask")
def check_causal_mask(fn: Callable, seed: int = 0) -> None:
    """Check ``fn(t)`` returns the (t, t) lower-triangular boolean mask."""
    for t in (1, 4, 9, 2 + seed % 30):
        got = fn(t)
        if not torch.is_tensor(got) or got.dtype != torch.bool:
            raise CheckFailed(f"causal({t}) should be a boolean tensor, got "
                              f"{getattr(got, 'dtype', type(got).__name__)}")
        check_shape(got, (t, t), f"causal({t})")
        expected = torch.ones(t, t, dtype=torch.bool).tril()
        if torch.equal(got, expected):
            continue
        if torch.equal(got, expected.T):
            raise CheckFailed("causal mask is transposed: row i (the query) may see columns j <= i")
        if torch.equal(got, ~expected):
            raise CheckFailed("causal mask is inverted: True must mean 'may attend'")
        raise CheckFailed(f"causal({t}) differs from the lower-triangular mask (diagonal "
                          "included)")
    print("causal passes all 4 checks.")


@exercise()
def check_split_heads(fn: Callable, seed: int = 0) -> None:
    """Check ``fn(x, n_head)``: (b, t, d) -> (b, n_head, t, d // n_head)."""
    x = torch.arange(2 * 3 * 8, dtype=torch.float).view(2, 3, 8)
    got = fn(x, 4)
    check_shape(got, (2, 4, 3, 2), "heads(x of shape (2, 3, 8), n_head=4)")
    expected = x.view(2, 3, 4, 2).transpose(1, 2)
    if torch.equal(got, x.view(2, 4, 3, 2)):
        raise CheckFailed("a plain view mixes positions into heads: reshape to (b, t, h, d/h) "
                          "first, then swap the t and h axes")
    check_close(got, expected, "split heads")
    g = torch.Generator().manual_seed(seed)  # and a shape drawn afresh
    b, t, h, e = (int(v) for v in torch.randint(1, 5, (4,), generator=g))
    x = torch.randn(b, t, h * e, generator=g)
    check_close(fn(x, h), x.view(b, t, h, e).transpose(1, 2), f"heads(x of shape {(b, t, h * e)}, "
                f"n_head={h})")
    print("heads passes all checks.")


@exercise("labgpt.transformer.sinusoidal_positions")
def check_sinusoidal(fn: Callable, seed: int = 0) -> None:
    """Check ``fn(t, d)`` against the sinusoidal encodings of Vaswani et al. (2017)."""
    from labgpt.transformer import sinusoidal_positions

    for t, d in ((10, 4), (50, 16), (7, 128), (1 + seed % 40, 2 * (1 + seed % 23))):
        got = fn(t, d)
        check_shape(got, (t, d), f"sinusoids({t}, {d})")
        expected = sinusoidal_positions(t, d)
        if torch.allclose(got[:, 0::2], expected[:, 1::2], atol=1e-5):
            raise CheckFailed("sin and cos are swapped: even dimensions take sin")
        check_close(got, expected, f"sinusoids({t}, {d})", atol=1e-4)
    print("sinusoids passes all 4 checks.")
