"""A family of GPTs of four sizes trained on the synthetic web, and how to prompt them.

GPT-2's Figure 1 plots zero-shot accuracy against model size. The family here repeats that at
CPU scale: four GPTs of the same depth and widths 16 to 128 (about 10k to 0.4M parameters),
each trained on the same web text (:mod:`labgpt.worlds.web`) for the same number of steps,
plus the largest size trained on the web with its task-bearing sentences replaced by prose
(the data ablation). Training all five takes longer than a chapter may, so the family is a
record (``python -m labgpt.records make web_family``); the chapters load it and re-train the
smallest model live.

Evaluation, zero-shot here and few-shot in the GPT-3 chapter (:func:`few_shot_prompts`), goes
through :func:`choice_accuracy` (which candidate answer is most likely, by
:func:`labgpt.decoding.continuation_logprobs`) and :func:`generation_accuracy` (greedy decoding,
exact match).
"""

from __future__ import annotations

import copy
import random
from dataclasses import replace

import torch

from labgpt.batching import lm_batches
from labgpt.decoding import continuation_logprobs, generate
from labgpt.environment import seed_everything
from labgpt.fine_tuning import Specials, add_special_tokens
from labgpt.gpt import GPT, GPTConfig
from labgpt.training import TrainConfig, train
from labgpt.worlds import web

WIDTHS = (16, 32, 64, 128)
N_LAYER = 2
BLOCK_SIZE = 128
BATCH_SIZE = 32
DOCUMENTS = 100_000  # about 4.2M tokens
TRAIN = TrainConfig(steps=3000, lr=3e-3, warmup_steps=100, eval_every=500, eval_batches=10)
EVAL_EXAMPLES = 200


def config(width: int) -> GPTConfig:
    return GPTConfig(vocab_size=web.tokenizer().vocab_size, block_size=BLOCK_SIZE,
                     n_layer=N_LAYER, n_head=4, n_embd=width)


