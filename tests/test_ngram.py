import math

import numpy as np
import pytest

import labgpt
from labgpt.ngram import NGramLM


@pytest.fixture(scope="module")
def shakespeare_ids():
    text = labgpt.load_text("tinyshakespeare")[:100_000]
    tok = labgpt.CharTokenizer.from_text(text)
    return np.array(tok.encode(text)), tok.vocab_size


@pytest.mark.parametrize("smoothing", ["add_k", "kneser_ney"])
@pytest.mark.parametrize("n", [1, 2, 3, 5])
def test_distributions_sum_to_one_for_seen_and_unseen_contexts(shakespeare_ids, n, smoothing):
    ids, V = shakespeare_ids
    model = NGramLM(n, V, smoothing, k=0.5).fit(ids)
    unseen = [V - 1] * 6  # a run of the rarest character: never seen as a context
    for context in ([], list(ids[:10]), list(ids[500:502]), unseen):
        p = model.next_token_probs(context)
        assert p.shape == (V,) and (p > 0).all()
        assert p.sum() == pytest.approx(1.0, abs=1e-9)


def test_kneser_ney_by_hand():
    # Corpus "a b a b c" as ids 0 1 0 1 2, bigram KN, V = 3.
    model = NGramLM(2, 3).fit([0, 1, 0, 1, 2])
    # Bigram counts: ab 2, ba 1, bc 1. n1 = 2, n2 = 1 -> D2 = 2 / (2 + 2) = 0.5.
    # Continuation counts (distinct left neighbours): a 1 (b), b 1 (a), c 1 (b).
    # n1 = 3, n2 = 0 -> D1 = 1. Unigram: (max(1 - 1, 0) + 1 * 3 * 1/3) / 3 = 1/3 each.
    # P(b | a) = (2 - 0.5) / 2 + 0.5 * 1 / 2 * 1/3 = 0.75 + 1/12.
    assert model.next_token_probs([0])[1] == pytest.approx(0.75 + 1 / 12)
    # P(c | b) = (1 - 0.5) / 2 + 0.5 * 2 / 2 * 1/3 = 0.25 + 1/6.
    assert model.next_token_probs([1])[2] == pytest.approx(0.25 + 1 / 6)
    # Context c was never followed by anything: back off to the unigram, 1/3.
    assert model.next_token_probs([2])[0] == pytest.approx(1 / 3)


def test_add_k_by_hand():
    model = NGramLM(2, 3, "add_k", k=1.0).fit([0, 1, 0, 1, 2])
    # P(b | a) = (2 + 1) / (2 + 3); P(a | c): context c unseen -> uniform.
    assert model.next_token_probs([0])[1] == pytest.approx(3 / 5)
    assert model.next_token_probs([2])[0] == pytest.approx(1 / 3)
    assert model.perplexity([0, 1]) == pytest.approx(5 / 3)


def test_cross_entropy_matches_probs(shakespeare_ids):
    ids, V = shakespeare_ids
    model = NGramLM(3, V).fit(ids[:80_000])
    held_out = ids[80_000:]
    p = model.probs(held_out)
    assert model.cross_entropy(held_out) == pytest.approx(-np.log(p).mean())
    assert model.perplexity(held_out, start=5) == pytest.approx(math.exp(-np.log(p[3:]).mean()))


def test_bad_input_is_a_clear_error():
    with pytest.raises(ValueError, match="n must be at least 1"):
        NGramLM(0, 10)
    with pytest.raises(ValueError, match="do not fit in 64-bit codes"):
        NGramLM(6, 100_000)
    with pytest.raises(ValueError, match="token id 10 is outside"):
        NGramLM(2, 10).fit([1, 2, 10])
    with pytest.raises(ValueError, match="need at least n=3 tokens"):
        NGramLM(3, 10).fit([1])
    with pytest.raises(RuntimeError, match="not been fitted"):
        NGramLM(2, 10).probs([1, 2])


def test_word_tokenizer_unknown_words():
    words = labgpt.split_words("The cat sat. The cat ran!")
    assert words[:4] == ["the", "cat", "sat", "."]
    tok = labgpt.WordTokenizer(words, min_count=2)
    assert tok.decode(tok.encode(["the", "dog"])) == ["the", "<unk>"]
    strict = labgpt.WordTokenizer(words, unk=False)
    with pytest.raises(ValueError, match="unknown word 'dog'"):
        strict.encode(["dog"])
    with pytest.raises(ValueError, match="empty corpus"):
        labgpt.WordTokenizer([])
