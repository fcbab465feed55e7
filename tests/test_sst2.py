"""SST-2 loading, its deduplicated sentences, and the GPT-1 chapter's SST-2 experiment."""

import pytest
import torch

from labgpt import sst2_transfer
from labgpt.corpus import load_sst2, sst2_sentences


def test_sst2_splits():
    train, dev = load_sst2("train"), load_sst2("dev")
    assert len(train) == 67_349 and len(dev) == 872
    assert sum(y for _, y in dev) == 444  # positives, as GLUE's dev split has
    with pytest.raises(ValueError, match="split must be"):
        load_sst2("test")


def test_sst2_sentences_are_distinct_and_not_phrases_of_each_other():
    sentences = sst2_sentences()
    assert len(sentences) == 6_575
    texts = [t for t, _ in sentences]
    assert len(set(texts)) == len(texts) and min(len(t.split()) for t in texts) >= 6
    joined = "\n".join(f" {t} " for t in texts)
    for text in texts[:200]:
        assert joined.count(f" {text} ") == 1


def test_the_experiment_fits_its_config():
    tok = sst2_transfer.tokenizer()
    assert tok.vocab_size == sst2_transfer.CONFIG.vocab_size
    assert tok.words[:2] == ["<unk>", sst2_transfer.END]
    assert len(sst2_transfer.labelled(100, 0)) == 100
    assert sst2_transfer.labelled(100, 0) != sst2_transfer.labelled(100, 1)
    with pytest.raises(ValueError, match="n must be"):
        sst2_transfer.labelled(0, 0)


def test_bag_of_words_learns_something_from_all_labels():
    assert sst2_transfer.bag_of_words(6_575, 0) > 0.7


def test_fine_tuning_runs_and_leaves_the_pretrained_model_alone():
    gpt = sst2_transfer.scratch(0)
    before = {k: v.clone() for k, v in gpt.state_dict().items()}
    model, accuracy = sst2_transfer.fine_tune(gpt, 16, seed=0)
    assert 0.0 <= accuracy <= 1.0
    assert model.gpt.config.vocab_size == sst2_transfer.CONFIG.vocab_size + 3
    assert all(torch.equal(v, gpt.state_dict()[k]) for k, v in before.items())
