import torch

import labgpt


def test_gpu_section_on_cpu_prints_one_line_and_skips(monkeypatch, capsys):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    monkeypatch.delenv("LABGPT_SKIP_GPU", raising=False)
    assert labgpt.pick_device() == torch.device("cpu")
    assert labgpt.gpu_section("train the big model") is False
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines == [
        "GPU section skipped: train the big model (no CUDA or MPS GPU found; this part needs one)."
    ]


def test_gpu_section_can_be_skipped_on_purpose(monkeypatch, capsys):
    monkeypatch.setenv("LABGPT_SKIP_GPU", "1")
    assert labgpt.gpu_section("x") is False
    assert "LABGPT_SKIP_GPU=1" in capsys.readouterr().out


def test_seed_everything_repeats_random_draws():
    labgpt.seed_everything(3)
    a = torch.rand(3)
    labgpt.seed_everything(3)
    assert torch.equal(a, torch.rand(3))


def test_bigram_rejects_out_of_vocabulary_ids():
    model = labgpt.BigramLM(5)
    import pytest

    with pytest.raises(ValueError, match=r"token id 7 is outside the vocabulary \[0, 5\)"):
        model(torch.tensor([[1, 7]]))
