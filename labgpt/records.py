"""Recorded results and shipped models: what costs more than a notebook's budget, made once by one
command, shipped with its sha256, and loaded by the chapters.

A *record* is either numbers (a JSON file) or weights (a safetensors file), kept in
``labgpt/data/records/`` next to ``SHA256SUMS``, which lists every file's sha256. Each file
carries the command that made it, the recipe's configuration and the versions it was made
with. Loading checks the hash first, so a truncated or hand-edited record raises
:class:`labgpt.CorruptDataError` instead of feeding a chapter wrong numbers.

Every record has a recipe in :data:`RECIPES`: a function (named as ``"module:function"``)
that computes it from scratch, deterministically. ``python -m labgpt.records make NAME``
re-creates one; ``python -m labgpt.records list`` shows them all; a slow test re-creates each
and compares it with the shipped copy within the recipe's tolerance. A chapter that shows a
record says where it came from and re-runs a cheap part of it live.
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from labgpt.corpus import CorruptDataError, sha256_of

RECORDS_DIR = Path(__file__).parent / "data" / "records"
SUMS = "SHA256SUMS"


@dataclass(frozen=True)
class Recipe:
    """How to make one record. ``make`` names a function ``module:function`` that takes the
    ``config`` as keyword arguments and returns a dict of numbers (``kind="json"``) or a pair
    ``(state_dict, dict)`` (``kind="weights"``)."""

    name: str
    kind: str  # "json" or "weights"
    make: str
    description: str
    config: dict = field(default_factory=dict)
    tolerance: float = 0.0  # how far a re-made number may sit from the shipped one
    minutes: float = 1.0  # about how long making it takes on a 2-core CPU

    @property
    def filename(self) -> str:
        return f"{self.name}.{'json' if self.kind == 'json' else 'safetensors'}"

    @property
    def command(self) -> str:
        return f"python -m labgpt.records make {self.name}"


RECIPES: dict[str, Recipe] = {
    r.name: r for r in [
        Recipe("ladder", "json", "labgpt.ladder:make",
               "the loss ladder's rungs: count bigram, Bengio MLP, RNN, LSTM, GRU on Tiny "
               "Shakespeare characters, 1.64M training predictions each (rnn chapter)",
               config={"seed": 0}, tolerance=0.01, minutes=4),
        Recipe("ln_sweep", "json", "labgpt.ln_placement:sweep",
               "post-LN vs pre-LN GPTs over depth 2/8/16 and lr 1e-3/3e-3/1e-2, 200 steps "
               "each (transformer chapter)",
               config={"steps": 200, "seed": 0}, tolerance=0.02, minutes=6),
        Recipe("base_model", "weights", "labgpt.base_model:make",
               "a character GPT of Tiny Shakespeare (4 x 192, context 128, 1,500 steps of 32 "
               "x 128 characters), the model Part II decodes from (decoding chapter)",
               config={"seed": 0}, tolerance=0.02, minutes=11),
        Recipe("sst2_lm", "weights", "labgpt.sst2_transfer:make",
               "a word-level GPT pre-trained on SST-2's training text, labels unused (2 x 128, "
               "context 64, 6,000 steps of 32 x 64 tokens; GPT-1 chapter)",
               config={"seed": 0}, tolerance=0.02, minutes=20),
        Recipe("sst2_transfer", "json", "labgpt.sst2_transfer:sweep",
               "SST-2 dev accuracy against the number of labelled sentences: the sst2_lm GPT "
               "fine-tuned (with and without the auxiliary loss), the same GPT from scratch, "
               "and bag-of-words logistic regression, 3 seeds (GPT-1 chapter)",
               config={"seeds": [0, 1, 2]}, tolerance=0.03, minutes=15),
        Recipe("web_family", "weights", "labgpt.web_family:make",
               "four GPTs (2 layers, widths 16/32/64/128) trained on the synthetic web for "
               "3,000 steps of 32 x 128 tokens, and the largest size trained on the web "
               "without its task-bearing sentences; their zero-shot accuracies (GPT-2 and "
               "GPT-3 chapters)",
               config={"seed": 0}, tolerance=0.05, minutes=20),
        Recipe("scaling_sweep", "json", "labgpt.scaling:sweep",
               "character GPTs of Tiny Shakespeare, 2 layers, widths 16 to 128: each trained on "
               "2.05M tokens (loss against size), and widths 8 to 64 at compute budgets of "
               "3e10, 1e11 and 3e11 FLOPs (isoFLOP curves; GPT-3 chapter)",
               config={"seed": 0}, tolerance=0.02, minutes=20),
        Recipe("label_family", "weights", "labgpt.label_family:make",
               "four GPTs (1 x 16, 1 x 32, 2 x 32, 2 x 64) trained on the labelled lists for "
               "3,000 steps of 32 x 64 tokens; their accuracy with flipped and with "
               "meaningless demonstration labels (flipped-labels chapter)",
               config={"seed": 0}, tolerance=0.05, minutes=6),
        Recipe("rlhf_runs", "weights", "labgpt.rlhf:make",
               "the InstructGPT chapter's base model (2 x 64, 1,500 steps of 32 x 32 tokens of "
               "the assistant world's web, seed 0) and, for seeds 0 and 1, every step's "
               "numbers: SFT, reward models, best-of-8, PPO, PPO-ptx, PPO without KL",
               config={"seeds": [0, 1]}, tolerance=0.05, minutes=5),
        Recipe("aligned_models", "weights", "labgpt.aligned:make",
               "Part III's models of the assistant world (base, SFT, PPO, DPO, GRPO; seed 0) "
               "and, for seeds 0 and 1, the last chapter's numbers: DPO at three betas and "
               "with a larger step, GRPO with three weights of its KL term, PPO against the "
               "verifier, each measured like PPO (labeler, win-rate, KL, sums)",
               config={"seeds": [0, 1]}, tolerance=0.05, minutes=10),
    ]
}


@dataclass
class Record:
    """A loaded record: ``result`` (the numbers), and where it came from."""

    name: str
    result: dict
    config: dict
    command: str
    made_with: dict
    sha256: str
    path: Path
    state_dict: dict[str, torch.Tensor] | None = None  # weights records only

    def gpts(self, configs: dict) -> dict:
        """The GPTs a weights record holds, its tensors keyed ``member.name``: ``configs`` maps
        each member to its :class:`labgpt.GPTConfig`; float32 models in eval mode."""
        from labgpt.gpt import GPT

        if self.state_dict is None:
            raise ValueError(f"record {self.name!r} holds numbers, not weights")
        models = {}
        for member, config in configs.items():
            prefix = member + "."
            state = {k[len(prefix):]: v for k, v in self.state_dict.items()
                     if k.startswith(prefix)}
            models[member] = GPT.from_half_state(config, state,
                                                 f"the {self.name} record's {member} weights")
        return models

    def describe(self) -> str:
        """One line for a chapter to print: what this is and how to re-make it."""
        return (f"recorded result {self.name!r} ({self.path.name}, sha256 {self.sha256[:12]}...), "
                f"made by `{self.command}` with torch {self.made_with.get('torch')}")


def recipe(name: str) -> Recipe:
    if name not in RECIPES:
        raise KeyError(f"no record {name!r}; known records: {', '.join(sorted(RECIPES))}")
    return RECIPES[name]


def _read_sums(folder: Path) -> dict[str, str]:
    sums = folder / SUMS
    if not sums.is_file():
        return {}
    out = {}
    for line in sums.read_text().splitlines():
        if line.strip():
            digest, filename = line.split(maxsplit=1)
            out[filename] = digest
    return out


def _write_sums(folder: Path, sums: dict[str, str]) -> None:
    text = "".join(f"{digest}  {filename}\n" for filename, digest in sorted(sums.items()))
    tmp = folder / f"{SUMS}.tmp"
    tmp.write_text(text)
    os.replace(tmp, folder / SUMS)


def _made_with() -> dict:
    from labgpt import __version__

    return {"labgpt": __version__, "torch": torch.__version__.split("+")[0],
            "python": sys.version.split()[0]}


def save(name: str, result: dict, state_dict: dict[str, torch.Tensor] | None = None,
         folder: str | Path = RECORDS_DIR) -> Path:
    """Write record ``name`` (its numbers, and its weights for a weights recipe) into ``folder``
    with its provenance, and enter its sha256 in the folder's SHA256SUMS."""
    rec = recipe(name)
    if (state_dict is None) != (rec.kind == "json"):
        raise ValueError(f"record {name!r} is a {rec.kind} record: "
                         f"{'no' if rec.kind == 'json' else 'a'} state_dict expected")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    header = {"name": name, "command": rec.command, "config": rec.config,
              "made_with": _made_with(), "result": result}
    path = folder / rec.filename
    tmp = path.with_name(path.name + ".tmp")
    if rec.kind == "json":
        tmp.write_text(json.dumps(header, indent=1) + "\n")
    else:
        tensors = {k: v.detach().cpu().contiguous() for k, v in state_dict.items()}
        save_file(tensors, tmp, metadata={"labgpt_record": json.dumps(header)})
    os.replace(tmp, path)
    path.chmod(0o644)  # safetensors writes 0600: a shared install must be able to read it
    sums = _read_sums(folder)
    sums[rec.filename] = sha256_of(path)
    _write_sums(folder, sums)
    return path


