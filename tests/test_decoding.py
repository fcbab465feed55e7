"""Decoding: one path for every model, checked against Hugging Face's generate and its logits
processors, cached against uncached, padded batches against single prompts."""

import pytest
import torch

import labgpt
from labgpt import GPT, GPTConfig, beam_search, decoding, generate
from labgpt.gpt import hf_gpt2_model

transformers = pytest.importorskip("transformers")
from transformers.generation import logits_process as hf_processors  # noqa: E402

CONFIGS = [  # (vocab, block, n_layer, n_head, n_embd)
    (50, 16, 1, 1, 8),
    (97, 24, 2, 4, 32),
    (64, 32, 3, 2, 24),
]


def pair(vocab, block, n_layer, n_head, n_embd, seed=0, tmp_path=None):
    """A Hugging Face GPT-2 with random weights spread wide enough for varied text, and the
    same weights in labgpt's GPT."""
    config = GPTConfig(vocab_size=vocab, block_size=block, n_layer=n_layer, n_head=n_head,
                       n_embd=n_embd)
    reference = hf_gpt2_model(config, seed=seed)
    with torch.no_grad():
        reference.transformer.wte.weight.mul_(20)  # peakier distributions than at init
    reference.save_pretrained(tmp_path)
    return reference, GPT.from_pretrained(tmp_path).eval()


def hf_generate(reference, prompt, **kwargs):
    kwargs.setdefault("eos_token_id", None)
    kwargs.setdefault("pad_token_id", 0)
    return reference.generate(prompt, attention_mask=torch.ones_like(prompt), **kwargs)


# --- The processors against transformers' -------------------------------------------------

@pytest.mark.parametrize("seed", [0, 1, 2])
def test_filters_equal_transformers_processors(seed):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(4, 300, generator=g) * 3
    ids = torch.randint(300, (4, 12), generator=g)
    seen = torch.zeros(4, 300, dtype=torch.bool).scatter_(1, ids, True)
    for k in (1, 5, 50):
        expected = hf_processors.TopKLogitsWarper(k)(ids, logits.clone())
        assert torch.equal(decoding.top_k_filter(logits, k), expected)
    for p in (0.1, 0.5, 0.9, 0.99, 1.0):
        expected = hf_processors.TopPLogitsWarper(p)(ids, logits.clone())
        assert torch.equal(decoding.top_p_filter(logits, p).isinf(), expected.isinf()), p
    for t in (0.5, 1.7):
        expected = hf_processors.TemperatureLogitsWarper(t)(ids, logits.clone())
        assert torch.allclose(decoding.process_logits(logits, temperature=t), expected)
    for penalty in (1.2, 0.8):
        expected = hf_processors.RepetitionPenaltyLogitsProcessor(penalty)(ids, logits.clone())
        got = decoding.apply_repetition_penalty(logits, seen, penalty)
        assert torch.allclose(got, expected)
    # All four in HF's order.
    chain = hf_processors.LogitsProcessorList([
        hf_processors.RepetitionPenaltyLogitsProcessor(1.3),
        hf_processors.TemperatureLogitsWarper(0.7), hf_processors.TopKLogitsWarper(40),
        hf_processors.TopPLogitsWarper(0.8)])
    got = decoding.process_logits(logits, seen, temperature=0.7, top_k=40, top_p=0.8,
                                  penalty=1.3)
    expected = chain(ids, logits.clone())
    assert torch.equal(got.isinf(), expected.isinf())
    assert torch.allclose(got[~got.isinf()], expected[~expected.isinf()])


def test_top_p_keeps_the_smallest_set_reaching_p():
    logits = torch.tensor([[0.5, 0.3, 0.15, 0.05]]).log()
    assert decoding.top_p_filter(logits, 0.75).isfinite().tolist() == [[True, True, False, False]]
    assert decoding.top_p_filter(logits, 0.8).isfinite().tolist() == [[True, True, False, False]]
    assert decoding.top_p_filter(logits, 0.81).isfinite().sum() == 3
    assert decoding.top_p_filter(logits, 0.01).isfinite().sum() == 1  # the top token stays


