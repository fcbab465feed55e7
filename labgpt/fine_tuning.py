"""Fine-tuning a pre-trained GPT on a labelled task, as GPT-1 does (Radford et al., 2018).

Three pieces, each from the paper:

* **Input transformations** (its Figure 1). Every task becomes token sequences for the one,
  unchanged Transformer, framed by tokens pre-training never saw: ``start``, ``delim`` between
  two texts, ``extract`` at the end, where the classifier reads. Classification and entailment
  give one sequence per example; similarity gives both orders (similarity has none) and adds
  their representations; multiple choice gives one sequence per answer and a softmax over the
  answers' scores.
* **Batches** of such examples (:class:`TaskBatch`), right-padded.
* **The objective** :func:`l3_loss`: L3 = L2 + lambda * L1, the task's cross-entropy L2 plus the
  language-model loss L1 on the same sequences (the paper's lambda = 0.5).

The model is a :class:`labgpt.heads.GPTWithHead`; training goes through :func:`labgpt.train`
with ``loss_fn=partial(l3_loss, aux_weight=...)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from labgpt.batching import BatchFn, pad_sequences
from labgpt.gpt import GPT
from labgpt.heads import GPTWithHead
from labgpt.logprobs import IGNORE_INDEX, lm_loss

Tokens = Sequence[int]
Example = list[list[int]]  # the sequences one example becomes


@dataclass(frozen=True)
class Specials:
    """Ids of GPT-1's added tokens, and the padding id (never read: any id in the
    vocabulary will do)."""

    start: int
    delim: int
    extract: int
    pad: int = 0


def add_special_tokens(gpt: GPT) -> Specials:
    """Give ``gpt`` three new tokens, start, delimiter and extract, and return their ids."""
    start, delim, extract = gpt.add_tokens(3)
    return Specials(start, delim, extract)


def classification(text: Tokens, sp: Specials) -> Example:
    return [[sp.start, *text, sp.extract]]


def entailment(premise: Tokens, hypothesis: Tokens, sp: Specials) -> Example:
    return [[sp.start, *premise, sp.delim, *hypothesis, sp.extract]]


def similarity(a: Tokens, b: Tokens, sp: Specials) -> Example:
    """Both orders: their final states are added before the head, so the prediction cannot
    depend on which text came first."""
    return [[sp.start, *a, sp.delim, *b, sp.extract], [sp.start, *b, sp.delim, *a, sp.extract]]


def multiple_choice(context: Tokens, answers: Sequence[Tokens], sp: Specials) -> Example:
    """One sequence per answer; the head scores each and a softmax picks among them."""
    return [[sp.start, *context, sp.delim, *answer, sp.extract] for answer in answers]


COMBINE = ("sum", "choices")
FORMATS = {  # task -> (its input transformation of an example's texts, how its sequences combine)
    "classification": (lambda texts, sp: classification(texts[0], sp), "sum"),
    "entailment": (lambda texts, sp: entailment(texts[0], texts[1], sp), "sum"),
    "similarity": (lambda texts, sp: similarity(texts[0], texts[1], sp), "sum"),
    "multiple choice": (lambda texts, sp: multiple_choice(texts[0], texts[1:], sp), "choices"),
}


@dataclass
class TaskBatch:
    """``b`` examples of ``m`` sequences each, flattened to ``ids`` (b * m, t) and ``lengths``.

    ``combine="sum"``: the final states of an example's sequences are added and the head maps
    the sum to class logits (classification and entailment: m = 1; similarity: m = 2).
    ``combine="choices"``: the head (one output) scores every sequence and the example's logits
    are its m scores (multiple choice); ``labels`` is the index of the right one."""

    ids: torch.Tensor  # (b * m, t)
    lengths: torch.Tensor  # (b * m,)
    labels: torch.Tensor  # (b,)
    combine: str = "sum"

    @classmethod
    def build(cls, examples: Sequence[Example], labels: Sequence[int], combine: str = "sum",
              pad_id: int = 0) -> TaskBatch:
        if combine not in COMBINE:
            raise ValueError(f"combine must be one of {COMBINE}, got {combine!r}")
        if len(examples) != len(labels) or not examples:
            raise ValueError(f"{len(examples)} examples and {len(labels)} labels: give one "
                             "label per example, and at least one example")
        m = len(examples[0])
        if any(len(e) != m for e in examples):
            raise ValueError("every example must have the same number of sequences")
        ids, lengths = pad_sequences([s for e in examples for s in e], pad_id)
        return cls(ids, lengths, torch.as_tensor(labels, dtype=torch.long), combine)

    @classmethod
    def for_task(cls, task: str, examples: Sequence[Sequence[Tokens]], labels: Sequence[int],
                 sp: Specials) -> TaskBatch:
        """A batch of ``task`` (a key of :data:`FORMATS`): each example's texts (token lists)
        through the task's input transformation."""
        if task not in FORMATS:
            raise ValueError(f"unknown task {task!r}; one of {sorted(FORMATS)}")
        transform, combine = FORMATS[task]
        return cls.build([transform(texts, sp) for texts in examples], labels, combine, sp.pad)

    def __len__(self) -> int:
        return len(self.labels)

    def rows(self, index: torch.Tensor) -> TaskBatch:
        """The examples at ``index``, cropped to their longest sequence."""
        m = len(self.ids) // len(self.labels)
        flat = (index[:, None] * m + torch.arange(m)).reshape(-1)  # (len(index) * m,)
        lengths = self.lengths[flat]
        return TaskBatch(self.ids[flat, :int(lengths.max())], lengths, self.labels[index],
                         self.combine)

    def to(self, device: torch.device) -> TaskBatch:
        return TaskBatch(self.ids.to(device), self.lengths.to(device), self.labels.to(device),
                         self.combine)


