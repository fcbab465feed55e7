"""InstructGPT's three steps on the assistant world: SFT, a reward model, PPO.

Ouyang et al. (2022) started from GPT-3 and (1) fine-tuned it on demonstrations written by
labelers (SFT), (2) trained a reward model on labelers' rankings of the SFT model's samples,
(3) optimised the SFT model against the reward model with PPO, a KL penalty keeping it near the
SFT model and, in PPO-ptx, a pre-training term keeping its language modelling. Here the
labelers are :mod:`labgpt.worlds.assistant`'s program and GPT-3 is a GPT of two layers
pre-trained on that world's web (:func:`pretrain`); every step is a function of this module,
built on :mod:`labgpt.reward_model` and :mod:`labgpt.ppo`.
"""

from __future__ import annotations

import copy
import random
from dataclasses import replace

import torch

from labgpt import ppo
from labgpt.batching import lm_batches, pad_sequences, prompt_response_batch
from labgpt.decoding import generate
from labgpt.environment import seed_everything, use_threads
from labgpt.gpt import GPT, GPTConfig
from labgpt.heads import GPTWithHead
from labgpt.logprobs import lm_loss
from labgpt.reward_model import (
    RM_TRAIN,
    Comparison,
    pair_scores,
    pairwise_accuracy,
    ranking_pairs,
    train_reward_model,
)
from labgpt.training import History, TrainConfig, train
from labgpt.worlds import assistant
from labgpt.worlds.assistant import Request

BLOCK_SIZE = 32
WEB_DOCUMENTS = 12_000
PRETRAIN = TrainConfig(steps=1500, lr=3e-3, warmup_steps=50, eval_every=500, eval_batches=10)
DEMONSTRATIONS = 90  # labeler-written responses: few, as demonstrations are costly
SFT = TrainConfig(steps=300, lr=1e-3, eval_every=300, eval_batches=1)
SFT_BATCH = 32
K = 4  # responses ranked per prompt: the study notes' K (the paper's K ran from 4 to 9)
COMPARISON_PROMPTS = 1000
PPO = ppo.PPOConfig(iterations=150, lr=1e-4, beta=1.0)


def eos_id() -> int:
    return assistant.tokenizer().encode([assistant.END])[0]


def web_ids() -> tuple[torch.Tensor, torch.Tensor]:
    """The web as token ids: training text, and a held-back stretch for validation."""
    ids = assistant.encode(assistant.web(WEB_DOCUMENTS, seed=0))
    n_val = len(ids) // 50
    return ids[:-n_val], ids[-n_val:]


def pretraining_batches(batch_size: int = 16):
    return lm_batches(*web_ids(), BLOCK_SIZE, batch_size)


def config() -> GPTConfig:
    return GPTConfig(vocab_size=assistant.tokenizer().vocab_size, block_size=BLOCK_SIZE,
                     n_layer=2, n_head=4, n_embd=64)


def pretrain(seed: int = 0, quiet: bool = True) -> tuple[GPT, History]:
    """The base model: a GPT of 2 layers x 64 trained on the web; eval mode."""
    seed_everything(seed)
    model = GPT(config())
    history = train(model, pretraining_batches(32), replace(PRETRAIN, seed=seed, quiet=quiet))
    return model.eval(), history


def demonstrations(n: int = DEMONSTRATIONS, seed: int = 1000) -> list[Request]:
    return assistant.requests(n, seed=seed)


def sft(base: GPT, demos: list[Request], seed: int = 0, config: TrainConfig = SFT) -> GPT:
    """A copy of ``base`` fine-tuned on ``demos`` answered as the labeler would, loss on the
    responses only; eval mode."""
    tok = assistant.tokenizer()
    pairs = [(tok.encode(r.prompt), tok.encode(assistant.demonstration(r))) for r in demos]

    def get_batch(split: str, generator: torch.Generator):
        rows = torch.randint(len(pairs), (SFT_BATCH,), generator=generator).tolist()
        return prompt_response_batch([pairs[i] for i in rows], pad_id=eos_id())

    model = copy.deepcopy(base).train()
    train(model, get_batch, replace(config, seed=seed, quiet=True))
    return model.eval()


@torch.no_grad()
def respond(model: GPT, reqs: list[Request], generator: torch.Generator | None = None,
            n: int = 1) -> list[list[list[str]]]:
    """``n`` sampled responses (words, ``<eot>`` kept) to each request; greedy if
    ``generator`` is None and n = 1."""
    tok = assistant.tokenizer()
    prompts = [tok.encode(r.prompt) for r in reqs for _ in range(n)]
    outs = generate(model, prompts, assistant.MAX_RESPONSE, greedy=generator is None,
                    eos_id=eos_id(), generator=generator)
    words = [tok.decode(o[len(p):].tolist()) for o, p in zip(outs, prompts, strict=True)]
    return [words[i * n:(i + 1) * n] for i in range(len(reqs))]


