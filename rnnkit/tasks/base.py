"""The shared shape of a task: configuration defaults, data, model, training, baselines.

A task supplies the parts that differ (preprocessor, model head, metrics, baselines,
plots); `rnnkit.training.train` drives them in one fixed order:
config -> run folder -> data -> model -> fit -> metrics -> plots.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rnnkit.config import Config


@dataclass
class PreparedData:
    """What a task's `prepare` returns: fitted preprocessor, training and validation data, a
    test split when the data came with one, and warnings about the data for the user."""

    preprocessor: Any
    train: Any
    validation: Any
    test: Any = None
    warnings: list[str] = field(default_factory=list)


class Task:
    """Base class of the tasks in `rnnkit.registry.TASKS`."""

    name: str = ""
    monitor: str = "val_loss"

    def default_config(self) -> Config:
        raise NotImplementedError

    def check_config(self, config: Config) -> None:
        """Task-specific validation beyond the typed checks in `Config.validate`."""

    def prepare(self, config: Config, preprocessor_dir: Path | None = None) -> PreparedData:
        """Read the data (no TensorFlow), fit or load the preprocessor, split it."""
        raise NotImplementedError

    def save_preprocessor(self, prepared: PreparedData, directory: Path) -> None:
        raise NotImplementedError

    def build_model(self, config: Config, prepared: PreparedData):
        raise NotImplementedError

    def compile(self, model, config: Config, optimizer) -> None:
        raise NotImplementedError

    def datasets(self, config: Config, prepared: PreparedData):
        """Return `(train, validation, steps_per_epoch)` as `tf.data` pipelines."""
        raise NotImplementedError

    def epoch_metrics(self, config: Config, logs: dict[str, float]) -> dict[str, float]:
        """Metrics derived from Keras' logs at each epoch end (e.g. bits per character)."""
        return {}

    def final_metrics(self, model, config: Config, prepared: PreparedData) -> dict[str, Any]:
        """The metrics.json shape for the trained model and its baselines."""
        raise NotImplementedError

    def plots(self, run_dir: Path, history: list[dict[str, float]]) -> None:
        from rnnkit.plots import learning_curves

        learning_curves(run_dir, history)
