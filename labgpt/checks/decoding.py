"""Checkers for the decoding chapter (top-p filtering, the repetition penalty, a beam step)."""

from __future__ import annotations

from collections.abc import Callable

import torch

from labgpt.checks.core import CheckFailed, check_close, check_shape, exercise


def _unchanged(fn: Callable, *args):
    """Call ``fn`` and fail if it changed a tensor argument in place."""
    tensors = [a for a in args if torch.is_tensor(a)]
    originals = [a.clone() for a in tensors]
    got = fn(*args)
    if not all(torch.equal(a, o) for a, o in zip(tensors, originals, strict=True)):
        raise CheckFailed("the function changed its input in place; return a new tensor")
    return got


@exercise("labgpt.decoding.top_p_filter")
def check_top_p(fn: Callable, seed: int = 0) -> None:
    """Check ``fn(logits (b, vocab), p)``: keep the smallest set of most likely tokens whose
    probabilities sum to at least p, the others -> -inf, the kept logits unchanged."""
    from labgpt.decoding import top_p_filter

    probs = torch.tensor([[0.05, 0.5, 0.15, 0.3]])  # sorted: 0.5, 0.3, 0.15, 0.05
    for p, n_kept in ((0.4, 1), (0.75, 2), (0.85, 3), (0.99, 4)):
        got = _unchanged(fn, probs.log(), p)
        check_shape(got, (1, 4), f"top_p_filter(logits of shape (1, 4), p={p})")
        kept = int(torch.isfinite(got).sum())
        if kept != n_kept:
            hint = ""
            if kept == n_kept - 1:
                hint = (": keep the token whose probability carries the sum past p (a set that "
                        "stops below p does not reach p)")
            raise CheckFailed(f"probabilities (0.05, 0.5, 0.15, 0.3) with p={p}: expected "
                              f"{n_kept} tokens kept, got {kept}{hint}")
        if not torch.equal(got, top_p_filter(probs.log(), p)):
            raise CheckFailed(f"probabilities (0.05, 0.5, 0.15, 0.3) with p={p}: the kept tokens "
                              "must be the most likely ones, in vocabulary order (sorting is only "
                              "to find them: put the mask back in the original order), their "
                              "logits unchanged")
    generator = torch.Generator().manual_seed(seed)
    for b, v, p in ((3, 50, 0.9), (2, 200, 0.5)):
        logits = torch.randn(b, v, generator=generator) * 2
        got = _unchanged(fn, logits, p)
        check_shape(got, (b, v), f"top_p_filter(logits of shape ({b}, {v}), p={p})")
        if not torch.equal(got.isfinite(), top_p_filter(logits, p).isfinite()):
            raise CheckFailed(f"random logits ({b}, {v}) with p={p}: a different set of tokens "
                              "kept than the smallest set reaching p, per row")
    print("top_p_filter passes all 6 checks.")


@exercise("labgpt.decoding.apply_repetition_penalty")
def check_repetition_penalty(fn: Callable, seed: int = 0) -> None:
    """Check ``fn(logits (b, vocab), seen (b, vocab) bool, penalty)`` against CTRL's rule: a
    seen token's positive logit is divided by the penalty, a negative one multiplied."""
    from labgpt.decoding import apply_repetition_penalty

    logits = torch.tensor([[2.0, -1.0, 0.5, -3.0, 1.0]])
    seen = torch.tensor([[True, True, False, False, True]])
    for penalty in (1.2, 2.0):
        got = _unchanged(fn, logits, seen, penalty)
        check_shape(got, (1, 5), "repetition_penalty(logits (1, 5), ...)")
        expected = apply_repetition_penalty(logits, seen, penalty)
        if not torch.equal(got[~seen], logits[~seen]):
            raise CheckFailed("tokens not seen yet must keep their logits")
        if abs(got[0, 1].item() - (-1.0 / penalty)) < 1e-6:
            raise CheckFailed(f"the seen token with logit -1.0 became {got[0, 1].item():.3f}: "
                              "dividing a negative logit moves it up, making the token *more* "
                              "likely; multiply negative logits by the penalty")
        check_close(got, expected, f"repetition_penalty with penalty {penalty}")
    g = torch.Generator().manual_seed(seed)  # and a batch drawn afresh
    logits, seen = torch.randn(3, 20, generator=g) * 3, torch.rand(3, 20, generator=g) < 0.4
    check_close(_unchanged(fn, logits, seen, 1.5), apply_repetition_penalty(logits, seen, 1.5),
                "repetition_penalty on random logits (3, 20), penalty 1.5")
    print("repetition_penalty passes all 3 checks.")


@exercise()
def check_beam_step(fn: Callable, seed: int = 0) -> None:
    """Check ``fn(scores (k,), logprobs (k, vocab), num_beams)`` -> ``(new_scores, rows,
    tokens)``, each (num_beams,), best first: the num_beams best extensions of all beams by
    summed log-probability, the beam each extends and the token it adds."""
    scores = torch.tensor([0.0, -2.0])
    logprobs = torch.tensor([[-1.2, -1.0, -1.1, -4.0],   # beam 0: flat
                             [-0.05, -5.0, -5.0, -3.2]])  # beam 1: sure, from a worse start
    # candidates: beam 0 -> -1.2, -1.0, -1.1, -4.0; beam 1 -> -2.05, -7, -7, -5.2
    cases = [(scores, logprobs, 3), (scores, logprobs, 4)]
    generator = torch.Generator().manual_seed(seed)
    s = torch.randn(5, generator=generator).sort(descending=True).values
    cases.append((s, torch.randn(5, 30, generator=generator).log_softmax(-1), 5))
    for scores, logprobs, k in cases:
        got = _unchanged(fn, scores, logprobs, k)
        if not (isinstance(got, tuple) and len(got) == 3):
            raise CheckFailed("beam_step should return a tuple (new_scores, rows, tokens)")
        new_scores, rows, tokens = got
        for name, value in (("new_scores", new_scores), ("rows", rows), ("tokens", tokens)):
            check_shape(value, (k,), f"{name} with num_beams={k}")
        top, index = (scores[:, None] + logprobs).flatten().topk(k)
        vocab = logprobs.shape[1]
        if torch.equal(new_scores, logprobs.flatten().topk(k).values):
            raise CheckFailed("the new scores are the step's log-probabilities alone: add each "
                              "beam's running score, a sequence's score is its summed "
                              "log-probability")
        compete = ("candidates from all beams compete together: flatten the (k, vocab) "
                   "scores, take the best, then row = index // vocab, token = index % vocab")
        try:
            check_close(new_scores, top, f"new_scores with num_beams={k} (best first)")
        except CheckFailed as err:
            raise CheckFailed(f"{err}; {compete}") from None
        if not (torch.equal(rows.long(), index // vocab) and
                torch.equal(tokens.long(), index % vocab)):
            raise CheckFailed(f"num_beams={k}: expected rows {(index // vocab).tolist()} and "
                              f"tokens {(index % vocab).tolist()}, got {rows.tolist()} and "
                              f"{tokens.tolist()}; {compete}")
    print("beam_step passes all 3 checks.")