def labeler_scores(model: GPT, reqs: list[Request], seed: int = 1) -> list[float]:
    """The labeler's score of one sampled response per request (temperature 1)."""
    said = respond(model, reqs, torch.Generator().manual_seed(seed))
    return [assistant.score(r, s[0]) for r, s in zip(reqs, said, strict=True)]


def win_rate(scores: list[float], baseline: list[float]) -> float:
    """How often the labeler prefers the first model's response to the same request (ties
    count half): InstructGPT's headline measure."""
    wins = sum((a > b) + 0.5 * (a == b) for a, b in zip(scores, baseline, strict=True))
    return wins / len(scores)


def comparisons(models: list[tuple[GPT, int]], reqs: list[Request], seed: int = 0,
                ) -> list[Comparison]:
    """For each request, responses sampled from ``models`` (model, how many), ranked by the
    labeler; pairs of identical responses are left out (nobody prefers a text to itself)."""
    tok = assistant.tokenizer()
    gen, rng = torch.Generator().manual_seed(seed), random.Random(seed)
    pools = [[] for _ in reqs]
    for model, n in models:
        for pool, said in zip(pools, respond(model, reqs, gen, n), strict=True):
            pool += said
    out = []
    for req, pool in zip(reqs, pools, strict=True):
        pairs = [(w, lo) for w, lo in ranking_pairs(assistant.rank(req, pool, rng))
                 if pool[w] != pool[lo]]
        out.append(Comparison(tok.encode(req.prompt), [tok.encode(s) for s in pool], pairs))
    return out


