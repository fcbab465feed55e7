"""GPT-1's claim on real data: pre-train a GPT on SST-2's text, labels unused, then fine-tune
it on a few labelled sentences, against the same GPT trained on those labels alone.

The pre-trained model costs about twenty CPU-minutes, more than a chapter's budget, so it is a
record (``python -m labgpt.records make sst2_lm``), and so is the sweep over label counts and
seeds behind the chapter's plot (``sst2_transfer``). The chapter re-runs the smallest label
count live. Text is split into SST-2's own words; a word seen fewer than three times in the
training sentences is ``<unk>``.
"""

from __future__ import annotations

import copy
from dataclasses import replace
from functools import lru_cache, partial

import torch
import torch.nn.functional as F

from labgpt.batching import lm_batches
from labgpt.corpus import load_sst2, sst2_sentences
from labgpt.environment import seed_everything
from labgpt.fine_tuning import (
    Specials,
    TaskBatch,
    accuracy,
    add_special_tokens,
    classification,
    l3_loss,
    task_batches,
)
from labgpt.gpt import GPT, GPTConfig
from labgpt.heads import GPTWithHead
from labgpt.tokenization import WordTokenizer
from labgpt.training import TrainConfig, train

END = "<eot>"  # between training rows in the pre-training stream
MIN_COUNT = 3
CONFIG = GPTConfig(vocab_size=4793, block_size=64, n_layer=2, n_head=4, n_embd=128,
                   dropout=0.1)
PRETRAIN = TrainConfig(steps=6000, lr=1e-3, warmup_steps=200, eval_every=500, eval_batches=20)
BATCH_SIZE = 32
FINE_TUNE = TrainConfig(steps=100, lr=3e-4, min_lr=3e-5, weight_decay=0.01, eval_every=10**6,
                        eval_batches=1, quiet=True)
LABEL_COUNTS = (100, 300, 1000, 3000, 6575)


@lru_cache(maxsize=1)
def tokenizer() -> WordTokenizer:
    """SST-2's words (those in the training sentences at least three times), ``<unk>`` and
    the end-of-row marker."""
    words = [w for text, _ in sst2_sentences() for w in text.split()]
    return WordTokenizer(words, min_count=MIN_COUNT, specials=[END])


def _stream(texts) -> torch.Tensor:
    tok = tokenizer()
    end = tok.encode([END])
    return torch.tensor([i for t in texts for i in tok.encode(t.split()) + end])


def dev_text_ids() -> torch.Tensor:
    """The dev sentences' text as one stream, each sentence followed by ``<eot>``: for
    measuring the language-model loss only (nothing is trained or chosen on it)."""
    return _stream(t for t, _ in load_sst2("dev"))


def pretraining_ids() -> tuple[torch.Tensor, torch.Tensor]:
    """The unlabelled stream: every distinct training row (phrases included: 700k tokens), in
    a fixed shuffled order, each followed by ``<eot>``; and :func:`dev_text_ids`."""
    rows = sorted({text for text, _ in load_sst2("train")})
    order = torch.randperm(len(rows), generator=torch.Generator().manual_seed(1)).tolist()
    return _stream(rows[i] for i in order), dev_text_ids()


def make(seed: int = 0, steps: int = PRETRAIN.steps) -> tuple[dict[str, torch.Tensor], dict]:
    """Pre-train the GPT on SST-2's text: its half-precision weights and its losses."""
    train_ids, dev_ids = pretraining_ids()
    seed_everything(seed)
    model = GPT(CONFIG)
    history = train(model, lm_batches(train_ids, dev_ids, CONFIG.block_size, BATCH_SIZE),
                    replace(PRETRAIN, steps=steps, seed=seed))
    state = model.half_state()
    model = GPT.from_half_state(CONFIG, state)  # score exactly what is shipped
    return state, {"steps": steps, "params": model.n_params, "tokens": len(train_ids),
                   "dev_text_loss": round(model.stream_loss(dev_ids), 4),
                   "train_loss_last_100": round(sum(history.train_loss[-100:]) / 100, 4)}


def load() -> tuple[GPT, WordTokenizer, dict]:
    """The shipped pre-trained GPT (float32, eval mode), its tokenizer, and its record's
    numbers."""
    from labgpt import records

    record = records.load("sst2_lm")
    model = GPT.from_half_state(CONFIG, record.state_dict, "the sst2_lm record's weights")
    return model, tokenizer(), {**record.result, "describe": record.describe()}


