"""The loss ladder: character-level models of Tiny Shakespeare compared on equal terms.

Every rung is trained on the first 90% of the text (``labgpt.train_val_split``) with the same
budget of :data:`BUDGET_TOKENS` training predictions, and scored by its cross-entropy on the
*whole* validation text, read left to right, in nats per character. Chapters measure their
rungs live; :data:`RECORDED` keeps the values they measured, so that a later chapter can show
the earlier rungs next to its own without retraining them. The chapter that owns a rung
asserts that its live measurement still matches the recorded one.
"""

from __future__ import annotations

from dataclasses import dataclass

import matplotlib.pyplot as plt

BUDGET_TOKENS = 1_638_400  # = 800 steps x 32 streams x 64 tokens


@dataclass(frozen=True)
class Rung:
    name: str
    val_loss: float  # nats per character, whole validation text
    params: int
    chapter: str


# Measured by the chapters named, on a 2-core CPU with torch 2.13 (seeded, deterministic).
RECORDED: list[Rung] = [
    Rung("count bigram", 2.484, 4_225, "rnn"),
    Rung("Bengio MLP (context 6)", 1.840, 118_505, "rnn"),
    Rung("vanilla RNN", 1.689, 103_297, "rnn"),
    Rung("LSTM", 1.641, 350_593, "rnn"),
    Rung("GRU", 1.594, 268_161, "rnn"),
]


def recorded(name: str) -> Rung:
    for rung in RECORDED:
        if rung.name == name:
            return rung
    raise KeyError(f"no recorded rung {name!r}; have {[r.name for r in RECORDED]}")


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