# --- Generation against transformers' generate ---------------------------------------------

@pytest.mark.parametrize("shape", CONFIGS)
def test_greedy_equals_transformers(tmp_path, shape):
    reference, model = pair(*shape, tmp_path=tmp_path)
    prompt = torch.randint(shape[0], (3, 5), generator=torch.Generator().manual_seed(1))
    n = shape[1] - 5  # up to the context: transformers' GPT-2 cannot go past it
    ours = generate(model, prompt, n, greedy=True)
    assert torch.equal(ours, hf_generate(reference, prompt, max_new_tokens=n, do_sample=False))
    ours = generate(model, prompt, n, greedy=True, repetition_penalty=1.3)
    expected = hf_generate(reference, prompt, max_new_tokens=n, do_sample=False,
                           repetition_penalty=1.3)
    assert torch.equal(ours, expected)
    # Stopping: make a token greedy produces the end of sequence; finished rows are padded.
    eos = int(ours[0, 8])
    ours = generate(model, prompt, n, greedy=True, repetition_penalty=1.3, eos_id=eos, pad_id=0)
    expected = hf_generate(reference, prompt, max_new_tokens=n, do_sample=False,
                           repetition_penalty=1.3, eos_token_id=eos, pad_token_id=0)
    assert torch.equal(ours, expected)


BEAM_SETTINGS = [  # (num_beams, length_penalty, early_stopping, repetition_penalty)
    (2, 1.0, False, 1.0),
    (3, 1.0, False, 1.2),
    (4, 0.5, True, 1.0),
    (5, 2.0, "never", 1.2),
    (5, 1.0, False, 1.2),  # the study notes' mini-chat settings
]


@pytest.mark.parametrize("shape", CONFIGS)
@pytest.mark.parametrize("setting", BEAM_SETTINGS)
def test_beam_search_equals_transformers(tmp_path, shape, setting):
    beams, length_penalty, early_stopping, penalty = setting
    reference, model = pair(*shape, tmp_path=tmp_path)
    g = torch.Generator().manual_seed(2)
    n = shape[1] - 6
    for _ in range(2):
        prompt = torch.randint(shape[0], (6,), generator=g)
        kwargs = dict(max_new_tokens=n, do_sample=False, num_beams=beams,
                      length_penalty=length_penalty, early_stopping=early_stopping,
                      repetition_penalty=penalty)
        ours = beam_search(model, prompt, n, beams, length_penalty=length_penalty,
                           early_stopping=early_stopping, repetition_penalty=penalty)
        assert ours.tolist() == hf_generate(reference, prompt[None], **kwargs)[0].tolist()
        # With an end-of-sequence token that the beams meet: finished hypotheses compete.
        eos = int(ours[8])
        ours = beam_search(model, prompt, n, beams, length_penalty=length_penalty,
                           early_stopping=early_stopping, repetition_penalty=penalty,
                           eos_id=eos)
        expected = hf_generate(reference, prompt[None], eos_token_id=eos, pad_token_id=eos,
                               **kwargs)[0]
        assert ours.tolist() == expected.tolist()


def test_beam_search_scores_at_least_greedy(tmp_path):
    _, model = pair(97, 24, 2, 4, 32, tmp_path=tmp_path)
    prompt = torch.randint(97, (1, 4), generator=torch.Generator().manual_seed(3))

    def logprob(seq):
        logits, _ = model(seq[None, :-1])
        return labgpt.sequence_logprob(logits[:, 3:], seq[None, 4:]).item()

    greedy = generate(model, prompt, 16, greedy=True)[0]
    beam = beam_search(model, prompt[0], 16, 5)
    assert logprob(beam) >= logprob(greedy) - 1e-4


# --- The cache ---------------------------------------------------------------------------

def test_cached_steps_equal_recomputing_the_window_past_block_size():
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=40, block_size=8, n_layer=2, n_head=2, n_embd=16)).eval()
    seq = torch.randint(40, (2, 40))
    logits, cache = model.step(seq[:, :3])
    starts = []
    for t in range(3, 40):
        start = model.window_start(t)
        expected = model(seq[:, start:t])[0][:, -1]
        assert (logits - expected).abs().max().item() <= 1e-5, t
        assert cache.start == start and cache.length == t - start <= 8
        starts.append(start)
        logits, cache = model.step(seq[:, t:t + 1], cache)
    # The window keeps its last 4 tokens each time it fills: re-read every 5 tokens.
    assert sorted(set(starts)) == [0, 5, 10, 15, 20, 25, 30, 35]


