"""Scaling-law helpers: compute per token, power-law fits, the isoFLOP optimum."""

import math

import pytest
import torch

from labgpt import scaling
from labgpt.gpt import GPT, GPTConfig


def test_non_embedding_params_leave_out_both_embeddings():
    model = GPT(GPTConfig(vocab_size=65, block_size=64, n_layer=2, n_head=4, n_embd=32))
    embeddings = 65 * 32 + 64 * 32
    assert scaling.non_embedding_params(model) == model.n_params - embeddings
    # each block: 12 d^2 weights, 13 d biases and norm parameters; plus the final norm (2 d)
    assert scaling.non_embedding_params(model) == 2 * (12 * 32**2 + 13 * 32) + 2 * 32


def test_flops_per_token_and_training_flops():
    assert scaling.flops_per_token(1000, 2, 16, 8) == 6000 + 12 * 2 * 16 * 8
    assert scaling.training_flops(175e9, 300e9) == pytest.approx(3.15e23)


def test_a_power_law_is_recovered_exactly_and_its_fit_quality_reported():
    n = torch.tensor([1e4, 3e4, 1e5, 3e5, 1e6])
    law = scaling.fit_power_law(n, (8.8e13 / n) ** 0.076)
    assert law.alpha == pytest.approx(0.076) and law.x_c == pytest.approx(8.8e13, rel=1e-6)
    assert law.r2 == pytest.approx(1.0)
    assert torch.allclose(law(n), (8.8e13 / n.double()) ** 0.076)
    noisy = scaling.fit_power_law(n, (8.8e13 / n) ** 0.076 * torch.tensor([1, 1.02, 1, 0.98, 1]))
    assert 0.5 < noisy.r2 < 1.0
    with pytest.raises(ValueError, match="positive"):
        scaling.fit_power_law([1, 2, 3], [1, 0, 2])
    with pytest.raises(ValueError, match="length >= 3"):
        scaling.fit_power_law([1, 2], [1, 2])


def test_the_isoflop_optimum_is_the_parabola_minimum():
    budget = 1e12
    points = [{"n": n, "tokens": budget / (6 * n), "budget": budget,
               "val_loss": 2.0 + 0.1 * (math.log(n) - math.log(5e4)) ** 2}
              for n in (1e4, 2e4, 5e4, 1e5, 3e5)]
    opt = scaling.isoflop_optimum(points)
    assert opt["n_opt"] == pytest.approx(5e4, rel=1e-6)
    assert opt["tokens_per_param"] == pytest.approx(budget / 6 / 5e4**2, rel=1e-6)
    flat = [dict(p, val_loss=3.0 - 0.1 * math.log(p["n"])) for p in points]
    with pytest.raises(ValueError, match="no optimum"):
        scaling.isoflop_optimum(flat)
