"""The loss ladder: character-level models of Tiny Shakespeare compared on equal terms.

Every rung is trained on the first 90% of the text (``labgpt.train_val_split``) with the same
budget of :data:`BUDGET_TOKENS` training predictions, and scored by its cross-entropy on the
*whole* validation text, read left to right, in nats per character. The recipes live here:
:func:`train_recurrent` and :func:`train_mlp` train a rung, :func:`make` trains them all.
``python -m labgpt.records make ladder`` runs :func:`make` and ships its numbers as the record
``ladder``; :func:`recorded` reads a rung back, so that a later chapter can show the earlier
rungs next to its own without retraining them. The chapter that owns a rung asserts that its
live measurement still matches the recorded one.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import matplotlib.pyplot as plt
import torch

from labgpt.batching import lm_batches, train_val_split
from labgpt.corpus import load_text
from labgpt.environment import seed_everything
from labgpt.measure import count_params
from labgpt.mlp_lm import MLPLM
from labgpt.recurrent import RecurrentLM, tbptt_batches
from labgpt.tokenization import CharTokenizer
from labgpt.training import History, TrainConfig, train

BUDGET_TOKENS = 1_638_400  # = 800 steps x 32 streams x 64 tokens


@dataclass(frozen=True)
class Rung:
    name: str
    val_loss: float  # nats per character, whole validation text
    params: int
    chapter: str


# The recurrent rungs: 800 steps of 32 streams x 64 characters, peak lr 6e-3, cosine to 6e-4.
RECURRENT_CONFIG = TrainConfig(steps=800, lr=6e-3, min_lr=6e-4, warmup_steps=0,
                               weight_decay=0.0, grad_clip=1.0, eval_every=200, eval_batches=10)
# Bengio's MLP: 800 steps of 64 windows x 32 predictions.
MLP_CONFIG = TrainConfig(steps=800, lr=3e-3, warmup_steps=50, weight_decay=0.0, eval_every=800,
                         eval_batches=10)
NAMES = {"rnn": "vanilla RNN", "lstm": "LSTM", "gru": "GRU"}


def char_data() -> tuple[CharTokenizer, torch.Tensor, torch.Tensor]:
    """Tiny Shakespeare as characters: the tokenizer and the train / validation ids."""
    text = load_text("tinyshakespeare")
    chars = CharTokenizer.from_text(text)
    train_ids, val_ids = train_val_split(torch.tensor(chars.encode(text)))
    return chars, train_ids, val_ids


def count_bigram_loss(train_ids: torch.Tensor, val_ids: torch.Tensor, vocab_size: int,
                      k: float = 0.1) -> float:
    """Whole-validation cross-entropy of the add-``k`` count bigram."""
    pairs = (train_ids[:-1], train_ids[1:])
    counts = torch.zeros(vocab_size, vocab_size).index_put_(
        pairs, torch.ones(len(train_ids) - 1), accumulate=True)
    bigram = (counts + k) / (counts + k).sum(1, keepdim=True)
    return -bigram[val_ids[:-1], val_ids[1:]].log().mean().item()


def recurrent_model(kind: str, vocab_size: int) -> RecurrentLM:
    """The ladder's recurrent rung: 64-wide embeddings, 256 hidden units."""
    return RecurrentLM(vocab_size, kind, n_embd=64, n_hidden=256)


def train_recurrent(kind: str, train_ids: torch.Tensor, val_ids: torch.Tensor,
                    vocab_size: int, seed: int = 0,
                    progress: bool | None = None) -> tuple[RecurrentLM, History]:
    """Initialise (seeded) and train the ``kind`` rung with truncated BPTT on the budget."""
    seed_everything(seed)
    model = recurrent_model(kind, vocab_size)
    batches = tbptt_batches(train_ids, val_ids, bptt=64, batch_size=32)
    config = replace(RECURRENT_CONFIG, seed=seed, progress=progress)
    return model, train(model, batches, config)


def train_mlp(train_ids: torch.Tensor, val_ids: torch.Tensor, vocab_size: int, seed: int = 0,
              progress: bool | None = None) -> tuple[MLPLM, History]:
    """Initialise (seeded) and train Bengio's MLP (context 6) on the budget."""
    seed_everything(seed)
    model = MLPLM(vocab_size, context=6, n_embd=24, n_hidden=512)
    config = replace(MLP_CONFIG, seed=seed, progress=progress)
    return model, train(model, lm_batches(train_ids, val_ids, 6 - 1 + 32, 64), config)


def mlp_val_loss(model: MLPLM, val_ids: torch.Tensor) -> float:
    return -model.next_token_probs(val_ids).log().mean().item()


def make(seed: int = 0) -> dict:
    """Train every rung from scratch and score it: the record ``ladder``."""
    chars, train_ids, val_ids = char_data()
    V = chars.vocab_size
    rungs = [Rung("count bigram", count_bigram_loss(train_ids, val_ids, V), V * V, "rnn")]
    mlp, _ = train_mlp(train_ids, val_ids, V, seed, progress=False)
    rungs.append(Rung("Bengio MLP (context 6)", mlp_val_loss(mlp, val_ids), count_params(mlp),
                      "rnn"))
    for kind, name in NAMES.items():
        model, _ = train_recurrent(kind, train_ids, val_ids, V, seed, progress=False)
        rungs.append(Rung(name, model.stream_loss(val_ids), count_params(model), "rnn"))
        print(f"  {name}: {rungs[-1].val_loss:.4f}", flush=True)
    return {"budget_tokens": BUDGET_TOKENS,
            "rungs": [{**asdict(r), "val_loss": round(r.val_loss, 4)} for r in rungs]}


def recorded_rungs() -> list[Rung]:
    """The rungs of the shipped record ``ladder`` (hash-checked on load)."""
    from labgpt import records

    return [Rung(**r) for r in records.load("ladder").result["rungs"]]


def recorded(name: str) -> Rung:
    rungs = recorded_rungs()
    for rung in rungs:
        if rung.name == name:
            return rung
    raise KeyError(f"no recorded rung {name!r}; have {[r.name for r in rungs]}")


def show(rungs: list[Rung], title: str = "The loss ladder") -> plt.Axes:
    """Print the rungs as a table and draw them as horizontal bars, best at the bottom."""
    print(f"{'model':<26}{'val loss':>10}{'params':>12}  chapter")
    for r in rungs:
        print(f"{r.name:<26}{r.val_loss:10.3f}{r.params:12,d}  {r.chapter}")
    _, ax = plt.subplots(figsize=(7, 0.45 * len(rungs) + 1))
    ax.barh([r.name for r in rungs], [r.val_loss for r in rungs], color="tab:blue")
    ax.invert_yaxis()
    ax.set_xlim(min(r.val_loss for r in rungs) - 0.3, max(r.val_loss for r in rungs) + 0.1)
    ax.set_xlabel("validation cross-entropy (nats per character)")
    ax.set_title(title)
    return ax