def comparison_data(sft_model: GPT, base: GPT, seed: int = 0,
                    ) -> tuple[list[Comparison], list[Comparison]]:
    """The labeler's rankings for training (1,000 requests) and testing (300): K responses to
    each, half sampled from the SFT model and half from the base model."""
    sources = [(sft_model, K // 2), (base, K - K // 2)]
    train_c = comparisons(sources, assistant.requests(COMPARISON_PROMPTS, seed=2000 + seed), seed)
    test_c = comparisons(sources, assistant.requests(300, seed=3000 + seed), seed + 100)
    return train_c, test_c


def reward_model(init: GPT, data: list[Comparison], pool: str = "last", seed: int = 0,
                 ) -> GPTWithHead:
    """A reward model started from ``init`` (the SFT model, as in the paper) with a scalar
    head, trained on ``data`` (its last tenth held back for the validation loss); eval mode."""
    seed_everything(seed)
    model = GPTWithHead(copy.deepcopy(init), 1, pool=pool)
    n_val = max(1, len(data) // 10)
    train_reward_model(model, data[:-n_val], data[-n_val:], eos_id(), replace(RM_TRAIN, seed=seed))
    return model


@torch.no_grad()
def best_of_n(model: GPT, rm: GPTWithHead, reqs: list[Request], n: int = 8,
              seed: int = 1) -> list[list[str]]:
    """For each request, the one of ``n`` samples the reward model scores highest."""
    tok = assistant.tokenizer()
    best = []
    for req, pool in zip(reqs, respond(model, reqs, torch.Generator().manual_seed(seed), n),
                         strict=True):
        ids, lengths = pad_sequences([tok.encode(req.prompt + s) for s in pool], eos_id())
        best.append(pool[int(rm(ids, lengths)[:, 0].argmax())])
    return best


def rlhf(sft_model: GPT, rm: GPTWithHead, config: ppo.PPOConfig = PPO,
         measure=None) -> tuple[GPT, list[dict]]:
    """PPO from the SFT model against ``rm``: the policy and the value model start from the SFT
    model and the reward model; the SFT model is the KL reference. Returns the policy and the
    per-iteration history."""
    tok = assistant.tokenizer()
    policy, value = copy.deepcopy(sft_model), copy.deepcopy(rm)

    def prompts(it: int):
        reqs = assistant.requests(config.batch_size, seed=10_000 * (config.seed + 1) + it)
        return [tok.encode(r.prompt) for r in reqs]

    history = ppo.train_ppo(policy, value, sft_model, ppo.model_reward(rm), prompts, eos_id(),
                            config, pretraining=pretraining_batches() if config.ptx else None,
                            measure=measure)
    return policy, history


@torch.no_grad()
def prose_nll(model: GPT, windows: int = 60) -> float:
    """Mean next-token loss on prose the model never saw (how well it still writes)."""
    ids = assistant.encode(assistant.prose(400, seed=7))
    x = ids[:windows * BLOCK_SIZE].view(windows, BLOCK_SIZE)
    y = ids[1:windows * BLOCK_SIZE + 1].view(windows, BLOCK_SIZE)
    return lm_loss(model(x)[0], y).item()


@torch.no_grad()
def kl_from(model: GPT, reference: GPT, reqs: list[Request], seed: int = 3) -> float:
    """KL(model || reference) per response, estimated on one sample from ``model`` for each
    request: the mean over responses of the summed log(model / reference) of their tokens."""
    tok = assistant.tokenizer()
    r = ppo.rollout(model, [tok.encode(q.prompt) for q in reqs], assistant.MAX_RESPONSE,
                    eos_id(), torch.Generator().manual_seed(seed))
    gap = ppo.response_logprobs(model, r) - ppo.response_logprobs(reference, r)
    return (gap * r.mask).sum(1).mean().item()


EVAL_REQUESTS = 1000
HACKING = replace(PPO, beta=0.0)  # no KL penalty: what the policy finds


def family_means(scores: list[float], reqs: list[Request]) -> dict[str, float]:
    return {f: sum(s for s, r in zip(scores, reqs, strict=True) if r.family == f)
            / max(1, sum(r.family == f for r in reqs)) for f in assistant.FAMILIES}


def summary(model: GPT, reqs: list[Request], baseline: list[float] | None = None) -> dict:
    """A model's labeler score (mean and per family), win-rate against ``baseline``'s scores
    and prose NLL, plus its per-request ``scores``."""
    scores = labeler_scores(model, reqs)
    out = {"labeler": sum(scores) / len(scores), "families": family_means(scores, reqs),
           "prose_nll": prose_nll(model), "scores": scores}
    if baseline is not None:
        out["win_rate"] = win_rate(scores, baseline)
    return out


def pipeline(base: GPT, seed: int = 0) -> dict:
    """Every step from ``base``, measured: the numbers the chapter shows (and the record keeps
    for a second seed). Models are returned under ``models``."""
    reqs = assistant.requests(EVAL_REQUESTS, seed=99)
    tuned = sft(base, demonstrations(seed=1000 + seed), seed=seed)
    out = {"base": summary(base, reqs)}
    out["sft"] = summary(tuned, reqs, out["base"]["scores"])
    sft_scores = out["sft"]["scores"]
    train_c, test_c = comparison_data(tuned, base, seed)
    rms = {pool: reward_model(tuned, train_c, pool, seed) for pool in ("last", "mean")}
    with torch.no_grad():
        out["rm_accuracy"] = {pool: pairwise_accuracy(*pair_scores(m, test_c, eos_id()))
                              for pool, m in rms.items()}
    best = best_of_n(tuned, rms["last"], reqs, 8)
    best_scores = [assistant.score(r, b) for r, b in zip(reqs, best, strict=True)]
    out["best_of_8"] = {"labeler": sum(best_scores) / len(best_scores),
                        "win_rate": win_rate(best_scores, sft_scores)}
    models = {"sft": tuned, "rm": rms["last"]}
    for name, config in (("ppo", replace(PPO, seed=seed)),
                         ("ppo_ptx", replace(PPO, ptx=1.0, seed=seed)),
                         ("no_kl", replace(HACKING, seed=seed))):
        policy, history = rlhf(tuned, rms["last"], config)
        out[name] = {**summary(policy, reqs, sft_scores), "kl": history[-1]["kl"],
                     "rm_start": history[0]["score"], "rm_end": history[-1]["score"]}
        models[name] = policy
    for part in out.values():
        part.pop("scores", None)
    return {**out, "models": models}


def make(seeds: tuple[int, ...] = (0, 1)) -> tuple[dict[str, torch.Tensor], dict]:
    """The record: the base model of the first seed (half precision) and, for every seed, the
    pipeline's numbers from the base model as shipped."""
    use_threads(1)  # the chapter's runs are this small: one thread is faster, and it matches
    state, result = {}, {"seeds": {}}
    for seed in seeds:
        base, history = pretrain(seed)
        half = base.half_state()
        base = GPT.from_half_state(base.config, half)  # measure exactly what is shipped
        if seed == seeds[0]:
            state = {f"base.{k}": v for k, v in half.items()}
        numbers = pipeline(base, seed)
        numbers.pop("models")
        result["seeds"][str(seed)] = {"val_loss": history.final_val_loss, **numbers}
        print(seed, result["seeds"][str(seed)], flush=True)
    return state, result


def load() -> tuple[GPT, dict]:
    """The shipped base model (float32, eval mode) and the record's numbers, with
    ``describe``, the line saying where they came from."""
    from labgpt import records

    record = records.load("rlhf_runs")
    base = record.gpts({"base": config()})["base"]
    return base, {**record.result, "describe": record.describe()}
