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


def test_online_section_skips_offline_with_one_line(monkeypatch, capsys):
    monkeypatch.setenv("LABGPT_OFFLINE", "1")
    assert labgpt.online_section("load GPT-2") is False
    out = capsys.readouterr().out
    assert out == "Online section skipped: load GPT-2 (LABGPT_OFFLINE=1 is set).\n"
    monkeypatch.delenv("LABGPT_OFFLINE")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)

    def unreachable(*args, **kwargs):
        raise OSError("no route to host")

    monkeypatch.setattr("socket.create_connection", unreachable)
    assert labgpt.online_section("load GPT-2") is False
    assert "huggingface.co cannot be reached: no route to host" in capsys.readouterr().out


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
