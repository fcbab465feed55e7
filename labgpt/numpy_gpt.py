"""GPT-2's forward pass in NumPy: every function is the formula (after picoGPT).

``weights_from(model)`` takes a pre-LN :class:`labgpt.GPT`'s weights as plain arrays;
``gpt_forward(ids, weights, n_head)`` returns the logits (t, vocab) for one sequence.
"""

from __future__ import annotations

import numpy as np


def gelu(x):
    return 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x**3)))


def softmax(x):
    exp = np.exp(x - x.max(axis=-1, keepdims=True))  # shifted: no overflow
    return exp / exp.sum(axis=-1, keepdims=True)


def layer_norm(x, g, b, eps: float = 1e-5):
    mean = x.mean(axis=-1, keepdims=True)
    variance = x.var(axis=-1, keepdims=True)
    return g * (x - mean) / np.sqrt(variance + eps) + b


def linear(x, w, b):  # w (out, in), as torch.nn.Linear stores it
    return x @ w.T + b


def attention(q, k, v, mask):  # (t, dh) each; mask (t, t) with -inf above the diagonal
    return softmax(q @ k.T / np.sqrt(q.shape[-1]) + mask) @ v


def multi_head_attention(x, in_proj, out_proj, n_head):  # x (t, d)
    q, k, v = np.split(linear(x, **in_proj), 3, axis=-1)  # (t, d) each
    heads = zip(*(np.split(a, n_head, axis=-1) for a in (q, k, v)), strict=True)  # (t, dh) x3
    mask = np.triu(np.full((len(x), len(x)), -np.inf), k=1)  # causal
    out = np.hstack([attention(qh, kh, vh, mask) for qh, kh, vh in heads])  # (t, d)
    return linear(out, **out_proj)


def block(x, ln_1, attn, ln_2, mlp, n_head):  # pre-LN
    x = x + multi_head_attention(layer_norm(x, **ln_1), **attn, n_head=n_head)
    return x + linear(gelu(linear(layer_norm(x, **ln_2), **mlp["fc"])), **mlp["proj"])


def gpt_forward(ids, weights, n_head: int):
    x = weights["wte"][ids] + weights["wpe"][np.arange(len(ids))]  # (t, d)
    for layer in weights["blocks"]:
        x = block(x, **layer, n_head=n_head)
    return layer_norm(x, **weights["ln_f"]) @ weights["wte"].T  # (t, vocab), tied head


def weights_from(model) -> dict:
    """A pre-LN labgpt GPT's parameters as nested dicts of NumPy arrays."""
    if not model.config.pre_ln:
        raise ValueError("the NumPy GPT implements the pre-LN (GPT-2) arrangement")
    s = {k: v.detach().cpu().numpy().astype(np.float64) for k, v in model.state_dict().items()}

    def wb(prefix):
        return {"w": s[f"{prefix}.weight"], "b": s[f"{prefix}.bias"]}

    def gb(prefix):
        return {"g": s[f"{prefix}.weight"], "b": s[f"{prefix}.bias"]}

    blocks = [
        {"ln_1": gb(f"h.{i}.ln_1"), "ln_2": gb(f"h.{i}.ln_2"),
         "attn": {"in_proj": wb(f"h.{i}.attn.in_proj"), "out_proj": wb(f"h.{i}.attn.out_proj")},
         "mlp": {"fc": wb(f"h.{i}.mlp.fc"), "proj": wb(f"h.{i}.mlp.proj")}}
        for i in range(model.config.n_layer)
    ]
    return {"wte": s["wte.weight"], "wpe": s["wpe.weight"], "blocks": blocks,
            "ln_f": gb("ln_f")}
