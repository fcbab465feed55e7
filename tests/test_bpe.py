import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import labgpt
from labgpt.bpe import BPETokenizer, merge, train_bpe, train_bpe_naive


@pytest.fixture(scope="module")
def shakespeare():
    return labgpt.load_text("tinyshakespeare")


@pytest.fixture(scope="module")
def tokenizer(shakespeare):
    return BPETokenizer.train(shakespeare[:200_000], 400)


@pytest.mark.parametrize("start", [0, 500_000])
def test_fast_trainer_learns_exactly_the_naive_merges(shakespeare, start):
    sample = shakespeare[start:start + 20_000]
    naive = train_bpe_naive(sample, 330)
    assert list(train_bpe(sample, 330).items()) == list(naive.items())
    assert len(naive) == 74


def test_ties_go_to_the_smallest_pair():
    # "ab" and "cd" both occur twice; (97, 98) < (99, 100), so "ab" is merged first.
    text = "cd\nab\ncd\nab"
    assert list(train_bpe(text, 257)) == list(train_bpe_naive(text, 257)) == [(97, 98)]


def test_merge_is_left_to_right_and_non_overlapping():
    assert merge([1, 1, 1], (1, 1), 9) == [9, 1]
    assert merge([1, 1, 1, 1], (1, 1), 9) == [9, 9]


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_round_trip_on_arbitrary_unicode(tokenizer, text):
    assert tokenizer.decode(tokenizer.encode(text)) == text


def test_tiktoken_version_gives_the_same_ids(tokenizer, shakespeare):
    text = shakespeare[200_000:400_000] + " 秦川雄帝宅 emoji 🙂 tabs\t\tand\r\nnewlines"
    assert tokenizer.to_tiktoken().encode_ordinary(text) == tokenizer.encode(text)


def test_bad_input_is_a_clear_error(tokenizer):
    with pytest.raises(ValueError, match="below 256"):
        train_bpe("hello", 255)
    with pytest.raises(ValueError, match="empty text"):
        train_bpe("", 300)
    with pytest.raises(ValueError, match="token id 400 is not in this vocabulary"):
        tokenizer.decode([400])


def test_benchmark_prints_a_table_then_json(capsys):
    from labgpt.tools.bench import main

    main(["bpe", "--repeats", "1"])
    last = capsys.readouterr().out.strip().splitlines()[-1]
    result = json.loads(last)
    assert {"train_s", "encode_mb_s", "tiktoken_encode_mb_s"} <= set(result)


def test_compresses_shakespeare(tokenizer, shakespeare):
    text = shakespeare[-100_000:]  # held out from training
    assert len(tokenizer.encode(text)) < 0.6 * len(text.encode("utf-8"))