def load(name: str, folder: str | Path = RECORDS_DIR) -> Record:
    """Load record ``name`` after checking its sha256 against SHA256SUMS."""
    rec = recipe(name)
    folder = Path(folder)
    path = folder / rec.filename
    if not path.is_file():
        raise FileNotFoundError(f"record {name!r} is missing ({path}); make it with "
                                f"`{rec.command}`")
    expected = _read_sums(folder).get(rec.filename)
    digest = sha256_of(path)
    if expected is None:
        raise CorruptDataError(f"{path} is not listed in {folder / SUMS}; re-make it with "
                               f"`{rec.command}`")
    if digest != expected:
        raise CorruptDataError(f"{path} has sha256 {digest[:16]}..., expected {expected[:16]}... "
                               f"(edited or truncated); restore it from the repository or "
                               f"re-make it with `{rec.command}`")
    state_dict = None
    try:
        if rec.kind == "json":
            header = json.loads(path.read_text())
        else:
            from safetensors import safe_open

            with safe_open(str(path), framework="pt") as f:
                header = json.loads(f.metadata()["labgpt_record"])
            state_dict = load_file(path)
        return Record(name, header["result"], header["config"], header["command"],
                      header["made_with"], digest, path, state_dict)
    except (KeyError, ValueError, TypeError) as err:  # valid hash, wrong layout: a bug
        raise CorruptDataError(f"{path} does not have a record's layout: {err}") from err


