import numpy as np
import pytest
import torch

import labgpt
from labgpt import word2vec
from labgpt.checks import CheckFailed, check_negative_sampling_loss


def test_mlp_matches_the_paper_equation():
    torch.manual_seed(0)
    model = labgpt.MLPLM(vocab_size=11, context=3, n_embd=4, n_hidden=7)
    idx = torch.randint(11, (2, 9))
    logits, loss = model(idx, torch.randint(11, (2, 9)))
    assert logits.shape == (2, 7, 11) and loss.shape == ()
    x = model.embed(idx[0, 2:5]).flatten()  # the window ending at position 4
    y = model.out(torch.tanh(model.hidden(x))) + model.direct(x)
    assert torch.allclose(logits[0, 2], y, atol=1e-6)


def test_mlp_next_token_probs_line_up_with_forward():
    torch.manual_seed(0)
    model = labgpt.MLPLM(vocab_size=5, context=2, n_embd=3, n_hidden=4)
    ids = torch.randint(5, (20,))
    p = model.next_token_probs(ids, batch_size=7)
    logits, _ = model(ids[None, :-1])  # predicts ids[2:]
    expected = torch.softmax(logits[0], -1).gather(1, ids[2:, None])[:, 0]
    assert torch.allclose(p, expected, atol=1e-6)
    with pytest.raises(ValueError, match="need at least context=2"):
        model(ids[None, :1])


def test_negative_sampling_loss_gradients():
    generator = torch.Generator().manual_seed(0)
    args = [torch.randn(*shape, generator=generator, dtype=torch.double, requires_grad=True)
            for shape in ((3, 4), (3, 4), (3, 2, 4))]
    assert torch.autograd.gradcheck(word2vec.negative_sampling_loss, args)


def test_negative_sampling_loss_value_by_hand():
    v, u, n = torch.tensor([[1.0, 0.0]]), torch.tensor([[2.0, 0.0]]), torch.tensor([[[0.0, 1.0]]])
    expected = -np.log(1 / (1 + np.exp(-2.0))) - np.log(0.5)
    assert word2vec.negative_sampling_loss(v, u, n).item() == pytest.approx(expected)
    with pytest.raises(ValueError, match="expected center"):
        word2vec.negative_sampling_loss(v, u, n[0])


def test_checker_rejects_a_summed_loss():
    with pytest.raises(CheckFailed, match="take the mean"):
        check_negative_sampling_loss(
            lambda c, p, n: word2vec.negative_sampling_loss(c, p, n) * len(c))


def test_skipgram_learns_a_toy_structure():
    # Two "topics" whose words only co-occur with each other.
    rng = np.random.default_rng(0)
    ids = np.concatenate([rng.integers(0, 5, 50) if i % 2 else rng.integers(5, 10, 50)
                          for i in range(200)])
    vectors = word2vec.train_word2vec(ids, 10, dim=8, window=2, epochs=3, subsample=1.0)
    groups = {"a": list(range(5)), "b": list(range(5, 10))}
    assert word2vec.group_neighbour_score(vectors, groups, k=3) > 0.9
    with pytest.raises(ValueError, match="empty corpus"):
        word2vec.train_word2vec([], 10)
