"""Keras callbacks of rnnkit's own; everything else is Keras' (see `rnnkit.training`)."""

from __future__ import annotations

import math
import os
import time
from pathlib import Path

import keras

from rnnkit.atomic import temporary_path


class TimeBudget:
    """Seconds a run may take from the end of data loading: training, validation and the final evaluation.

    Args:
        seconds: the budget (`--time-budget`).
        start: when it began, on `clock`; now when `None`. Defaults to `None`.
        clock: returns the time in seconds. Defaults to `time.monotonic`.
    """

    def __init__(self, seconds: float, start: float | None = None, clock=time.monotonic):
        self.seconds = seconds
        self.clock = clock
        self.start = clock() if start is None else start
        self.reserve = 0.0  # kept for what follows training: the last validation and the final evaluation

    def elapsed(self) -> float:
        return self.clock() - self.start

    def left(self) -> float:
        return self.seconds - self.elapsed()

    def for_training(self) -> float:
        return max(self.seconds - self.reserve, 0.0)


class WarmupCosineSchedule(keras.callbacks.Callback):
    """Linear warm-up, then cosine decay to 5% of the peak, set before every step.

    Progress is the larger of steps done / planned steps and seconds spent / seconds the time
    budget leaves for training, so a run limited by a budget also ends its schedule at a low
    learning rate, and stops in time for what follows training.

    Args:
        peak: the learning rate after warm-up.
        total_steps: planned optimizer steps (epochs x steps per epoch).
        budget: the run's `TimeBudget`, or `None`. Defaults to `None`.
    """

    def __init__(self, peak: float, total_steps: int, budget: TimeBudget | None = None):
        super().__init__()
        self.peak = peak
        self.total_steps = max(total_steps, 1)
        self.warmup = max(1, min(200, self.total_steps // 20))
        self.budget = budget
        self.floor = 0.05

    def on_train_begin(self, logs=None):
        # Read the step once (it is restored on --resume), then count on the host: reading
        # the variable every batch would wait for the device each step.
        self.step = int(keras.ops.convert_to_numpy(self.model.optimizer.iterations))
        self._set(self.step)

    def on_train_batch_end(self, batch, logs=None):
        self.step += 1
        self._set(self.step)
        if self.budget is not None and self.budget.elapsed() >= self.budget.for_training():
            self.model.stop_training = True

    def _set(self, step: int) -> None:
        if step < self.warmup:
            rate = self.peak * (0.1 + 0.9 * step / self.warmup)
        else:
            progress = (step - self.warmup) / max(self.total_steps - self.warmup, 1)
            if self.budget is not None:
                progress = max(progress, self.budget.elapsed() / max(self.budget.for_training(), 1e-9))
            cosine = 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))
            rate = self.peak * (self.floor + (1 - self.floor) * cosine)
        self.model.optimizer.learning_rate = rate


class DerivedMetrics(keras.callbacks.Callback):
    """Add task-derived metrics (bits per character, perplexity) to each epoch's logs.

    It must come before `CSVLogger` and the savers in the callback list: they read the
    same `logs` dict after it.
    """

    def __init__(self, derive):
        super().__init__()
        self.derive = derive

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs.update(self.derive(logs))
            logs["learning_rate"] = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))


class BestModelSaver(keras.callbacks.Callback):
    """Save the whole model when `monitor` improves, atomically (temp file, then rename)."""

    def __init__(self, path: Path, monitor: str, best: float | None = None):
        super().__init__()
        self.path = Path(path)
        self.monitor = monitor
        self.best = math.inf if best is None else best

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        if value is None or not math.isfinite(value) or value >= self.best:
            return
        self.best = value
        temporary = temporary_path(self.path)
        self.model.save(temporary)
        os.replace(temporary, self.path)


