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


def forecast_plot(path: Path, series, result: dict, origin: int, title: str) -> Path:
    """History, the forecast from `origin` and its 80% interval; the actual values after
    `origin` too when the series has them (a test window)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    horizon = len(result["times"])
    shown = max(4 * horizon, 3 * max(series.season, 1) if series.season <= 200 else 0, 48)
    start = max(0, origin - shown)
    dated = series.times is not None
    if dated:
        import pandas as pd

        past = series.times[start:origin]
        future = pd.DatetimeIndex(pd.to_datetime(result["times"]))
    else:
        past = np.arange(start + 1, origin + 1)
        future = np.arange(origin + 1, origin + horizon + 1)
    targets = result["targets"][:4]
    figure, axes = plt.subplots(len(targets), 1, figsize=(9, 3.4 * len(targets)), squeeze=False)
    for index, (axis, target) in enumerate(zip(axes[:, 0], targets)):
        axis.plot(past, series.values[start:origin, index], color="#1f77b4", label="history")
        actual = series.values[origin:origin + horizon, index]
        if len(actual):
            axis.plot(future[: len(actual)], actual, color="#1f77b4", alpha=0.45, marker=".", label="actual")
        axis.fill_between(future, result["lower"][:, index], result["upper"][:, index], color="#ff7f0e", alpha=0.25,
                          label="80% interval")
        axis.plot(future, result["value"][:, index], color="#ff7f0e", marker=".", label="forecast")
        axis.axvline(future[0] if not dated else past[-1], color="gray", linestyle=":", linewidth=1)
        axis.set_title(f"{target}: {title}" if index == 0 else target)
        axis.set_xlabel(series.time_column or "step")
        axis.grid(alpha=0.3)
        axis.legend(loc="upper left")
    if dated:
        figure.autofmt_xdate()
    return _save(figure, path)
