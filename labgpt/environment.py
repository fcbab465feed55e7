"""Where and how a run executes: seeds, CPU threads, the device, and optional GPU and online
sections."""

from __future__ import annotations

import os
import random
import socket

import numpy as np
import torch


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and torch's global generators (CPU and every GPU)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds every CUDA device


def use_threads(n: int = 2) -> None:
    """Fix the number of CPU threads torch uses, so timings and results repeat.

    The course is budgeted for 2 cores; more threads than cores only adds contention.
    """
    if n < 1:
        raise ValueError(f"need at least one thread, got {n}")
    torch.set_num_threads(n)


def pick_device() -> torch.device:
    """The best device available: CUDA, then Apple's MPS, then the CPU."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def gpu_section(what: str) -> bool:
    """Announce an optional GPU section; return True if it should run.

    Use it as ``if gpu_section("train the 6-layer model for 5,000 steps"): ...``. Without a GPU
    (or with ``LABGPT_SKIP_GPU=1`` in the environment) it prints one line saying what was skipped
    and why, and returns False, so the notebook still runs top to bottom on a laptop.
    """
    if os.environ.get("LABGPT_SKIP_GPU") == "1":
        print(f"GPU section skipped: {what} (LABGPT_SKIP_GPU=1 is set).")
        return False
    device = pick_device()
    if device.type == "cpu":
        print(f"GPU section skipped: {what} (no CUDA or MPS GPU found; this part needs one).")
        return False
    name = torch.cuda.get_device_name() if device.type == "cuda" else "Apple MPS"
    print(f"GPU section: {what} (running on {name}).")
    return True


def online_section(what: str, host: str = "huggingface.co", timeout: float = 3.0) -> bool:
    """Announce an optional section that downloads from ``host``; return True if it should run.

    Like :func:`gpu_section`: with no network (or with ``LABGPT_OFFLINE=1`` or
    ``HF_HUB_OFFLINE=1`` in the environment; the test suite sets the first) it prints one line
    saying what was skipped and why, and returns False."""
    for flag in ("LABGPT_OFFLINE", "HF_HUB_OFFLINE"):
        if os.environ.get(flag) == "1":
            print(f"Online section skipped: {what} ({flag}=1 is set).")
            return False
    try:
        socket.create_connection((host, 443), timeout=timeout).close()
    except OSError as err:
        print(f"Online section skipped: {what} ({host} cannot be reached: {err}).")
        return False
    print(f"Online section: {what} (downloading from {host}).")
    return True