def _logits_and_hidden(model: GPTWithHead,
                       batch: TaskBatch) -> tuple[torch.Tensor, torch.Tensor]:
    read, hidden = model.features(batch.ids, batch.lengths)  # (b * m, d), (b * m, t, d)
    read = read.view(len(batch), -1, read.shape[-1])  # (b, m, d): what the head reads
    if batch.combine == "choices":
        if model.head.out_features != 1:
            raise ValueError("multiple choice needs a head with one output (a score per answer)")
        return model.head(read).squeeze(-1), hidden  # (b, m)
    return model.head(read.sum(1)), hidden  # (b, classes)


def task_logits(model: GPTWithHead, batch: TaskBatch) -> torch.Tensor:
    """The example logits of a batch: (b, classes), or (b, m) answer scores for multiple
    choice."""
    return _logits_and_hidden(model, batch)[0]


def l3_loss(model: GPTWithHead, batch: TaskBatch, aux_weight: float = 0.0) -> torch.Tensor:
    """GPT-1's fine-tuning objective L3 = L2 + aux_weight * L1 (the paper: aux_weight = 0.5).

    L2 is the cross-entropy of the task's labels; L1 the next-token loss on the batch's own
    sequences, padding skipped."""
    logits, hidden = _logits_and_hidden(model, batch)
    l2 = F.cross_entropy(logits, batch.labels)
    if aux_weight == 0:
        return l2
    ids, t = batch.ids, batch.ids.shape[1]
    targets = ids[:, 1:].masked_fill(
        torch.arange(1, t, device=ids.device)[None] >= batch.lengths[:, None], IGNORE_INDEX)
    l1 = lm_loss(model.gpt.lm_head(hidden[:, :-1]), targets)
    return l2 + aux_weight * l1


def task_batches(train: TaskBatch, val: TaskBatch, batch_size: int) -> BatchFn:
    """``get_batch(split, generator)`` for :func:`labgpt.train`: random examples of a split."""
    splits = {"train": train, "val": val}

    def get_batch(split: str, generator: torch.Generator) -> TaskBatch:
        if split not in splits:
            raise ValueError(f"split must be 'train' or 'val', got {split!r}")
        data = splits[split]
        return data.rows(torch.randint(len(data), (min(batch_size, len(data)),),
                                       generator=generator))

    return get_batch


@torch.no_grad()
def accuracy(model: GPTWithHead, data: TaskBatch, batch_size: int = 256) -> float:
    """Fraction of ``data``'s examples whose highest logit is the label (eval mode)."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    right = 0
    for i in range(0, len(data), batch_size):
        rows = data.rows(torch.arange(i, min(i + batch_size, len(data)))).to(device)
        right += (task_logits(model, rows).argmax(-1) == rows.labels).sum().item()
    model.train(was_training)
    return right / len(data)
