"""Benchmarks: ``python -m labgpt.bench bpe``.

Each prints a readable table, then one JSON object as its last line for scripts to parse.
Benchmarks are for measuring, not for the test suite: their numbers depend on the machine.
"""

from __future__ import annotations

import argparse
import json
import time

import labgpt
from labgpt.bpe import BPETokenizer, train_bpe


def _best_of(repeats: int, fn) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def bench_bpe(vocab_size: int = 512, repeats: int = 3) -> dict:
    """Train a byte-level BPE on all of Tiny Shakespeare; compare encoders with tiktoken."""
    text = labgpt.load_text("tinyshakespeare")
    megabytes = len(text.encode("utf-8")) / 1e6
    train_s, merges = _best_of(repeats, lambda: train_bpe(text, vocab_size))
    # A fresh tokenizer each time: the chunk cache would otherwise make repeats free.
    encode_s, ids = _best_of(repeats, lambda: BPETokenizer(merges).encode(text))
    encoding = BPETokenizer(merges).to_tiktoken()
    tiktoken_s, tiktoken_ids = _best_of(repeats, lambda: encoding.encode_ordinary(text))
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


BENCHMARKS = {"bpe": bench_bpe}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m labgpt.bench", description=__doc__)
    parser.add_argument("benchmark", choices=sorted(BENCHMARKS))
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    labgpt.use_threads(2)
    result = BENCHMARKS[args.benchmark](repeats=args.repeats)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
