"""Checkers for exercises: each runs the learner's code and says *what* is wrong, not just "no".

A checker raises :class:`CheckFailed` (an AssertionError, so nbval and graders see a failure)
with a message that names the expectation and what was got, and prints one line on success.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F


class CheckFailed(AssertionError):
    """The learner's answer is wrong; the message says how."""


def check_shape(got: torch.Tensor, expected: tuple[int, ...], name: str = "output") -> None:
    if not torch.is_tensor(got):
        raise CheckFailed(f"{name} should be a torch.Tensor, got {type(got).__name__}")
    if tuple(got.shape) != tuple(expected):
        raise CheckFailed(f"{name}: expected shape {tuple(expected)}, got {tuple(got.shape)}")


def check_close(
    got: torch.Tensor, expected: torch.Tensor, name: str = "output", atol: float = 1e-5
) -> None:
    """Shapes equal and every entry within ``atol`` (plus a relative 1e-5) of the expected."""
    check_shape(got, tuple(expected.shape), name)
    got, expected = got.detach().double(), expected.detach().double()
    if not torch.isfinite(got).all():
        raise CheckFailed(f"{name} contains inf or NaN")
    if not torch.allclose(got, expected, atol=atol, rtol=1e-5):
        diff = (got - expected).abs()
        where = tuple(int(i) for i in torch.unravel_index(diff.argmax(), diff.shape))
        raise CheckFailed(
            f"{name} differs from the expected values: largest gap {diff.max().item():.3g} at "
            f"index {where} (got {got[where].item():.6g}, expected {expected[where].item():.6g})"
        )


