"""The training driver shared by every task: run folder, callbacks, strategy, precision.

`train()` is what `rnnkit.train` and `rnnkit train` call. It validates the whole
configuration and reads the data before TensorFlow is imported, so user errors fail
fast, then fits with Keras' own callbacks (`BackupAndRestore`, `EarlyStopping`,
`CSVLogger`, `TensorBoard`) plus a few small ones of ours. It knows no task by name: it
calls the `rnnkit.task.Task` methods in their fixed order.
"""

from __future__ import annotations

import contextlib
import logging
import random
import shutil
import signal
import tempfile
import threading
from pathlib import Path
from typing import Any

from rnnkit import runs
from rnnkit.atomic import replace_dir, write_json_atomic, write_text_atomic
from rnnkit.backbone import uses_cudnn_kernel
from rnnkit.config import SHARED_OPTIONS, Config, read_config_file
from rnnkit.errors import ConfigError, RnnkitError, RunError
from rnnkit.registry import get_task, infer_task
from rnnkit.tf_import import import_tensorflow

log = logging.getLogger("rnnkit")


class TrainingInterrupted(RnnkitError):
    """Training was interrupted (Ctrl-C); the last checkpoint is kept for `--resume`."""


def resolve_config(data: str | None, task: str | None = None, config: str | Path | Config | None = None,
                   record: bool = False, **options: Any):
    """The task and the full, validated configuration: task defaults, then a config file, then options.

    Args:
        data: the training data; `None` takes the config file's.
        task: the task name; from the config file, or inferred from `data`, when `None`.
        config: a config.json (path or run folder) or a `Config` to start from.
        record: `config` is the run's own record (`--resume`). Defaults to `False`.
        **options: flat options (`units=128`); `None` values are skipped.

    Returns:
        `(task_object, config)`.
    """
    from rnnkit.datasets.builtin import BUILTIN_DATASETS

    raw = read_config_file(config) if isinstance(config, (str, Path)) else None
    file_task = raw["task"] if raw is not None else getattr(config, "task", None)
    if task is not None and file_task is not None and task != file_task:
        raise ConfigError(f"--task {task} contradicts the config file's task '{file_task}'. Drop one of them.")
    if data is None:
        data = (raw.get("data") or {}).get("path") if raw is not None else getattr(getattr(config, "data", None), "path", None)
    if not data:
        raise ConfigError("No training data given. Pass a file, folder or built-in name (see `rnnkit datasets`).")
    # The shared options are checked before the data is looked at (inference reads it with --encoding).
    for option in SHARED_OPTIONS:
        if options.get(option.name) is not None:
            option.validate(options[option.name])
    task_object = get_task(task or file_task or infer_task(str(data), options.get("encoding")))
    if raw is not None:
        resolved = task_object.read_config(raw, source=str(config), record=record)
    elif isinstance(config, Config):
        resolved = task_object.read_config(config.to_dict(), source="the Config passed")
    else:
        resolved = task_object.default_config()
    # Files are recorded by absolute path so that `--config` and `--resume` work from anywhere.
    if data not in BUILTIN_DATASETS and Path(data).expanduser().exists():
        data = str(Path(data).expanduser().resolve())
    resolved.data.path = str(data)
    task_object.apply_options(resolved, options)
    resolved.validate()
    task_object.check_config(resolved)
    return task_object, resolved


def train(data: str | Path | None = None, task: str | None = None, out: str | Path | None = None,
          config: str | Path | Config | None = None, overwrite: bool = False, resume: bool = False,
          quiet: bool = True, callbacks: list | None = None, **options: Any):
    """Train a model and write its run folder; returns the `Run`.

    Args:
        data: a file, folder or built-in data name (`rnnkit datasets`).
        task: a task name (`rnnkit.task_names()`); inferred from `data` when `None`.
            Defaults to `None`.
        out: the run folder; `runs/<task>-<timestamp>` when `None`. Defaults to `None`.
        config: a `config.json` (path, run folder or `Config`) to start from. Defaults to `None`.
        overwrite: replace a non-empty `out`. Defaults to `False`.
        resume: continue the run in `out` from its last checkpoint. Defaults to `False`.
        quiet: no progress bar. Defaults to `True`.
        callbacks: extra Keras callbacks for `model.fit`. Defaults to `None`.
        **options: flat options as on the command line (`rnnkit train --help`): the shared
            ones (`cell`, `layers`, `units`, `dropout`, `epochs`, `batch_size`,
            `learning_rate`, `clipnorm`, `seed`, `val_split`, ...) and the task's own
            (textgen: `level`, `max_len`, `vocab_size`, `embedding_dim`; sentiment:
            `text_col`, `label_col`, `class_weight`, ...; forecast: `target`, `horizon`,
            `window`, ...). Another task's option is a `ConfigError`.

    Example:
        >>> run = rnnkit.train("python-docs", epochs=1, out="runs/demo")  # doctest: +SKIP
    """
    # SIGTERM (schedulers, `docker stop`, `kill`) stops training the way Ctrl-C does: the
    # interrupted epoch is checkpointed for --resume and the CLI exits with 130.
    interrupts = _Interrupts()
    with interrupts.installed():
        return _train(data, task, out, config, overwrite, resume, quiet, callbacks, options, interrupts)