def test_cached_and_uncached_generation_agree(tmp_path):
    _, model = pair(50, 16, 2, 2, 16, tmp_path=tmp_path)
    prompt = torch.randint(50, (3, 6), generator=torch.Generator().manual_seed(0))
    for kwargs in (dict(greedy=True), dict(top_p=0.9), dict(top_k=5, temperature=0.8),
                   dict(repetition_penalty=1.2, greedy=True)):
        runs = [generate(model, prompt, 50, use_cache=cached, **kwargs,
                         generator=torch.Generator().manual_seed(1)) for cached in (True, False)]
        assert runs[0].shape == (3, 56)  # 40 tokens past block_size=16
        assert torch.equal(*runs), kwargs


def test_cache_memory_is_two_vectors_per_layer_per_token():
    model = GPT(GPTConfig(vocab_size=30, block_size=32, n_layer=3, n_head=2, n_embd=16)).eval()
    _, cache = model.step(torch.zeros(2, 10, dtype=torch.long))
    assert cache.nbytes == 2 * 3 * 16 * 4 * 10 * 2  # (k, v) x layers x d x fp32 x t x batch


# --- Batches of prompts of different lengths ------------------------------------------------

def models():
    torch.manual_seed(0)
    bigram = labgpt.BigramLM(30)
    torch.nn.init.normal_(bigram.logits_table.weight, std=2.0)
    # block_size 32 holds the longest padded row (7 + 20): past the window, a padded batch is
    # cut at the same padded position for every row (see generate's docstring).
    return [GPT(GPTConfig(vocab_size=30, block_size=32, n_layer=2, n_head=2, n_embd=16)),
            labgpt.RecurrentLM(30, "lstm", n_embd=8, n_hidden=16),
            labgpt.RecurrentLM(30, "gru", n_embd=8, n_hidden=16),
            labgpt.RecurrentLM(30, "rnn", n_embd=8, n_hidden=16), bigram]


@pytest.mark.parametrize("model", models(), ids=lambda m: type(m).__name__)
def test_padded_batch_rows_equal_single_prompts(model):
    prompts = [[1, 2, 3], [4], [5, 6, 7, 8, 9, 10, 11], [12, 13]]
    rows = generate(model, prompts, 20, greedy=True)
    for row, prompt in zip(rows, prompts, strict=True):
        alone = generate(model, torch.tensor(prompt), 20, greedy=True)[0]
        assert torch.equal(row, alone)
    # Sampling, with a row stopping at the end-of-sequence token.
    rows = generate(model, prompts, 20, eos_id=3, generator=torch.Generator().manual_seed(0))
    for row in rows:
        assert 3 not in row[:-1].tolist()[len(row) - 20:] or row[-1] == 3


@pytest.mark.parametrize("model", models(), ids=lambda m: type(m).__name__)
def test_every_model_generates_through_one_path(model):
    prompt = torch.tensor([[1, 2, 3]])
    out = generate(model, prompt, 30, top_k=10, generator=torch.Generator().manual_seed(0))
    again = generate(model, prompt, 30, top_k=10, generator=torch.Generator().manual_seed(0))
    assert out.shape == (1, 33) and torch.equal(out, again)
    uncached = generate(model, prompt, 30, top_k=10, use_cache=False,
                        generator=torch.Generator().manual_seed(0))
    assert torch.equal(out, uncached)
    assert beam_search(model, prompt[0], 10, 3).shape == (13,)
    assert model.training  # generation does not leave a model in eval mode