def check_cross_entropy(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> None:
    """Check ``fn(logits (n, v), targets (n,)) -> mean negative log-likelihood`` (a scalar)."""
    generator = torch.Generator().manual_seed(0)
    cases = [(4, 3), (32, 65), (1, 10)]
    for n, v in cases:
        logits = torch.randn(n, v, generator=generator) * 3
        targets = torch.randint(v, (n,), generator=generator)
        got = fn(logits, targets)
        expected = F.cross_entropy(logits, targets)
        if not torch.is_tensor(got):
            raise CheckFailed(f"cross_entropy should return a tensor, got {type(got).__name__}")
        if got.shape != ():
            raise CheckFailed(
                f"cross_entropy should return a scalar (shape ()), got shape {tuple(got.shape)}:"
                " take the mean over the examples"
            )
        if torch.isclose(got, -expected, atol=1e-5) and expected.abs() > 1e-3:
            raise CheckFailed("cross_entropy has the wrong sign: it is the *negative* log-prob")
        check_close(got, expected, f"cross_entropy on logits of shape ({n}, {v})")
    # Logits of a trained model can be large: exp(1000) overflows without the max-shift trick.
    big = torch.tensor([[1000.0, 0.0, -1000.0], [0.0, 1000.0, 0.0]])
    got = fn(big, torch.tensor([0, 2]))
    if not torch.isfinite(torch.as_tensor(got)).all():
        raise CheckFailed(
            "cross_entropy overflows on logits near 1000: subtract each row's max before "
            "exponentiating (log-sum-exp), or use torch.logsumexp"
        )
    check_close(got, F.cross_entropy(big, torch.tensor([0, 2])), "cross_entropy on large logits")
    print(f"cross_entropy passes all {len(cases) + 1} checks.")


def check_merge(fn: Callable[[list[int], tuple[int, int], int], list[int]]) -> None:
    """Check ``fn(ids, pair, new_id)``: replace each occurrence of ``pair``, left to right."""
    cases = [
        ([1, 2, 3, 1, 2], (1, 2), 9, [9, 3, 9]),
        ([5, 5, 5], (5, 5), 256, [256, 5]),
        ([5, 5, 5, 5], (5, 5), 256, [256, 256]),
        ([1, 3, 2], (1, 2), 9, [1, 3, 2]),
        ([1], (1, 2), 9, [1]),
        ([], (1, 2), 9, []),
        ([2, 1], (1, 2), 9, [2, 1]),
    ]
    for ids, pair, new_id, expected in cases:
        original = list(ids)
        got = fn(ids, pair, new_id)
        if ids != original:
            raise CheckFailed(f"apply_merge modified its input list {original} in place")
        if list(got) != expected:
            repeated = len(set(ids)) == 1
            hint = " (scan left to right, and skip both ids of a merged pair)" if repeated else ""
            raise CheckFailed(
                f"merging {pair} -> {new_id} in {ids}: expected {expected}, got {got}{hint}"
            )
    print(f"apply_merge passes all {len(cases)} checks.")


def check_pair_counts(fn: Callable[[list[list[int]]], dict]) -> None:
    """Check ``fn(chunks) -> {pair: count}`` over a list of id lists."""
    cases = [
        ([[1, 2, 3]], {(1, 2): 1, (2, 3): 1}),
        ([[1, 2], [2, 1, 2]], {(1, 2): 2, (2, 1): 1}),
        ([[7, 7, 7]], {(7, 7): 2}),
        ([[1], [2]], {}),
    ]
    for chunks, expected in cases:
        got = dict(fn(chunks))
        crossing = {(a[-1], b[0]) for a, b in zip(chunks, chunks[1:])} - set(expected)  # noqa: B905
        if crossing & set(got):
            raise CheckFailed(
                f"counting pairs in {chunks}: got {got}, which counts a pair that spans two "
                "chunks; pairs must not cross from one chunk to the next"
            )
        if got != expected:
            missing = {p: c for p, c in expected.items() if got.get(p) != c}
            raise CheckFailed(
                f"counting pairs in {chunks}: expected {expected}, got {got}; wrong or missing: "
                f"{missing}"
            )
    print(f"pair_frequencies passes all {len(cases)} checks.")


def check_add_k(fn: Callable) -> None:
    """Check ``fn(count_hw, count_h, k, vocab_size)`` against the add-k formula."""
    cases = [(2, 2, 1.0, 3, 3 / 5), (0, 10, 0.5, 4, 0.5 / 12), (0, 0, 1.0, 65, 1 / 65)]
    for count_hw, count_h, k, vocab_size, expected in cases:
        got = float(fn(count_hw, count_h, k, vocab_size))
        if abs(got - expected) > 1e-9:
            hint = ""
            if abs(got - (count_hw + k) / (count_h + k)) < 1e-9:
                hint = ": the denominator needs k once per vocabulary entry, k * vocab_size"
            raise CheckFailed(
                f"add_k_prob({count_hw}, {count_h}, k={k}, vocab_size={vocab_size}): expected "
                f"{expected:.6f}, got {got:.6f}{hint}"
            )
    counts = np.array([3.0, 0.0, 1.0])
    dist = np.asarray(fn(counts, counts.sum(), 0.1, 3))
    if dist.shape != (3,) or abs(dist.sum() - 1) > 1e-9:
        raise CheckFailed(f"over a whole vocabulary add-k must sum to 1; got {dist}")
    print(f"add_k_prob passes all {len(cases) + 1} checks.")


def check_continuation_counts(fn: Callable) -> None:
    """Check ``fn(ids, vocab_size)``: the number of distinct left neighbours of each token."""
    cases = [
        ([0, 1, 0, 1, 2], 3, [1, 1, 1]),
        ([0, 2, 1, 2, 2, 2], 4, [0, 1, 3, 0]),  # 2 follows 0, 1 and 2 (twice); 3 never occurs
    ]
    for ids, vocab_size, expected in cases:
        got = np.asarray(fn(np.array(ids), vocab_size))
        if got.shape != (vocab_size,):
            raise CheckFailed(f"expected shape ({vocab_size},), got {got.shape}")
        if not np.array_equal(got, expected):
            raw = np.bincount(np.array(ids[1:]), minlength=vocab_size)
            hint = ": count distinct left neighbours, not occurrences" if np.array_equal(
                got, raw) else ""
            raise CheckFailed(
                f"continuation_counts({ids}, {vocab_size}): expected {expected}, "
                f"got {got.tolist()}{hint}"
            )
    print(f"continuation_counts passes all {len(cases)} checks.")


def check_negative_sampling_loss(fn: Callable) -> None:
    """Check ``fn(center (b, d), positive (b, d), negatives (b, k, d))`` -> scalar loss."""
    from labgpt.word2vec import negative_sampling_loss

    generator = torch.Generator().manual_seed(0)
    for b, k, d in ((4, 3, 8), (1, 5, 2), (16, 1, 16)):
        center = torch.randn(b, d, generator=generator, dtype=torch.double)
        positive = torch.randn(b, d, generator=generator, dtype=torch.double)
        negatives = torch.randn(b, k, d, generator=generator, dtype=torch.double)
        got = fn(center, positive, negatives)
        if not torch.is_tensor(got) or got.shape != ():
            shape = tuple(got.shape) if torch.is_tensor(got) else type(got).__name__
            raise CheckFailed(f"ns_loss should return a scalar tensor, got {shape}")
        expected = negative_sampling_loss(center, positive, negatives)
        if torch.isclose(got, expected * b, rtol=1e-6) and b > 1:
            raise CheckFailed("ns_loss returns the sum over the batch; take the mean")
        check_close(got, expected, f"ns_loss with b={b}, k={k}, d={d}", atol=1e-8)
    huge = torch.full((2, 4), 30.0, dtype=torch.double)
    got = fn(-huge, huge, huge[:, None].expand(2, 3, 4).clone())
    if not torch.isfinite(got):
        raise CheckFailed("ns_loss overflows for large scores: use F.logsigmoid")
    print("ns_loss passes all 4 checks.")


def _recurrent_case(cell_cls, b: int, d: int, h: int, seed: int):
    torch.manual_seed(seed)
    cell = cell_cls(d, h).double()
    x = torch.randn(b, d, dtype=torch.double)
    state = torch.randn(b, h, dtype=torch.double)
    return cell, x, state, (cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh)


def check_lstm_cell(fn: Callable) -> None:
    """Check ``fn(x, (h, c), weight_ih, weight_hh, bias_ih, bias_hh) -> (h', c')`` against
    ``torch.nn.LSTMCell`` with the same weights."""
    for seed, (b, d, h) in enumerate([(3, 5, 4), (1, 2, 7), (8, 16, 16)]):
        cell, x, h0, weights = _recurrent_case(torch.nn.LSTMCell, b, d, h, seed)
        c0 = torch.randn(b, h, dtype=torch.double)
        with torch.no_grad():
            got = fn(x, (h0, c0), *weights)
            expected = cell(x, (h0, c0))
        if not isinstance(got, tuple) or len(got) != 2:
            raise CheckFailed("lstm_step must return the pair (h, c)")
        try:
            check_close(got[1], expected[1], f"cell state c (b={b}, d={d}, H={h})", atol=1e-10)
            check_close(got[0], expected[0], f"hidden state h (b={b}, d={d}, H={h})", atol=1e-10)
        except CheckFailed as err:
            raise CheckFailed(f"{err}. PyTorch stacks the gates as input, forget, candidate, "
                              "output: i, f, g, o = gates.chunk(4, dim=-1)") from None
    print("lstm_step matches torch.nn.LSTMCell on all 3 checks.")


def check_gru_cell(fn: Callable) -> None:
    """Check ``fn(x, h, weight_ih, weight_hh, bias_ih, bias_hh) -> h'`` against
    ``torch.nn.GRUCell`` with the same weights."""
    for seed, (b, d, h) in enumerate([(3, 5, 4), (1, 2, 7), (8, 16, 16)]):
        cell, x, h0, weights = _recurrent_case(torch.nn.GRUCell, b, d, h, seed)
        with torch.no_grad():
            got = fn(x, h0, *weights)
            expected = cell(x, h0)
        try:
            check_close(got, expected, f"new hidden state (b={b}, d={d}, H={h})", atol=1e-10)
        except CheckFailed as err:
            raise CheckFailed(f"{err}. Gates are r, z, n in that order; the reset gate multiplies "
                              "(W_hn h + b_hn), bias included; h' = (1 - z) * n + z * h") from None
    print("gru_step matches torch.nn.GRUCell on all 3 checks.")


def check_clip_grad_norm(fn: Callable) -> None:
    """Check ``fn(parameters, max_norm) -> total_norm``, clipping the gradients in place."""
    for max_norm, scale in ((1.0, 10.0), (5.0, 0.1), (0.5, 3.0)):
        torch.manual_seed(0)
        mine = [torch.nn.Parameter(torch.randn(3, 4)), torch.nn.Parameter(torch.randn(5))]
        reference = [torch.nn.Parameter(p.detach().clone()) for p in mine]
        for p, q in zip(mine, reference, strict=True):
            p.grad = torch.randn_like(p) * scale
            q.grad = p.grad.clone()
        expected_norm = torch.nn.utils.clip_grad_norm_(reference, max_norm)
        got_norm = fn(mine, max_norm)
        if not torch.isclose(torch.as_tensor(got_norm, dtype=torch.float), expected_norm,
                             rtol=1e-5):
            raise CheckFailed(f"returned norm {float(got_norm):.4f}, expected the global norm "
                              f"before clipping, {expected_norm.item():.4f} (one norm over all "
                              "parameters' gradients together)")
        for i, (p, q) in enumerate(zip(mine, reference, strict=True)):
            check_close(p.grad, q.grad, f"gradient of parameter {i} after clipping "
                        f"(max_norm={max_norm}, norm before {expected_norm.item():.2f})")
    print("clip_gradients passes all 3 checks.")


def check_attention(fn: Callable) -> None:
    """Check ``fn(q, k, v, mask=None)`` against PyTorch's fused attention."""
    generator = torch.Generator().manual_seed(0)
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


def check_causal_mask(fn: Callable) -> None:
    """Check ``fn(t)`` returns the (t, t) lower-triangular boolean mask."""
    for t in (1, 4, 9):
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
    print("causal passes all 3 checks.")


def check_split_heads(fn: Callable) -> None:
    """Check ``fn(x, n_head)``: (b, t, d) -> (b, n_head, t, d // n_head)."""
    x = torch.arange(2 * 3 * 8, dtype=torch.float).view(2, 3, 8)
    got = fn(x, 4)
    check_shape(got, (2, 4, 3, 2), "heads(x of shape (2, 3, 8), n_head=4)")
    expected = x.view(2, 3, 4, 2).transpose(1, 2)
    if torch.equal(got, x.view(2, 4, 3, 2)):
        raise CheckFailed("a plain view mixes positions into heads: reshape to (b, t, h, d/h) "
                          "first, then swap the t and h axes")
    check_close(got, expected, "split heads")
    print("heads passes all checks.")


def check_sinusoidal(fn: Callable) -> None:
    """Check ``fn(t, d)`` against the sinusoidal encodings of Vaswani et al. (2017)."""
    from labgpt.transformer import sinusoidal_positions

    for t, d in ((10, 4), (50, 16), (7, 128)):
        got = fn(t, d)
        check_shape(got, (t, d), f"sinusoids({t}, {d})")
        expected = sinusoidal_positions(t, d)
        if torch.allclose(got[:, 0::2], expected[:, 1::2], atol=1e-5):
            raise CheckFailed("sin and cos are swapped: even dimensions take sin")
        check_close(got, expected, f"sinusoids({t}, {d})", atol=1e-4)
    print("sinusoids passes all 3 checks.")


def check_gpt_params(fn: Callable) -> None:
    """Check ``fn(vocab_size, block_size, n_layer, n_embd)`` against real GPT models."""
    from labgpt.gpt import GPT, GPTConfig

    for vocab, block, layers, width, heads in ((65, 64, 2, 128, 4), (50257, 1024, 12, 768, 12),
                                              (100, 8, 1, 8, 2)):
        with torch.device("meta"):
            expected = GPT(GPTConfig(vocab_size=vocab, block_size=block, n_layer=layers,
                                     n_head=heads, n_embd=width)).n_params
        got = int(fn(vocab, block, layers, width))
        if got != expected:
            hint = ""
            if got - expected == vocab * width:
                hint = ": the output head is tied to the token embedding, count it once"
            elif got - expected == -block * width:
                hint = ": the position embedding is missing"
            raise CheckFailed(f"gpt_params({vocab}, {block}, {layers}, {width}): expected "
                              f"{expected:,}, got {got:,} (off by {got - expected:+,}){hint}")
    print("gpt_params matches 3 real models, GPT-2 small included.")


def check_top_k(fn: Callable) -> None:
    """Check ``fn(logits (b, vocab), k)``: all but the k largest per row become -inf."""
    generator = torch.Generator().manual_seed(0)
    for b, v, k in ((1, 10, 3), (4, 50, 1), (2, 7, 7)):
        logits = torch.randn(b, v, generator=generator)
        original = logits.clone()
        got = fn(logits, k)
        if not torch.equal(logits, original):
            raise CheckFailed("top_k_filter changed its input in place; return a new tensor")
        check_shape(got, (b, v), f"top_k_filter(logits of shape ({b}, {v}), k={k})")
        kept = torch.isfinite(got).sum(-1)
        if not (kept == k).all():
            raise CheckFailed(f"each row should keep exactly k={k} logits, kept {kept.tolist()}")
        expected = logits.masked_fill(logits < torch.topk(logits, k).values[:, -1:], float("-inf"))
        if not torch.equal(got, expected):
            raise CheckFailed("the kept logits must be the k largest of each row, unchanged")
    print("top_k_filter passes all 3 checks.")
