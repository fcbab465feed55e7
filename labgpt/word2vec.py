"""Word vectors: word2vec's skip-gram and CBOW with negative sampling, and a count baseline.

Skip-gram (Mikolov et al., 2013) learns two vectors per word, ``v`` (as a centre word) and
``u`` (as a context word), so that ``sigmoid(u_o . v_c)`` is high for words ``o`` seen near
``c`` and low for ``k`` random *negative* words drawn from the unigram distribution raised to
the power 3/4:

    loss = -log sigmoid(u_o . v_c) - sum_k log sigmoid(-u_k . v_c).

CBOW swaps the roles: the average of the context words' ``v`` predicts the centre word.
The count-based baseline, PPMI + SVD, factorises the positive pointwise mutual information
matrix of co-occurrence counts (Levy & Goldberg, 2014, showed skip-gram does this implicitly).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm


def negative_sampling_loss(
    center: torch.Tensor, positive: torch.Tensor, negatives: torch.Tensor
) -> torch.Tensor:
    """Mean skip-gram negative-sampling loss.

    ``center`` (b, d): input vectors v_c; ``positive`` (b, d): output vectors u_o of the true
    context words; ``negatives`` (b, k, d): output vectors of k sampled words per example.
    """
    if center.shape != positive.shape or negatives.shape[::2] != center.shape:
        raise ValueError(
            f"expected center (b, d), positive (b, d), negatives (b, k, d); got "
            f"{tuple(center.shape)}, {tuple(positive.shape)}, {tuple(negatives.shape)}"
        )
    pos_score = (center * positive).sum(-1)  # (b,)
    neg_score = torch.einsum("bkd,bd->bk", negatives, center)  # (b, k)
    return -(F.logsigmoid(pos_score) + F.logsigmoid(-neg_score).sum(-1)).mean()


class Word2Vec(nn.Module):
    """Input vectors (``in_embed``, the ones kept as word vectors) and output vectors."""

    def __init__(self, vocab_size: int, dim: int, mode: str = "skipgram"):
        super().__init__()
        if mode not in ("skipgram", "cbow"):
            raise ValueError(f"mode must be 'skipgram' or 'cbow', got {mode!r}")
        self.mode = mode
        self.in_embed = nn.Embedding(vocab_size, dim)
        self.out_embed = nn.Embedding(vocab_size, dim)
        nn.init.uniform_(self.in_embed.weight, -0.5 / dim, 0.5 / dim)  # as word2vec.c
        nn.init.zeros_(self.out_embed.weight)

    def forward(
        self, center: torch.Tensor, context: torch.Tensor, negatives: torch.Tensor
    ) -> torch.Tensor:
        """Skip-gram: ``center`` (b,), ``context`` (b,) one context word each.
        CBOW: ``center`` (b,) is predicted from ``context`` (b, 2w), a whole window.
        ``negatives`` (b, k) are sampled words. Returns the mean loss."""
        if self.mode == "skipgram":
            v = self.in_embed(center)  # (b, d)
            u_pos = self.out_embed(context)  # (b, d)
        else:
            v = self.in_embed(context).mean(1)  # (b, 2w, d) -> (b, d)
            u_pos = self.out_embed(center)  # (b, d)
        return negative_sampling_loss(v, u_pos, self.out_embed(negatives))


def context_windows(ids: np.ndarray, window: int) -> tuple[np.ndarray, np.ndarray]:
    """Every position with a full window: centres (n,) and their contexts (n, 2*window)."""
    n = len(ids) - 2 * window
    if n < 1:
        raise ValueError(f"{len(ids)} words are too few for a window of {window} on each side")
    offsets = [o for o in range(-window, window + 1) if o != 0]
    centers = ids[window:window + n]
    contexts = np.stack([ids[window + o:window + o + n] for o in offsets], axis=1)
    return centers, contexts


def train_word2vec(
    ids: Sequence[int] | np.ndarray,
    vocab_size: int,
    mode: str = "skipgram",
    dim: int = 64,
    window: int = 2,
    negatives: int = 5,
    epochs: int = 3,
    batch_size: int = 1024,
    lr: float = 0.01,
    subsample: float = 1e-3,
    seed: int = 0,
    progress: bool = False,
) -> np.ndarray:
    """Train word vectors on a sequence of word ids; returns the input vectors (V, dim).

    Frequent words are randomly dropped (keep probability ``sqrt(subsample / frequency)``,
    word2vec's subsampling), which speeds training and sharpens the rarer words' vectors.
    """
    ids = np.asarray(ids, dtype=np.int64)
    if len(ids) == 0:
        raise ValueError("cannot train word vectors on an empty corpus")
    generator = torch.Generator().manual_seed(seed)
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    counts = np.bincount(ids, minlength=vocab_size).astype(np.float64)
    noise = torch.tensor(counts**0.75 / (counts**0.75).sum(), dtype=torch.float)
    frequency = counts / counts.sum()
    keep = np.minimum(1.0, np.sqrt(subsample / np.maximum(frequency, 1e-12)))

    model = Word2Vec(vocab_size, dim, mode)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    for _epoch in tqdm(range(epochs), disable=not progress, desc=mode):
        kept = ids[rng.random(len(ids)) < keep[ids]]
        centers, contexts = context_windows(kept, window)  # (n,), (n, 2w)
        if mode == "skipgram":  # one (centre, context word) example per pair
            centers = np.repeat(centers, 2 * window)
            contexts = contexts.reshape(-1)
        order = torch.randperm(len(centers), generator=generator)
        centers_t, contexts_t = torch.from_numpy(centers)[order], torch.from_numpy(contexts)[order]
        for start in range(0, len(order), batch_size):
            c = centers_t[start:start + batch_size]
            o = contexts_t[start:start + batch_size]
            neg = torch.multinomial(noise, len(c) * negatives, replacement=True,
                                    generator=generator).view(len(c), negatives)
            loss = model(c, o, neg)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    return model.in_embed.weight.detach().numpy().copy()


def ppmi_svd(
    ids: Sequence[int] | np.ndarray, vocab_size: int, dim: int = 64, window: int = 2
) -> np.ndarray:
    """Count-based word vectors: SVD of the positive PMI matrix of co-occurrences (V, dim)."""
    ids = np.asarray(ids, dtype=np.int64)
    cooc = np.zeros((vocab_size, vocab_size))
    for offset in range(1, window + 1):
        np.add.at(cooc, (ids[:-offset], ids[offset:]), 1.0)
    cooc = cooc + cooc.T  # symmetric window
    u, s, _ = torch.svd_lowrank(torch.tensor(ppmi(cooc), dtype=torch.float), q=dim, niter=4)
    return (u * s.sqrt()).numpy()


def ppmi(cooc: np.ndarray) -> np.ndarray:
    """Positive pointwise mutual information of a (words, contexts) count matrix:
    max(0, log p(w, c) / (p(w) p(c))), and 0 where a pair was never seen."""
    cooc = np.asarray(cooc, dtype=np.float64)
    total = cooc.sum()
    row = cooc.sum(1, keepdims=True)
    col = cooc.sum(0, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        pmi = np.log(cooc * total / (row * col))
    return np.where(np.isfinite(pmi) & (pmi > 0), pmi, 0.0)


def cosine_similarities(vectors: np.ndarray, query: np.ndarray) -> np.ndarray:
    """Cosine similarity of every row of ``vectors`` (n, d) with ``query`` (d,): (n,)."""
    unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    return unit @ (query / max(np.linalg.norm(query), 1e-12))


def nearest(vectors: np.ndarray, index: int, k: int = 5,
            candidates: Sequence[int] | None = None) -> list[int]:
    """The ``k`` rows most cosine-similar to row ``index`` (itself excluded)."""
    pool = np.arange(len(vectors)) if candidates is None else np.asarray(candidates)
    pool = pool[pool != index]
    similarity = cosine_similarities(vectors[pool], vectors[index])
    return pool[np.argsort(-similarity)[:k]].tolist()


def group_neighbour_score(vectors: np.ndarray, groups: dict[str, list[int]], k: int = 3) -> float:
    """Share of each word's ``k`` nearest neighbours, among all the groups' words, that come
    from its own group. Random vectors score about (group size - 1) / (all words - 1)."""
    members = [(name, i) for name, group in groups.items() for i in group]
    candidates = [i for _, i in members]
    group_of = {i: name for name, i in members}
    hits = [
        sum(group_of[j] == name for j in nearest(vectors, i, k, candidates)) / k
        for name, i in members
    ]
    return float(np.mean(hits))