class ResumableEarlyStopping(keras.callbacks.EarlyStopping):
    """`EarlyStopping` on a loss (lower is better) that, on `--resume`, counts the epochs trained before.

    Args:
        monitor: the logged value to watch (`val_loss`).
        patience: epochs without improvement before training stops.
        earlier: the monitored values of the epochs trained before, oldest first.
            Defaults to `()`.
    """

    def __init__(self, monitor: str, patience: int, earlier=()):
        super().__init__(monitor=monitor, patience=patience, mode="min")
        self.earlier = list(earlier)

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        # As EarlyStopping.on_epoch_end counts: a tie is no improvement.
        for value in self.earlier:
            self.wait += 1
            if self.best is None or value < self.best:
                self.best, self.wait = value, 0

    def on_epoch_end(self, epoch, logs=None):
        super().on_epoch_end(epoch, logs)
        value = (logs or {}).get(self.monitor)
        if value is not None:
            self.earlier.append(float(value))  # the count goes on in a second fit of the same run


class RichProgress(keras.callbacks.Callback):
    """Training progress on stderr: a live bar in a terminal, and one full line per epoch everywhere.

    In a terminal the live line is the epoch, the bar, the steps, the elapsed time, the ETA and
    the running loss: short enough for 80 columns, the bar taking what is left. Each epoch ends
    with a line of all its metrics, wrapped rather than cut. Elsewhere (CI logs, `nohup`, a pipe)
    there is no live bar, only those lines.

    Args:
        epochs: the run's epochs.
        steps_per_epoch: batches per epoch.
        start: where a resumed run starts (`checkpoints.Position`); `None` for a new run.
            Defaults to `None`.
        console: the Rich console to write to. Defaults to `None`: stderr.
    """

    # Shown first in an epoch's line, in this order; the rest follow alphabetically.
    FIRST = ("loss", "val_loss", "val_bits_per_char", "val_perplexity", "val_accuracy")

    def __init__(self, epochs: int, steps_per_epoch: int, start=None, console=None):
        super().__init__()
        self.epochs = epochs
        self.steps_per_epoch = steps_per_epoch
        self.start = start
        self.console = console
        self.offset = 0
        self.progress = None
        self.task = None

    def on_train_begin(self, logs=None):
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

        self.console = self.console or Console(stderr=True)
        self.started = time.monotonic()
        if self.console.is_terminal and self.progress is None:
            self.progress = Progress(
                TextColumn("[bold]{task.description}"), BarColumn(bar_width=None), MofNCompleteColumn(),
                TimeElapsedColumn(), TimeRemainingColumn(), TextColumn("{task.fields[loss]}"),
                console=self.console, transient=True,
            )
            self.progress.start()

    def on_epoch_begin(self, epoch, logs=None):
        resumed = self.start is not None and epoch == self.start.epoch
        self.offset = self.start.batch if resumed else 0
        self.started = time.monotonic()
        if self.progress is not None:
            self.task = self.progress.add_task(f"epoch {epoch + 1}/{self.epochs}", total=self.steps_per_epoch,
                                               completed=self.offset, loss="")

    def on_train_batch_end(self, batch, logs=None):
        if self.task is not None:
            loss = (logs or {}).get("loss")
            self.progress.update(self.task, completed=self.offset + batch + 1,
                                 loss="" if loss is None else f"loss {float(loss):.4f}")

    def on_epoch_end(self, epoch, logs=None):
        if self.task is not None:
            self.progress.remove_task(self.task)
            self.task = None
        logs = dict(logs or {})
        names = [name for name in self.FIRST if name in logs] + sorted(set(logs) - set(self.FIRST) - {"learning_rate"})
        seconds = int(time.monotonic() - self.started)
        values = "  ".join(f"{name} {float(logs[name]):.4f}" for name in names)
        rate = f"  learning_rate {float(logs['learning_rate']):.2e}" if "learning_rate" in logs else ""
        self.console.print(f"epoch {epoch + 1}/{self.epochs}  {seconds // 60}:{seconds % 60:02d}  {values}{rate}",
                           markup=False, highlight=False, soft_wrap=not self.console.is_terminal)

    def on_train_end(self, logs=None):
        self.close()

    def close(self):
        """Stop the live display; Keras skips `on_train_end` when `fit` raises (e.g. Ctrl-C)."""
        if self.progress is not None:
            self.progress.stop()
            self.progress = None
            self.task = None
