"""The last chapter's measurements and shipped models (labgpt.aligned)."""

import pytest
import torch

from labgpt import aligned, rlhf
from labgpt.gpt import GPT
from labgpt.reward_model import Comparison
from labgpt.training import TrainConfig
from labgpt.worlds import assistant


def random_gpt(seed=0):
    torch.manual_seed(seed)
    return GPT(rlhf.config()).eval()


def test_evaluate_and_the_dpo_measures_on_small_models():
    sft, reqs = random_gpt(0), assistant.requests(20, seed=1)
    out = aligned.evaluate(sft, sft, reqs, [0.0] * 20)
    assert set(out) == {"labeler", "families", "prose_nll", "win_rate", "kl", "sums"}
    assert out["kl"] == pytest.approx(0.0, abs=1e-6)
    tok = assistant.tokenizer()
    data = [Comparison(tok.encode(r.prompt), [tok.encode(assistant.demonstration(r)),
                                              tok.encode(["no", "<eot>"])], [(0, 1)])
            for r in assistant.requests(30, seed=2) if r.family != "say"]
    policy = aligned.train_dpo(sft, data, beta=0.5, config=TrainConfig(
        steps=20, lr=3e-3, eval_every=20, eval_batches=1))
    m = aligned.dpo_measures(policy, sft, data, reqs, [0.0] * 20)
    assert m["implicit_accuracy"] > 0.9 and m["chosen_shift"] > m["rejected_shift"]
    assert 0.0 <= m["seen"] <= 1.0 and m["kl"] > 0


def test_seen_share_counts_responses_the_data_holds_for_that_prompt():
    model = random_gpt(0)
    reqs = [assistant.Request("add", ("add", "3", "4"))] * 5
    said = rlhf.respond(model, reqs, torch.Generator().manual_seed(2))
    tok = assistant.tokenizer()
    holds = Comparison(tok.encode(reqs[0].prompt), [tok.encode(s[0]) for s in said], [])
    assert aligned.seen_share(model, [holds], reqs) == 1.0
    other = Comparison(tok.encode(["add", "1", "1", "=>"]), holds.responses, [])
    assert aligned.seen_share(model, [other], reqs) == 0.0


def test_the_shipped_models_load_and_the_record_holds_both_seeds():
    models, numbers = aligned.load()
    assert list(models) == list(aligned.MODELS)
    assert all(not m.training for m in models.values())
    assert set(numbers["seeds"]) == {"0", "1"} and "aligned_models" in numbers["describe"]
    for seed in numbers["seeds"].values():
        assert set(seed["dpo"]) == {str(b) for b in aligned.DPO_BETAS}
        assert set(seed["grpo"]) == {str(b) for b in aligned.GRPO_BETAS}
