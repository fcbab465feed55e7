"""Decoding: how a language model's next-token distributions become text.

One path for every model. A model that can be decoded has two methods:

- ``step(ids, state, mask=None) -> (logits, state)``: read the tokens ``ids`` (b, t) after what
  ``state`` holds (``None``: nothing yet, ``ids`` is the prompt) and return the next-token
  logits (b, vocab) and the new state: a GPT's key/value cache, an RNN's hidden state, nothing
  for a bigram. ``mask`` (b, t) is False at left padding (prompts of different lengths).
- ``reorder(state, rows) -> state``: the state of sequences ``rows`` (beam search keeps its
  best beams).

A model with a context window also has ``window_start(length)``, the first token it reads of a
``length``-token sequence; decoding without a cache (``use_cache=False``) re-reads that window
at every step, which is what the cache saves.

:func:`generate` does greedy decoding and sampling; the logits go through the repetition
penalty, the temperature, top-k and top-p, in that order (the order of Hugging Face's
``generate``). :func:`beam_search` keeps the ``num_beams`` most likely sequences.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import torch
import torch.nn.functional as F
from torch import nn


class Decodable(Protocol):
    def step(self, ids: torch.Tensor, state: Any = None,
             mask: torch.Tensor | None = None) -> tuple[torch.Tensor, Any]: ...

    def reorder(self, state: Any, rows: torch.Tensor) -> Any: ...


# --- From logits to a distribution: the processors --------------------------------------

def apply_repetition_penalty(scores: torch.Tensor, seen: torch.Tensor,
                             penalty: float) -> torch.Tensor:
    """CTRL's penalty (Keskar et al., 2019) on the tokens already in the text, ``seen`` (b, V)
    bool: a positive score is divided by ``penalty``, a negative one multiplied, so with
    ``penalty`` > 1 a seen token always becomes less likely. scores (b, V) -> (b, V)."""
    penalised = torch.where(scores > 0, scores / penalty, scores * penalty)
    return torch.where(seen, penalised, scores)


def top_k_filter(logits: torch.Tensor, k: int) -> torch.Tensor:
    """Keep the ``k`` largest logits of each row (Fan et al., 2018), the rest -> -inf.
    Ties with the k-th largest are kept."""
    kth = torch.topk(logits, min(k, logits.shape[-1])).values[..., -1:]  # (b, 1)
    return logits.masked_fill(logits < kth, float("-inf"))


def top_p_filter(logits: torch.Tensor, p: float) -> torch.Tensor:
    """Nucleus filtering (Holtzman et al., 2020): keep the smallest set of most likely tokens
    whose probabilities sum to at least ``p``, the rest -> -inf. The most likely token is
    always kept. ``p = 1`` keeps every token."""
    if p >= 1.0:
        return logits
    sorted_logits, order = torch.sort(logits, dim=-1, descending=True)
    probs = sorted_logits.softmax(dim=-1)
    before = probs.cumsum(dim=-1) - probs  # mass of the tokens ranked above each one
    drop_sorted = before >= p  # the set already reached p without this token
    drop_sorted[..., 0] = False
    drop = drop_sorted.scatter(-1, order, drop_sorted)  # back to vocabulary order
    return logits.masked_fill(drop, float("-inf"))


def process_logits(logits: torch.Tensor, seen: torch.Tensor | None = None,
                   temperature: float = 1.0, top_k: int | None = None,
                   top_p: float | None = None, penalty: float = 1.0) -> torch.Tensor:
    """The logits (b, V) a sampler draws from: repetition penalty, temperature, top-k, top-p."""
    logits = logits.float()
    if penalty != 1.0:
        logits = apply_repetition_penalty(logits, seen, penalty)
    if temperature != 1.0:
        logits = logits / temperature
    if top_k is not None:
        logits = top_k_filter(logits, top_k)
    if top_p is not None and top_p < 1.0:
        logits = top_p_filter(logits, top_p)
    return logits


def check_settings(greedy: bool = False, temperature: float = 1.0, top_k: int | None = None,
                   top_p: float | None = None, penalty: float = 1.0,
                   max_new_tokens: int = 1, num_beams: int = 1) -> None:
    """Refuse settings that mean nothing, before any work."""
    if temperature <= 0:
        raise ValueError(f"temperature must be positive, got {temperature}: a temperature of 0 "
                         "would be the most likely token, which is greedy=True")
    if top_k is not None and (int(top_k) != top_k or top_k < 1):
        raise ValueError(f"top_k must be a whole number >= 1, got {top_k}")
    if top_p is not None and not 0 < top_p <= 1:
        raise ValueError(f"top_p must be in (0, 1], got {top_p}")
    if penalty <= 0:
        raise ValueError(f"repetition_penalty must be positive (1 = none, > 1 discourages "
                         f"repeats), got {penalty}")
    if greedy and (temperature != 1.0 or top_k is not None or top_p is not None):
        raise ValueError("greedy decoding takes the most likely token: temperature, top_k and "
                         "top_p do not change it; leave them out or set greedy=False to sample")
    if max_new_tokens < 0:
        raise ValueError(f"max_new_tokens must be >= 0, got {max_new_tokens}")
    if num_beams < 1 or int(num_beams) != num_beams:
        raise ValueError(f"num_beams must be a whole number >= 1, got {num_beams}")


# --- Prompts ------------------------------------------------------------------------------

def _as_batch(prompt, pad_id: int, device) -> tuple[torch.Tensor, torch.Tensor, bool]:
    """A prompt tensor (t,) or (b, t), or a list of sequences of any lengths -> left-padded
    ids (b, T), mask (b, T) (False at padding), and whether the input was a list."""
    if isinstance(prompt, torch.Tensor):
        ids = prompt[None] if prompt.dim() == 1 else prompt
        if ids.dim() != 2 or ids.dtype != torch.long:
            raise ValueError(f"prompt must be token ids, a torch.long tensor (t,) or (b, t), got "
                             f"shape {tuple(prompt.shape)} and dtype {prompt.dtype}")
        if ids.shape[0] == 0 or ids.shape[1] == 0:
            raise ValueError("the prompt is empty: give at least one token (for example a "
                             "newline or a beginning-of-text token)")
        return ids, torch.ones_like(ids, dtype=torch.bool), False
    rows = [torch.as_tensor(p, dtype=torch.long).flatten() for p in prompt]
    if not rows or any(len(r) == 0 for r in rows):
        raise ValueError("a prompt is empty: give every prompt at least one token")
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros(len(rows), width, dtype=torch.bool)
    for i, r in enumerate(rows):
        ids[i, width - len(r):] = r
        mask[i, width - len(r):] = True
    return ids.to(device), mask.to(device), True


def _device(model: nn.Module):
    return next(model.parameters()).device


class _EvalMode:
    """Decode in eval mode (no dropout), then restore the model's mode."""

    def __init__(self, model: nn.Module):
        self.model, self.was_training = model, model.training

    def __enter__(self):
        self.model.eval()

    def __exit__(self, *exc):
        self.model.train(self.was_training)


