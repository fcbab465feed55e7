"""Plots in one consistent style: loss curves from a training History, and heat maps."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np

from labgpt.training import History

STYLE = {
    "figure.figsize": (7.0, 4.0),
    "figure.dpi": 100,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "font.size": 10,
}


def plot_history(
    history: History,
    baselines: dict[str, float] | None = None,
    title: str = "Training",
    ax: plt.Axes | None = None,
    smooth: int = 20,
    label: str | None = None,
    color: str | None = None,
) -> plt.Axes:
    """Draw train loss (raw and moving-averaged over ``smooth`` steps) and validation loss.

    ``baselines`` maps a label to a loss drawn as a horizontal dashed line (e.g. the unigram
    entropy a model must beat). To compare runs on one plot, pass the same ``ax`` with a
    ``label`` and ``color`` per run: each run's train curve is a line and its validation
    points are dots, both in its colour. Without a label, train is blue and validation orange.
    """
    with plt.rc_context(STYLE):
        if ax is None:
            _, ax = plt.subplots()
        train_color = color or "tab:blue"
        val_color = color or ("tab:orange" if label is None else train_color)
        prefix = f"{label}: " if label else ""
        steps = np.asarray(history.steps)
        train = np.asarray(history.train_loss)
        ax.plot(steps, train, color=train_color, alpha=0.25, linewidth=0.8)
        if len(train) >= smooth > 1:
            kernel = np.ones(smooth) / smooth
            ax.plot(steps[smooth - 1:], np.convolve(train, kernel, mode="valid"),
                    color=train_color, label=f"{prefix}train (mean of {smooth} steps)")
        else:
            ax.lines[-1].set_label(f"{prefix}train")
        ax.plot(history.val_steps, history.val_loss, "o-" if label is None else "o--",
                color=val_color, label=f"{prefix}validation")
        for i, (name, value) in enumerate((baselines or {}).items()):
            ax.axhline(value, linestyle="--", color=f"C{i + 2}", linewidth=1, label=name)
        ax.set_xlabel("step")
        ax.set_ylabel("loss (nats per token)")
        ax.set_title(title)
        ax.legend()
    return ax


def plot_heatmap(
    matrix,
    xlabels: Sequence[str] | None = None,
    ylabels: Sequence[str] | None = None,
    title: str = "",
    ax: plt.Axes | None = None,
    cmap: str = "viridis",
) -> plt.Axes:
    """Draw a 2-D array (an attention map, a bigram table...) with optional tick labels."""
    matrix = np.asarray(matrix, dtype=float)
    if matrix.ndim != 2:
        raise ValueError(f"plot_heatmap needs a 2-D array, got shape {matrix.shape}")
    with plt.rc_context({**STYLE, "axes.grid": False}):
        if ax is None:
            _, ax = plt.subplots(figsize=(5.5, 5.0))
        image = ax.imshow(matrix, cmap=cmap, aspect="auto")
        ax.figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
        for labels, set_ticks, set_labels in (
            (xlabels, ax.set_xticks, ax.set_xticklabels),
            (ylabels, ax.set_yticks, ax.set_yticklabels),
        ):
            if labels is not None:
                set_ticks(range(len(labels)))
                set_labels(labels, fontsize=8)
        ax.set_title(title)
    return ax
