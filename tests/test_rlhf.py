"""InstructGPT's pipeline pieces on the assistant world (labgpt.rlhf)."""

import random

import torch

from labgpt import rlhf
from labgpt.gpt import GPT
from labgpt.training import TrainConfig
from labgpt.worlds import assistant


def random_gpt(seed=0):
    torch.manual_seed(seed)
    return GPT(rlhf.config()).eval()


def test_win_rate_counts_ties_half():
    assert rlhf.win_rate([2.5, 1.0, 0.0, 2.0], [1.0, 1.0, 2.5, 2.0]) == 0.5


def test_sft_copies_the_base_and_learns_the_demonstrations():
    base = random_gpt()
    before = {k: v.clone() for k, v in base.state_dict().items()}
    demos = rlhf.demonstrations(8)
    tuned = rlhf.sft(base, demos, config=TrainConfig(steps=150, lr=3e-3, eval_every=150,
                                                      eval_batches=1))
    assert all(torch.equal(before[k], v) for k, v in base.state_dict().items())
    said = rlhf.respond(tuned, demos)  # greedy
    right = sum(s[0] == assistant.demonstration(r) for r, s in zip(demos, said, strict=True))
    assert right >= 6  # eight demonstrations, learned (nearly) by heart


def test_comparisons_rank_every_pool_and_drop_identical_pairs():
    model = random_gpt()
    reqs = assistant.requests(20, seed=1)
    data = rlhf.comparisons([(model, 2), (model, 2)], reqs, seed=0)
    assert len(data) == 20
    for c, req in zip(data, reqs, strict=True):
        assert len(c.responses) == rlhf.K and c.prompt == assistant.tokenizer().encode(req.prompt)
        for w, lo in c.pairs:
            assert c.responses[w] != c.responses[lo]
    # with noise 0, the labeler's order: the preferred response never scores lower
    rng = random.Random(0)
    req = assistant.requests(1, seed=5)[0]
    pool = [["no", "<eot>"], assistant.demonstration(req)]
    assert assistant.rank(req, pool, rng, noise=0.0)[0] == 1


def test_prose_nll_and_summary():
    model = random_gpt()
    nll = rlhf.prose_nll(model, windows=4)
    assert 4.0 < nll < 5.0  # about ln(74) = 4.3 for a random model
    reqs = assistant.requests(30, seed=2)
    s = rlhf.summary(model, reqs, baseline=[0.0] * 30)
    assert set(s) == {"labeler", "families", "prose_nll", "scores", "win_rate"}
    assert len(s["scores"]) == 30 and 0.0 <= s["labeler"] <= assistant.MAX_SCORE
