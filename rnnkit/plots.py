"""Plots written into the run folder (matplotlib, headless)."""

from __future__ import annotations

from pathlib import Path


def learning_curves(run_dir: Path, history: list[dict[str, float]]) -> Path:
    """`plots/learning_curves.png`: training and validation loss, and derived metrics, per epoch."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(run_dir) / "plots" / "learning_curves.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    metrics = [name for name in ("loss", "bits_per_char", "perplexity", "accuracy")
               if any(name in row for row in history)]
    figure, axes = plt.subplots(1, max(len(metrics), 1), figsize=(5 * max(len(metrics), 1), 3.5), squeeze=False)
    for axis, name in zip(axes[0], metrics or ["loss"]):
        for prefix, label in (("", "training"), ("val_", "validation")):
            points = [(row["epoch"] + 1, row[prefix + name]) for row in history if prefix + name in row]
            if points:
                axis.plot(*zip(*points), marker="o", label=label)
        axis.set_title(name.replace("_", " "))
        axis.set_xlabel("epoch")
        axis.grid(alpha=0.3)
        axis.legend()
    return _save(figure, path)


def confusion_matrix(run_dir: Path, matrix: list[list[int]], labels: list[str], split: str) -> Path:
    """`plots/confusion_matrix.png`: counts, true class down, predicted class across."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    path = Path(run_dir) / "plots" / "confusion_matrix.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    counts = np.asarray(matrix)
    size = min(max(3.5, 0.6 * len(labels) + 2), 14)
    figure, axis = plt.subplots(figsize=(size + 1, size))
    image = axis.imshow(counts, cmap="Blues")
    figure.colorbar(image, ax=axis)
    names = [label if len(label) <= 16 else label[:15] + "…" for label in labels]
    axis.set_xticks(range(len(labels)), names, rotation=45 if len(labels) > 3 else 0, ha="right" if len(labels) > 3 else "center")
    axis.set_yticks(range(len(labels)), names)
    axis.set_xlabel("predicted")
    axis.set_ylabel("true")
    axis.set_title(f"confusion matrix ({split} split)")
    if len(labels) <= 20:
        threshold = counts.max() / 2 if counts.size else 0
        for (row, column), value in np.ndenumerate(counts):
            axis.text(column, row, str(value), ha="center", va="center",
                      color="white" if value > threshold else "black")
    return _save(figure, path)


def _save(figure, path: Path) -> Path:
    """Write the figure under a temporary name, then rename: readers never see half a PNG."""
    import matplotlib.pyplot as plt

    figure.tight_layout()
    temporary = path.with_name(f".{path.stem}.tmp.png")
    figure.savefig(temporary, dpi=100)
    plt.close(figure)
    temporary.replace(path)
    return path