def _train(data, task, out, config, overwrite: bool, resume: bool, quiet: bool, callbacks, options: dict[str, Any],
           interrupts: "_Interrupts"):
    data = None if data is None else str(data)
    if resume:
        if out is None:
            raise ConfigError("--resume needs --out RUN: the run folder to continue.")
        runs.prepare_run_dir(out, resume=True)
        config = Path(out) / runs.CONFIG_FILE
    task_object, resolved = resolve_config(data, task=task, config=config, record=resume, **options)
    out = Path(out) if out is not None else runs.default_run_dir(resolved.task)
    runs.prepare_run_dir(out, overwrite=overwrite, resume=resume, data=resolved.data.path)
    # A seed the user chose (option or config file) asks for a repeatable run: deterministic
    # kernels, which cost some speed. Without one, a seed is drawn and recorded for --config.
    repeatable = resolved.training.seed is not None
    if not repeatable:
        resolved.training.seed = random.randrange(2**31)
    prepared = task_object.prepare(resolved, out / runs.PREPROCESSOR_DIR if resume else None)
    for message in prepared.warnings:
        log.warning(message)

    tf = import_tensorflow()
    import keras

    resolved.versions = _versions()
    keras.utils.set_random_seed(resolved.training.seed)
    if repeatable:
        tf.config.experimental.enable_op_determinism()
    fast, reason = uses_cudnn_kernel(resolved.model)
    if not fast and tf.config.list_logical_devices("GPU"):
        log.warning(f"{reason}.")
    strategy = make_strategy(resolved.training.strategy)

    work = out
    if overwrite and out.exists() and any(out.iterdir()):
        # Train beside the old run and swap at the end, so a failure loses nothing.
        target = out.resolve()
        work = Path(tempfile.mkdtemp(prefix=f".{target.name}.new-", dir=target.parent))
    try:
        work.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise RunError(f"Cannot create the run folder {work}: {error.strerror}. Choose another --out.") from None
    policy = keras.mixed_precision.global_policy()
    try:
        keras.mixed_precision.set_global_policy(_precision_policy(resolved))
        _fit(task_object, resolved, prepared, work, strategy, resume=resume, quiet=quiet,
             extra_callbacks=callbacks or [], interrupts=interrupts)
    except BaseException as error:
        if work == out:
            raise
        shutil.rmtree(work, ignore_errors=True)
        if isinstance(error, TrainingInterrupted):
            raise TrainingInterrupted(f"Training interrupted; {out} was left as it was.") from None
        raise
    finally:
        keras.mixed_precision.set_global_policy(policy)
    if work != out:
        replace_dir(work, out)
    return runs.Run(out)


def _fit(task_object, config: Config, prepared, work: Path, strategy, resume: bool, quiet: bool,
         extra_callbacks: list, interrupts: "_Interrupts") -> None:
    import keras

    from rnnkit.callbacks import (BestModelSaver, DerivedMetrics, InterruptAtSafePoints, RichProgress,
                                  WarmupCosineSchedule)

    monitor = task_object.monitor
    best = _best_so_far(work, monitor) if resume else None  # read before anything in the run is rewritten
    write_text_atomic(work / runs.CONFIG_FILE, config.to_json())
    task_object.save_preprocessor(prepared, work / runs.PREPROCESSOR_DIR)
    train_data, validation_data, steps_per_epoch = task_object.datasets(config, prepared)
    with strategy.scope():
        model = task_object.build_model(config, prepared)
        optimizer = keras.optimizers.Adam(
            learning_rate=config.training.learning_rate,
            global_clipnorm=config.training.clipnorm or None,
        )
        task_object.compile(model, config, optimizer)
        # Otherwise Adam creates its slots inside the first training step, and TensorFlow traces
        # that step twice (once to create them): seconds of every run, more for large models.
        model.optimizer.build(model.trainable_variables)

    backup = keras.callbacks.BackupAndRestore(str(work / runs.CHECKPOINT_DIR), double_checkpoint=True,
                                             delete_checkpoint=False)
    callbacks = [
        WarmupCosineSchedule(config.training.learning_rate, config.training.epochs * steps_per_epoch,
                             config.training.time_budget),
        DerivedMetrics(lambda logs: task_object.epoch_metrics(config, logs)),
        keras.callbacks.CSVLogger(str(work / runs.HISTORY_FILE), append=resume),
        BestModelSaver(work / runs.MODEL_FILE, monitor, best),
        backup,
    ]
    if config.training.early_stopping:
        callbacks.append(keras.callbacks.EarlyStopping(monitor=monitor, patience=config.training.patience))
    if config.training.tensorboard:
        callbacks.append(keras.callbacks.TensorBoard(log_dir=str(work / runs.LOGS_DIR)))
        _log_hyperparameters(work / runs.LOGS_DIR, config, trial=Path(work).name)
    progress = None if quiet else RichProgress(config.training.epochs, steps_per_epoch)
    callbacks.extend([progress] if progress else [])
    callbacks.extend(extra_callbacks)
    callbacks.append(InterruptAtSafePoints(interrupts.take))
    try:
        with interrupts.deferred():
            model.fit(train_data, validation_data=validation_data, epochs=config.training.epochs,
                      callbacks=callbacks, verbose=0, shuffle=False)
            if interrupts.take():  # a signal during the last epoch's end
                raise KeyboardInterrupt
    except KeyboardInterrupt:
        # Keep the state of the interrupted epoch too, so --resume loses nothing done.
        backup._save_model()
        raise TrainingInterrupted(
            f"Training interrupted; the last checkpoint is in {work}. Continue with "
            f"`rnnkit train --resume --out {work}`."
        ) from None
    finally:
        if progress is not None:
            progress.close()
    if not (work / runs.MODEL_FILE).exists():
        raise RnnkitError("Training produced no finite validation loss, so no model was saved. Try a lower --learning-rate.")

    # Metrics and plots come from the best epoch, through the same inference module that
    # `Run`'s verbs and the SavedModel use.
    inference = task_object.build_inference(task_object.load_model(work / runs.MODEL_FILE), prepared.preprocessor)
    metrics = task_object.final_metrics(inference, config, prepared)
    write_json_atomic(work / runs.METRICS_FILE, metrics)
    task_object.plots(work / runs.PLOTS_DIR, _read_history(work / runs.HISTORY_FILE), metrics, inference, prepared)


