"""The reward model's pieces (labgpt.reward_model)."""

from math import comb

import pytest
import torch

from labgpt import reward_model as rm
from labgpt.training import TrainConfig


def test_a_ranking_of_k_holds_k_choose_2_pairs_best_first():
    assert rm.ranking_pairs([2, 0, 1]) == [(2, 0), (2, 1), (0, 1)]
    for k in range(2, 10):
        pairs = rm.ranking_pairs(list(range(k))[::-1])
        assert len(pairs) == comb(k, 2) and all(w > lo for w, lo in pairs)
    with pytest.raises(ValueError, match="once"):
        rm.ranking_pairs([0, 1, 1])


def test_logsig_and_logexp_are_one_function_and_stay_finite():
    g = torch.Generator().manual_seed(0)
    w, lo = torch.randn(1000, generator=g) * 5, torch.randn(1000, generator=g) * 5
    assert abs(rm.logsig_loss(w, lo).item() - rm.logexp_loss(w, lo).item()) < 1e-6
    for d in (200.0, -200.0):
        a = rm.logsig_loss(torch.tensor([d]), torch.tensor([0.0]))
        b = rm.logexp_loss(torch.tensor([d]), torch.tensor([0.0]))
        assert torch.isfinite(a) and torch.isfinite(b)
        assert a.item() == pytest.approx(max(-d, 0.0), abs=1e-6) == b.item()
    naive = torch.log1p(torch.exp(torch.tensor([200.0])))  # log(1 + exp(-d)) at d = -200
    assert torch.isinf(naive)  # why the stable form matters
    assert rm.logsig_loss(torch.zeros(3), torch.zeros(3)).item() == pytest.approx(0.6931, abs=1e-4)


def test_pairwise_accuracy_counts_ties_half():
    assert rm.pairwise_accuracy(torch.tensor([1.0, 2.0, 0.0, 3.0]),
                                torch.tensor([0.0, 3.0, 0.0, 1.0])) == pytest.approx(0.625)


def test_train_reward_model_learns_a_preference_from_ranked_pairs():
    from labgpt.gpt import GPT, GPTConfig
    from labgpt.heads import GPTWithHead

    torch.manual_seed(0)
    model = GPTWithHead(GPT(GPTConfig(vocab_size=10, block_size=8, n_layer=1, n_head=2,
                                      n_embd=16)), 1)
    g = torch.Generator().manual_seed(0)

    def comparison():  # responses holding a 3 beat those without
        responses = [torch.randint(4, 10, (2,), generator=g).tolist() for _ in range(4)]
        for r in responses[:2]:
            r[int(torch.randint(2, (1,), generator=g))] = 3
        return rm.Comparison([1, 2], responses, [(0, 2), (0, 3), (1, 2), (1, 3)])

    train, test = [comparison() for _ in range(200)], [comparison() for _ in range(50)]
    cfg = TrainConfig(steps=100, lr=1e-3, eval_every=50, eval_batches=2, quiet=True)
    history = rm.train_reward_model(model, train, test, pad_id=0, config=cfg)
    assert not model.training
    assert history.train_loss[0] > 0.6 and history.val_loss[-1] < 0.2
    with torch.no_grad():
        assert rm.pairwise_accuracy(*rm.pair_scores(model, test, pad_id=0)) > 0.95
    with pytest.raises(ValueError, match="no comparison"):
        rm.train_reward_model(model, [rm.Comparison([1], [[2]], [])], test, pad_id=0)
