"""Every checker passes a correct answer and, for each typical mistake, fails with a message that
names the mistake (not just "wrong")."""

import math
from collections import Counter

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from labgpt import (
    bpe,
    checks,
    decoding,
    fine_tuning,
    induction,
    recurrent,
    regression,
    scaling,
    web_family,
    word2vec,
)
from labgpt.attention import scaled_dot_product_attention
from labgpt.checks import CheckFailed
from labgpt.gpt import GPT, GPTConfig
from labgpt.logprobs import lm_loss
from labgpt.training import TrainConfig, lr_at
from labgpt.transformer import sinusoidal_positions
from labgpt.worlds import web

# --- correct answers -------------------------------------------------------------------------


def beam_step(scores, logprobs, num_beams):
    top, index = (scores[:, None] + logprobs).flatten().topk(num_beams)
    return top, index // logprobs.shape[1], index % logprobs.shape[1]


def beam_step_per_row(scores, logprobs, num_beams):
    """A mistake: the best token of each beam, not the best candidates over all beams."""
    candidates = scores[:, None] + logprobs
    best, tokens = candidates.max(dim=1)
    order = best.argsort(descending=True)
    rows = torch.arange(len(scores)).repeat(num_beams)[order.repeat(num_beams)][:num_beams]
    return best.repeat(num_beams)[:num_beams], rows, tokens.repeat(num_beams)[:num_beams]


def top_p_stopping_below_p(logits, p):
    """A mistake: keep tokens while the running sum stays <= p."""
    sorted_logits, order = logits.sort(dim=-1, descending=True)
    drop = sorted_logits.softmax(-1).cumsum(-1) > p
    return logits.masked_fill(drop.scatter(-1, order, drop), float("-inf"))


def top_p_in_sorted_order(logits, p):
    """A mistake: the mask computed in sorted order applied to the unsorted logits."""
    sorted_logits, _ = logits.sort(dim=-1, descending=True)
    probs = sorted_logits.softmax(-1)
    drop = probs.cumsum(-1) - probs >= p
    return logits.masked_fill(drop, float("-inf"))


def cross_entropy(logits, targets):
    log_probs = logits - torch.logsumexp(logits, dim=-1, keepdim=True)
    return -log_probs[torch.arange(len(targets)), targets].mean()


def pair_frequencies(chunks):
    return Counter(p for chunk in chunks for p in zip(chunk, chunk[1:]))  # noqa: B905


def decode(ids, vocab):
    return b"".join(vocab[i] for i in ids).decode("utf-8", errors="replace")


def continuation_counts(ids, vocab_size):
    ids = np.asarray(ids)
    return np.bincount(np.unique(ids[:-1] * vocab_size + ids[1:]) % vocab_size,
                       minlength=vocab_size)


def clip_gradients(parameters, max_norm):
    return torch.nn.utils.clip_grad_norm_(parameters, max_norm)


def attend(q, k, v, mask=None):
    return scaled_dot_product_attention(q, k, v, mask)[0]


