import pytest

import labgpt


@pytest.fixture(scope="module")
def enc():
    return labgpt.gpt2_encoding()


def test_gpt2_known_ids_and_vocabulary(enc):
    assert enc.encode("Hello world") == [15496, 995]
    assert enc.n_vocab == 50257
    assert enc.encode("<|endoftext|>", allowed_special="all") == [50256]
    assert enc.eot_token == 50256
    # The pre-split keeps a leading space with the word: " world" is one token.
    assert enc.decode([995]) == " world"


def test_gpt2_round_trips_all_of_tinyshakespeare(enc):
    text = labgpt.load_text("tinyshakespeare")
    ids = enc.encode_ordinary(text)
    assert len(ids) == 338_025  # as recorded in shared/data/SOURCES.md
    assert enc.decode(ids) == text


def test_gpt2_round_trips_chinese_through_bytes(enc):
    text = labgpt.load_text("tang_poems")[:20_000]
    ids = enc.encode_ordinary(text)
    assert enc.decode(ids) == text
    # Byte-level BPE has no unknown token, but Chinese costs more than one token per character.
    assert len(ids) > len(text)


def test_char_tokenizer_round_trip_and_errors():
    tok = labgpt.CharTokenizer.from_text("hello world")
    assert tok.vocab_size == 8
    assert tok.decode(tok.encode("hold")) == "hold"
    with pytest.raises(ValueError, match=r"character 'z' at position 2 is not in"):
        tok.encode("hez")
    with pytest.raises(ValueError, match=r"token id 8 is outside the vocabulary \[0, 8\)"):
        tok.decode([0, 8])
