"""The classifier's own plot: the confusion matrix."""

from __future__ import annotations

from pathlib import Path

from rnnkit.plots import pyplot, save_figure


def confusion_matrix(directory: Path, matrix: list[list[int]], labels: list[str], split: str) -> Path:
    """`confusion_matrix.png`: counts, true class down, predicted class across."""
    import numpy as np

    plt = pyplot()
    counts = np.asarray(matrix)
    size = min(max(3.5, 0.6 * len(labels) + 2), 14)
    figure, axis = plt.subplots(figsize=(size + 1, size))
    image = axis.imshow(counts, cmap="Blues")
    figure.colorbar(image, ax=axis)
    names = [label if len(label) <= 16 else label[:15] + "…" for label in labels]
    tilted = len(labels) > 3
    axis.set_xticks(range(len(labels)), names, rotation=45 if tilted else 0, ha="right" if tilted else "center")
    axis.set_yticks(range(len(labels)), names)
    axis.set_xlabel("predicted")
    axis.set_ylabel("true")
    axis.set_title(f"confusion matrix ({split} split)")
    if len(labels) <= 20:
        threshold = counts.max() / 2 if counts.size else 0
        for (row, column), value in np.ndenumerate(counts):
            axis.text(column, row, str(value), ha="center", va="center",
                      color="white" if value > threshold else "black")
    return save_figure(figure, Path(directory) / "confusion_matrix.png")