def web_ids(with_tasks: bool = True, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """The web as token ids: training text, and a held-back stretch for the validation loss."""
    ids = web.encode(web.web_documents(DOCUMENTS, seed, with_tasks))
    n_val = len(ids) // 50
    return ids[:-n_val], ids[-n_val:]


def train_model(width: int, with_tasks: bool = True, steps: int = TRAIN.steps,
                seed: int = 0, quiet: bool = False,
                device: torch.device | str = "cpu") -> tuple[GPT, dict]:
    """Train one member of the family from scratch (on ``device``): the model (on the CPU, in
    eval mode) and its losses."""
    train_ids, val_ids = web_ids(with_tasks)
    seed_everything(seed)
    model = GPT(config(width)).to(device)
    history = train(model, lm_batches(train_ids, val_ids, BLOCK_SIZE, BATCH_SIZE),
                    replace(TRAIN, steps=steps, seed=seed, quiet=quiet))
    return model.cpu().eval(), {"val_loss": round(history.final_val_loss, 4),
                                "params": model.n_params,
                                "tokens_seen": steps * BATCH_SIZE * BLOCK_SIZE}


# --- Zero-shot evaluation ---------------------------------------------------------------------

def examples(task: str, n: int = EVAL_EXAMPLES, seed: int = 1234,
             phrasing: str | None = None) -> list[web.Example]:
    """``n`` evaluation examples of ``task`` in ``phrasing`` (default: the held-out one)."""
    rng = random.Random(seed)
    return [web.TASKS[task].example(rng, phrasing) for _ in range(n)]


def natural_prompt(ex: web.Example, prefix: list[int] | None = None) -> list[int]:
    """The example as the web would write it: its context's token ids, after ``prefix``
    (demonstrations or a task description, for few-shot prompting)."""
    return (prefix or []) + web.tokenizer().encode(ex.context)


def delimiter_prompt(ex: web.Example, sp: Specials) -> list[int]:
    """The same example in GPT-1's fine-tuning format: ``start, body, input, delimiter``, no
    words saying what is asked. ``sp``: the special tokens' ids (:func:`add_special_tokens`)."""
    tok = web.tokenizer()
    return [sp.start, *tok.encode(ex.body), *tok.encode(ex.x), sp.delim]


@torch.no_grad()
def choice_scores(model: GPT, prompt: list[int], candidates: list[list[int]]) -> torch.Tensor:
    """Total log-probability of each candidate continuation of ``prompt``: (C,)."""
    scores = torch.empty(len(candidates))
    by_length: dict[int, list[int]] = {}
    for i, c in enumerate(candidates):
        by_length.setdefault(len(c), []).append(i)
    for rows in by_length.values():  # candidates of one length go through together
        cont = torch.tensor([candidates[i] for i in rows])  # (c, n)
        ctx = torch.tensor(prompt).expand(len(rows), -1)  # (c, t)
        scores[rows] = continuation_logprobs(model, ctx, cont).sum(-1)
    return scores


def choice_accuracy(model: GPT, exs: list[web.Example], prompts: list[list[int]]) -> float:
    """Share of examples whose right answer is the most likely of their candidates."""
    tok = web.tokenizer()
    hits = [int(choice_scores(model, p, [tok.encode(c) for c in ex.candidates]).argmax())
            == ex.label for ex, p in zip(exs, prompts, strict=True)]
    return sum(hits) / len(hits)


@torch.no_grad()
def generation_accuracy(model: GPT, exs: list[web.Example], prompts: list[list[int]]) -> float:
    """Share of examples whose greedy continuation begins with exactly the answer."""
    tok = web.tokenizer()
    outs = generate(model, prompts, max(len(ex.answer) for ex in exs), greedy=True)
    hits = [tok.decode(out[len(p):len(p) + len(ex.answer)].tolist()) == ex.answer
            for out, p, ex in zip(outs, prompts, exs, strict=True)]
    return sum(hits) / len(hits)


def accuracy(model: GPT, task: str, exs: list[web.Example], prompts: list[list[int]]) -> float:
    """Accuracy on ``task`` by the task's own scoring (choice or generation)."""
    if web.TASKS[task].scoring == "generate":
        return generation_accuracy(model, exs, prompts)
    return choice_accuracy(model, exs, prompts)


def demonstration(task: str, rng: random.Random, phrasing: str | None = None) -> list[str]:
    """One solved example of ``task`` as words: its body, then ``phrasing`` (default: the
    held-out one) with the input and the answer filled in, then a full stop."""
    body, x, y, _ = web.TASKS[task].item(rng)
    filled = web.fill(phrasing or web.TASKS[task].held_out, x, y)
    return web.an_articles(f"{body} {filled.rstrip(' .')} .").split()


def few_shot_prompts(task: str, exs: list[web.Example], k: int, phrasing: str | None = None,
                     description: str | None = None, seed: int = 99) -> list[list[int]]:
    """GPT-3's prompt: an optional task ``description``, ``k`` demonstrations (drawn with
    ``seed``, different for every example), then the example in the same ``phrasing``.
    Demonstrations are dropped from the front while the prompt and its answer would not fit
    the family's context of ``BLOCK_SIZE`` tokens."""
    if k < 0:
        raise ValueError(f"k must be >= 0, got {k}")
    tok = web.tokenizer()
    rng = random.Random(seed)
    head = tok.encode(description.split()) if description else []
    prompts = []
    for ex in exs:
        demos = [tok.encode(demonstration(task, rng, phrasing)) for _ in range(k)]
        query = tok.encode(ex.context)
        room = BLOCK_SIZE - len(ex.answer) - len(head) - len(query)
        while demos and sum(map(len, demos)) > room:
            demos.pop(0)
        prompts.append(head + [i for d in demos for i in d] + query)
    return prompts


@torch.no_grad()
def answer_logprob(model: GPT, exs: list[web.Example], prompts: list[list[int]]) -> float:
    """The right answers' mean log-probability per token: a smooth measure of the same
    ability that exact match scores all-or-nothing."""
    tok = web.tokenizer()
    total, count = 0.0, 0
    for ex, p in zip(exs, prompts, strict=True):
        lp = continuation_logprobs(model, torch.tensor([p]), torch.tensor([tok.encode(ex.answer)]))
        total, count = total + lp.sum().item(), count + lp.numel()
    return total / count


def zero_shot(model: GPT, task: str, n: int = EVAL_EXAMPLES, phrasing: str | None = None,
              delimiters: bool = False) -> float:
    """Zero-shot accuracy on ``task``: asked in ``phrasing`` (default: the held-out one), or,
    with ``delimiters=True``, in GPT-1's format on a copy of ``model`` given the three new
    tokens (which it has never seen)."""
    exs = examples(task, n, phrasing=phrasing)
    if not delimiters:
        return accuracy(model, task, exs, [natural_prompt(ex) for ex in exs])
    seed_everything(0)  # the new tokens' random embeddings
    model = copy.deepcopy(model)
    sp = add_special_tokens(model)
    return accuracy(model, task, exs, [delimiter_prompt(ex, sp) for ex in exs])


# --- The family, made once -------------------------------------------------------------------

def members() -> list[tuple[str, int, bool]]:
    """The family's models as (name, width, trained with tasks): four sizes, then the
    ablation at the largest size."""
    return [(f"w{w}", w, True) for w in WIDTHS] + [(f"w{WIDTHS[-1]}_no_tasks", WIDTHS[-1], False)]


def evaluate(model: GPT) -> dict:
    """Everything the chapters read off a member: zero-shot accuracy per task in the held-out
    phrasing, in the first web phrasing, and in GPT-1's delimiter format."""
    out: dict = {"held_out": {}, "web_phrasing": {}, "delimiters": {}}
    for name, task in web.TASKS.items():
        out["held_out"][name] = zero_shot(model, name)
        out["web_phrasing"][name] = zero_shot(model, name, phrasing=task.phrasings[0])
        out["delimiters"][name] = zero_shot(model, name, delimiters=True)
    return out


def make(seed: int = 0) -> tuple[dict[str, torch.Tensor], dict]:
    """Train every member (:func:`members`) and evaluate it: the half-precision weights of all
    of them (keys prefixed ``name.``) and, per member, its size, losses and accuracies."""
    state, result = {}, {"widths": list(WIDTHS), "n_layer": N_LAYER, "steps": TRAIN.steps,
                         "chance": {n: t.chance for n, t in web.TASKS.items()}, "models": {}}
    for name, width, with_tasks in members():
        model, info = train_model(width, with_tasks, seed=seed, quiet=True)
        half = model.half_state()
        model = GPT.from_half_state(config(width), half)  # score exactly what is shipped
        state.update({f"{name}.{k}": v for k, v in half.items()})
        result["models"][name] = {"width": width, "with_tasks": with_tasks, **info,
                                  **evaluate(model)}
        print(name, result["models"][name], flush=True)
    return state, result


def load(name: str | None = None) -> tuple[dict[str, GPT], dict]:
    """The shipped family: its models by name (float32, eval mode; only ``name`` if given)
    and the record's numbers, with ``describe``, the line saying where they came from."""
    from labgpt import records

    record = records.load("web_family")
    models = record.gpts({member: config(width) for member, width, _ in members()
                          if name in (None, member)})
    if not models:
        raise KeyError(f"no member {name!r}; members: {[m for m, _, _ in members()]}")
    return models, {**record.result, "describe": record.describe()}
