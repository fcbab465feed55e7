"""Benchmarks: ``python -m labgpt.bench bpe|train|generate``.

Each prints a readable table, then one JSON object as its last line for scripts to parse.
Benchmarks only time things; they are not part of the test suite, since their numbers depend
on the machine. Experiments that chapters show live with their concept (and recorded results
are made by ``python -m labgpt.records``).
"""

from __future__ import annotations

import argparse
import json

import labgpt
from labgpt import scaling
from labgpt.bpe import BPETokenizer, train_bpe
from labgpt.measure import best_time, count_params


def bench_bpe(vocab_size: int = 512, repeats: int = 3) -> dict:
    """Train a byte-level BPE on all of Tiny Shakespeare; compare encoders with tiktoken."""
    text = labgpt.load_text("tinyshakespeare")
    megabytes = len(text.encode("utf-8")) / 1e6
    merges = train_bpe(text, vocab_size)
    train_s = best_time(lambda: train_bpe(text, vocab_size), repeats, warmup=0)
    # A fresh tokenizer each time: the chunk cache would otherwise make repeats free.
    ids = BPETokenizer(merges).encode(text)
    encode_s = best_time(lambda: BPETokenizer(merges).encode(text), repeats, warmup=0)
    encoding = BPETokenizer(merges).to_tiktoken()
    tiktoken_ids = encoding.encode_ordinary(text)
    tiktoken_s = best_time(lambda: encoding.encode_ordinary(text), repeats, warmup=0)
    if ids != tiktoken_ids:
        raise RuntimeError("labgpt's encoder and its tiktoken version disagree")
    result = {
        "benchmark": "bpe",
        "corpus_mb": round(megabytes, 3),
        "vocab_size": vocab_size,
        "train_s": round(train_s, 3),
        "encode_mb_s": round(megabytes / encode_s, 2),
        "tiktoken_encode_mb_s": round(megabytes / tiktoken_s, 2),
        "tokens": len(ids),
    }
    print(f"BPE on Tiny Shakespeare ({megabytes:.2f} MB), vocabulary {vocab_size}, "
          f"best of {repeats}")
    print(f"  {'train (labgpt.bpe.train_bpe)':<34}{train_s:8.2f} s")
    print(f"  {'encode (labgpt BPETokenizer)':<34}{result['encode_mb_s']:8.2f} MB/s")
    print(f"  {'encode (same ranks in tiktoken)':<34}{result['tiktoken_encode_mb_s']:8.2f} MB/s")
    print(f"  {'tokens':<34}{len(ids):8,d}")
    return result


def matmul_peak_flops(n: int = 1024, repeats: int = 10) -> float:
    """The machine's float32 matmul throughput (FLOP/s): the ceiling for MFU."""
    import torch

    a, b = torch.randn(n, n), torch.randn(n, n)
    return 2 * n**3 / best_time(lambda: a @ b, repeats)


def _train_tokens_per_s(step, tokens_per_step: int, steps: int, warmup: int = 3) -> float:
    """Tokens per second over ``steps`` training steps, after ``warmup`` untimed ones."""
    for _ in range(warmup):
        step()
    seconds = best_time(lambda: [step() for _ in range(steps)], repeats=1, warmup=0)
    return steps * tokens_per_step / seconds


