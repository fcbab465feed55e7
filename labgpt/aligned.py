"""After InstructGPT: DPO and RL with a verifier next to PPO, measured alike, and the models kept.

:mod:`labgpt.rlhf` takes a base model through SFT, a reward model and PPO. Two ideas that came
after it are run here from the same SFT model and the same labeler's rankings:

* DPO (:mod:`labgpt.dpo`) trains the policy on the ranked pairs directly, with no reward model
  and no sampling;
* GRPO (:mod:`labgpt.grpo`) and PPO against a verifier (:mod:`labgpt.rlvr`) train on the sums,
  where a program can check the answer.

:func:`evaluate` measures every model the same way (labeler score and win-rate against SFT on
1,000 requests, KL from SFT, prose NLL, accuracy on the 100 sums); :func:`pipeline` runs it
all from one base model. :func:`make` records the numbers for two seeds and ships seed 0's
models, which :func:`load` gives back to :mod:`labgpt.chat` and the chapter.
"""

from __future__ import annotations

import copy
from dataclasses import replace

import torch

from labgpt import dpo, rlhf, rlvr
from labgpt.environment import seed_everything, use_threads
from labgpt.gpt import GPT
from labgpt.reward_model import Comparison
from labgpt.training import TrainConfig
from labgpt.worlds import assistant
from labgpt.worlds.assistant import Request

DPO = TrainConfig(steps=300, lr=1e-4, eval_every=300, eval_batches=1)
DPO_BETAS = (0.1, 0.5, 2.0)
DPO_BETA = 2.0  # the model shipped to the chat: the best of DPO_BETAS on both seeds
# Ten times the step size, at beta 0.5: where does the probability go?
DPO_HARD, HARD_BETA = replace(DPO, lr=1e-3), 0.5
GRPO_BETAS = (0.0, 0.04, 0.4)  # the KL term's weight: off, DeepSeekMath's, ten times that
MODELS = ("base", "sft", "ppo", "dpo", "grpo")  # what make() ships, in the chat's order


def train_dpo(sft_model: GPT, data: list[Comparison], beta: float, seed: int = 0,
              config: TrainConfig = DPO) -> GPT:
    """A copy of the SFT model trained by DPO on ``data``, the SFT model as reference."""
    seed_everything(seed)
    policy = copy.deepcopy(sft_model)
    dpo.train_dpo(policy, sft_model, data, rlhf.eos_id(), beta,
                  replace(config, seed=seed, quiet=True))
    return policy


def evaluate(model: GPT, sft_model: GPT, reqs: list[Request],
             sft_scores: list[float] | None = None) -> dict:
    """:func:`labgpt.rlhf.summary` (``scores`` dropped) with the KL from the SFT model per
    response and the accuracy on the 100 sums."""
    out = rlhf.summary(model, reqs, sft_scores)
    out.pop("scores")
    return {**out, "kl": rlhf.kl_from(model, sft_model, reqs), "sums": rlvr.accuracy(model)}


def seen_share(model: GPT, data: list[Comparison], reqs: list[Request], seed: int = 2) -> float:
    """Share of ``model``'s sampled responses to ``reqs`` that some comparison in ``data`` holds
    for the same prompt: how much of what it says the rankings ever judged."""
    tok = assistant.tokenizer()
    seen = {(tuple(c.prompt), tuple(r)) for c in data for r in c.responses}
    said = rlhf.respond(model, reqs, torch.Generator().manual_seed(seed))
    hits = sum((tuple(tok.encode(q.prompt)), tuple(tok.encode(s[0]))) in seen
               for q, s in zip(reqs, said, strict=True))
    return hits / len(reqs)


def dpo_measures(policy: GPT, sft_model: GPT, data: list[Comparison], reqs: list[Request],
                 sft_scores: list[float]) -> dict:
    """:func:`evaluate` plus what DPO did to the pairs' log-probs (mean change of the preferred
    and of the rejected responses, share of pairs ranked right by the implicit reward) and
    :func:`seen_share`."""
    chosen, rejected = dpo.log_ratios(policy, sft_model, data, rlhf.eos_id())
    return {**evaluate(policy, sft_model, reqs, sft_scores),
            "chosen_shift": chosen.mean().item(), "rejected_shift": rejected.mean().item(),
            "implicit_accuracy": (chosen > rejected).float().mean().item(),
            "seen": seen_share(policy, data, reqs)}


def pipeline(base: GPT, seed: int = 0) -> dict:
    """Every model of the chapter from ``base``, measured: numbers, and ``models``."""
    reqs = assistant.requests(rlhf.EVAL_REQUESTS, seed=99)
    sft = rlhf.sft(base, rlhf.demonstrations(seed=1000 + seed), seed=seed)
    sft_scores = rlhf.labeler_scores(sft, reqs)
    train_c, _ = rlhf.comparison_data(sft, base, seed)
    rm = rlhf.reward_model(sft, train_c, "last", seed)
    models = {"base": base, "sft": sft}
    models["ppo"], _ = rlhf.rlhf(sft, rm, replace(rlhf.PPO, seed=seed))
    out = {name: evaluate(m, sft, reqs, sft_scores) for name, m in models.items()}
    out["dpo"] = {}
    for beta in DPO_BETAS:
        policy = train_dpo(sft, train_c, beta, seed)
        out["dpo"][str(beta)] = dpo_measures(policy, sft, train_c, reqs, sft_scores)
        if beta == DPO_BETA:
            models["dpo"] = policy
    hard = train_dpo(sft, train_c, HARD_BETA, seed, DPO_HARD)
    out["dpo_hard"] = dpo_measures(hard, sft, train_c, reqs, sft_scores)
    out["sft"].update(seen=seen_share(sft, train_c, reqs))
    out["grpo"] = {}
    for beta in GRPO_BETAS:
        policy, _ = rlvr.grpo(sft, replace(rlvr.GRPO, beta=beta, seed=seed))
        out["grpo"][str(beta)] = evaluate(policy, sft, reqs, sft_scores)
        if beta == rlvr.GRPO.beta:
            models["grpo"] = policy
    policy, _ = rlvr.ppo(sft, replace(rlvr.PPO, seed=seed))
    out["ppo_verifier"] = evaluate(policy, sft, reqs, sft_scores)
    return {**out, "models": models}


def make(seeds: tuple[int, ...] = (0, 1)) -> tuple[dict[str, torch.Tensor], dict]:
    """The record: the first seed's models (half precision, named ``model.tensor``) and every
    seed's numbers. Each seed starts from its own base model, rounded to half precision as
    :func:`labgpt.rlhf.make` ships it."""
    use_threads(1)
    state, result = {}, {"seeds": {}}
    for seed in seeds:
        base = rlhf.pretrain(seed)[0]
        base = GPT.from_half_state(base.config, base.half_state())
        numbers = pipeline(base, seed)
        models = numbers.pop("models")
        if seed == seeds[0]:
            state = {f"{name}.{k}": v for name in MODELS
                     for k, v in models[name].half_state().items()}
        result["seeds"][str(seed)] = numbers
        print(seed, numbers, flush=True)
    return state, result


def load() -> tuple[dict[str, GPT], dict]:
    """The shipped models (float32, eval mode) by name, and the record's numbers with
    ``describe``, the line saying where they came from."""
    from labgpt import records

    record = records.load("aligned_models")
    models = record.gpts({name: rlhf.config() for name in MODELS})
    return models, {**record.result, "describe": record.describe()}
