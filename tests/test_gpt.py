import numpy as np
import pytest
import torch

import labgpt
from labgpt.gpt import GPT, GPTConfig, hf_gpt2_model

transformers = pytest.importorskip("transformers")


def hf_model(n_layer=2, n_head=4, n_embd=32, vocab=97, positions=16, seed=0):
    config = GPTConfig(vocab_size=vocab, block_size=positions, n_layer=n_layer, n_head=n_head,
                       n_embd=n_embd)
    return hf_gpt2_model(config, seed=seed)


@pytest.mark.parametrize(("n_layer", "n_head", "n_embd"), [(1, 1, 8), (2, 4, 32), (3, 6, 48)])
def test_from_pretrained_matches_transformers(tmp_path, n_layer, n_head, n_embd):
    reference = hf_model(n_layer, n_head, n_embd)
    reference.save_pretrained(tmp_path)
    model = GPT.from_pretrained(tmp_path).eval()
    assert model.lm_head.weight is model.wte.weight  # tied, as in GPT-2
    idx = torch.randint(97, (3, 16))
    with torch.no_grad():
        expected = reference(idx).logits
        got, _ = model(idx)
    assert (got - expected).abs().max().item() < 1e-5


def test_save_pretrained_loads_in_transformers(tmp_path):
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=50, block_size=12, n_layer=2, n_head=2, n_embd=16)).eval()
    model.save_pretrained(tmp_path)
    reference = transformers.GPT2LMHeadModel.from_pretrained(tmp_path).eval()
    idx = torch.randint(50, (2, 12))
    with torch.no_grad():
        assert (reference(idx).logits - model(idx)[0]).abs().max().item() < 1e-5
    again = GPT.from_pretrained(tmp_path)
    assert all(torch.equal(a, b) for a, b in zip(again.state_dict().values(),
                                                 model.state_dict().values(), strict=True))


def test_preset_parameter_counts():
    with torch.device("meta"):
        assert GPT(GPTConfig.preset("gpt2")).n_params == 124_439_808
        assert round(GPT(GPTConfig.preset("gpt1")).n_params / 1e6) == 117
        assert round(GPT(GPTConfig.preset("gpt2-medium")).n_params / 1e6) == 355
        assert round(GPT(GPTConfig.preset("gpt3")).n_params / 1e9, 1) == 174.6  # "175B"


def test_causal_future_tokens_do_not_change_earlier_logits():
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=20, block_size=10, n_layer=2, n_head=2, n_embd=16)).eval()
    idx = torch.randint(20, (1, 10))
    changed = idx.clone()
    changed[0, 6:] = (changed[0, 6:] + 1) % 20
    a, _ = model(idx)
    b, _ = model(changed)
    assert torch.allclose(a[:, :6], b[:, :6], atol=1e-6)
    assert not torch.allclose(a[:, 6:], b[:, 6:])


def test_generation_goes_past_block_size():
    model = GPT(GPTConfig(vocab_size=20, block_size=8, n_layer=1, n_head=2, n_embd=8))
    out = labgpt.generate(model, torch.zeros(1, 8, dtype=torch.long), 5, greedy=True)
    assert out.shape == (1, 13)


def test_bad_inputs_raise_documented_errors():
    with pytest.raises(ValueError, match="not divisible by n_head"):
        GPTConfig(n_embd=10, n_head=3)
    model = GPT(GPTConfig(vocab_size=20, block_size=8, n_layer=1, n_head=2, n_embd=8))
    with pytest.raises(ValueError, match="exceeds block_size=8 by 2; crop the context"):
        model(torch.zeros(1, 10, dtype=torch.long))
    with pytest.raises(ValueError, match=r"token id 25 is outside the vocabulary \[0, 20\)"):
        model(torch.tensor([[1, 25]]))


def test_checkpoint_round_trip(tmp_path):
    model = GPT(GPTConfig(vocab_size=20, block_size=8, n_layer=1, n_head=2, n_embd=8))
    path = labgpt.save_checkpoint(tmp_path / "gpt.safetensors", model)
    copy = GPT(GPTConfig(vocab_size=20, block_size=8, n_layer=1, n_head=2, n_embd=8))
    labgpt.load_checkpoint(path, copy)
    idx = torch.randint(20, (2, 8))
    assert torch.equal(model(idx)[0], copy(idx)[0])
    assert copy.lm_head.weight is copy.wte.weight


def test_numpy_parity():
    from labgpt.numpy_gpt import gpt_forward, weights_from

    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=30, block_size=12, n_layer=2, n_head=4, n_embd=16)).eval()
    idx = torch.randint(30, (12,))
    expected = model(idx[None])[0][0].detach().numpy()
    got = gpt_forward(idx.numpy(), weights_from(model), n_head=4)
    assert np.abs(got - expected).max() < 1e-4


def test_forward_is_the_head_on_the_trunk():
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=40, block_size=10, n_layer=2, n_head=2, n_embd=16)).eval()
    idx = torch.randint(40, (3, 10))
    hidden = model.trunk(idx)
    assert hidden.shape == (3, 10, 16)
    assert torch.equal(model.lm_head(hidden), model(idx)[0])
    head = torch.nn.Linear(16, 1)  # a reward or value head is a small module on top
    assert head(hidden[:, -1]).shape == (3, 1)


def test_every_model_counts_its_parameters():
    from labgpt.measure import count_params

    model = GPT(GPTConfig(vocab_size=40, block_size=10, n_layer=1, n_head=2, n_embd=16))
    assert count_params(model) == model.n_params
    assert count_params(labgpt.BigramLM(5)) == 25
    assert count_params(labgpt.RecurrentLM(5, kind="rnn", n_embd=2, n_hidden=3)) == \
        5 * 2 + (2 * 3 + 3 * 3 + 3 + 3) + (3 * 5 + 5)


def test_transposed_storage_keeps_values_and_training_works():
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=30, block_size=8, n_layer=2, n_head=2, n_embd=16))
    idx = torch.randint(30, (2, 8))
    before = model(idx)[0]
    model.keep_weights_transposed()
    weight = model.h[0].mlp.fc.weight
    assert weight.shape == (64, 16) and weight.t().is_contiguous()
    assert torch.equal(model(idx)[0], before)
    _, loss = model(idx, idx)
    loss.backward()  # gradients and optimizers work on the transposed storage
    torch.optim.AdamW(model.parameters()).step()


def test_half_state_round_trips_and_refuses_weights_that_do_not_fit():
    config = GPTConfig(vocab_size=12, block_size=8, n_layer=1, n_head=2, n_embd=8)
    model = GPT(config)
    state = model.half_state()
    assert "lm_head.weight" not in state and all(v.dtype == torch.float16 for v in state.values())
    back = GPT.from_half_state(config, state)
    assert not back.training and back.lm_head.weight is back.wte.weight
    assert torch.equal(back.wte.weight, state["wte.weight"].float())
    del state["ln_f.bias"]
    with pytest.raises(ValueError, match="toy weights do not fit"):
        GPT.from_half_state(config, state, "toy weights")