def bench_train(repeats: int = 1, steps: int = 30) -> dict:
    """Training throughput of labgpt's GPT vs Hugging Face's GPT-2 at nanoGPT's CPU recipe
    shapes (4 layers, 4 heads, 128 wide, context 64, batch 12), and model FLOPs utilisation
    against the measured matmul peak."""
    import torch

    from labgpt.gpt import hf_gpt2_model
    from labgpt.training import TrainConfig, make_optimizer

    config = labgpt.GPTConfig(vocab_size=65, block_size=64, n_layer=4, n_head=4, n_embd=128)
    batch, t = 12, config.block_size
    x = torch.randint(65, (batch, t), generator=torch.Generator().manual_seed(0))
    labgpt.seed_everything(0)
    model = labgpt.GPT(config)
    optimizer = make_optimizer(model, TrainConfig())

    def labgpt_step():
        _, loss = model(x, x)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    results = {"labgpt": max(_train_tokens_per_s(labgpt_step, batch * t, steps)
                             for _ in range(repeats))}
    try:
        import transformers
    except ImportError:
        transformers = None
    if transformers is not None:
        hf = hf_gpt2_model(config).train()
        hf_optimizer = make_optimizer(hf, TrainConfig())

        def hf_step():
            loss = hf(x, labels=x).loss
            hf_optimizer.zero_grad(set_to_none=True)
            loss.backward()
            hf_optimizer.step()

        results["hf"] = max(_train_tokens_per_s(hf_step, batch * t, steps)
                            for _ in range(repeats))
    n = count_params(model)
    flops_per_token = scaling.flops_per_token(n, config.n_layer, config.n_embd, t)
    peak = matmul_peak_flops()
    mfu = results["labgpt"] * flops_per_token / peak
    out = {
        "benchmark": "train",
        "config": "4 layers, 4 heads, 128 wide, context 64, batch 12",
        "params": n,
        "labgpt_tok_s": round(results["labgpt"]),
        "hf_tok_s": round(results["hf"]) if "hf" in results else None,
        "ratio": round(results["labgpt"] / results["hf"], 3) if "hf" in results else None,
        "matmul_peak_gflops": round(peak / 1e9, 1),
        "mfu": round(mfu, 4),
    }
    print(f"Training throughput, {out['config']} ({n:,} parameters), {steps} steps")
    print(f"  {'labgpt GPT':<30}{out['labgpt_tok_s']:>10,} tokens/s")
    if out["hf_tok_s"] is not None:
        print(f"  {'transformers GPT2LMHeadModel':<30}{out['hf_tok_s']:>10,} tokens/s")
        print(f"  {'ratio labgpt / transformers':<30}{out['ratio']:>10.2f}")
    print(f"  {'matmul peak (float32)':<30}{out['matmul_peak_gflops']:>10,.1f} GFLOP/s")
    print(f"  {'model FLOPs utilisation':<30}{out['mfu']:>10.1%}")
    return out


def bench_train_gpu(steps: int = 20) -> dict:
    """On a CUDA GPU: GPT-2 small shapes (context 1024, batch 8), bf16 autocast and the fused
    attention kernel; tokens/s and MFU against a measured bf16 matmul peak."""
    import torch

    from labgpt.training import TrainConfig, make_optimizer

    device = torch.device("cuda")
    config = labgpt.GPTConfig.preset("gpt2")
    batch, t = 8, config.block_size
    model = labgpt.GPT(config).to(device)
    optimizer = make_optimizer(model, TrainConfig())
    x = torch.randint(config.vocab_size, (batch, t), device=device)

    def step():
        with torch.autocast("cuda", dtype=torch.bfloat16):
            _, loss = model(x, x)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        torch.cuda.synchronize()

    tokens_per_s = _train_tokens_per_s(step, batch * t, steps)
    a = torch.randn(8192, 8192, device=device, dtype=torch.bfloat16)
    a @ a
    torch.cuda.synchronize()
    peak = 2 * 8192**3 / best_time(lambda: (a @ a, torch.cuda.synchronize()), repeats=5)
    flops_per_token = scaling.flops_per_token(count_params(model), config.n_layer,
                                              config.n_embd, t)
    return {"gpu": torch.cuda.get_device_name(), "gpu_config": "GPT-2 small, context 1024, "
            "batch 8, bf16 autocast", "gpu_tok_s": round(tokens_per_s),
            "gpu_matmul_peak_tflops": round(peak / 1e12, 1),
            "gpu_mfu": round(tokens_per_s * flops_per_token / peak, 4)}


def bench_train_all(repeats: int = 1) -> dict:
    """The CPU comparison, plus the GPU figures when a CUDA GPU is present."""
    import torch

    result = bench_train(repeats)
    if torch.cuda.is_available():
        gpu = bench_train_gpu()
        print(f"  {gpu['gpu_config']} on {gpu['gpu']}: {gpu['gpu_tok_s']:,} tokens/s, "
              f"MFU {gpu['gpu_mfu']:.1%} of {gpu['gpu_matmul_peak_tflops']} TFLOP/s")
        result.update(gpu)
    return result


