"""The GPT: a decoder-only Transformer language model (Radford et al., 2018, 2019).

Token and learned position embeddings, ``n_layer`` causal Transformer blocks
(:class:`labgpt.transformer.Block`), then a linear head back to the vocabulary, tied to the
token embedding unless ``tie_embeddings=False``. ``pre_ln=False`` gives GPT-1's post-LN blocks
and no final LayerNorm; ``pre_ln=True`` GPT-2's pre-LN blocks with a final LayerNorm.

``forward(idx, cache=...)`` reads new tokens after those held in a key/value cache
(:mod:`labgpt.kv_cache`), and :meth:`GPT.step` is the decoding step :mod:`labgpt.decoding`
calls: one model for training, scoring and cached generation.

Weights load from, and save to, Hugging Face's GPT-2 format (``config.json`` and
``model.safetensors``) through one explicit name map, :data:`HF_NAMES`.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from labgpt.attention import causal_mask
from labgpt.kv_cache import KVCache
from labgpt.logprobs import lm_loss
from labgpt.measure import count_params
from labgpt.tokenization import check_token_ids
from labgpt.transformer import Block


@dataclass(frozen=True)
class GPTConfig:
    vocab_size: int = 65
    block_size: int = 64  # the longest context the model can read
    n_layer: int = 2
    n_head: int = 4
    n_embd: int = 128
    dropout: float = 0.0
    bias: bool = True
    pre_ln: bool = True  # GPT-2 (True) or GPT-1 (False) block arrangement
    scaled_residual_init: bool = True  # GPT-2: residual projections get std 0.02 / sqrt(2 n_layer)
    mlp: bool = True  # False: attention-only blocks (for studying induction heads)
    tie_embeddings: bool = True  # False: the output head is a matrix of its own

    def __post_init__(self):
        if self.n_embd % self.n_head:
            raise ValueError(f"n_embd={self.n_embd} is not divisible by n_head={self.n_head}")
        for name in ("vocab_size", "block_size", "n_layer", "n_head", "n_embd"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")

    @classmethod
    def preset(cls, name: str, **overrides) -> GPTConfig:
        if name not in PRESETS:
            raise KeyError(f"unknown preset {name!r}; available: {', '.join(PRESETS)}")
        return replace(PRESETS[name], **overrides)


PRESETS: dict[str, GPTConfig] = {
    # Fits a 3-minute CPU budget on Tiny Shakespeare characters.
    "tiny": GPTConfig(),
    # GPT-1: 12 x 768, 512 positions, 40,478-token BPE, post-LN (Radford et al., 2018).
    "gpt1": GPTConfig(vocab_size=40478, block_size=512, n_layer=12, n_head=12, n_embd=768,
                      pre_ln=False, scaled_residual_init=False),
    # GPT-2 small/medium/large/xl (Radford et al., 2019).
    "gpt2": GPTConfig(vocab_size=50257, block_size=1024, n_layer=12, n_head=12, n_embd=768),
    "gpt2-medium": GPTConfig(vocab_size=50257, block_size=1024, n_layer=24, n_head=16,
                             n_embd=1024),
    "gpt2-large": GPTConfig(vocab_size=50257, block_size=1024, n_layer=36, n_head=20,
                            n_embd=1280),
    "gpt2-xl": GPTConfig(vocab_size=50257, block_size=1024, n_layer=48, n_head=25, n_embd=1600),
    # GPT-3 175B (Brown et al., 2020, Table 2.1): GPT-2's block, context 2048 (the paper also
    # alternates dense and locally banded sparse attention, which this preset does not model).
    "gpt3": GPTConfig(vocab_size=50257, block_size=2048, n_layer=96, n_head=96, n_embd=12288),
}


class GPT(nn.Module):
    def __init__(self, config: GPTConfig):
        super().__init__()
        self.config = config
        self.wte = nn.Embedding(config.vocab_size, config.n_embd)  # token embeddings
        self.wpe = nn.Embedding(config.block_size, config.n_embd)  # position embeddings
        self.drop = nn.Dropout(config.dropout)
        self.h = nn.ModuleList(
            Block(config.n_embd, config.n_head, pre_ln=config.pre_ln, dropout=config.dropout,
                  bias=config.bias, mlp=config.mlp)
            for _ in range(config.n_layer))
        # Pre-LN blocks leave the residual stream unnormalised: one final LayerNorm.
        self.ln_f = (nn.LayerNorm(config.n_embd, bias=config.bias) if config.pre_ln
                     else nn.Identity())
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        if config.tie_embeddings:
            self.lm_head.weight = self.wte.weight  # weight tying (Press & Wolf, 2017)
        self.apply(self._init_weights)
        if config.scaled_residual_init:
            # Each block adds two residual branches: scale their output projections so the
            # residual stream's variance does not grow with depth.
            std = 0.02 / math.sqrt(2 * config.n_layer)
            for block in self.h:
                nn.init.normal_(block.attn.out_proj.weight, mean=0.0, std=std)
                if block.mlp is not None:
                    nn.init.normal_(block.mlp.proj.weight, mean=0.0, std=std)

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if isinstance(module, nn.Linear) and module.bias is not None:
                nn.init.zeros_(module.bias)

    @property
    def n_params(self) -> int:
        """Number of parameters, a tied head counted once."""
        return count_params(self)

    def add_tokens(self, n: int) -> list[int]:
        """Grow the vocabulary by ``n`` tokens and return their ids (the last ``n``).

        Their embeddings start random (std 0.02, as at initialisation) and a tied output head
        stays tied to the grown table (an untied one grows rows of its own); every existing
        token keeps its embedding. GPT-1 adds its start, delimiter and extract tokens this way
        before fine-tuning."""
        if n < 1:
            raise ValueError(f"n must be at least 1, got {n}")
        old = self.wte.weight  # (V, d)
        new = old.new_empty(n, old.shape[1]).normal_(mean=0.0, std=0.02)  # (n, d)
        self.wte = nn.Embedding.from_pretrained(torch.cat([old.detach(), new]), freeze=False)
        head = self.lm_head.weight
        self.lm_head = nn.Linear(old.shape[1], old.shape[0] + n, bias=False,
                                 device=old.device, dtype=old.dtype)
        if self.config.tie_embeddings:
            self.lm_head.weight = self.wte.weight
        else:
            rows = head.new_empty(n, head.shape[1]).normal_(mean=0.0, std=0.02)
            self.lm_head.weight = nn.Parameter(torch.cat([head.detach(), rows]))
        first = self.config.vocab_size
        self.config = replace(self.config, vocab_size=first + n)
        return list(range(first, first + n))

    def _check(self, idx: torch.Tensor, past: int = 0) -> None:
        if idx.dim() != 2 or idx.dtype != torch.long:
            raise ValueError(f"idx must be a (batch, time) tensor of torch.long token ids, got "
                             f"shape {tuple(idx.shape)} and dtype {idx.dtype}")
        t = past + idx.shape[1]
        if t > self.config.block_size:
            held = f" ({past} in the cache and {idx.shape[1]} new)" if past else ""
            raise ValueError(
                f"sequence of {t} tokens{held} exceeds block_size={self.config.block_size} by "
                f"{t - self.config.block_size}; crop the context to the last "
                f"{self.config.block_size} tokens or use a model with a larger block_size")
        if idx.shape[1] == 0:
            raise ValueError("idx holds no tokens: give the model at least one token to read")
        check_token_ids(idx, self.config.vocab_size)

    def trunk(self, idx: torch.Tensor, cache: KVCache | None = None,
              mask: torch.Tensor | None = None) -> torch.Tensor:
        """idx (b, t) -> the hidden states (b, t, d) the output head reads: embeddings, the
        blocks, then the final LayerNorm. Other heads (a classifier, a reward or a value head)
        are small modules on top of these.

        With a ``cache``, ``idx`` holds the tokens that follow those already in it: only they
        are computed, and their keys and values are added to the cache. ``mask`` (b, t) is False
        at left padding (prompts of different lengths in one batch): no token attends to
        padding, and positions count real tokens only, so a padded row computes what it would
        alone.
        """
        self._check(idx, past=cache.length if cache is not None else 0)
        b, t = idx.shape
        if mask is not None and mask.shape != idx.shape:
            raise ValueError(f"mask must have the shape of idx {tuple(idx.shape)}, got "
                             f"{tuple(mask.shape)}")
        if cache is not None:
            cache.add_tokens(idx, mask)
            real = cache.mask  # (b, T): every position the new tokens may attend to
        else:
            real = mask
        total = real.shape[1] if real is not None else t
        past = total - t
        if real is None or bool(real.all()):
            positions = torch.arange(past, total, device=idx.device)  # (t,)
            attn_mask, is_causal = None, t > 1  # one new token may see everything before it
        else:
            positions = (real.long().cumsum(1) - 1).clamp(min=0)[:, past:]  # (b, t)
            causal = causal_mask(total, idx.device)[past:]  # (t, T)
            itself = torch.eye(total, dtype=torch.bool, device=idx.device)[past:]  # no empty row
            attn_mask = (causal & (real[:, None, :] | itself))[:, None]  # (b, 1, t, T)
            is_causal = False
        x = self.drop(self.wte(idx) + self.wpe(positions))  # (b, t, d)
        layers = cache.layers if cache is not None else [None] * len(self.h)
        for block, kv in zip(self.h, layers, strict=True):
            x = block(x, mask=attn_mask, is_causal=is_causal, kv=kv)
        return self.ln_f(x)

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None,
                cache: KVCache | None = None, mask: torch.Tensor | None = None):
        """idx (b, t) -> logits (b, t, vocab), and the mean cross-entropy against targets
        (positions whose target is -100 are skipped). ``cache`` and ``mask``: see
        :meth:`trunk`."""
        logits = self.lm_head(self.trunk(idx, cache, mask))  # (b, t, V)
        if targets is None:
            return logits, None
        return logits, lm_loss(logits, targets)

    # --- Decoding (the protocol of labgpt.decoding) ----------------------------------------

    def window_start(self, length: int) -> int:
        """Index of the first token the model reads when a sequence has ``length`` tokens.

        Up to ``block_size`` tokens the model reads them all. Past it, the window keeps only its
        last ``keep = block_size // 2`` tokens each time it fills up, then grows again: with a
        cache, that is one re-read of ``keep`` tokens every ``block_size - keep + 1`` new tokens
        rather than a full re-read at every token (which a window sliding one token at a time
        would need, since positions are absolute). Cached and uncached decoding both follow
        this rule, so they compute the same logits.
        """
        block = self.config.block_size
        keep = max(1, block // 2)
        if length <= block:
            return 0
        period = block + 1 - keep
        return (length - keep) // period * period

    @torch.no_grad()
    def step(self, ids: torch.Tensor, state: KVCache | None = None,
             mask: torch.Tensor | None = None) -> tuple[torch.Tensor, KVCache]:
        """Read ``ids`` (b, t) after the tokens the cache ``state`` holds (None: a fresh start,
        ``ids`` is the prompt) and return the next-token logits (b, vocab) and the cache.
        ``mask`` (b, t) is False at left padding. When the window would pass ``block_size``
        the cache is rebuilt from its last tokens (:meth:`window_start`)."""
        if state is None:
            state = KVCache(self.config.n_layer)
        elif state.length:
            length = state.start + state.length + ids.shape[1]
            start = self.window_start(length)
            if start != state.start:  # the window is full: re-read its last tokens afresh
                if mask is None:
                    mask = torch.ones_like(ids, dtype=torch.bool)
                cut = start - state.start
                ids = torch.cat([state.ids, ids], dim=1)[:, cut:]
                mask = torch.cat([state.mask, mask], dim=1)[:, cut:]
                state = KVCache(self.config.n_layer)
                state.start = start
        hidden = self.trunk(ids, state, mask)  # (b, t, d)
        return self.lm_head(hidden[:, -1]), state

    @staticmethod
    def reorder(state: KVCache, rows: torch.Tensor) -> KVCache:
        """The cache of sequences ``rows``, in that order (beam search)."""
        return state.select(rows)

    @torch.no_grad()
    def stream_loss(self, ids: torch.Tensor, batch_size: int = 64) -> float:
        """Mean cross-entropy over all of ``ids`` (after its first token), each token predicted
        with at least block_size / 2 tokens of context: windows of block_size tokens step by
        half a window, and each scores only the tokens its predecessor did not."""
        was_training = self.training
        self.eval()
        block, half = self.config.block_size, self.config.block_size // 2
        ids = ids.to(self.wte.weight.device)
        starts = list(range(0, len(ids) - block, half))
        total, count = 0.0, 0
        for i in range(0, len(starts), batch_size):
            chunk = starts[i:i + batch_size]
            x = torch.stack([ids[s:s + block] for s in chunk])  # (n, block)
            y = torch.stack([ids[s + 1:s + block + 1] for s in chunk])
            logits, _ = self(x)
            losses = lm_loss(logits, y, reduction="none")  # (n, block)
            first = torch.tensor([0 if s == 0 else half for s in chunk], device=ids.device)
            keep = torch.arange(block, device=ids.device)[None, :] >= first[:, None]
            total += losses[keep].sum().item()
            count += keep.sum().item()
        # The tail after the last full window: score it with the final block_size tokens.
        last = starts[-1] + block if starts else 0
        if last < len(ids) - 1:
            x, y = ids[-block - 1:-1][None], ids[-block:][None]
            logits, _ = self(x)
            tail = len(ids) - 1 - last
            losses = lm_loss(logits, y, reduction="none")[0, -tail:]
            total += losses.sum().item()
            count += tail
        self.train(was_training)
        return total / count

    # --- Shipped weights (records) --------------------------------------------------------

    def half_state(self) -> dict[str, torch.Tensor]:
        """The weights as a record ships them: half precision (half the bytes), without a tied
        output head (it is ``wte.weight``)."""
        return {k: v.detach().half() for k, v in self.state_dict().items()
                if k != "lm_head.weight" or not self.config.tie_embeddings}

    @classmethod
    def from_half_state(cls, config: GPTConfig, state: dict[str, torch.Tensor],
                        name: str = "weights") -> GPT:
        """A float32 GPT in eval mode from :meth:`half_state` weights; a ValueError naming
        ``name`` if they do not fit ``config``."""
        model = cls(config)
        missing, unexpected = model.load_state_dict(
            {k: v.float() for k, v in state.items()}, strict=False)
        tied = {"lm_head.weight"} if config.tie_embeddings else set()
        if unexpected or set(missing) != tied:
            raise ValueError(f"{name} do not fit {config}: missing {missing}, unexpected "
                             f"{unexpected}")
        return model.eval()

    # --- Hugging Face GPT-2 format -------------------------------------------------------

    @classmethod
    def from_pretrained(cls, folder: str | Path) -> GPT:
        """Load a GPT-2 checkpoint saved by ``transformers`` (``config.json`` and
        ``model.safetensors``). With network access, ``huggingface_hub.snapshot_download(
        "gpt2")`` fetches the real weights into such a folder."""
        folder = Path(folder)
        hf = json.loads((folder / "config.json").read_text())
        if hf.get("model_type") != "gpt2":
            raise ValueError(f"{folder} holds a {hf.get('model_type')!r} model, not GPT-2")
        config = GPTConfig(vocab_size=hf["vocab_size"], block_size=hf["n_positions"],
                           n_layer=hf["n_layer"], n_head=hf["n_head"], n_embd=hf["n_embd"])
        model = cls(config)
        state = load_file(folder / "model.safetensors")
        state = {k.removeprefix("transformer."): v for k, v in state.items()}
        ours = {}
        for layer in range(config.n_layer):
            for hf_name, (our_name, transpose) in HF_NAMES.items():
                key = f"h.{layer}.{hf_name}"
                if key not in state:
                    raise ValueError(f"{folder / 'model.safetensors'} has no tensor {key!r}")
                ours[f"h.{layer}.{our_name}"] = state[key].T if transpose else state[key]
        for name in ("wte.weight", "wpe.weight", "ln_f.weight", "ln_f.bias"):
            ours[name] = state[name]
        ours["lm_head.weight"] = ours["wte.weight"]
        model.load_state_dict(ours)
        return model.keep_weights_transposed()

    def keep_weights_transposed(self) -> GPT:
        """Store every block's linear weights in (in, out) memory order, as GPT-2 checkpoints
        do (Hugging Face's ``Conv1D``), with the same values and shapes. A decoding step
        multiplies each weight by one vector; on a CPU, with weights too large for the cache,
        that product reads (in, out)-ordered weights faster (measured here: 408 vs 686 us for
        a 3072 x 768 weight). Checkpoints and results are unchanged."""
        for block in self.h:
            for linear in (block.attn.in_proj, block.attn.out_proj, block.mlp.fc, block.mlp.proj):
                linear.weight.data = linear.weight.data.t().contiguous().t()
        return self

    def save_pretrained(self, folder: str | Path) -> None:
        """Save in Hugging Face's GPT-2 format, loadable by
        ``transformers.GPT2LMHeadModel.from_pretrained(folder)``."""
        c = self.config
        hf = hf_config(c)  # checks the shape first
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        own = self.state_dict()
        state = {}
        for layer in range(c.n_layer):
            for hf_name, (our_name, transpose) in HF_NAMES.items():
                value = own[f"h.{layer}.{our_name}"]
                state[f"transformer.h.{layer}.{hf_name}"] = value.T if transpose else value
        for name in ("wte.weight", "wpe.weight", "ln_f.weight", "ln_f.bias"):
            state[f"transformer.{name}"] = own[name]
        state = {k: v.detach().cpu().contiguous() for k, v in state.items()}
        save_file(state, folder / "model.safetensors", metadata={"format": "pt"})
        (folder / "config.json").write_text(json.dumps(hf, indent=2))


def hf_config(config: GPTConfig) -> dict:
    """Hugging Face's GPT-2 ``config.json`` for a GPT-2-shaped ``config``: the same shapes,
    GELU (tanh form), LayerNorm eps 1e-5, the config's dropout (0 unless set) everywhere, and the
    last token id as beginning and end of text."""
    if not config.mlp:
        raise ValueError("GPT-2 has no attention-only variant: hf_config needs mlp=True")
    if not config.tie_embeddings:
        raise ValueError("GPT-2 ties its output head to wte: hf_config needs tie_embeddings=True")
    c = config
    if not (c.pre_ln and c.bias):
        raise ValueError("only GPT-2-shaped models (pre_ln=True, bias=True) have an HF format")
    return {
        "model_type": "gpt2", "architectures": ["GPT2LMHeadModel"],
        "vocab_size": c.vocab_size, "n_positions": c.block_size, "n_ctx": c.block_size,
        "n_embd": c.n_embd, "n_layer": c.n_layer, "n_head": c.n_head, "n_inner": None,
        "activation_function": "gelu_new", "layer_norm_epsilon": 1e-5,
        "resid_pdrop": c.dropout, "embd_pdrop": c.dropout, "attn_pdrop": c.dropout,
        "bos_token_id": c.vocab_size - 1, "eos_token_id": c.vocab_size - 1,
        "tie_word_embeddings": True, "labgpt_config": asdict(c),
    }


def hf_gpt2_model(config: GPTConfig, seed: int | None = None):
    """A freshly initialised ``transformers.GPT2LMHeadModel`` of ``config``'s shape, in eval
    mode: the independent implementation tests, chapters and benchmarks compare against.
    Needs ``transformers`` (``pip install transformers``)."""
    import transformers

    if seed is not None:
        torch.manual_seed(seed)
    return transformers.GPT2LMHeadModel(transformers.GPT2Config.from_dict(hf_config(config))).eval()


# HF GPT-2 name (inside transformer.h.<i>.) -> (labgpt name inside h.<i>., transpose?).
# HF stores its projections as Conv1D, (in, out): transposed relative to nn.Linear.
HF_NAMES: dict[str, tuple[str, bool]] = {
    "ln_1.weight": ("ln_1.weight", False),
    "ln_1.bias": ("ln_1.bias", False),
    "attn.c_attn.weight": ("attn.in_proj.weight", True),
    "attn.c_attn.bias": ("attn.in_proj.bias", False),
    "attn.c_proj.weight": ("attn.out_proj.weight", True),
    "attn.c_proj.bias": ("attn.out_proj.bias", False),
    "ln_2.weight": ("ln_2.weight", False),
    "ln_2.bias": ("ln_2.bias", False),
    "mlp.c_fc.weight": ("mlp.fc.weight", True),
    "mlp.c_fc.bias": ("mlp.fc.bias", False),
    "mlp.c_proj.weight": ("mlp.proj.weight", True),
    "mlp.c_proj.bias": ("mlp.proj.bias", False),
}
