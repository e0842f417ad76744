"""The training state `--resume` continues from, exact to the batch.

Keras' `BackupAndRestore` keeps the weights, the optimizer and the epoch, which is not enough
to continue a run as if it had never stopped: it restarts an interrupted epoch with weights
already trained on part of it, it forgets the dropout layers' random-number state and the
epoch's running metrics, and it writes its two files one after the other, so a kill between
them pairs new weights with an old epoch. A checkpoint here is:

    checkpoints/training_metadata.json   {"epoch", "batch", "weights", "random", "metrics"}
    checkpoints/weights-<id>.weights.h5  the model's and the optimizer's variables
    checkpoints/carried-<id>.npz         mid-epoch, stateful training: the recurrent states carried
                                         to the next batch (not model weights)

The weights go to a new file first, then the metadata naming it is replaced atomically: the
metadata always names a complete file, whatever moment a process is killed at. A checkpoint
written by rnnkit 0.1 or `BackupAndRestore` (`latest.weights.h5`, epoch only) still loads.

The data's part (each epoch's shuffled order, the batches already trained on) is the
driver's (`rnnkit.training`): it trains on one stream of epochs and skips to the position.
"""

from __future__ import annotations

import json
import logging
import secrets
from dataclasses import dataclass, field
from pathlib import Path

import keras
import numpy as np

from rnnkit.atomic import write_json_atomic

log = logging.getLogger("rnnkit")
METADATA_FILE = "training_metadata.json"
_LEGACY_WEIGHTS = "latest.weights.h5"


@dataclass
class Position:
    """Where training stands: `batch` batches of epoch `epoch` (0-based) are done."""

    epoch: int = 0
    batch: int = 0
    metrics: list[list] = field(default_factory=list)


def has_checkpoint(directory: str | Path) -> bool:
    """Whether `directory` (a run's `checkpoints/`) holds a checkpoint to resume from."""
    return (Path(directory) / METADATA_FILE).is_file()


def save(model, directory: str | Path, position: Position) -> None:
    """Write the training state at `position`, replacing the previous one atomically."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    name = f"weights-{position.epoch}-{position.batch}-{secrets.token_hex(4)}.weights.h5"
    model.save_weights(str(directory / name))
    carried = _save_carried(model, directory, name.replace("weights-", "carried-").replace(".weights.h5", ".npz"),
                            position)
    write_json_atomic(directory / METADATA_FILE, {
        "epoch": position.epoch,
        "batch": position.batch,
        "weights": name,
        # Not in the weights file: without them a resumed run draws other dropout masks.
        "random": [_values(variable) for variable in _seed_states(model)],
        "metrics": position.metrics,
        **({"carried": carried} if carried else {}),
    })
    for stale in [*directory.glob("*.h5*"), *directory.glob("carried-*.npz")]:
        if stale.name not in (name, carried):
            stale.unlink(missing_ok=True)


def load(model, directory: str | Path) -> Position:
    """Restore the model's, optimizer's and random state from `directory`; returns where training stopped.

    The optimizer must be built (`optimizer.build`) so that its variables exist to load into.
    Raises `OSError` or `ValueError` when the files are damaged or belong to another model.
    """
    directory = Path(directory)
    metadata = json.loads((directory / METADATA_FILE).read_text(encoding="utf-8"))
    model.load_weights(str(directory / metadata.get("weights", _LEGACY_WEIGHTS)))
    states = _seed_states(model)
    saved = metadata.get("random", [])
    if len(saved) == len(states):
        for variable, value in zip(states, saved):
            variable.assign(keras.ops.convert_to_tensor(value, dtype=variable.dtype))
    carried = getattr(model, "carried_states", None)
    if carried is not None and metadata.get("carried"):
        with np.load(directory / metadata["carried"]) as saved:
            values = [[saved[f"s{state}_r{replica}"] for replica in range(int(saved[f"s{state}_replicas"]))]
                      for state in range(int(saved["states"]))]
        if not carried.restore(values):
            log.warning("The checkpoint's carried recurrent states do not fit this training (another number of "
                        "replicas?): the streams go on from a zero state.")
    return Position(int(metadata["epoch"]), int(metadata.get("batch", 0)), metadata.get("metrics", []))


def _save_carried(model, directory: Path, name: str, position: Position) -> str | None:
    """Mid-epoch, the states stateful training carries into the next batch, in `name`; the file's name or None.

    At an epoch's end there is nothing to keep: every pass starts from a zero state.
    """
    carried = getattr(model, "carried_states", None)
    if carried is None or position.batch == 0:
        return None
    arrays = {"states": np.array(len(carried.variables))}
    for state, replicas in enumerate(carried.values()):
        arrays[f"s{state}_replicas"] = np.array(len(replicas))
        arrays.update({f"s{state}_r{replica}": value for replica, value in enumerate(replicas)})
    with open(directory / name, "wb") as file:
        np.savez(file, **arrays)
    return name


def metric_values(model) -> list[list]:
    """The running state of the model's metrics (loss mean, accuracy counts), for a mid-epoch checkpoint."""
    return [_values(variable) for variable in model.metrics_variables]


