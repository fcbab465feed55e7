"""GPT-1's fine-tuning machinery: padding, new tokens, the head, task formats, L3, and the
reviews world."""

import random
from functools import partial

import pytest
import torch
import torch.nn.functional as F

import labgpt
from labgpt import fine_tuning as ft
from labgpt.batching import pad_sequences
from labgpt.gpt import GPT, GPTConfig
from labgpt.heads import GPTWithHead
from labgpt.worlds import reviews


def tiny_gpt(vocab=20, seed=0):
    torch.manual_seed(seed)
    return GPT(GPTConfig(vocab_size=vocab, block_size=24, n_layer=2, n_head=2, n_embd=16))


def test_pad_sequences_right_pads_and_refuses_empty():
    ids, lengths = pad_sequences([[3, 4, 5], [6]], pad_id=9)
    assert ids.tolist() == [[3, 4, 5], [6, 9, 9]] and lengths.tolist() == [3, 1]
    with pytest.raises(ValueError, match="empty"):
        pad_sequences([[1], []])
    with pytest.raises(ValueError, match="no sequences"):
        pad_sequences([])


def test_add_tokens_keeps_old_embeddings_and_the_tie():
    gpt = tiny_gpt()
    before = gpt.wte.weight.detach().clone()
    new = gpt.add_tokens(3)
    assert new == [20, 21, 22] and gpt.config.vocab_size == 23
    assert torch.equal(gpt.wte.weight[:20], before)
    assert gpt.lm_head.weight is gpt.wte.weight
    logits, _ = gpt(torch.tensor([[1, 22, 21]]))
    assert logits.shape == (1, 3, 23)
    with pytest.raises(ValueError, match="at least 1"):
        gpt.add_tokens(0)


def test_head_reads_the_last_real_token_and_ignores_right_padding():
    model = GPTWithHead(tiny_gpt(), 2).eval()
    alone = model(torch.tensor([[1, 2, 3]]), torch.tensor([3]))
    ids, lengths = pad_sequences([[1, 2, 3], [4, 5, 6, 7, 8]])
    together = model(ids, lengths)
    assert torch.allclose(alone[0], together[0], atol=1e-6)
    with pytest.raises(ValueError, match="lengths must lie"):
        model(ids, torch.tensor([3, 6]))
    with pytest.raises(ValueError, match="one per sequence"):
        model(ids, torch.tensor([3]))
    with pytest.raises(ValueError, match="at least 1"):
        GPTWithHead(tiny_gpt(), 0)
    with pytest.raises(ValueError, match="pool must be"):
        GPTWithHead(tiny_gpt(), 2, pool="max")


def test_mean_pooling_averages_the_real_positions_only():
    model = GPTWithHead(tiny_gpt(), 2, pool="mean").eval()
    ids, lengths = pad_sequences([[1, 2, 3], [4, 5, 6, 7, 8]])
    pooled, hidden = model.features(ids, lengths)
    assert torch.allclose(pooled[0], hidden[0, :3].mean(0), atol=1e-6)
    alone, _ = model.features(torch.tensor([[1, 2, 3]]), torch.tensor([3]))
    assert torch.allclose(alone[0], pooled[0], atol=1e-6)


def test_input_transformations():
    sp = ft.Specials(start=10, delim=11, extract=12)
    assert ft.classification([1, 2], sp) == [[10, 1, 2, 12]]
    assert ft.entailment([1], [2], sp) == [[10, 1, 11, 2, 12]]
    assert ft.similarity([1], [2, 3], sp) == [[10, 1, 11, 2, 3, 12], [10, 2, 3, 11, 1, 12]]
    assert ft.multiple_choice([1], [[2], [3]], sp) == [[10, 1, 11, 2, 12], [10, 1, 11, 3, 12]]


def test_similarity_does_not_depend_on_the_order_of_the_pair():
    model = GPTWithHead(tiny_gpt(), 2).eval()
    sp = ft.add_special_tokens(model.gpt)
    ab = ft.TaskBatch.for_task("similarity", [[[1, 2, 3], [4, 5]]], [1], sp)
    ba = ft.TaskBatch.for_task("similarity", [[[4, 5], [1, 2, 3]]], [1], sp)
    assert torch.allclose(ft.task_logits(model, ab), ft.task_logits(model, ba), atol=1e-5)


def test_multiple_choice_gives_one_logit_per_answer():
    model = GPTWithHead(tiny_gpt(), 1).eval()
    sp = ft.add_special_tokens(model.gpt)
    batch = ft.TaskBatch.for_task("multiple choice", [[[1, 2], [3], [4, 5], [6]]] * 2, [0, 2], sp)
    assert ft.task_logits(model, batch).shape == (2, 3)
    with pytest.raises(ValueError, match="one output"):
        ft.task_logits(GPTWithHead(model.gpt, 2), batch)