# --- Greedy decoding and sampling ---------------------------------------------------------

@torch.no_grad()
def generate(model: Decodable, prompt: torch.Tensor | Sequence[Sequence[int]],
             max_new_tokens: int, *, greedy: bool = False, temperature: float = 1.0,
             top_k: int | None = None, top_p: float | None = None,
             repetition_penalty: float = 1.0, eos_id: int | None = None,
             pad_id: int | None = None, generator: torch.Generator | None = None,
             use_cache: bool = True, state: Any = None):
    """Extend every prompt by up to ``max_new_tokens`` tokens, one step at a time.

    ``prompt``: a tensor (t,) or (b, t) of token ids, or a list of id sequences of different
    lengths (left-padded internally; each row computes what it would alone, except past a
    GPT's ``block_size``, where the padded rows are cut at the same position). ``greedy`` takes
    the most likely token; otherwise the next token is sampled with ``generator`` from the
    processed logits (:func:`process_logits`). A row stops at ``eos_id`` (kept) and is filled
    with ``pad_id`` (default: ``eos_id``, else 0) after it; all stop when every row has.
    ``use_cache=False`` re-reads the whole window at every step. ``state``: a state to start
    from (an encoder-decoder's encoded source).

    Returns the prompts followed by their new tokens: a tensor (b, t + n) for a tensor prompt,
    a list of 1-D tensors (no padding, cut after ``eos_id``) for a list of prompts.
    """
    check_settings(greedy, temperature, top_k, top_p, repetition_penalty, max_new_tokens)
    if state is not None and not use_cache:
        raise ValueError("use_cache=False re-reads every token from scratch, so it cannot start "
                         "from a given state")
    pad = pad_id if pad_id is not None else (eos_id if eos_id is not None else 0)
    ids, mask, was_list = _as_batch(prompt, pad, _device(model))
    window = getattr(model, "window_start", lambda length: 0)
    with _EvalMode(model):
        logits, state = model.step(ids, state, None if mask.all() else mask)
        vocab = logits.shape[-1]
        if eos_id is not None and not 0 <= eos_id < vocab:
            raise ValueError(f"eos_id={eos_id} is outside the vocabulary [0, {vocab})")
        seen = torch.zeros(ids.shape[0], vocab + 1, dtype=torch.bool, device=ids.device)
        seen = seen.scatter_(1, ids.masked_fill(~mask, vocab), True)[:, :vocab]  # not padding
        done = torch.zeros(ids.shape[0], dtype=torch.bool, device=ids.device)
        new = []
        for i in range(max_new_tokens):
            scores = process_logits(logits, seen, temperature, top_k, top_p, repetition_penalty)
            if greedy:  # (check_settings: no temperature, top-k or top-p with greedy)
                token = scores.argmax(dim=-1)  # (b,)
            else:
                token = torch.multinomial(scores.softmax(dim=-1), 1, generator=generator)[:, 0]
            token = token.masked_fill(done, pad)
            new.append(token)
            seen[torch.arange(len(token)), token] = True
            if eos_id is not None:
                done = done | (token == eos_id)
            if bool(done.all()) or i == max_new_tokens - 1:
                break
            if use_cache:
                logits, state = model.step(token[:, None], state)
            else:
                so_far = torch.cat([ids, torch.stack(new, dim=1)], dim=1)
                real = torch.cat([mask, torch.ones_like(so_far[:, ids.shape[1]:],
                                                        dtype=torch.bool)], dim=1)
                start = window(so_far.shape[1])
                real = real[:, start:]
                logits, _ = model.step(so_far[:, start:], None, None if real.all() else real)
    out = torch.cat([ids] + [t[:, None] for t in new], dim=1)
    if not was_list:
        return out
    rows = []
    for row, m in zip(out, mask, strict=True):
        row = row[int((~m).sum()):]  # drop the left padding
        if eos_id is not None:
            prompt_len = int(m.sum())
            ends = (row[prompt_len:] == eos_id).nonzero()
            if len(ends):
                row = row[:prompt_len + int(ends[0]) + 1]
        rows.append(row)
    return rows