def bench_generate(repeats: int = 1, prompt_len: int = 32, new_tokens: int = 256) -> dict:
    """Greedy generation at GPT-2 small's shapes (random weights): labgpt with its key/value
    cache, labgpt re-reading the whole context at every step, and Hugging Face's
    ``generate(use_cache=True)`` on the same weights; the three must give the same tokens."""
    import tempfile

    import torch

    from labgpt.gpt import hf_gpt2_model

    config = labgpt.GPTConfig.preset("gpt2")
    reference = hf_gpt2_model(config, seed=0)
    with tempfile.TemporaryDirectory() as folder:
        reference.save_pretrained(folder)
        model = labgpt.GPT.from_pretrained(folder).eval()
    prompt = torch.randint(config.vocab_size, (1, prompt_len),
                           generator=torch.Generator().manual_seed(0))

    def ours(use_cache: bool):
        return labgpt.generate(model, prompt, new_tokens, greedy=True, use_cache=use_cache)

    def theirs():
        with torch.no_grad():
            return reference.generate(prompt, attention_mask=torch.ones_like(prompt),
                                      max_new_tokens=new_tokens, min_new_tokens=new_tokens,
                                      do_sample=False, use_cache=True,
                                      pad_token_id=config.vocab_size - 1)

    runs = {}
    for name, fn in [("cached", lambda: ours(True)), ("uncached", lambda: ours(False)),
                     ("transformers", theirs)]:
        out, _ = labgpt.timed(fn)  # warm-up, and the tokens to compare
        seconds = best_time(fn, repeats, warmup=0)
        runs[name] = (out, seconds)
    tokens = runs["cached"][0]
    for name, (out, _) in runs.items():
        if not torch.equal(out, tokens):
            raise RuntimeError(f"{name} generation gave different tokens from the cached one")
    _, cache = model.step(tokens[:, :-1])
    per_token = 2 * config.n_layer * config.n_embd * 4  # bytes of fp32 keys and values
    rate = {name: new_tokens / s for name, (_, s) in runs.items()}
    result = {
        "benchmark": "generate", "config": "gpt2 (124M), random weights, greedy, batch 1",
        "prompt_tokens": prompt_len, "new_tokens": new_tokens,
        "cached_tok_s": round(rate["cached"], 2), "uncached_tok_s": round(rate["uncached"], 2),
        "transformers_tok_s": round(rate["transformers"], 2),
        "cache_speedup": round(rate["cached"] / rate["uncached"], 2),
        "vs_transformers": round(rate["cached"] / rate["transformers"], 3),
        "cache_bytes_per_token": per_token, "cache_mib": round(cache.nbytes / 2**20, 2),
        "tokens_identical": True,
    }
    print(f"Greedy generation, GPT-2 small shapes (random weights), {prompt_len}-token prompt, "
          f"{new_tokens} new tokens, best of {repeats}")
    for name, label in [("cached", "labgpt, KV cache"), ("uncached", "labgpt, no cache"),
                        ("transformers", "transformers, use_cache=True")]:
        print(f"  {label:<32}{runs[name][1]:8.2f} s {rate[name]:8.2f} tokens/s")
    print(f"  cache speed-up {result['cache_speedup']:.1f}x; labgpt / transformers "
          f"{result['vs_transformers']:.2f}; cache {per_token / 1024:.0f} KiB per token, "
          f"{result['cache_mib']} MiB at {tokens.shape[1] - 1} tokens; tokens identical")
    return result


BENCHMARKS = {"bpe": bench_bpe, "train": bench_train_all, "generate": bench_generate}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m labgpt.bench", description=__doc__)
    parser.add_argument("benchmark", choices=sorted(BENCHMARKS))
    parser.add_argument("--repeats", type=int, default=None,
                        help="timed repeats (default: 3, or 1 for generate)")
    args = parser.parse_args(argv)
    labgpt.use_threads(2)
    repeats = args.repeats or (1 if args.benchmark == "generate" else 3)
    result = BENCHMARKS[args.benchmark](repeats=repeats)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