def _log_hyperparameters(directory: Path, config: Config, trial: str) -> None:
    """The run's options for TensorBoard's HParams dashboard, so that runs can be compared by them."""
    import tensorflow as tf
    from tensorboard.plugins.hparams import api as hparams

    values = {"task": config.task}
    for name in config.options:
        value = config.get(name)
        if value is not None:
            values[name] = ",".join(value) if isinstance(value, list) else value
    with tf.summary.create_file_writer(str(directory)).as_default():
        hparams.hparams(values, trial_id=trial)


def make_strategy(name: str):
    """The `tf.distribute` strategy for `--strategy` (auto: mirrored on 2+ GPUs)."""
    tf = import_tensorflow()
    gpus = tf.config.list_logical_devices("GPU")
    if name == "auto":
        return tf.distribute.MirroredStrategy() if len(gpus) > 1 else tf.distribute.get_strategy()
    if name == "one":
        return tf.distribute.OneDeviceStrategy("/gpu:0" if gpus else "/cpu:0")
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    return tf.distribute.MultiWorkerMirroredStrategy()


def _precision_policy(config: Config) -> str:
    if not config.training.mixed_precision:
        return "float32"
    if import_tensorflow().config.list_logical_devices("GPU"):
        return "mixed_float16"
    log.warning("--mixed-precision needs a GPU; training in float32 on the CPU.")
    return "float32"


def _versions() -> dict[str, str]:
    import platform

    import keras
    import tensorflow as tf

    from rnnkit.version import __version__

    return {"rnnkit": __version__, "tensorflow": tf.__version__, "keras": keras.__version__,
            "python": platform.python_version()}


def _read_history(path: Path) -> list[dict[str, float]]:
    import csv

    if not path.exists():
        return []
    rows = []
    with path.open(newline="", encoding="utf-8") as handle:
        for line, row in enumerate(csv.DictReader(handle), start=2):
            values = {key: value for key, value in row.items() if value not in ("", None)}
            try:
                rows.append({key: float(value) for key, value in values.items()})
            except (TypeError, ValueError):
                bad = next(f"{key}={value!r}" for key, value in values.items() if not _is_float(value))
                raise RunError(f"{path} line {line} has a value that is not a number ({bad}). Fix or delete that "
                               "line, or train a new run.") from None
    return rows


def _is_float(value) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


class _Interrupts:
    """SIGINT and SIGTERM as `KeyboardInterrupt`; while `model.fit` runs, deferred to its next batch or epoch
    boundary (see `InterruptAtSafePoints`), so a checkpoint being written is finished first."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self):
        self.deferring = False
        self.pending = False

    def __call__(self, signum, frame):
        if not self.deferring:
            raise KeyboardInterrupt
        self.pending = True

    def take(self) -> bool:
        pending, self.pending = self.pending, False
        return pending

    @contextlib.contextmanager
    def installed(self):
        if threading.current_thread() is not threading.main_thread():
            yield  # signal handlers can only be set in the main thread
            return
        previous = {number: signal.signal(number, self) for number in self.SIGNALS}
        try:
            yield
        finally:
            for number, handler in previous.items():
                signal.signal(number, handler)

    @contextlib.contextmanager
    def deferred(self):
        self.deferring = True
        try:
            yield
        finally:
            self.deferring = False


def _best_so_far(work: Path, monitor: str) -> float | None:
    values = [row[monitor] for row in _read_history(work / runs.HISTORY_FILE) if monitor in row]
    return min(values) if values else None