def make(name: str, folder: str | Path = RECORDS_DIR) -> Path:
    """Compute record ``name`` from scratch with its recipe and save it into ``folder``."""
    rec = recipe(name)
    module, function = rec.make.split(":")
    out = getattr(importlib.import_module(module), function)(**rec.config)
    if rec.kind == "json":
        return save(name, out, folder=folder)
    state_dict, result = out
    return save(name, result, state_dict, folder=folder)


def differences(fresh: Any, shipped: Any, tolerance: float, where: str = "result") -> list[str]:
    """Where two results differ: numbers by more than ``tolerance``, anything else at all.
    An empty list means they agree."""
    if isinstance(fresh, dict) and isinstance(shipped, dict):
        if fresh.keys() != shipped.keys():
            return [f"{where}: keys {sorted(fresh)} vs {sorted(shipped)}"]
        return [d for k in fresh for d in differences(fresh[k], shipped[k], tolerance,
                                                      f"{where}.{k}")]
    if isinstance(fresh, list) and isinstance(shipped, list):
        if len(fresh) != len(shipped):
            return [f"{where}: {len(fresh)} items vs {len(shipped)}"]
        return [d for i, (a, b) in enumerate(zip(fresh, shipped, strict=True))
                for d in differences(a, b, tolerance, f"{where}[{i}]")]
    numbers = (int, float)
    if isinstance(fresh, numbers) and isinstance(shipped, numbers) \
            and not isinstance(fresh, bool) and not isinstance(shipped, bool):
        if math.isclose(fresh, shipped, rel_tol=0, abs_tol=tolerance):
            return []
        return [f"{where}: {fresh} vs shipped {shipped} (tolerance {tolerance})"]
    return [] if fresh == shipped else [f"{where}: {fresh!r} vs shipped {shipped!r}"]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m labgpt.records", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="list the records, their hashes and how to make them")
    maker = sub.add_parser("make", help="re-create a record from scratch")
    maker.add_argument("name", choices=sorted(RECIPES))
    maker.add_argument("--into", default=str(RECORDS_DIR),
                       help="folder to write into (default: the package's own records)")
    args = parser.parse_args(argv)
    from labgpt.environment import use_threads

    if args.command == "list":
        sums = _read_sums(RECORDS_DIR)
        for rec in RECIPES.values():
            digest = sums.get(rec.filename, "(not made)")
            print(f"{rec.name:<14} {rec.kind:<8} ~{rec.minutes:g} min  {digest[:16]}  "
                  f"{rec.description}")
        return
    use_threads(2)
    path = make(args.name, args.into)
    record = load(args.name, args.into)
    print(f"wrote {path} (sha256 {record.sha256})")
    shipped_path = RECORDS_DIR / RECIPES[args.name].filename
    if Path(args.into).resolve() != RECORDS_DIR.resolve() and shipped_path.is_file():
        diffs = differences(record.result, load(args.name).result, RECIPES[args.name].tolerance)
        print("matches the shipped record" if not diffs else
              "differs from the shipped record:\n  " + "\n  ".join(diffs))


if __name__ == "__main__":
    main()
