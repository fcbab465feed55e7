"""The chat with Part III's models (labgpt.chat), in process and from a terminal."""

import os
import subprocess
import sys

import pytest
import torch

from labgpt import chat, rlhf
from labgpt.gpt import GPT
from labgpt.worlds import assistant


def random_gpt(seed=0):
    torch.manual_seed(seed)
    return GPT(rlhf.config()).eval()


def test_prompt_ids_add_the_arrow_and_refuse_bad_requests_clearly():
    tok = assistant.tokenizer()
    assert tok.decode(chat.prompt_ids("add 3 4")) == ["add", "3", "4", "=>"]
    assert chat.prompt_ids("add 3 4 =>") == chat.prompt_ids("  add 3 4 ")
    with pytest.raises(ValueError, match="unknown words 'please', 'thanks'"):
        chat.prompt_ids("please add 3 4 thanks")
    with pytest.raises(ValueError, match="empty"):
        chat.prompt_ids("   ")
    with pytest.raises(ValueError, match="no room for a reply"):
        chat.prompt_ids("say " + "good day " * 13)


def test_decoding_settings_are_checked_before_any_work():
    with pytest.raises(ValueError, match="temperature"):
        chat.Decoding("sample", temperature=0.0)
    with pytest.raises(ValueError, match="top_p"):
        chat.Decoding("sample", top_p=1.5)
    with pytest.raises(ValueError, match="only apply to --sample"):
        chat.Decoding("greedy", temperature=0.5)
    with pytest.raises(ValueError, match="method"):
        chat.Decoding("nucleus")
    with pytest.raises(ValueError, match="num_beams"):
        chat.Decoding("beam", num_beams=0)


def test_chat_answers_every_model_in_turn_and_survives_a_bad_line():
    models = {"a": random_gpt(0), "bb": random_gpt(1)}
    out = []
    answered = chat.chat(models, ["add 3 4", "", "hello world", "hi kim", "quit", "add 1 1"],
                         out=out.append)
    assert answered == 2  # stops at quit; the bad line is answered with its error
    assert [line.split()[0] for line in out] == ["a", "bb", "!", "a", "bb"]
    assert "unknown word 'world'" in out[2]
    for decoding in (chat.Decoding("sample", temperature=0.7, top_k=5, seed=3),
                     chat.Decoding("beam", num_beams=3, repetition_penalty=1.3)):
        again = []
        chat.chat(models, ["add 3 4"], decoding, out=again.append)
        assert len(again) == 2
        repeat = []
        chat.chat(models, ["add 3 4"], decoding, out=repeat.append)
        assert repeat == again  # a seeded sample and a beam are deterministic


def test_show_marks_a_reply_that_never_ended():
    assert chat.show(["7", "<eot>"]) == "7"
    assert chat.show(["hello", "hello"]) == "hello hello ..."


def test_notebook_lines_fall_back_when_there_is_no_keyboard(monkeypatch, capsys):
    def no_stdin(prompt=""):
        raise NotImplementedError("raw_input was called, but this frontend does not support it")

    monkeypatch.setattr("builtins.input", no_stdin)
    assert list(chat.notebook_lines(["add 1 2", "hi ann"])) == ["add 1 2", "hi ann"]
    assert "you> add 1 2" in capsys.readouterr().out
    typed = iter(["add 3 4", "quit"])
    monkeypatch.setattr("builtins.input", lambda prompt="": next(typed))
    lines = chat.notebook_lines(["never"])
    assert [next(lines), next(lines)] == ["add 3 4", "quit"]


def run_chat(args, stdin):
    env = {**os.environ, "LABGPT_OFFLINE": "1", "OMP_WAIT_POLICY": "PASSIVE"}
    return subprocess.run([sys.executable, "-m", "labgpt.chat", *args], input=stdin,
                          capture_output=True, text=True, env=env, timeout=120)


def test_the_chat_command_answers_from_standard_input_with_the_shipped_models():
    done = run_chat([], "add 3 4\nhi kim\nsay you stink\nadd 3 four\nquit\nadd 1 1\n")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "These models know one tiny world" in out
    for name in ("base", "sft", "ppo", "dpo", "grpo"):
        assert out.count(f"  {name} ") == 3  # three good requests, each answered by every model
    assert "you> add 3 4" in out and "unknown word 'four'" in out and "add 1 1" not in out
    sums = [line.split()[1:] for line in out.splitlines()
            if line.startswith("  grpo") or line.startswith("  sft")]
    assert sums[0] == ["7"] or sums[1] == ["7"]  # greedy: the tuned models know 3 + 4
    beam = run_chat(["--beam", "4", "--repetition-penalty", "1.3", "--models", "grpo"],
                    "add 3 4\n")
    assert beam.returncode == 0 and "  grpo  " in beam.stdout
    sampled = run_chat(["--sample", "--temperature", "0.7", "--top-p", "0.9", "--models",
                        "sft,ppo"], "hi ann\n")
    assert sampled.returncode == 0 and "  ppo  " in sampled.stdout and "grpo" not in sampled.stdout


def test_the_chat_command_refuses_bad_options_before_loading_anything():
    for args, message in ((["--sample", "--temperature", "0"], "temperature must be positive"),
                          (["--top-p", "0.5"], "only apply to --sample"),
                          (["--models", "sft,gpt4"], "unknown model 'gpt4'")):
        done = run_chat(args, "add 3 4\n")
        assert done.returncode == 2 and message in done.stderr, (args, done.stderr)
