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
    figure.tight_layout()
    temporary = path.with_name(".learning_curves.tmp.png")
    figure.savefig(temporary, dpi=100)
    plt.close(figure)
    temporary.replace(path)
    return path
