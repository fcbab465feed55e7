"""GPTs of four sizes pre-trained on the labelled lists, and what demonstrations make them say.

The family repeats Wei et al.'s (2023) comparison at CPU scale: GPTs of one and two layers,
5k to 110k parameters, each trained on the same lists of :mod:`labgpt.worlds.labels` for the
same number of steps, then asked to label a thing after ``k`` demonstrations whose labels are
partly or wholly flipped, or replaced by meaningless words. Training all four takes longer
than a chapter may, so the family is a record (``python -m labgpt.records make
label_family``); the chapter loads it and re-trains the smallest model live.
"""

from __future__ import annotations

import random
from dataclasses import replace

import torch

from labgpt.batching import lm_batches
from labgpt.environment import seed_everything
from labgpt.gpt import GPT, GPTConfig
from labgpt.training import TrainConfig, train
from labgpt.worlds import labels

MEMBERS = {"1x16": (1, 16), "1x32": (1, 32), "2x32": (2, 32), "2x64": (2, 64)}  # layers, width
BLOCK_SIZE = 64
BATCH_SIZE = 32
DOCUMENTS = 30_000  # about 0.87M tokens
TRAIN = TrainConfig(steps=3000, lr=3e-3, warmup_steps=50, eval_every=500, eval_batches=10)
FLIPPED = (0.0, 0.25, 0.5, 0.75, 1.0)  # shares of flipped demonstrations
K = 8  # demonstrations per prompt
PROMPTS = 300


def config(member: str) -> GPTConfig:
    n_layer, width = MEMBERS[member]
    return GPTConfig(vocab_size=labels.tokenizer().vocab_size, block_size=BLOCK_SIZE,
                     n_layer=n_layer, n_head=4 if width >= 32 else 2, n_embd=width)


def list_ids(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """The lists as token ids: training text, and a held-back stretch for validation."""
    ids = labels.encode(labels.documents(DOCUMENTS, seed))
    n_val = len(ids) // 50
    return ids[:-n_val], ids[-n_val:]


def train_model(member: str, steps: int = TRAIN.steps, seed: int = 0,
                quiet: bool = True) -> tuple[GPT, dict]:
    """Train one member from scratch: the model (eval mode) and its size and losses."""
    train_ids, val_ids = list_ids()
    seed_everything(seed)
    model = GPT(config(member))
    cfg = replace(TRAIN, steps=steps, seed=seed, quiet=quiet)
    history = train(model, lm_batches(train_ids, val_ids, BLOCK_SIZE, BATCH_SIZE), cfg)
    return model.eval(), {"params": model.n_params, "val_loss": history.final_val_loss}


def prompts(flipped: float = 0.0, arbitrary: bool = False, n: int = PROMPTS, k: int = K,
            seed: int = 1234) -> list[labels.LabelledPrompt]:
    """``n`` prompts of ``k`` demonstrations; the same things in the same order for every
    ``flipped`` (one generator seed), so that only the labels differ between conditions."""
    rng = random.Random(seed)
    return [labels.labelled_prompt(rng, k, flipped, arbitrary) for _ in range(n)]


@torch.no_grad()
def label_accuracy(model: GPT, batch: list[labels.LabelledPrompt]) -> float:
    """Share of prompts whose ``answer`` is more likely than their ``other`` label as the next
    word: Wei et al.'s accuracy against the unflipped labels."""
    tok = labels.tokenizer()
    ids = torch.tensor([tok.encode(p.words) for p in batch])  # one length: k fixed
    logits, _ = model(ids)
    last = logits[:, -1]
    answer = torch.tensor(tok.encode([p.answer for p in batch]))
    other = torch.tensor(tok.encode([p.other for p in batch]))
    rows = torch.arange(len(batch))
    return (last[rows, answer] > last[rows, other]).float().mean().item()


def evaluate(model: GPT) -> dict:
    """Accuracy against the unflipped labels at every share of :data:`FLIPPED`, and with
    meaningless labels (``"arbitrary"``)."""
    return {"flipped": {str(f): label_accuracy(model, prompts(f)) for f in FLIPPED},
            "arbitrary": label_accuracy(model, prompts(arbitrary=True))}


def make(seed: int = 0) -> tuple[dict[str, torch.Tensor], dict]:
    """Train and evaluate every member: the half-precision weights of all of them (keys
    prefixed ``member.``) and, per member, its size, loss and accuracies."""
    state, result = {}, {"steps": TRAIN.steps, "k": K, "prompts": PROMPTS, "models": {}}
    for member in MEMBERS:
        model, info = train_model(member, seed=seed)
        half = model.half_state()
        model = GPT.from_half_state(config(member), half)  # score exactly what is shipped
        state.update({f"{member}.{k}": v for k, v in half.items()})
        result["models"][member] = {**info, **evaluate(model)}
        print(member, result["models"][member], flush=True)
    return state, result


def load() -> tuple[dict[str, GPT], dict]:
    """The shipped family: its models by name (float32, eval mode) and the record's numbers,
    with ``describe``, the line saying where they came from."""
    from labgpt import records

    record = records.load("label_family")
    models = record.gpts({member: config(member) for member in MEMBERS})
    return models, {**record.result, "describe": record.describe()}
