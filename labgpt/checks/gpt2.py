"""Checkers for the GPT-2 chapter (a task as one sequence, scoring candidate answers, a new
task for the synthetic web)."""

from __future__ import annotations

import random
from collections.abc import Callable

import torch

from labgpt.checks.core import CheckFailed, check_close, exercise


def _prompt_words(task, x: str, body: str) -> list[str]:
    before = task.held_out.split("{y}")[0].replace("{x}", x)
    return f"{body} {before}".split()


@exercise()
def check_render(fn: Callable, seed: int = 0) -> None:
    """Check ``fn(task, x, body)`` -> the words a model reads when ``task`` is asked about
    input ``x`` after document ``body``, in the task's held-out phrasing: the body, then the
    phrasing with ``{x}`` filled in, cut just before the answer slot ``{y}``."""
    from labgpt.worlds import web

    cases = [(web.TASKS["translate"], "cat", ""),
             (web.TASKS["qa"], "tom", "tom lives in rome . anna lives in oslo ."),
             (web.TASKS["summary"], "", "the dog ran . the dog sat . a cat ran .")]
    rng = random.Random(seed)  # and one drawn afresh
    noun, other = rng.choice(web.NOUNS), rng.choice(web.NOUNS)
    cases.append((web.TASKS["translate"], noun, f"i like the {other} ."))
    for task, x, body in cases:
        got = fn(task, x, body)
        if isinstance(got, str):
            raise CheckFailed("return the prompt as a list of words (split on spaces), not one "
                              f"string: got {got!r}")
        got = list(got)
        expected = _prompt_words(task, x, body)
        if any("{" in w for w in got):
            raise CheckFailed(f"fill or cut every slot: {got} still holds a template slot")
        if got[:len(expected)] == expected and len(got) > len(expected):
            raise CheckFailed(f"cut the phrasing before {{y}}: the answer is what the model must "
                              f"produce, so nothing of it belongs in the prompt; got {got}")
        if body and got == expected[len(body.split()):]:
            raise CheckFailed("the document comes first: a question about a passage is asked "
                              f"after it; got {got}")
        if got != expected:
            raise CheckFailed(f"{task.name} with x={x!r}: expected {expected}, got {got}")
    print("render passes all 4 checks.")


@exercise("labgpt.web_family.choice_scores", "labgpt.decoding.continuation_logprobs")
def check_choice_scores(fn: Callable, seed: int = 0) -> None:
    """Check ``fn(model, prompt, candidates)`` -> (C,): the total log-probability of each
    candidate continuation (a list of token ids) after ``prompt`` (a list of token ids)."""
    from labgpt.gpt import GPT, GPTConfig

    torch.manual_seed(seed)
    model = GPT(GPTConfig(vocab_size=20, block_size=16, n_layer=1, n_head=2, n_embd=16)).eval()
    with torch.no_grad():  # a peaked model, so that mistakes change the scores visibly
        model.wte.weight.mul_(40)
    prompt, candidates = [3, 7, 1], [[5], [2, 9], [4, 4, 11]]

    def logprobs(seq: list[int]) -> torch.Tensor:  # log p(seq[i] | seq[:i]) for i >= 1
        with torch.no_grad():
            logits, _ = model(torch.tensor([seq]))
        return logits[0, :-1].log_softmax(-1).gather(1, torch.tensor(seq[1:])[:, None])[:, 0]

    expected = torch.stack([logprobs(prompt + c)[len(prompt) - 1:].sum() for c in candidates])
    got = fn(model, prompt, candidates)
    if not torch.is_tensor(got):
        got = torch.as_tensor(got, dtype=torch.float32)
    got = got.detach().float().flatten()
    if got.shape == expected.shape:
        mean = expected / torch.tensor([len(c) for c in candidates])
        if torch.allclose(got, mean, atol=1e-4) and not torch.allclose(got, expected, atol=1e-4):
            raise CheckFailed("add the candidate's log-probs, do not average them: the total is "
                              "the log-probability of the whole answer (averaging favours long "
                              "answers' easy later tokens)")
        shifted = torch.stack([logprobs(prompt + c)[len(prompt):].sum() for c in candidates])
        if torch.allclose(got, shifted, atol=1e-4):
            raise CheckFailed("the first answer token is predicted at the prompt's last position: "
                              "your scores skip it (off by one)")
        if (got > 0).any():
            raise CheckFailed(f"log-probabilities are <= 0; got {got.tolist()} (probabilities, "
                              "or logits before the softmax?)")
    check_close(got, expected, "choice scores", atol=1e-4)
    print("choice scores pass.")


@exercise()
def check_new_task(task, seed: int = 0) -> None:
    """Check a :class:`labgpt.worlds.web.Task` written by the learner: its phrasings hold the
    answer slot, its held-out phrasing is not among them, its documents carry one of its
    phrasings, its examples' answers are among their candidates, and every word is in the
    world's vocabulary (a trained model has no embedding for a new word)."""
    from labgpt.worlds import web

    if not isinstance(task, web.Task):
        raise CheckFailed(f"expected a labgpt.worlds.web.Task, got {type(task).__name__}")
    if not task.phrasings or any("{y}" not in p for p in task.phrasings + (task.held_out,)):
        raise CheckFailed("every phrasing, the held-out one included, needs the answer slot {y}")
    if task.held_out.strip(" .") in {p.strip(" .") for p in task.phrasings}:
        raise CheckFailed("the held-out phrasing must not be one the web writes: it is how we "
                          "test that the model understood the task, not the template")
    if task.scoring not in ("choice", "generate"):
        raise CheckFailed(f"scoring is 'choice' or 'generate', got {task.scoring!r}")
    vocabulary = set(web.tokenizer().words)
    rng = random.Random(seed)
    for _ in range(20):
        doc = task.document(rng)
        if not isinstance(doc, web.Document):
            raise CheckFailed(f"document(rng) returns a web.Document, got {type(doc).__name__}")
        unknown = set((doc.body + " " + doc.task).split()) - vocabulary
        if unknown:
            raise CheckFailed(f"words outside the world's vocabulary: {sorted(unknown)}")
        ex = task.example(rng)
        unknown = set(ex.context + ex.answer + sum(ex.candidates, [])) - vocabulary
        if unknown:
            raise CheckFailed(f"words outside the world's vocabulary: {sorted(unknown)}")
        if task.scoring == "choice" and ex.answer not in ex.candidates:
            raise CheckFailed(f"the answer {ex.answer} is not among the candidates "
                              f"{ex.candidates}: a choice task must offer the right answer")
    if task.scoring == "choice" and not 0 < task.chance < 1:
        raise CheckFailed(f"chance is a probability in (0, 1), got {task.chance}")
    print(f"the task {task.name!r} passes all checks.")
