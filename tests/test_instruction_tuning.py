"""The kinds world and instruction tuning in miniature (labgpt.worlds.kinds,
labgpt.instruction_tuning)."""

import pytest
import torch

from labgpt import instruction_tuning as it
from labgpt.gpt import GPT, GPTConfig
from labgpt.logprobs import IGNORE_INDEX
from labgpt.training import TrainConfig
from labgpt.worlds import kinds, labels


def tiny_gpt(seed=0):
    torch.manual_seed(seed)
    return GPT(GPTConfig(vocab_size=kinds.tokenizer().vocab_size, block_size=16, n_layer=1,
                         n_head=2, n_embd=16)).eval()


def test_world_has_36_kinds_of_three_distinct_things_and_lists_without_questions():
    things = [t for ts in kinds.KINDS.values() for t in ts]
    assert len(kinds.KINDS) == 36 and len(things) == 108 == len(set(things))
    assert not set(things) & set(kinds.KINDS)
    assert len(kinds.HELD_OUT) == 8 and not set(kinds.HELD_OUT) & set(kinds.TUNABLE)
    docs = kinds.documents(300, seed=0)
    words = {w for d in docs for w in d}
    assert not words & set(kinds.QUESTION)  # pre-training never asks
    assert set(kinds.KINDS) & words and set(labels.ARBITRARY) & words
    ids = kinds.encode(docs[:3])
    assert kinds.tokenizer().decode(ids.tolist())[:4] == docs[0][:4]
    assert kinds.kind_of("oak") == "tree"
    with pytest.raises(ValueError, match="not a thing"):
        kinds.kind_of("dragon")


def test_labels_world_is_unchanged_by_the_categories_parameter():
    assert labels.documents(50, seed=3) == labels.documents(50, 3, labels.CATEGORIES)


def test_prompts_zero_shot_few_shot_and_natural():
    zero = it.prompts(kinds.HELD_OUT, n=20)
    for p in zero:
        assert p.words[:2] == ["what", "is"] and p.words[-1] == "?" and not p.shown
        assert kinds.kind_of(p.words[2]) == p.answer in kinds.HELD_OUT
    for p in it.prompts(kinds.HELD_OUT, n=20, k=3):
        assert len(p.words) == 3 * 6 + 4 and len(p.shown) == 3 and p.answer not in p.shown
        assert p.words[4:6] == [p.shown[0], "."]  # "what is X ? kind ."
    for p in it.prompts(kinds.HELD_OUT, n=20, natural=True):
        assert p.words[1] == ":" and kinds.kind_of(p.words[0]) == p.answer
    with pytest.raises(ValueError, match="second kind"):
        it.prompts(["tree"], k=1)


def test_answer_only_targets_score_the_answer_alone():
    x, y = it.answer_only_targets([5, 6, 7, 8, 9])
    assert x == [5, 6, 7, 8] and y == [IGNORE_INDEX] * 3 + [9]


def test_answers_are_kind_names_and_accuracy_counts_them():
    model = tiny_gpt()
    batch = it.prompts(kinds.HELD_OUT, n=30)
    said = it.answers(model, batch)
    assert len(said) == 30 and set(said) <= set(kinds.KINDS)
    right = sum(s == p.answer for s, p in zip(said, batch, strict=True)) / 30
    assert it.accuracy(model, batch) == it.right(said, batch) == right


def test_tune_refuses_held_out_kinds_and_bad_shares_and_leaves_the_base_alone():
    model = tiny_gpt()
    with pytest.raises(ValueError, match="held out"):
        it.tune(model, ["tree", kinds.HELD_OUT[0]])
    with pytest.raises(ValueError, match="held out"):
        it.tune(model, [])
    with pytest.raises(ValueError, match="pretraining_share"):
        it.tune(model, ["tree"], pretraining_share=1.0)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    cfg = TrainConfig(steps=100, lr=1e-2, eval_every=100, eval_batches=1)
    tuned = it.tune(model, ["tree", "fish"], config=cfg)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert not tuned.training
    # a hundred steps are enough for a tiny model to learn two kinds' answers
    assert it.accuracy(tuned, it.prompts(["tree", "fish"], n=100)) > 0.9
    again = it.tune(model, ["tree", "fish"], config=cfg)
    assert all(torch.equal(a, b) for a, b in zip(tuned.state_dict().values(),
                                                  again.state_dict().values(), strict=True))


def test_tuning_batches_never_show_a_held_out_thing_or_name(monkeypatch):
    seen = []
    monkeypatch.setattr(it, "train", lambda model, get_batch, cfg: seen.extend(
        get_batch("train", torch.Generator().manual_seed(s))[0] for s in range(20)))
    it.tune(tiny_gpt(), list(kinds.TUNABLE))
    tok = kinds.tokenizer()
    held = set(kinds.HELD_OUT) | {t for k in kinds.HELD_OUT for t in kinds.KINDS[k]}
    questions = 0
    for x in seen:
        for row in x.tolist():
            words = tok.decode(row)
            if words[0] == "what":
                questions += 1
                assert not set(words) & held
    assert 0.3 < questions / (20 * it.BATCH_SIZE) < 0.7  # about half the rows are questions


def test_sweep_reports_every_measure_per_order_and_n():
    cfg = TrainConfig(steps=5, lr=1e-3, eval_every=5, eval_batches=1)
    result = it.sweep(tiny_gpt(), (1, 3), orders=(0, 1), config=cfg)
    assert list(result) == [0, 1]
    for rows in result.values():
        assert [r["n"] for r in rows] == [1, 3]
        for r in rows:
            assert set(r) == {"n", "seen", "held_out", "tuned_answer", "natural"}
            assert all(0.0 <= r[m] <= 1.0 for m in ("seen", "held_out", "natural"))
