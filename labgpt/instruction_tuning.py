"""Instruction tuning in miniature (Wei et al., 2021, FLAN; Chung et al., 2022).

A demonstration shows a task; an instruction says it. FLAN fine-tuned a pre-trained model on
many tasks phrased as instructions and found that it then followed the instructions of tasks
it had never been tuned on, zero-shot, and better the more tasks it had been tuned on. Here a
GPT is pre-trained on the lists of :mod:`labgpt.worlds.kinds` (``oak : tree .``), so it knows
what each thing is but has never seen a question; a task is one kind, asked about as
``what is oak ?`` with the answer ``tree``. The model is tuned on the questions of ``N`` kinds
(loss on the answer only) and asked about the :data:`~labgpt.worlds.kinds.HELD_OUT` ones,
whose things and names it never met in a question: what can carry over is what the question
means, not its answers.

Half of each tuning batch is pre-training text, the first words of fresh lists with the
ordinary language-model loss (InstructGPT mixes a pre-training term into its RL step for the
same reason): without it the tuned model forgets the lists' own format.
"""

from __future__ import annotations

import copy
import random
from dataclasses import dataclass, replace

import torch

from labgpt.batching import lm_batches
from labgpt.environment import seed_everything
from labgpt.gpt import GPT, GPTConfig
from labgpt.logprobs import IGNORE_INDEX
from labgpt.training import History, TrainConfig, train
from labgpt.worlds import kinds, labels

BLOCK_SIZE = 64
BATCH_SIZE = 32
DOCUMENTS = 30_000
PRETRAIN = TrainConfig(steps=1500, lr=3e-3, warmup_steps=50, eval_every=500, eval_batches=10)
TUNE = TrainConfig(steps=300, lr=1e-3, eval_every=300, eval_batches=1)
PRETRAINING_SHARE = 0.5  # of each tuning batch: the first words of fresh lists
TEXT_WORDS = 5  # "oak : tree . pine": as long as a question and its answer


def pretrain(seed: int = 0, steps: int = PRETRAIN.steps, quiet: bool = True,
             ) -> tuple[GPT, History]:
    """A GPT (2 layers x 64) trained from scratch on the world's lists; eval mode."""
    ids = kinds.encode(kinds.documents(DOCUMENTS, seed=0))
    n_val = len(ids) // 50
    seed_everything(seed)
    model = GPT(GPTConfig(vocab_size=kinds.tokenizer().vocab_size, block_size=BLOCK_SIZE,
                          n_layer=2, n_head=4, n_embd=64))
    history = train(model, lm_batches(ids[:-n_val], ids[-n_val:], BLOCK_SIZE, BATCH_SIZE),
                    replace(PRETRAIN, steps=steps, seed=seed, quiet=quiet))
    return model.eval(), history


def question(thing: str) -> list[str]:
    return ["what", "is", thing, "?"]


@dataclass
class KindPrompt:
    """A prompt that ends where the model should name a kind, its ``answer``, and the answers
    of its demonstrations (``shown``; empty zero-shot)."""

    words: list[str]
    answer: str
    shown: list[str]


def prompts(of_kinds: tuple[str, ...] | list[str], n: int = 400, k: int = 0,
            natural: bool = False, seed: int = 5) -> list[KindPrompt]:
    """``n`` questions about things of ``of_kinds``, each after ``k`` answered questions about
    things of the other kinds in ``of_kinds`` (``question answer .``; k = 0: zero-shot).
    ``natural``: the lists' own format instead of a question, ``oak :``."""
    if k and len(of_kinds) < 2:
        raise ValueError("demonstrations need a second kind to be about")
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        kind = rng.choice(list(of_kinds))
        words, shown = [], []
        for _ in range(k):
            other = rng.choice([c for c in of_kinds if c != kind])
            words += question(rng.choice(kinds.KINDS[other])) + [other, "."]
            shown.append(other)
        thing = rng.choice(kinds.KINDS[kind])
        words += [thing, ":"] if natural else question(thing)
        out.append(KindPrompt(words, kind, shown))
    return out


