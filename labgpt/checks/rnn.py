"""Checkers for the recurrent chapter (cells, gradient clipping)."""

from __future__ import annotations

from collections.abc import Callable

import torch

from labgpt.checks.core import CheckFailed, check_close, exercise


def _recurrent_case(cell_cls, b: int, d: int, h: int, seed: int):
    torch.manual_seed(seed)
    cell = cell_cls(d, h).double()
    x = torch.randn(b, d, dtype=torch.double)
    state = torch.randn(b, h, dtype=torch.double)
    return cell, x, state, (cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh)


@exercise("labgpt.recurrent.lstm_cell")
def check_lstm_cell(fn: Callable, seed: int = 0) -> None:
    """Check ``fn(x, (h, c), weight_ih, weight_hh, bias_ih, bias_hh) -> (h', c')`` against
    ``torch.nn.LSTMCell`` with the same weights."""
    for i, (b, d, h) in enumerate([(3, 5, 4), (1, 2, 7), (8, 16, 16)]):
        cell, x, h0, weights = _recurrent_case(torch.nn.LSTMCell, b, d, h, seed + i)
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


@exercise("labgpt.recurrent.gru_cell")
def check_gru_cell(fn: Callable, seed: int = 0) -> None:
    """Check ``fn(x, h, weight_ih, weight_hh, bias_ih, bias_hh) -> h'`` against
    ``torch.nn.GRUCell`` with the same weights."""
    for i, (b, d, h) in enumerate([(3, 5, 4), (1, 2, 7), (8, 16, 16)]):
        cell, x, h0, weights = _recurrent_case(torch.nn.GRUCell, b, d, h, seed + i)
        with torch.no_grad():
            got = fn(x, h0, *weights)
            expected = cell(x, h0)
        try:
            check_close(got, expected, f"new hidden state (b={b}, d={d}, H={h})", atol=1e-10)
        except CheckFailed as err:
            raise CheckFailed(f"{err}. Gates are r, z, n in that order; the reset gate multiplies "
                              "(W_hn h + b_hn), bias included; h' = (1 - z) * n + z * h") from None
    print("gru_step matches torch.nn.GRUCell on all 3 checks.")


@exercise("torch.nn.utils.clip_grad_norm_", "torch.nn.utils.clip_grad.clip_grad_norm_")
def check_clip_grad_norm(fn: Callable, seed: int = 0) -> None:
    """Check ``fn(parameters, max_norm) -> total_norm``, clipping the gradients in place."""
    for max_norm, scale in ((1.0, 10.0), (5.0, 0.1), (0.5, 3.0)):
        torch.manual_seed(seed)
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
