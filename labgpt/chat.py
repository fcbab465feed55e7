"""Talk to the models of Part III, side by side: ``python -m labgpt.chat``.

Every line you type is a request of the assistant world (``=>`` is added for you), answered in
turn by each model the chapters trained from one base model: ``base`` (pre-trained on the
world's web), ``sft`` (InstructGPT's step 1), ``ppo`` (steps 2 and 3), ``dpo`` and ``grpo``
(the last chapter). They are tiny GPTs (2 layers x 64) that know one small world and nothing
else: its 74 words, and the three kinds of request in :data:`WORLD`. Each turn is answered on
its own: nothing of an earlier turn is in the context.

The models come from the ``aligned_models`` record (:func:`labgpt.aligned.load`), so the chat
starts in seconds, offline. Decoding takes the decoding chapter's options: greedy (the
default), sampling with a temperature, top-k and top-p, or beam search, each with a repetition
penalty. ``python -m labgpt.chat --help`` lists them.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import torch

from labgpt.decoding import beam_search, check_settings, generate
from labgpt.gpt import GPT
from labgpt.rlhf import BLOCK_SIZE, eos_id
from labgpt.worlds import assistant

WORLD = ("These models know one tiny world, and nothing else. Ask them:\n"
         "  add A B       two digits: the sum, e.g. 'add 3 4'\n"
         f"  hi NAME       a greeting, NAME one of {', '.join(assistant.NAMES)}\n"
         "  say PHRASE    repeat a phrase (an insult should be refused), e.g. 'say good day'\n"
         f"Every word must be one of the world's {assistant.tokenizer().vocab_size} (run with "
         "--words to see them). "
         "Type quit to stop.")
EXAMPLES = ["add 3 4", "add 9 8", "hi kim", "say well done", "say you stink"]


@dataclass(frozen=True)
class Decoding:
    """How to turn next-token distributions into a reply (the decoding chapter's options)."""

    method: str = "greedy"  # "greedy", "sample" or "beam"
    temperature: float = 1.0
    top_k: int | None = None
    top_p: float | None = None
    num_beams: int = 4
    repetition_penalty: float = 1.0
    seed: int = 0

    def __post_init__(self):
        if self.method not in ("greedy", "sample", "beam"):
            raise ValueError(f"method must be greedy, sample or beam, got {self.method!r}")
        sampling = self.method == "sample"
        if not sampling and (self.temperature != 1.0 or self.top_k is not None
                             or self.top_p is not None):
            raise ValueError("temperature, top_k and top_p only apply to --sample")
        check_settings(temperature=self.temperature, top_k=self.top_k, top_p=self.top_p,
                       penalty=self.repetition_penalty, num_beams=self.num_beams)


def prompt_ids(line: str) -> list[int]:
    """The token ids of a typed request, ``=>`` added if missing. A ValueError that names
    the unknown words, or says the request is too long, before any model runs."""
    words = line.split()
    if not words:
        raise ValueError("an empty request")
    if words[-1] != assistant.ARROW:
        words.append(assistant.ARROW)
    tok = assistant.tokenizer()
    unknown = [w for w in words if w not in tok.stoi]
    if unknown:
        raise ValueError(f"unknown word{'s' * (len(unknown) > 1)} {', '.join(map(repr, unknown))}"
                         ": these models know only the assistant world's words (--words)")
    if len(words) + assistant.MAX_RESPONSE > BLOCK_SIZE:
        raise ValueError(f"a request of {len(words)} words leaves no room for a reply in the "
                         f"models' context of {BLOCK_SIZE} tokens")
    return tok.encode(words)


@torch.no_grad()
def reply(model: GPT, ids: list[int], decoding: Decoding) -> list[str]:
    """One model's reply to a prompt (its words, ``<eot>`` kept if it ended)."""
    tok, eos = assistant.tokenizer(), eos_id()
    n = assistant.MAX_RESPONSE
    if decoding.method == "beam":
        out = beam_search(model, ids, n, decoding.num_beams, eos_id=eos,
                          repetition_penalty=decoding.repetition_penalty)
    else:
        out = generate(model, [ids], n, greedy=decoding.method == "greedy",
                       temperature=decoding.temperature, top_k=decoding.top_k,
                       top_p=decoding.top_p, repetition_penalty=decoding.repetition_penalty,
                       eos_id=eos, generator=torch.Generator().manual_seed(decoding.seed))[0]
    return tok.decode(out[len(ids):].tolist())


def show(words: list[str]) -> str:
    """A reply as the chat prints it: ``<eot>`` dropped, ``...`` if it never ended."""
    if assistant.END in words:
        return " ".join(words[:words.index(assistant.END)])
    return " ".join(words) + " ..."


def chat(models: dict[str, GPT], lines: Iterable[str], decoding: Decoding = Decoding(),
         out: Callable[[str], None] = print) -> int:
    """Answer each line with every model; stop at ``quit``, ``exit`` or the end of ``lines``.
    A bad request is answered with its error, and the chat goes on. Returns the number of
    requests answered."""
    answered = 0
    width = max(len(name) for name in models)
    for line in lines:
        line = line.strip()
        if line in ("quit", "exit"):
            break
        if not line:
            continue
        try:
            ids = prompt_ids(line)
        except ValueError as err:
            out(f"  ! {err}")
            continue
        for name, model in models.items():
            out(f"  {name:<{width}}  {show(reply(model, ids, decoding))}")
        answered += 1
    return answered


def notebook_lines(fallback: Iterable[str]) -> Iterator[str]:
    """Lines typed in Jupyter (``input``); where the kernel cannot ask for input (a test run,
    a book build), the ``fallback`` lines instead, each echoed."""
    try:
        while True:
            yield input("you> ")
    except (NotImplementedError, EOFError):  # IPython's StdinNotImplementedError, or no stdin
        for line in fallback:
            print(f"you> {line}")
            yield line


def load_models(names: Iterable[str] | None = None) -> dict[str, GPT]:
    """The shipped models by name (all of :data:`labgpt.aligned.MODELS` if ``names`` is None),
    in the order asked."""
    from labgpt import aligned

    names = list(names) if names is not None else list(aligned.MODELS)
    bad = [n for n in names if n not in aligned.MODELS]
    if bad:
        raise ValueError(f"unknown model {bad[0]!r}; the models are {', '.join(aligned.MODELS)}")
    models, _ = aligned.load()
    return {n: models[n] for n in names}


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m labgpt.chat", description=__doc__.split("\n")[0],
                                epilog=WORLD, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", default=None,
                   help="comma-separated, from base,sft,ppo,dpo,grpo (default: all)")
    how = p.add_mutually_exclusive_group()
    how.add_argument("--sample", action="store_true", help="sample instead of greedy decoding")
    how.add_argument("--beam", type=int, metavar="N", help="beam search with N beams")
    p.add_argument("--temperature", type=float, default=1.0)
    p.add_argument("--top-k", type=int, default=None)
    p.add_argument("--top-p", type=float, default=None)
    p.add_argument("--repetition-penalty", type=float, default=1.0)
    p.add_argument("--seed", type=int, default=0, help="the sampling generator's seed")
    p.add_argument("--words", action="store_true", help="list the world's words and stop")
    return p


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.words:
        print(" ".join(assistant.tokenizer().words))
        return 0
    try:
        decoding = Decoding("beam" if args.beam else "sample" if args.sample else "greedy",
                            args.temperature, args.top_k, args.top_p, args.beam or 4,
                            args.repetition_penalty, args.seed)
        models = load_models(args.models.split(",") if args.models else None)
    except ValueError as err:
        parser.error(str(err))
    print(WORLD)
    interactive = sys.stdin.isatty()

    def lines():
        while True:
            if interactive:
                print("you> ", end="", flush=True)
            line = sys.stdin.readline()
            if not line:
                return
            if not interactive:
                print(f"you> {line.strip()}")
            yield line

    chat(models, lines(), decoding)
    return 0


if __name__ == "__main__":
    sys.exit(main())