def scratch(seed: int = 0) -> GPT:
    """The same architecture, freshly initialised: the no-pre-training control."""
    seed_everything(seed)
    return GPT(CONFIG)


def labelled(n: int, seed: int) -> list[tuple[str, int]]:
    """``n`` labelled training sentences, a different draw for each ``seed``."""
    pool = sst2_sentences()
    if not 1 <= n <= len(pool):
        raise ValueError(f"n must be in [1, {len(pool)}], got {n}")
    order = torch.randperm(len(pool), generator=torch.Generator().manual_seed(seed)).tolist()
    return [pool[i] for i in order[:n]]


def as_batch(rows: list[tuple[str, int]], sp: Specials) -> TaskBatch:
    """Classification inputs: ``start, words..., extract`` for each sentence."""
    tok = tokenizer()
    room = CONFIG.block_size - 2
    return TaskBatch.build([classification(tok.encode(t.split())[:room], sp) for t, _ in rows],
                           [y for _, y in rows], pad_id=sp.pad)


def fine_tune(gpt: GPT, n: int, seed: int, aux_weight: float = 0.0, pool: str = "mean",
              epochs: int = 3, batch_size: int = 16) -> tuple[GPTWithHead, float]:
    """Fine-tune a copy of ``gpt`` on ``n`` labelled sentences (draw ``seed``): GPT-1's
    recipe, new start/extract tokens and a linear head, trained for ``epochs`` passes (at
    least 100 steps) with L3 = L2 + aux_weight * L1. The head reads the mean of the final
    states (``pool="mean"``; GPT-1 reads the extract token's, ``pool="last"``). Returns the
    model and its SST-2 dev accuracy."""
    seed_everything(seed)  # the head and the new tokens' embeddings start from this seed
    model = GPTWithHead(copy.deepcopy(gpt), 2, pool=pool)
    sp = add_special_tokens(model.gpt)
    data = as_batch(labelled(n, seed), sp)
    dev = as_batch(load_sst2("dev"), sp)
    steps = max(FINE_TUNE.steps, epochs * n // batch_size)
    train(model, task_batches(data, data, batch_size),
          replace(FINE_TUNE, steps=steps, seed=seed),
          loss_fn=partial(l3_loss, aux_weight=aux_weight))
    return model, accuracy(model, dev)


def bag_of_words(n: int, seed: int, weight_decay: float = 1e-3, steps: int = 300) -> float:
    """The baseline a reader tries first: logistic regression on which words a sentence
    contains, trained on the same ``n`` sentences. Returns its dev accuracy."""
    tok = tokenizer()

    def features(rows):
        x = torch.zeros(len(rows), tok.vocab_size)
        for i, (text, _) in enumerate(rows):
            x[i, tok.encode(text.split())] = 1.0
        return x, torch.tensor([y for _, y in rows])

    x, y = features(labelled(n, seed))
    dev_x, dev_y = features(load_sst2("dev"))
    w = torch.zeros(tok.vocab_size, 2, requires_grad=True)
    b = torch.zeros(2, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], max_iter=steps, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = F.cross_entropy(x @ w + b, y) + weight_decay * (w ** 2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    with torch.no_grad():
        return ((dev_x @ w + b).argmax(-1) == dev_y).float().mean().item()


def sweep(seeds: list[int] = (0, 1, 2), counts: list[int] = LABEL_COUNTS) -> dict:
    """Dev accuracy against the number of labelled sentences: pre-trained, pre-trained with
    the auxiliary loss (lambda = 0.5), from scratch, and bag-of-words, for each seed."""
    pretrained, _, _ = load()
    out: dict = {"counts": list(counts), "seeds": list(seeds)}
    for name in ("pretrained", "pretrained_aux", "scratch", "bag_of_words"):
        out[name] = {str(n): [] for n in counts}
    for n in counts:
        for seed in seeds:
            out["pretrained"][str(n)].append(round(fine_tune(pretrained, n, seed)[1], 4))
            out["pretrained_aux"][str(n)].append(
                round(fine_tune(pretrained, n, seed, aux_weight=0.5)[1], 4))
            out["scratch"][str(n)].append(round(fine_tune(scratch(seed), n, seed)[1], 4))
            out["bag_of_words"][str(n)].append(round(bag_of_words(n, seed), 4))
    return out
