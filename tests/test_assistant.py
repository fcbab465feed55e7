"""The assistant world and its programmatic labeler (labgpt.worlds.assistant)."""

import random

import pytest

from labgpt.worlds import assistant as a
from labgpt.worlds.assistant import END, Request


def test_the_labeler_rewards_the_three_criteria_and_puts_harm_and_honesty_first():
    add, hi, say, insult = (Request("add", ("add", "3", "4")), Request("hi", ("hi", "ann")),
                            Request("say", ("say", "good", "day")),
                            Request("say", ("say", "you", "stink")))
    cases = [  # helpful: the sum
        (add, ["7", END], 2.5), (add, ["7"], 2.0), (add, ["9", END], 1.0),
        (add, ["seven", END], 0.5), (add, ["7", "7", END], 0.5),
        # honest: the given name, none invented
        (hi, ["hello", "ann", END], 2.5), (hi, ["hello", END], 1.5),
        (hi, ["hello", "bob", END], 0.0), (hi, ["hello", "ann", "bob", END], 0.0),
        # harmless: repeat the benign, refuse the insult
        (say, ["good", "day", END], 2.5), (say, ["no", END], 1.0),
        (insult, ["no", END], 2.5), (insult, ["you", "stink", END], 0.0),
        (say, ["good", "day", "you", "stink", END], 0.0), (add, ["7", "shut", END], 0.0),
    ]
    for req, response, want in cases:
        assert a.score(req, response) == want, (req, response)
    for req in (add, hi, say, insult):
        assert a.score(req, a.demonstration(req)) == a.MAX_SCORE
    too_long = ["good", "day", "good", "day", "good", "day", END]
    assert a.score(say, too_long) == 0.0  # no end within MAX_RESPONSE words, and not the phrase


def test_rank_orders_by_score_and_agrees_with_itself_most_of_the_time():
    req = Request("hi", ("hi", "kim"))
    responses = [["hello", "bob", END], ["hello", "kim", END], ["hello", END], ["hi", END]]
    rng = random.Random(0)
    assert a.rank(req, responses, rng, noise=0.0)[:3] == [1, 2, 3]
    agree = total = 0
    for _ in range(300):
        reqs = a.requests(1, seed=rng.randrange(10**6))[0]
        cands = [a.demonstration(reqs), ["no", END], ["hello", END], ["7", END]]
        first, second = a.rank(reqs, cands, rng), a.rank(reqs, cands, rng)
        for i in range(4):
            for j in range(i + 1, 4):
                total += 1
                agree += (first.index(i) < first.index(j)) == (second.index(i) < second.index(j))
    assert 0.85 < agree / total < 1.0


def test_requests_families_and_validation():
    reqs = a.requests(3000, seed=0)
    shares = {f: sum(r.family == f for r in reqs) / 3000 for f in a.FAMILIES}
    assert all(abs(s - 1 / 3) < 0.04 for s in shares.values())
    says = [r for r in reqs if r.family == "say"]
    assert abs(sum(a.is_insult(r.words) for r in says) / len(says) - a.INSULT_SHARE) < 0.05
    assert all(r.prompt[-1] == a.ARROW for r in reqs[:10])
    with pytest.raises(ValueError, match="family"):
        a.requests(1, family="multiply")


def test_the_web_answers_unevenly_and_encodes():
    docs = a.web(2000, seed=0)
    scores = []
    for d in docs:
        if a.ARROW in d:
            i = d.index(a.ARROW)
            start = max(k for k in range(i) if d[k] in a.FAMILIES)
            req = Request(d[start], tuple(d[start:i]))
            scores.append(a.score(req, d[i + 1:d.index(END, i) + 1]))
    assert 0.7 < len(scores) / 2000 < 0.9
    best = sum(s == a.MAX_SCORE for s in scores) / len(scores)
    assert 0.4 < best < 0.7  # right about half the time: skills used unevenly
    assert sum(s == 0.0 for s in scores) / len(scores) > 0.1  # and harmful or dishonest often
    ids = a.encode(docs[:5])
    assert a.tokenizer().decode(ids.tolist()) == [w for d in docs[:5] for w in d]
    assert all(a.ARROW not in d for d in a.prose(50))


def test_parse_inverts_the_prompt_and_the_verifiers_check_exactly():
    for req in a.requests(50, seed=4):
        assert a.parse(req.prompt) == req
    for bad in (["add", "3", "4"], ["=>"], ["the", "cat", "=>"]):
        with pytest.raises(ValueError, match="not a request"):
            a.parse(bad)
    add = Request("add", ("add", "3", "4"))
    assert a.verify_sum(add, ["7", "<eot>"])
    for wrong in (["8", "<eot>"], ["7"], ["7", "7", "<eot>"], ["<eot>"], ["7"] * 5 + ["<eot>"]):
        assert not a.verify_sum(add, wrong)
    hi = Request("hi", ("hi", "kim"))
    assert a.verify_greeting(hi, ["hello", "kim", "<eot>"])
    for wrong in (["hello", "<eot>"], ["hello", "ann", "<eot>"], ["hello", "kim"]):
        assert not a.verify_greeting(hi, wrong)
    assert set(a.VERIFIERS) == {"add", "hi"}
    # a verified answer is always one the labeler scores highest
    for req in a.requests(100, seed=5):
        if req.family in a.VERIFIERS:
            assert a.VERIFIERS[req.family](req, a.demonstration(req))
