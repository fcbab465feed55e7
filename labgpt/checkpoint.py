"""Checkpoints as safetensors files: model, optimizer and any extra tensors, written atomically.

safetensors holds only tensors and a string-to-string header, so loading a checkpoint can never
run code (unlike a pickle). Layout of one file:

- ``model/<name>``: the model's state dict (a tied weight is stored once, see ``aliases``);
- ``optimizer/<param index>/<key>``: the optimizer's per-parameter state;
- ``extra/<name>``: anything else the caller saves (RNG states, for instance);
- header: ``format``, the optimizer's param groups and the caller's metadata, as JSON.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import nn

FORMAT = "labgpt-checkpoint-v1"


class CheckpointError(ValueError):
    """A checkpoint file is unreadable, corrupt, or does not fit the model it is loaded into."""


def _flatten_optimizer(optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict]:
    state = optimizer.state_dict()
    tensors, scalars = {}, {}
    for index, entry in state["state"].items():
        for key, value in entry.items():
            if torch.is_tensor(value):
                tensors[f"optimizer/{index}/{key}"] = value
            else:
                scalars[f"{index}/{key}"] = value
    return tensors, {"param_groups": state["param_groups"], "scalars": scalars}


def _unflatten_optimizer(tensors: dict[str, torch.Tensor], header: dict) -> dict:
    state: dict[int, dict[str, Any]] = {}
    for name, value in tensors.items():
        if name.startswith("optimizer/"):
            _, index, key = name.split("/", 2)
            state.setdefault(int(index), {})[key] = value
    for name, value in header["scalars"].items():
        index, key = name.split("/", 1)
        state.setdefault(int(index), {})[key] = value
    return {"state": state, "param_groups": header["param_groups"]}


def save_checkpoint(
    path: str | Path,
    model: nn.Module,
    optimizer: torch.optim.Optimizer | None = None,
    extra: dict[str, torch.Tensor] | None = None,
    metadata: dict[str, Any] | None = None,
) -> Path:
    """Save a checkpoint to ``path`` atomically: a crash mid-write leaves the old file intact."""
    path = Path(path)
    tensors: dict[str, torch.Tensor] = {}
    aliases: dict[str, str] = {}  # tied weight name -> name of the stored copy
    stored: dict[tuple[int, tuple[int, ...]], str] = {}
    for name, value in model.state_dict().items():
        key = (value.data_ptr(), tuple(value.shape))
        if value.numel() and key in stored:
            aliases[name] = stored[key]
            continue
        stored[key] = name
        tensors[f"model/{name}"] = value
    header: dict[str, str] = {
        "format": FORMAT,
        "aliases": json.dumps(aliases),
        "metadata": json.dumps(metadata or {}),
    }
    if optimizer is not None:
        optimizer_tensors, optimizer_header = _flatten_optimizer(optimizer)
        tensors.update(optimizer_tensors)
        header["optimizer"] = json.dumps(optimizer_header)
    for name, value in (extra or {}).items():
        tensors[f"extra/{name}"] = value
    tensors = {name: value.detach().cpu().contiguous() for name, value in tensors.items()}

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        save_file(tensors, tmp, metadata=header)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _read(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    from safetensors import safe_open

    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    try:
        with safe_open(path, framework="pt") as f:
            header = f.metadata() or {}
        tensors = load_file(path)
    except Exception as err:  # safetensors reports corruption with several exception types
        raise CheckpointError(
            f"checkpoint {path} is not a readable safetensors file ({err}); it may be truncated "
            "or corrupt: use an earlier checkpoint or train again"
        ) from None
    if header.get("format") != FORMAT:
        raise CheckpointError(
            f"{path} is a safetensors file but not a labgpt checkpoint "
            f"(format {header.get('format')!r}, expected {FORMAT!r})"
        )
    return tensors, header


def load_checkpoint(
    path: str | Path,
    model: nn.Module,
    optimizer: torch.optim.Optimizer | None = None,
) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """Load weights (and optimizer state) from ``path`` into ``model`` (and ``optimizer``).

    Returns the metadata dict and the extra tensors that were saved with the checkpoint.
    Raises :class:`CheckpointError` if the file is corrupt or does not match the model.
    """
    path = Path(path)
    tensors, header = _read(path)
    aliases = json.loads(header["aliases"])
    state = {name[len("model/"):]: t for name, t in tensors.items() if name.startswith("model/")}
    state.update({alias: state[original] for alias, original in aliases.items()})
    device = next(model.parameters()).device
    try:
        model.load_state_dict({name: t.to(device) for name, t in state.items()})
    except RuntimeError as err:
        raise CheckpointError(f"checkpoint {path} does not fit this model: {err}") from None
    if optimizer is not None:
        if "optimizer" not in header:
            raise CheckpointError(f"checkpoint {path} has no optimizer state to resume from")
        optimizer.load_state_dict(_unflatten_optimizer(tensors, json.loads(header["optimizer"])))
    extra = {name[len("extra/"):]: t for name, t in tensors.items() if name.startswith("extra/")}
    return json.loads(header["metadata"]), extra
