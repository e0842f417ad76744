"""What every task's plots share: the learning curves, and one atomic figure writer (matplotlib, headless).

Plots are written into the folder the caller passes (the training driver passes the run's
`plots/`); a task's own plots live in its package and use `save_figure`.
"""

from __future__ import annotations

import os
from pathlib import Path

from rnnkit.atomic import temporary_path

CURVES = ("loss", "bits_per_char", "perplexity", "accuracy")


def pyplot():
    """matplotlib's pyplot on the headless Agg backend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def learning_curves(directory: Path, history: list[dict[str, float]]) -> Path:
    """`learning_curves.png`: training and validation loss, and derived metrics, per epoch."""
    return save_figure(learning_curves_figure(history), Path(directory) / "learning_curves.png")


def learning_curves_figure(history: list[dict[str, float]]):
    from matplotlib.ticker import MaxNLocator

    plt = pyplot()
    metrics = [name for name in CURVES if any(name in row for row in history)]
    figure, axes = plt.subplots(1, max(len(metrics), 1), figsize=(5 * max(len(metrics), 1), 3.5), squeeze=False)
    for axis, name in zip(axes[0], metrics or ["loss"]):
        for prefix, label in (("", "training"), ("val_", "validation")):
            points = [(row["epoch"] + 1, row[prefix + name]) for row in history if prefix + name in row]
            if points:
                axis.plot(*zip(*points), marker="o", label=label)
        axis.set_title(name.replace("_", " "))
        axis.set_xlabel("epoch")
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole: no 1.5, 2.5
        axis.grid(alpha=0.3)
        axis.legend()
    return figure


def save_figure(figure, path: Path, tight: bool = True) -> Path:
    """Write the figure under a temporary name, then rename: readers never see half a PNG.
    `tight`: matplotlib's tight layout; otherwise only the margins are trimmed."""
    plt = pyplot()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if tight:
        figure.tight_layout()
    temporary = temporary_path(path)
    try:
        figure.savefig(temporary, dpi=100, format="png", **({} if tight else {"bbox_inches": "tight"}))
        os.replace(temporary, path)
    finally:
        plt.close(figure)
        temporary.unlink(missing_ok=True)
    return path