def split_heads(x, n_head):
    b, t, d = x.shape
    return x.view(b, t, n_head, d // n_head).transpose(1, 2)


def gpt_params(vocab_size, block_size, n_layer, n_embd):
    return (vocab_size + block_size) * n_embd + n_layer * (12 * n_embd**2 + 13 * n_embd) \
        + 2 * n_embd


def top_k_filter(logits, k):
    kth = torch.topk(logits, k).values[:, -1:]
    return logits.masked_fill(logits < kth, float("-inf"))


def lr_schedule(step, lr, min_lr, warmup_steps, steps):
    return lr_at(step, TrainConfig(steps=steps, lr=lr, min_lr=min_lr, warmup_steps=warmup_steps))


def ppmi_raw(cooc):
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log(cooc * cooc.sum() / (cooc.sum(1, keepdims=True) * cooc.sum(0, keepdims=True)))


# --- typical mistakes ------------------------------------------------------------------------


def merge_without_skipping(ids, pair, new_id):
    out = []
    for i, a in enumerate(ids):
        if i + 1 < len(ids) and (a, ids[i + 1]) == pair:
            out.append(new_id)
        elif not (i > 0 and (ids[i - 1], a) == pair):
            out.append(a)
    return out


def merge_in_place(ids, pair, new_id):
    ids[:] = bpe.merge(ids, pair, new_id)
    return ids


def lstm_wrong_gate_order(x, state, w_ih, w_hh, b_ih, b_hh):
    h, c = state
    f, i, g, o = (x @ w_ih.T + b_ih + h @ w_hh.T + b_hh).chunk(4, dim=-1)
    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(c), c


def gru_reset_outside_bias(x, h, w_ih, w_hh, b_ih, b_hh):
    xr, xz, xn = (x @ w_ih.T + b_ih).chunk(3, dim=-1)
    hr, hz, hn = (h @ w_hh.T).chunk(3, dim=-1)
    br, bz, bn = b_hh.chunk(3)
    r, z = torch.sigmoid(xr + hr + br), torch.sigmoid(xz + hz + bz)
    n = torch.tanh(xn + r * hn + bn)
    return (1 - z) * n + z * h


def clip_returning_norm_after(parameters, max_norm):
    torch.nn.utils.clip_grad_norm_(parameters, max_norm)
    return torch.norm(torch.stack([p.grad.norm() for p in parameters]))


def perplexity_by_product(p):
    with np.errstate(divide="ignore"):
        return float(np.prod(p) ** (-1 / len(p)))


def lr_warmup_from_zero(step, lr, min_lr, warmup_steps, steps):
    if step < warmup_steps:
        return lr * step / warmup_steps
    return lr_schedule(step, lr, min_lr, warmup_steps, steps)


CASES = [
    # (checker, correct answer, [(wrong answer, words the message must contain), ...])
    (checks.check_cross_entropy, cross_entropy, [
        (lambda lg, t: -cross_entropy(lg, t), "wrong sign"),
        (lambda lg, t: cross_entropy(lg, t).repeat(len(t)), r"scalar \(shape \(\)\), got shape"),
        (lambda lg, t: cross_entropy(lg, t) * 2, "differs from the expected values"),
        (lambda lg, t: -torch.log(torch.exp(lg) / torch.exp(lg).sum(-1, keepdim=True))[
            torch.arange(len(t)), t].mean(), "overflows on logits near 1000"),
    ]),
    (checks.check_merge, bpe.merge, [
        (merge_without_skipping, r"skip both ids of a merged pair"),
        (merge_in_place, "modified its input list"),
    ]),
    (checks.check_pair_counts, pair_frequencies, [
        (lambda chunks: pair_frequencies([sum(chunks, [])]), "spans two chunks"),
        (lambda chunks: Counter(p for c in chunks for p in zip(c, c[2:])), "wrong or missing"),  # noqa: B905
    ]),
    (checks.check_decode, decode, [
        (lambda ids, vocab: "".join(vocab[i].decode("utf-8", errors="replace") for i in ids),
         "decoded each token on its own"),
        (lambda ids, vocab: b"".join(vocab[i] for i in ids).decode("utf-8"),
         "errors='replace'"),
    ]),
    (checks.check_add_k, lambda c, h, k, v: (c + k) / (h + k * v), [
        (lambda c, h, k, v: (c + k) / (h + k), "k \\* vocab_size"),
    ]),
    (checks.check_continuation_counts, continuation_counts, [
        (lambda ids, v: np.bincount(np.asarray(ids)[1:], minlength=v),
         "distinct left neighbours, not occurrences"),
    ]),
    (checks.check_perplexity, lambda p: float(np.exp(-np.log(p).mean())), [
        (lambda p: 1 / p.mean(), "arithmetic"),
        (lambda p: float(-np.log(p).mean()), "exponentiate"),
        (perplexity_by_product, "underflows"),
        (lambda p: float(np.exp(-np.log(p).sum())), "do not sum"),
    ]),
    (checks.check_negative_sampling_loss, word2vec.negative_sampling_loss, [
        (lambda c, p, n: word2vec.negative_sampling_loss(c, p, n) * len(c), "sum over the batch"),
        (lambda c, p, n: -(torch.log(torch.sigmoid((c * p).sum(-1))) + torch.log(torch.sigmoid(
            -torch.einsum("bkd,bd->bk", n, c))).sum(-1)).mean(), "F.logsigmoid"),
        (lambda c, p, n: word2vec.negative_sampling_loss(c, p, n)[None], "scalar"),
    ]),
    (checks.check_cosine_similarities, word2vec.cosine_similarities, [
        (lambda vectors, query: vectors @ query, "dot product"),
        (lambda vectors, query: vectors @ query / np.linalg.norm(query), "normalise both"),
    ]),
    (checks.check_ppmi, word2vec.ppmi, [
        (ppmi_raw, "never seen"),
        (lambda cooc: np.where(np.isfinite(ppmi_raw(cooc)), ppmi_raw(cooc), 0.0),
         "negative entries"),
    ]),
    (checks.check_lstm_cell, recurrent.lstm_cell, [
        (lstm_wrong_gate_order, "input, forget, candidate, output"),
        (lambda *args: recurrent.lstm_cell(*args)[0], r"pair \(h, c\)"),
    ]),
    (checks.check_gru_cell, recurrent.gru_cell, [
        (gru_reset_outside_bias, "the reset gate multiplies"),
    ]),
    (checks.check_clip_grad_norm, clip_gradients, [
        (clip_returning_norm_after, "global norm before clipping"),
    ]),
    (checks.check_attention, attend, [
        (lambda q, k, v, mask=None: scaled_dot_product_attention(q, k, v, mask, scale=False)[0],
         "1/sqrt\\(d\\) scaling"),
        (lambda q, k, v, mask=None: attend(q, k, v), "with a causal mask"),  # mask ignored
    ]),
    (checks.check_causal_mask, lambda t: torch.ones(t, t, dtype=torch.bool).tril(), [
        (lambda t: torch.ones(t, t, dtype=torch.bool).triu(), "transposed"),
        (lambda t: ~torch.ones(t, t, dtype=torch.bool).tril(), "inverted"),
        (lambda t: torch.ones(t, t).tril(), "boolean"),
    ]),
    (checks.check_split_heads, split_heads, [
        (lambda x, h: x.view(x.shape[0], h, x.shape[1], -1), "plain view mixes positions"),
        (lambda x, h: x.view(x.shape[0], x.shape[1], h, -1), r"expected shape \(2, 4, 3, 2\)"),
    ]),
    (checks.check_sinusoidal, sinusoidal_positions, [
        (lambda t, d: sinusoidal_positions(t, d).view(t, d // 2, 2).flip(-1).reshape(t, d),
         "sin and cos are swapped"),
        (lambda t, d: sinusoidal_positions(t, d)[:, : d // 2], "expected shape"),
    ]),
    (checks.check_gpt_params, gpt_params, [
        (lambda v, b, n, d: gpt_params(v, b, n, d) + v * d, "tied to the token embedding"),
        (lambda v, b, n, d: gpt_params(v, b, n, d) - b * d, "position embedding is missing"),
    ]),
    (checks.check_top_k, top_k_filter, [
        (lambda logits, k: -top_k_filter(-logits, k), "the k largest"),
        (lambda logits, k: logits.masked_fill_(logits < torch.topk(logits, k).values[:, -1:],
                                               float("-inf")), "in place"),
        (lambda logits, k: top_k_filter(logits, max(k - 1, 1)), "keep exactly k"),
    ]),
    (checks.check_top_p, decoding.top_p_filter, [
        (top_p_stopping_below_p, "carries the sum past p"),
        (top_p_in_sorted_order, "vocabulary order"),
        (lambda logits, p: logits.masked_fill_(~decoding.top_p_filter(logits, p).isfinite(),
                                               float("-inf")), "in place"),
    ]),
    (checks.check_repetition_penalty, decoding.apply_repetition_penalty, [
        (lambda logits, seen, penalty: torch.where(seen, logits / penalty, logits),
         "multiply negative logits"),
        (lambda logits, seen, penalty: decoding.apply_repetition_penalty(
            logits, torch.ones_like(seen), penalty), "not seen yet must keep"),
    ]),
    (checks.check_beam_step, beam_step, [
        (lambda scores, logprobs, k: beam_step(torch.zeros_like(scores), logprobs, k),
         "add each beam's running score"),
        (beam_step_per_row, "candidates from all beams compete together"),
    ]),
    (checks.check_lr_schedule, lr_schedule, [
        (lr_warmup_from_zero, r"\(step \+ 1\) / warmup_steps"),
        (lambda step, lr, min_lr, w, steps: lr if step >= w else lr_schedule(
            step, lr, min_lr, w, steps), "decays along a cosine"),
    ]),
]

def l3_loss(class_logits, labels, lm_logits, lm_targets, aux_weight):
    return F.cross_entropy(class_logits, labels) + aux_weight * lm_loss(lm_logits, lm_targets)


CASES += [
    (checks.check_l3_loss, l3_loss, [
        (lambda c, y, lm, t, w: lm_loss(lm, t) + w * F.cross_entropy(c, y), "multiplies L1"),
        (lambda c, y, lm, t, w: F.cross_entropy(c, y) + w * lm_loss(lm, t, reduction="sum"),
         "not their sum"),
        (lambda c, y, lm, t, w: l3_loss(c, y, lm, t.clamp(min=0), w), "-100 are padding"),
    ]),
    (checks.check_similarity_input, fine_tuning.similarity, [
        (lambda a, b, sp: fine_tuning.entailment(a, b, sp), "two sequences"),
        (lambda a, b, sp: fine_tuning.similarity(a, b, sp)[::-1], r"order \(a, b\) first"),
        (lambda a, b, sp: [[sp.start, *a, *b, sp.extract], [sp.start, *b, *a, sp.extract]],
         "one delimiter"),
        (lambda a, b, sp: [s[:-1] for s in fine_tuning.similarity(a, b, sp)], "extract"),
    ]),
    (checks.check_choice_loss, lambda scores, right: F.cross_entropy(scores, right), [
        (lambda s, r: F.binary_cross_entropy_with_logits(s, F.one_hot(r, s.shape[1]).float()),
         "not a sigmoid"),
        (lambda s, r: -s.log_softmax(0)[torch.arange(len(r)), r].mean(), "dim=-1"),
    ]),
]


def render(task, x, body):
    return f"{body} {task.held_out.split('{y}')[0].replace('{x}', x)}".split()


def choice_scores(model, prompt, candidates):
    return web_family.choice_scores(model, prompt, candidates)


def mean_choice_scores(model, prompt, candidates):
    """A mistake: the mean log-prob per answer token."""
    return choice_scores(model, prompt, candidates) / torch.tensor([len(c) for c in candidates])


def shifted_choice_scores(model, prompt, candidates):
    """A mistake: log-probs read one position late, so the first answer token is skipped."""
    out = []
    for c in candidates:
        seq = torch.tensor([prompt + c])
        logp = model(seq)[0][0, :-1].log_softmax(-1).gather(1, seq[0, 1:, None])[:, 0]
        out.append(logp[len(prompt):].sum())
    return torch.stack(out)


def from_french(**changes):
    """A new task for the web: French to English, the reverse of the web's translations."""
    def document(rng):
        noun = rng.choice(web.NOUNS)
        return web.Document(f"i like the {noun} .",
                            f"{web.FRENCH[noun]} is the french word for {noun} .")

    def item(rng):
        noun = rng.choice(web.NOUNS)
        return "", web.FRENCH[noun], noun, sorted(web.NOUNS)

    fields = dict(name="from_french", phrasings=("{x} is the french word for {y} .",),
                  held_out="{x} is french for {y}", document=document, item=item,
                  scoring="choice", chance=1 / 40, description="French to English")
    return web.Task(**(fields | changes))


CASES += [
    (checks.check_render, render, [
        (lambda task, x, body: " ".join(render(task, x, body)), "list of words"),
        (lambda task, x, body: render(task, x, body) + ["{y}"], "template slot"),
        (lambda task, x, body: render(task, x, body) + ["chat"], "cut the phrasing before"),
        (lambda task, x, body: render(task, x, ""), "the document comes first"),
    ]),
    (checks.check_choice_scores, choice_scores, [
        (mean_choice_scores, "do not average"),
        (shifted_choice_scores, "off by one"),
        (lambda m, p, c: choice_scores(m, p, c).exp(), "log-probabilities are <= 0"),
    ]),
    (checks.check_new_task, from_french(), [
        (from_french(held_out="{x} is the french word for {y}"), "must not be one the web"),
        (from_french(phrasings=("{x} is the french word for .",)), "answer slot"),
        (from_french(held_out="{x} means {y}"), "outside the world's vocabulary"),
        (from_french(item=lambda rng: ("", "chat", "cat", ["dog", "wolf"])), "not among the"),
    ]),
]

def k_shot_prompt(template, demos, x):
    words = []
    for dx, dy in demos:
        words += template.replace("{x}", dx).replace("{y}", dy).split() + ["."]
    return words + template.split("{y}")[0].replace("{x}", x).split()


def power_law_fit(x, y):
    law = scaling.fit_power_law(x, y)
    return law.x_c, law.alpha


def training_compute(config, tokens):
    with torch.device("meta"):
        n = GPT(config).n_params
    return 6 * n * tokens, 2 * n


CASES += [
    (checks.check_k_shot_prompt, k_shot_prompt, [
        (lambda t, d, x: k_shot_prompt(t, [], x) + k_shot_prompt(t, d, x)[:-4], "come first"),
        (lambda t, d, x: k_shot_prompt(t, [(a, "") for a, _ in d], x), "shows the answer"),
        (lambda t, d, x: k_shot_prompt(t, d, x) + ["soleil"], "cut the query"),
        (lambda t, d, x: [w for w in k_shot_prompt(t, d, x) if w != "."], "full stop"),
    ]),
    (checks.check_power_law_fit, power_law_fit, [
        (lambda x, y: (power_law_fit(x, y)[0], -power_law_fit(x, y)[1]), "minus the slope"),
        (lambda x, y: (power_law_fit(x, y)[0], 0.5), "not to y against x"),
        (lambda x, y: (power_law_fit(x, y)[0] * 2, power_law_fit(x, y)[1]), "exp"),
    ]),
    (checks.check_training_compute, training_compute, [
        (lambda c, d: (training_compute(c, d)[0] / 3, training_compute(c, d)[1]), "forward"),
        (lambda c, d: (training_compute(c, d)[0] + 6 * c.vocab_size * c.n_embd * d,
                       training_compute(c, d)[1]), "count them once"),
        (lambda c, d: (training_compute(c, d)[0], training_compute(c, d)[1] * 2), "2 bytes"),
    ]),
]

def same_token_scores(weights, length):
    i = torch.arange(length, 2 * length)
    return weights[:, :, :, i, i - length].mean(dim=(1, 3))


def all_query_scores(weights, length):
    i = torch.arange(length - 1, 2 * length)
    return weights[:, :, :, i, i - length + 1].mean(dim=(1, 3))


def least_squares_with_itself(xs, ys):
    out = torch.zeros_like(ys)
    for i in range(1, xs.shape[1]):
        w = torch.linalg.pinv(xs[:, :i + 1]) @ ys[:, :i + 1, None]
        out[:, i] = (xs[:, i:i + 1] @ w)[:, 0, 0]
    return out


def least_squares_without_min_norm(xs, ys):
    out = regression.least_squares(xs, ys)
    out[:, 1:xs.shape[2]] = 0  # "too few examples to solve": gives up instead
    return out


CASES += [
    (checks.check_induction_scores, induction.induction_scores, [
        (same_token_scores, "same token"),
        (all_query_scores, "second half only"),
        (lambda w, n: induction.induction_scores(w, n).T, "expected shape"),
    ]),
    (checks.check_least_squares, regression.least_squares, [
        (least_squares_with_itself, "includes the pair"),
        (lambda xs, ys: torch.cat([torch.zeros_like(ys[:, :1]), ys[:, 1:]], 1),
         "equal the targets"),
        (least_squares_without_min_norm, "least norm"),
        (lambda xs, ys: regression.least_squares(xs, ys) + 1, "predict 0 at i = 0"),
    ]),
]

def flipped_prompt(demos, query, flip):
    names = sorted({label for _, label in demos})
    words = []
    for i, (thing, label) in enumerate(demos):
        if i in flip:
            label = names[1 - names.index(label)]
        words += [thing, ":", label, "."]
    return words + [query, ":"]


CASES += [
    (checks.check_flipped_prompt, flipped_prompt, [
        (lambda d, q, f: flipped_prompt(d, q, set()), "every label is the true one"),
        (lambda d, q, f: flipped_prompt(d, q, f)[:-1], "end with ':'"),
        (lambda d, q, f: flipped_prompt(d, q, f)[:-2] + [":", q], "end with the query"),
        (lambda d, q, f: flipped_prompt([(t, "foo" if i in f else lab)
                                         for i, (t, lab) in enumerate(d)], q, set()), "other"),
    ]),
]


def answer_only_targets(ids):
    return ids[:-1], [-100] * (len(ids) - 2) + ids[-1:]


CASES += [
    (checks.check_answer_only_targets, answer_only_targets, [
        (lambda ids: (ids[:-1], ids[1:]), "every target is kept"),
        (lambda ids: (ids, [-100] * (len(ids) - 1) + ids[-1:]), "one shorter"),
        (lambda ids: (ids[:-1], [-100] * (len(ids) - 1)), "the answer"),
        (lambda ids: (ids[:-1], [0] * (len(ids) - 2) + ids[-1:]), "IGNORE_INDEX"),
    ]),
]


def pairwise_loss(chosen, rejected):
    return torch.nn.functional.softplus(rejected - chosen).mean()


def gae_one(rewards, values, gamma, lam):
    advantages, next_value, next_adv = torch.zeros_like(rewards), 0.0, 0.0
    for t in reversed(range(len(rewards))):
        next_adv = rewards[t] + gamma * next_value - values[t] + gamma * lam * next_adv
        advantages[t], next_value = next_adv, values[t]
    return advantages


def clipped_objective(ratio, adv, clip):
    return torch.minimum(ratio * adv, ratio.clamp(1 - clip, 1 + clip) * adv).mean()


CASES += [
    (checks.check_pairwise_loss, pairwise_loss, [
        (lambda c, r: pairwise_loss(r, c), "preferred"),
        (lambda c, r: torch.nn.functional.softplus(r - c).sum(), "mean"),
        (lambda c, r: -torch.log(torch.sigmoid(c - r)).mean(), "inf"),
        (lambda c, r: torch.nn.functional.softplus(r - c), "scalar"),
    ]),
    (checks.check_gae, gae_one, [
        (lambda r, v, g, lam: gae_one(r, v, g, lam) + v, "return"),
        (lambda r, v, g, lam: gae_one(r, v, g, 0.0), "TD error"),
        (lambda r, v, g, lam: _forward_gae(r, v, g, lam), "backwards"),
    ]),
    (checks.check_clipped_objective, clipped_objective, [
        (lambda r, a, c: -clipped_objective(r, a, c), "sign"),
        (lambda r, a, c: (r.clamp(1 - c, 1 + c) * a).mean(), "minimum of the clipped"),
        (lambda r, a, c: torch.maximum(r * a, r.clamp(1 - c, 1 + c) * a).mean(), "not the max"),
    ]),
]


def _forward_gae(rewards, values, gamma, lam):
    td = rewards + gamma * torch.cat([values[1:], torch.zeros(1)]) - values
    out = torch.zeros_like(td)
    for t in range(len(td)):
        out[t] = td[t] + (gamma * lam * out[t - 1] if t else 0.0)
    return out


def dpo_loss(pc, pr, rc, rr, beta):
    return -torch.nn.functional.logsigmoid(beta * ((pc - rc) - (pr - rr))).mean()


def group_advantages(rewards):
    return (rewards - rewards.mean(1, keepdim=True)) / (rewards.std(1, keepdim=True) + 1e-6)


def greeting(req, response):
    return response[:3] == ["hello", req.words[1], "<eot>"]


CASES += [
    (checks.check_dpo_loss, dpo_loss, [
        (lambda pc, pr, rc, rr, b: dpo_loss(pr, pc, rr, rc, b), "preferred"),
        (lambda pc, pr, rc, rr, b: dpo_loss(pc, pr, 0 * rc, 0 * rr, b), "reference"),
        (lambda pc, pr, rc, rr, b: dpo_loss(pc, pr, rc, rr, 1.0), "beta"),
        (lambda pc, pr, rc, rr, b: dpo_loss(pc, pr, rc, rr, b).sum() * 0 + 1.0, "ln 2"),
        (lambda pc, pr, rc, rr, b: -torch.log(torch.sigmoid(
            b * ((pc - rc) - (pr - rr)))).mean(), "finite"),
    ]),
    (checks.check_group_advantages, group_advantages, [
        (lambda r: (r - r.mean()) / (r.std() + 1e-6), "each group"),
        (lambda r: r - r.mean(1, keepdim=True), "standard deviation"),
        (lambda r: (r - r.mean(1, keepdim=True)) / r.std(1, keepdim=True), "eps"),
    ]),
    (checks.check_greeting_verifier, greeting, [
        (lambda q, r: r[:2] == ["hello", q.words[1]], "end"),
        (lambda q, r: r[0] == "hello" and r[-1] == "<eot>", "name is missing"),
        (lambda q, r: len(r) == 3 and r[0] == "hello" and r[-1] == "<eot>", "dishonest"),
        (lambda q, r: r[:2] == ["hello", q.words[1]] and r[-1] == "<eot>", "only"),
        (lambda q, r: q.words[1] in r, "expected"),
    ]),
]


CORRECT = [pytest.param(check, answer, id=check.__name__) for check, answer, _ in CASES]
WRONG = [pytest.param(check, wrong, message, id=f"{check.__name__}-{i}")
         for check, _, mistakes in CASES for i, (wrong, message) in enumerate(mistakes)]


@pytest.mark.parametrize(("check", "answer"), CORRECT)
def test_a_correct_answer_passes(check, answer, capsys):
    check(answer)
    assert capsys.readouterr().out.strip(), "a passing check prints one line"


@pytest.mark.parametrize(("check", "wrong", "message"), WRONG)
def test_a_typical_mistake_is_named(check, wrong, message):
    with pytest.raises(CheckFailed, match=message):
        check(wrong)


def test_every_checker_is_tested():
    names = {n for n in checks.__all__ if n.startswith("check_")} - {
        "check_shape", "check_close", "check_scalar"}
    assert names == {check.__name__ for check, _, _ in CASES}


def test_core_checks_name_both_shapes_and_the_gap():
    with pytest.raises(CheckFailed, match=r"expected shape \(2, 8\), got \(8, 2\)"):
        checks.check_shape(torch.zeros(8, 2), (2, 8), "x")
    with pytest.raises(CheckFailed, match=r"largest gap 0.5 at index \(1,\)"):
        checks.check_close(torch.tensor([1.0, 2.5]), torch.tensor([1.0, 2.0]))
    with pytest.raises(CheckFailed, match="should return a tensor"):
        checks.check_scalar(1.0, "loss")


def test_gpt_param_formula_matches_a_real_model():
    with torch.device("meta"):
        model = GPT(GPTConfig(vocab_size=65, block_size=64, n_layer=2, n_head=4, n_embd=128))
    assert gpt_params(65, 64, 2, 128) == model.n_params
    assert math.isfinite(model.n_params)


@pytest.mark.parametrize(("check", "answer"), [p.values[:2] for p in CORRECT],
                         ids=[p.id for p in CORRECT])
def test_a_correct_answer_passes_on_inputs_drawn_afresh(check, answer):
    """The grader calls each checker with a seed of its own: every seed is a fair check."""
    for seed in (1, 2, 987654321):
        check(answer, seed=seed)


@pytest.mark.parametrize(("check", "answer"), [p.values[:2] for p in CORRECT],
                         ids=[p.id for p in CORRECT])
def test_every_check_replays_outside_the_kernel(check, answer, tmp_path):
    """Recorded calls answer the checker's second run exactly (labgpt.tools.verdict): the
    inputs are drawn the same way twice, and every value the answers return crosses as data."""
    from labgpt.tools import verdict

    assert isinstance(check.reimplements, tuple)
    verdict.record(check.__name__, answer, 77, [], str(tmp_path / "log"))
    assert verdict.replay(check, tmp_path / "log", 77) == ""


@pytest.mark.parametrize(("check", "answer"), [p.values[:2] for p in CORRECT
                                               if p.values[0].reimplements],
                         ids=[p.id for p in CORRECT if p.values[0].reimplements])
def test_the_package_answer_is_refused_while_the_learner_code_runs(check, answer, tmp_path):
    """Where the test's correct answer *is* the package's function, the grader's recording
    disables it: calling the package earns nothing."""
    from labgpt.tools import verdict

    package = [verdict._resolve(name)[2] for name in check.reimplements]
    if not any(answer is f or getattr(answer, "__func__", None) is f for f in package):
        pytest.skip("the test's answer is written out, not the package's function")
    verdict.record(check.__name__, answer, 5, list(check.reimplements), str(tmp_path / "log"))
    assert "disables it" in verdict.replay(check, tmp_path / "log", 5)
