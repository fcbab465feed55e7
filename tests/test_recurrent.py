import pytest
import torch
from torch import nn

import labgpt
from labgpt import recurrent


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize(("b", "t", "d", "h"), [(1, 1, 1, 1), (3, 7, 5, 4), (2, 20, 16, 33)])
def test_cells_equal_pytorch_modules(kind, b, t, d, h):
    torch.manual_seed(b * 100 + t)
    module = recurrent.MODULES[kind](d, h, batch_first=True)
    xs = torch.randn(b, t, d)
    h0, c0 = torch.randn(1, b, h), torch.randn(1, b, h)
    expected, _ = module(xs, (h0, c0) if kind == "lstm" else h0)
    state = (h0[0], c0[0]) if kind == "lstm" else h0[0]
    states, _ = recurrent.unroll(kind, xs, state, recurrent.cell_weights(module))
    got = torch.stack([s[0] if kind == "lstm" else s for s in states], dim=1)
    assert torch.allclose(got, expected, atol=1e-6)


def test_tbptt_detaches_the_carried_state():
    torch.manual_seed(0)
    model = recurrent.RecurrentLM(10, "lstm", n_embd=4, n_hidden=8)
    x = torch.randint(10, (2, 5))
    model(x, x)  # first chunk: its final state is carried
    carried = model._state
    assert all(not s.requires_grad for s in carried)
    # Second chunk: backward works without touching the first chunk's freed graph.
    _, loss = model(x, x)
    loss.backward()
    # The carried state changes the output: the model really starts from it.
    model.reset_state()
    fresh, _ = model(x)
    model._state = carried
    continued, _ = model(x)
    assert not torch.allclose(fresh, continued)


def test_carried_state_gradient_stops_at_the_boundary():
    model = recurrent.RecurrentLM(10, "rnn", n_embd=4, n_hidden=8)
    x = torch.randint(10, (2, 5))
    model(x, x)
    state = model._state.clone().requires_grad_(True)
    model._state = None
    _, loss = model(x, x, state=state)
    loss.backward()
    assert state.grad is not None  # an explicit state does get a gradient ...
    model(x, x)
    assert not model._state.requires_grad  # ... the carried one never does


def test_tbptt_batches_continue_each_stream():
    ids = torch.arange(1000)
    get_batch = recurrent.tbptt_batches(ids, ids, bptt=10, batch_size=4)
    x1, y1 = get_batch("train", None)
    x2, _ = get_batch("train", None)
    assert torch.equal(x2[:, 0], y1[:, -1]) and torch.equal(y1, x1 + 1)
    assert torch.equal(x1[:, 0], torch.tensor([0, 250, 500, 750]))


def test_loss_falls_on_a_toy_sequence():
    ids = torch.arange(3000) % 7
    train, val = labgpt.train_val_split(ids)
    labgpt.seed_everything(0)
    model = recurrent.RecurrentLM(7, "gru", n_embd=8, n_hidden=16)
    config = labgpt.TrainConfig(steps=60, lr=1e-2, eval_every=30, eval_batches=2, progress=False)
    history = labgpt.train(model, recurrent.tbptt_batches(train, val, 16, 8), config)
    assert history.val_loss[-1] < 0.2 * history.train_loss[0]
    assert model.stream_loss(val, n_streams=4) < 0.3


def test_bad_input_is_a_clear_error():
    with pytest.raises(ValueError, match="kind must be one of"):
        recurrent.RecurrentLM(5, "transformer")
    model = recurrent.RecurrentLM(5, "rnn")
    with pytest.raises(ValueError, match=r"token id 5 is outside the vocabulary \[0, 5\)"):
        model(torch.tensor([[1, 5]]))
    with pytest.raises(ValueError, match="shape"):
        model(torch.tensor([1, 2]))
    with pytest.raises(ValueError, match="temperature"):
        labgpt.generate(model, torch.tensor([[1]]), 3, temperature=0)


def test_forget_bias_starts_open():
    model = recurrent.RecurrentLM(5, "lstm", n_hidden=4, forget_bias=1.0)
    assert torch.equal(model.rnn.bias_ih_l0[4:8], torch.ones(4))
    assert isinstance(model.rnn, nn.LSTM)