# --- Scoring a continuation ----------------------------------------------------------------

@torch.no_grad()
def continuation_logprobs(model: Decodable, prompt: torch.Tensor,
                          continuation: torch.Tensor) -> torch.Tensor:
    """log p(continuation[:, i] | prompt, continuation[:, :i]) for every i: (b, n), each token
    read with the context it would have had while being generated (the same steps, the same
    window past a GPT's ``block_size``). prompt (b, t), continuation (b, n)."""
    if prompt.dim() != 2 or continuation.dim() != 2 or len(prompt) != len(continuation):
        raise ValueError(f"prompt (b, t) and continuation (b, n) must be 2-D with the same "
                         f"batch, got {tuple(prompt.shape)} and {tuple(continuation.shape)}")
    out = []
    with _EvalMode(model):
        logits, state = model.step(prompt)
        for i in range(continuation.shape[1]):
            token = continuation[:, i:i + 1]  # (b, 1)
            out.append(F.log_softmax(logits.float(), dim=-1).gather(1, token))
            if i < continuation.shape[1] - 1:
                logits, state = model.step(token, state)
    return torch.cat(out, dim=1)


# --- Beam search --------------------------------------------------------------------------

@torch.no_grad()
def beam_search(model: Decodable, prompt: torch.Tensor | Sequence[int], max_new_tokens: int,
                num_beams: int = 5, *, length_penalty: float = 1.0,
                early_stopping: bool | str = False, eos_id: int | None = None,
                repetition_penalty: float = 1.0) -> torch.Tensor:
    """The most likely continuation of one ``prompt`` (t,) that a beam of ``num_beams``
    finds: returns the prompt and its new tokens, (t + n,).

    Each step extends every kept sequence by every token, scores each candidate by its summed
    log-probability, and keeps the ``num_beams`` best that have not ended. A candidate ends at
    ``eos_id`` or at ``max_new_tokens`` tokens; an ended one is scored ``log p / n **
    length_penalty`` (n new tokens, eos included; ``length_penalty`` > 0 favours longer
    sequences), and the best ``num_beams`` ended ones are kept. The search stops when
    ``num_beams`` sequences have ended and no kept one can beat the worst of them
    (``early_stopping=False``: judged at the current length; ``"never"``: at the longest
    possible length; ``True``: stop as soon as ``num_beams`` have ended). The repetition
    penalty applies to the log-probabilities. These are the rules of Hugging Face's
    ``generate(num_beams=..., do_sample=False)``, which the tests compare against.
    """
    check_settings(penalty=repetition_penalty, max_new_tokens=max_new_tokens,
                   num_beams=num_beams)
    if early_stopping not in (True, False, "never"):
        raise ValueError(f"early_stopping must be True, False or 'never', got {early_stopping!r}")
    prompt = torch.as_tensor(prompt, dtype=torch.long)
    if prompt.dim() > 2 or (prompt.dim() == 2 and prompt.shape[0] != 1):
        raise ValueError(f"beam_search takes one prompt, (t,) or (1, t), got shape "
                         f"{tuple(prompt.shape)}; call it once per prompt")
    ids, _, _ = _as_batch(prompt.flatten(), 0, _device(model))
    if max_new_tokens == 0:
        return ids[0]
    with _EvalMode(model):
        logits, state = model.step(ids, None)  # one beam to start: (1, V)
        vocab = logits.shape[-1]
        seen = torch.zeros(1, vocab, dtype=torch.bool, device=ids.device)
        seen[0, ids[0]] = True
        tokens = ids.new_zeros(1, 0)  # the kept beams' new tokens (k, n)
        scores = torch.zeros(1, device=ids.device)  # their summed log-probabilities (k,)
        ended: list[tuple[float, torch.Tensor]] = []  # (normalised score, new tokens)
        can_improve = True
        for i in range(max_new_tokens):
            logprobs = F.log_softmax(logits.float(), dim=-1)  # (k, V)
            if repetition_penalty != 1.0:
                logprobs = apply_repetition_penalty(logprobs, seen, repetition_penalty)
            candidates = (scores[:, None] + logprobs).flatten()  # (k * V,)
            top, index = candidates.topk(min(2 * num_beams, len(candidates)))
            beam, token = index // vocab, index % vocab
            last = i == max_new_tokens - 1
            ends = (token == eos_id) | last if eos_id is not None else torch.full_like(
                token, last, dtype=torch.bool)
            # Ended candidates among the best num_beams join the finished list.
            if can_improve and not (early_stopping is True and len(ended) == num_beams):
                for r in range(min(num_beams, len(top))):
                    if ends[r]:
                        new = torch.cat([tokens[beam[r]], token[r:r + 1]])
                        ended.append((top[r].item() / (i + 1) ** length_penalty, new))
                ended = sorted(ended, key=lambda e: e[0], reverse=True)[:num_beams]
            keep = (~ends).nonzero()[:num_beams, 0]
            if len(keep) == 0:
                break
            rows = beam[keep]
            tokens = torch.cat([tokens[rows], token[keep, None]], dim=1)
            scores = top[keep]
            seen = seen[rows]
            seen[torch.arange(len(keep)), token[keep]] = True
            if len(ended) == num_beams:  # can a kept beam still beat the worst ended one?
                length = (max_new_tokens if early_stopping == "never" and length_penalty > 0
                          else i + 1)
                best_possible = scores[0].item() / length ** length_penalty
                can_improve = can_improve and best_possible > ended[-1][0]
            if not can_improve or (early_stopping is True and len(ended) == num_beams):
                break
            logits, state = model.step(token[keep, None], model.reorder(state, rows))
    return torch.cat([ids[0], ended[0][1]])