def test_task_batch_refuses_malformed_input():
    with pytest.raises(ValueError, match="one label per example"):
        ft.TaskBatch.build([[[1, 2]]], [0, 1])
    with pytest.raises(ValueError, match="same number of sequences"):
        ft.TaskBatch.build([[[1]], [[1], [2]]], [0, 1])
    with pytest.raises(ValueError, match="combine must be"):
        ft.TaskBatch.build([[[1]]], [0], combine="mean")
    with pytest.raises(ValueError, match="unknown task"):
        ft.TaskBatch.for_task("translation", [[[1]]], [0], ft.Specials(1, 2, 3))


def test_l3_is_l2_plus_lambda_l1_with_padding_skipped():
    model = GPTWithHead(tiny_gpt(), 2).eval()
    batch = ft.TaskBatch.build([[[1, 2, 3, 4]], [[5, 6]]], [1, 0])
    l2 = ft.l3_loss(model, batch, aux_weight=0.0)
    logits = model(batch.ids, batch.lengths)
    assert torch.allclose(l2, F.cross_entropy(logits, batch.labels))
    lm_logits, _ = model.gpt(batch.ids)
    l1 = (F.cross_entropy(lm_logits[0, :3], torch.tensor([2, 3, 4]), reduction="sum")
          + F.cross_entropy(lm_logits[1, :1], torch.tensor([6]), reduction="sum")) / 4
    assert torch.allclose(ft.l3_loss(model, batch, aux_weight=0.5), l2 + 0.5 * l1, atol=1e-6)


def test_fine_tuning_through_labgpt_train_learns_a_simple_task():
    # label = whether token 3 occurs: learnable in a few dozen steps
    rng = random.Random(0)
    texts = [[rng.randrange(4, 12) for _ in range(5)] for _ in range(64)]
    labels = [i % 2 for i in range(64)]
    for t, y in zip(texts, labels, strict=True):
        if y:
            t[rng.randrange(5)] = 3
    model = GPTWithHead(tiny_gpt(), 2)
    sp = ft.add_special_tokens(model.gpt)
    data = ft.TaskBatch.for_task("classification", [[t] for t in texts], labels, sp)
    history = labgpt.train(model, ft.task_batches(data, data, 16), labgpt.TrainConfig(
        steps=150, lr=3e-3, eval_every=150, eval_batches=1, progress=False),
        loss_fn=partial(ft.l3_loss, aux_weight=0.5))
    assert model.training  # train() leaves it in training mode; accuracy() restores it
    assert ft.accuracy(model, data) > 0.9 and model.training
    assert history.train_loss[-1] < history.train_loss[0]


def test_the_reviews_world():
    for label in (0, 1):
        seen, unseen = set(reviews.adjectives(label, "seen")), reviews.adjectives(label, "unseen")
        assert len(seen) == 12 and not seen & set(unseen)
    with pytest.raises(ValueError, match="part must be"):
        reviews.adjectives(1, "some")
    tok = reviews.tokenizer()
    text = reviews.unlabelled_text(300, seed=0)
    ids = reviews.encode_stream(text)  # every word is in the vocabulary
    assert (ids == tok.encode([reviews.END])[0]).sum() == 300
    for line in text.splitlines():
        words = set(line.split())
        label = 1 if words & set(reviews.POSITIVE) else 0
        assert not words & set(reviews.adjectives(1 - label))  # one polarity per review
        if "very" in words:
            assert line.endswith(f"very {reviews.VERDICTS[label]} .")
    for r in reviews.labelled(20, "unseen", seed=1):
        assert set(r.text.split()) & set(reviews.adjectives(r.label, "unseen"))
        assert not set(r.text.split()) & set(reviews.adjectives(r.label, "seen"))
    rng = random.Random(0)
    for _ in range(20):
        (premise, hypothesis), label = reviews.entailment_example(rng)
        positive = bool(set(premise) & set(reviews.POSITIVE))
        assert label == int(hypothesis[-2] == reviews.VERDICTS[int(positive)])
        texts, right = reviews.choice_example(rng)
        fits = [bool(set(a) & set(reviews.POSITIVE)) == bool(set(texts[0]) & set(
            reviews.POSITIVE)) for a in texts[1:]]
        assert fits.index(True) == right and sum(fits) == 1


def test_word_tokenizer_specials_come_after_unk():
    tok = labgpt.WordTokenizer(["a", "b", "a", "b", "<eot>"], min_count=2, specials=["<eot>"])
    assert tok.words == ["<unk>", "<eot>", "a", "b"]