def test_seq2seq_decodes_through_the_same_path():
    torch.manual_seed(0)
    model = labgpt.Seq2SeqTransformer(10, 12, d_model=16, n_head=2, n_layers=1, max_len=16).eval()
    src = torch.randint(2, 10, (3, 5))
    bos = torch.ones(3, 1, dtype=torch.long)
    out = generate(model, bos, 6, greedy=True, state=model.start(src))
    assert out.shape == (3, 7)
    logits = model(src, out[:, :-1])[0]
    assert torch.equal(out[:, 1:], logits.argmax(-1))  # each token the argmax given the rest


def test_seeded_sampling_repeats_and_seeds_differ():
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=30, block_size=16, n_layer=1, n_head=2, n_embd=16))
    prompt = torch.zeros(4, 1, dtype=torch.long)
    a, b, c = (generate(model, prompt, 12, generator=torch.Generator().manual_seed(s))
               for s in (7, 7, 8))
    assert torch.equal(a, b) and not torch.equal(a, c)


# --- Bad input -----------------------------------------------------------------------------

def test_bad_settings_are_refused_before_any_work():
    model = GPT(GPTConfig(vocab_size=20, block_size=8, n_layer=1, n_head=2, n_embd=8))
    p = torch.zeros(1, 2, dtype=torch.long)
    cases = [
        (dict(temperature=0), "temperature must be positive.*greedy=True"),
        (dict(temperature=-1), "temperature must be positive"),
        (dict(top_p=0), r"top_p must be in \(0, 1\]"),
        (dict(top_p=1.5), r"top_p must be in \(0, 1\]"),
        (dict(top_k=0), "top_k must be a whole number >= 1"),
        (dict(repetition_penalty=0), "repetition_penalty must be positive"),
        (dict(greedy=True, temperature=0.7), "greedy decoding takes the most likely token"),
        (dict(eos_id=20), r"eos_id=20 is outside the vocabulary \[0, 20\)"),
    ]
    for kwargs, message in cases:
        with pytest.raises(ValueError, match=message):
            generate(model, p, 3, **kwargs)
    with pytest.raises(ValueError, match="num_beams must be a whole number >= 1"):
        beam_search(model, p[0], 3, 0)
    with pytest.raises(ValueError, match="beam_search takes one prompt"):
        beam_search(model, torch.zeros(2, 3, dtype=torch.long), 3, 2)
    with pytest.raises(ValueError, match="early_stopping"):
        beam_search(model, p[0], 3, 2, early_stopping="sometimes")
    with pytest.raises(ValueError, match="the prompt is empty"):
        generate(model, torch.zeros(1, 0, dtype=torch.long), 3)
    with pytest.raises(ValueError, match="a prompt is empty"):
        generate(model, [[1, 2], []], 3)
    with pytest.raises(ValueError, match="sequence of 9 tokens exceeds block_size=8"):
        generate(model, torch.zeros(1, 9, dtype=torch.long), 3)
    with pytest.raises(ValueError, match=r"token id 25 is outside the vocabulary \[0, 20\)"):
        generate(model, torch.tensor([[1, 25]]), 3)


def test_continuation_logprobs_equal_one_forward_pass():
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=30, block_size=16, n_layer=2, n_head=2, n_embd=16)).eval()
    seq = torch.randint(30, (3, 16))
    got = decoding.continuation_logprobs(model, seq[:, :5], seq[:, 5:])
    expected = labgpt.token_logprobs(model(seq[:, :-1])[0], seq[:, 1:])[:, 4:]
    assert got.shape == (3, 11) and torch.allclose(got, expected, atol=1e-5)
    with pytest.raises(ValueError, match="same batch"):
        decoding.continuation_logprobs(model, seq[:2, :5], seq[:, 5:])


def test_text_metrics():
    from labgpt.text_metrics import distinct_n, repeated_ngrams

    assert distinct_n("abcd", 2) == 1.0 and repeated_ngrams("abcd", 2) == 0.0
    assert distinct_n("abababab", 2) == 2 / 7 and repeated_ngrams("abababab", 2) == 5 / 7
    words = "the cat sat on the cat".split()
    assert distinct_n(words, 2) == 4 / 5
    assert repeated_ngrams("ab", 8) == 0.0 and distinct_n("ab", 8) == 1.0
    with pytest.raises(ValueError, match="n must be >= 1"):
        distinct_n("abc", 0)