@torch.no_grad()
def answers(model: GPT, batch: list[KindPrompt]) -> list[str]:
    """The kind name the model finds likeliest next after each prompt (prompts of one length)."""
    tok = kinds.tokenizer()
    names = list(kinds.KINDS)
    logits, _ = model(torch.tensor([tok.encode(p.words) for p in batch]))
    best = logits[:, -1, tok.encode(names)].argmax(-1)
    return [names[i] for i in best.tolist()]


def right(said: list[str], batch: list[KindPrompt]) -> float:
    """The share of ``said`` (answers, one per prompt) that are the prompts' answers."""
    return sum(s == p.answer for s, p in zip(said, batch, strict=True)) / len(batch)


def accuracy(model: GPT, batch: list[KindPrompt]) -> float:
    return right(answers(model, batch), batch)


def answer_only_targets(ids: list[int]) -> tuple[list[int], list[int]]:
    """Inputs and next-token targets for a question followed by its answer, every target but
    the answer's ignored: the model is tuned to answer, not to ask."""
    return ids[:-1], [IGNORE_INDEX] * (len(ids) - 2) + [ids[-1]]


def tune(model: GPT, on_kinds: tuple[str, ...] | list[str], seed: int = 0,
         config: TrainConfig = TUNE, pretraining_share: float = PRETRAINING_SHARE) -> GPT:
    """A copy of ``model`` tuned on questions about ``on_kinds`` (each row a question about a
    random thing of one of them, with its answer), with ``pretraining_share`` of each batch's
    rows taken from fresh lists. The original is untouched; the copy is returned in eval mode."""
    if not on_kinds or not set(on_kinds) <= set(kinds.TUNABLE):
        raise ValueError(f"tune on some of {kinds.TUNABLE}; {kinds.HELD_OUT} are held out")
    if not 0.0 <= pretraining_share < 1.0:
        raise ValueError(f"pretraining_share must be in [0, 1), got {pretraining_share}")
    tok = kinds.tokenizer()

    def get_batch(split: str, generator: torch.Generator):
        rng = random.Random(int(torch.randint(2**31, (1,), generator=generator)))
        rows = []
        for _ in range(BATCH_SIZE):
            if rng.random() < pretraining_share:
                ids = tok.encode(labels.list_document(rng, kinds.KINDS)[:TEXT_WORDS])
                rows.append((ids[:-1], ids[1:]))
            else:
                kind = rng.choice(list(on_kinds))
                words = question(rng.choice(kinds.KINDS[kind])) + [kind]
                rows.append(answer_only_targets(tok.encode(words)))
        return torch.tensor([x for x, _ in rows]), torch.tensor([y for _, y in rows])

    tuned = copy.deepcopy(model).train()
    train(tuned, get_batch, replace(config, seed=seed, quiet=True))
    return tuned.eval()


def sweep(base: GPT, ns: tuple[int, ...], orders: tuple[int, ...] = (0, 1, 2),
          pretraining_share: float = PRETRAINING_SHARE, config: TrainConfig = TUNE,
          ) -> dict[int, list[dict]]:
    """For each order (a seed that shuffles :data:`~labgpt.worlds.kinds.TUNABLE`) and each N in
    ``ns``, tune ``base`` on the first N kinds of that order and measure, zero-shot: accuracy on
    the tuned kinds (``seen``), on the held-out kinds (``held_out``), the share of held-out
    questions answered with a tuned kind's name (``tuned_answer``), and accuracy in the lists'
    own format on the held-out kinds (``natural``)."""
    held, natural = prompts(kinds.HELD_OUT), prompts(kinds.HELD_OUT, natural=True)
    results = {}
    for order in orders:
        shuffled = list(kinds.TUNABLE)
        random.Random(order).shuffle(shuffled)
        results[order] = []
        for n in ns:
            tuned_kinds = shuffled[:n]
            model = tune(base, tuned_kinds, order, config, pretraining_share)
            said = answers(model, held)
            results[order].append({
                "n": n, "seen": accuracy(model, prompts(tuned_kinds)),
                "held_out": right(said, held),
                "tuned_answer": sum(s in tuned_kinds for s in said) / len(held),
                "natural": accuracy(model, natural)})
    return results