def _seed_states(model) -> list:
    return [variable for variable in model.variables if variable.path.endswith("seed_generator_state")]


def _values(variable) -> list:
    return keras.ops.convert_to_numpy(variable).tolist()


class TrainingCheckpoint(keras.callbacks.Callback):
    """Checkpoint at every epoch's end, stop at a safe point when asked, continue an epoch's metrics.

    It must come last in the callback list, so that an epoch's row is in history.csv before
    its checkpoint is (a kill between them repeats that epoch, and the driver drops its row),
    and so that every other callback has seen a batch before training stops after it.

    Args:
        directory: the run's `checkpoints/` folder.
        steps_per_epoch: batches per epoch.
        stop_requested: returns `True` once when training should stop (Ctrl-C, SIGTERM): it
            stops at the next epoch start or batch end, never inside a checkpoint write and
            never after an epoch's last batch (validation and the epoch's checkpoint come first).
            Defaults to `None`: never.
        start: where training resumes; `Position()` for a new run. Defaults to `None`.
    """

    def __init__(self, directory: str | Path, steps_per_epoch: int, stop_requested=None,
                 start: Position | None = None):
        super().__init__()
        self.directory = Path(directory)
        self.steps_per_epoch = steps_per_epoch
        self.stop_requested = stop_requested or (lambda: False)
        self.start = start or Position()
        self.position = Position(self.start.epoch, self.start.batch)

    def on_epoch_begin(self, epoch, logs=None):
        resumed = epoch == self.start.epoch
        self.position = Position(epoch, self.start.batch if resumed else 0)
        if resumed and self.start.batch and self.start.metrics:
            # fit reset the metrics before this call; the epoch's first batches were seen before the interrupt.
            # (The driver has built the compiled metrics, which Keras otherwise builds in the first step.)
            variables = self.model.metrics_variables
            if len(variables) != len(self.start.metrics):
                raise ValueError(f"The checkpoint holds {len(self.start.metrics)} metric variables; the model has "
                                 f"{len(variables)}.")
            for variable, value in zip(variables, self.start.metrics):
                variable.assign(keras.ops.convert_to_tensor(value, dtype=variable.dtype))
        if self.stop_requested():
            raise KeyboardInterrupt

    def on_train_batch_end(self, batch, logs=None):
        self.position.batch += 1
        if self.position.batch < self.steps_per_epoch and self.stop_requested():
            raise KeyboardInterrupt

    def on_epoch_end(self, epoch, logs=None):
        self.position = Position(epoch + 1, 0)
        save(self.model, self.directory, self.position)

    def save_now(self) -> None:
        """Checkpoint where training stands (after it stopped at a batch or epoch boundary)."""
        if self.position.batch == 0 and _saved_position(self.directory) == (self.position.epoch, 0):
            return  # the previous epoch's-end checkpoint is this very state
        position = Position(self.position.epoch, self.position.batch,
                            metric_values(self.model) if self.position.batch else [])
        save(self.model, self.directory, position)


def _saved_position(directory: Path) -> tuple[int, int] | None:
    try:
        metadata = json.loads((directory / METADATA_FILE).read_text(encoding="utf-8"))
        return int(metadata["epoch"]), int(metadata.get("batch", 0))
    except (OSError, ValueError, KeyError, TypeError):
        return None
