"""The training driver shared by every task: run folder, callbacks, strategy, precision.

`train()` is what `rnnkit.train` and `rnnkit train` call. It validates the whole
configuration and reads the data before TensorFlow is imported, so user errors fail
fast, then fits with Keras' own callbacks (`BackupAndRestore`, `EarlyStopping`,
`CSVLogger`, `TensorBoard`) plus a few small ones of ours. It knows no task by name: it
calls the `rnnkit.task.Task` methods in their fixed order.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import math
import random
import shutil
import signal
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from rnnkit import runs
from rnnkit.atomic import replace_dir, write_json_atomic, write_text_atomic
from rnnkit.backbone import uses_cudnn_kernel
from rnnkit.config import SHARED_OPTIONS, Config, read_config_file
from rnnkit.errors import ConfigError, DataError, RnnkitError, RunError
from rnnkit.locking import FolderLock
from rnnkit.registry import get_task, infer_task, tasks_for_options
from rnnkit.tf_import import import_tensorflow

log = logging.getLogger("rnnkit")


class TrainingInterrupted(RnnkitError):
    """Training was interrupted (Ctrl-C); the last checkpoint is kept for `--resume`."""


class TrainingDiverged(RnnkitError):
    """No epoch ended with a finite validation loss (a learning rate too high), so no model was saved."""


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
    # Options only one task has (--target, --text-col, --level) decide the task when its data could be that task's.
    if task is None and file_task is None:
        task = infer_task(str(data), options.get("encoding"), among=tasks_for_options(options))
    task_object = get_task(task or file_task)
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
          data_changed: bool = False, quiet: bool = True, callbacks: list | None = None, **options: Any):
    """Train a model and write its run folder; returns the `Run`.

    Args:
        data: a file, folder or built-in data name (`rnnkit datasets`).
        task: a task name (`rnnkit.task_names()`); inferred from `data` when `None`.
            Defaults to `None`.
        out: the run folder; a new `runs/<task>-<timestamp>` when `None`. Defaults to `None`.
        config: a `config.json` (path, run folder or `Config`) to start from. Defaults to `None`.
        overwrite: replace a non-empty `out`, once training has succeeded. Defaults to `False`.
        resume: continue the run in `out` from its last checkpoint, exactly where it stopped.
            Only the options marked `resumable` (`epochs`, `learning_rate`, `time_budget`,
            `patience`, ...) may change. Defaults to `False`.
        data_changed: with `resume`, continue on data other than the run's (its fingerprint in
            config.json differs). Defaults to `False`.
        quiet: no progress bar. Defaults to `True`.
        callbacks: extra Keras callbacks for `model.fit`. Defaults to `None`.
        **options: flat options as on the command line (`rnnkit train --help`): the shared
            ones (`cell`, `layers`, `units`, `dropout`, `epochs`, `batch_size`,
            `learning_rate`, `clipnorm`, `seed`, `val_split`, ...) and the task's own
            (textgen: `level`, `max_len`, `vocab_size`, `embedding_dim`; sentiment:
            `text_col`, `label_col`, `class_weight`, ...; forecast: `target`, `horizon`,
            `window`, ...). Another task's option is a `ConfigError`.

    Returns:
        The `Run`; `None` in a multi-worker process other than the chief (`strategy="multi-worker"`):
        only the chief writes `out`, the others train in a temporary folder they delete.

    Raises:
        RunError: `out` is written by another process (its pid named), holds something else,
            or cannot be resumed as asked.

    Example:
        >>> run = rnnkit.train("python-docs", epochs=1, out="runs/demo")  # doctest: +SKIP
    """
    from rnnkit.datasets.fingerprint import data_fingerprint

    data = None if data is None else str(data)
    if overwrite and resume:
        raise ConfigError("--overwrite and --resume exclude each other: pick one.")
    if resume and out is None:
        raise ConfigError("--resume needs --out RUN: the run folder to continue.")
    if resume and config is not None:
        raise ConfigError("--config and --resume exclude each other: --resume continues the run with its own config.json.")
    if data_changed and not resume:
        raise ConfigError("--data-changed goes with --resume: a new run always records the data it is given.")
    # SIGTERM (schedulers, `docker stop`, `kill`) stops training the way Ctrl-C does: the
    # interrupted epoch is checkpointed for --resume and the CLI exits with 130.
    interrupts = _Interrupts()
    locks: list[FolderLock] = []
    created = None
    with interrupts.installed():
        try:
            if resume:
                out = runs.check_resumable(out)
                worker = _worker(options.get("strategy") or runs.read_run_config(out)[1].training.strategy)
                if worker is None or worker.chief:
                    locks.append(FolderLock(out).acquire())
                task_object, resolved = _resume_config(out, data, task, data_changed, options)
            else:
                task_object, resolved = resolve_config(data, task=task, config=config, **options)
                worker = _worker(resolved.training.strategy)
                if worker is None or worker.chief:  # the others write a temporary folder of their own
                    if out is None:
                        out = created = runs.create_default_run_dir(resolved.task)
                    else:
                        out = runs.prepare_run_dir(out, overwrite=overwrite, data=resolved.data.path)
                        created = None if out.exists() else out
                        _make_dir(out)
                    locks.append(FolderLock(out).acquire())
                    # Again, now that no one else can write it: another writer may have filled it meanwhile.
                    runs.prepare_run_dir(out, overwrite=overwrite, data=resolved.data.path, locked=True)
                resolved.data.fingerprint = data_fingerprint(resolved.data.path)
            if worker is None or worker.chief:
                runs.clean_leftovers(out.resolve().parent)
            return _train(task_object, resolved, out, overwrite, resume, quiet, callbacks or [], interrupts, locks,
                          worker)
        finally:
            for lock in reversed(locks):
                lock.release()
            if created is not None and created.is_dir() and not any(created.iterdir()):
                created.rmdir()  # nothing was written: leave no empty folder behind


def _resume_config(out: Path, data: str | None, task: str | None, data_changed: bool, options: dict[str, Any]):
    """The task and config to continue `out` with; refuses a change the checkpoint cannot follow."""
    from rnnkit.datasets.fingerprint import data_fingerprint, describe

    _, recorded = runs.read_run_config(out)
    # Before the options are applied together, which could fail on a combination the run never had.
    fixed = {name: recorded.options[name].validate(value) for name, value in options.items()
             if value is not None and name in recorded.options and not recorded.options[name].resumable}
    changed = [name for name, value in fixed.items() if value != recorded.get(name)]
    if changed:
        flags = ", ".join(recorded.options[name].flag for name in changed)
        trained = ", ".join(f"{name}={recorded.get(name)}" for name in changed)
        free = ", ".join(option.flag for option in recorded.options.values() if option.resumable)
        raise ConfigError(f"{flags} cannot change on --resume: the checkpoint was trained with {trained}, and only "
                          f"{free} may change. Drop {flags}, or start a new run (another --out, or --overwrite).")
    task_object, resolved = resolve_config(data, task=task, config=out / runs.CONFIG_FILE, record=True, **options)
    fingerprint = data_fingerprint(resolved.data.path)
    before = recorded.data.fingerprint
    if before is not None and fingerprint != before and not data_changed:
        raise DataError(f"{resolved.data.path} is not the data {out} was trained on ({describe(before)} then, "
                        f"{describe(fingerprint)} now; contents differ). Pass the original data, add --data-changed "
                        "to continue on this data anyway, or start a new run.")
    resolved.data.fingerprint = fingerprint
    return task_object, resolved


def _make_dir(path: Path) -> None:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise RunError(f"Cannot create the run folder {path}: {error.strerror}. Choose another --out.") from None


def _worker(strategy: str | None):
    """This process's place in a multi-worker cluster (from TF_CONFIG), or `None` for one process."""
    if strategy != "multi-worker":
        return None
    from rnnkit.multiworker import worker_from_environment

    worker = worker_from_environment()
    log.info(f"Multi-worker training: this is {worker.describe()}.")
    return worker


def _train(task_object, resolved: Config, out: Path, overwrite: bool, resume: bool, quiet: bool, callbacks: list,
           interrupts: "_Interrupts", locks: list[FolderLock], worker=None):
    from rnnkit import checkpoints

    # A run stopped before its first checkpoint has nothing to continue: it starts again from
    # its recorded options (the data is prepared anew, as it was never used).
    restart = resume and not checkpoints.has_checkpoint(out / runs.CHECKPOINT_DIR)
    if restart:
        log.warning(f"{out} has no checkpoint yet (it was stopped in its first epoch): training it from the "
                    "start with its recorded options.")
    continuing = resume and not restart
    # A seed the user chose (option or config file) asks for a repeatable run: deterministic
    # kernels, which cost some speed. Without one, a seed is drawn and recorded for --config.
    repeatable = resolved.training.seed is not None
    if not repeatable:
        resolved.training.seed = random.randrange(2**31)
    strategy = None
    if worker is not None:
        # Created before any other TensorFlow work, as tf.distribute asks; the workers must split
        # and shuffle the data alike, so they all take the chief's seed.
        from rnnkit.multiworker import broadcast_from_chief

        strategy = make_strategy("multi-worker")
        resolved.training.seed = broadcast_from_chief(strategy, resolved.training.seed)
    work = out
    if worker is not None and not worker.chief:
        work = Path(tempfile.mkdtemp(prefix="rnnkit-worker-"))
    elif overwrite and runs.contents(out):
        # Train beside the old run and swap at the end, so a failure loses nothing.
        target = out.resolve()
        work = Path(tempfile.mkdtemp(prefix=f".{target.name}.new-", dir=target.parent))
        locks.append(FolderLock(work).acquire())
    policy = None
    try:
        prepared = _prepare(task_object, resolved, out / runs.PREPROCESSOR_DIR if continuing else None,
                            work / runs.CACHE_DIR)
        for message in prepared.warnings:
            log.warning(message)

        tf = import_tensorflow()
        import keras

        resolved.versions = _versions()
        keras.utils.set_random_seed(resolved.training.seed)
        if repeatable:
            tf.config.experimental.enable_op_determinism()
        task_object.resolve_for_hardware(resolved, gpu=bool(tf.config.list_logical_devices("GPU")))
        fast, reason = uses_cudnn_kernel(resolved.model)
        if not fast and tf.config.list_logical_devices("GPU"):
            log.warning(f"{reason}.")
        strategy = strategy or make_strategy(resolved.training.strategy)
        policy = keras.mixed_precision.global_policy()
        precision = _precision_policy(resolved)
        resolved.runtime = _runtime(strategy, precision)
        keras.mixed_precision.set_global_policy(precision)
        _fit(task_object, resolved, prepared, work, strategy, resume=continuing, quiet=quiet,
             extra_callbacks=callbacks, interrupts=interrupts, resume_from=out, worker=worker)
    except BaseException as error:
        if work == out:
            raise
        shutil.rmtree(work, ignore_errors=True)
        if isinstance(error, TrainingInterrupted):
            raise TrainingInterrupted(f"Training interrupted; {out} was left as it was.") from None
        raise
    finally:
        if policy is not None:
            import keras

            keras.mixed_precision.set_global_policy(policy)
    if worker is not None and not worker.chief:
        shutil.rmtree(work, ignore_errors=True)
        return None
    shutil.rmtree(work / runs.CACHE_DIR, ignore_errors=True)  # kept only for --resume
    if work != out:
        replace_dir(work, out)
        locks[-1].moved_to(out)
    return runs.Run(out)


def _prepare(task_object, config: Config, preprocessor_dir: Path | None, cache_dir: Path):
    """`task_object.prepare`, with a cache folder in the run when the task takes one."""
    if "cache_dir" in inspect.signature(task_object.prepare).parameters:
        return task_object.prepare(config, preprocessor_dir, cache_dir=cache_dir)
    return task_object.prepare(config, preprocessor_dir)


def _fit(task_object, config: Config, prepared, work: Path, strategy, resume: bool, quiet: bool,
         extra_callbacks: list, interrupts: "_Interrupts", resume_from: Path | None = None, worker=None) -> None:
    """Fit, write the run into `work`, score the best model. `resume_from` holds the checkpoint to
    resume (the run folder: `work` unless this is a multi-worker process other than the chief)."""
    import keras

    from rnnkit import checkpoints
    from rnnkit.callbacks import (BestModelSaver, DerivedMetrics, ResumableEarlyStopping, RichProgress, TimeBudget,
                                  WarmupCosineSchedule)

    monitor = task_object.monitor
    resume_from = resume_from or work
    chief = worker is None or worker.chief
    # read before anything in the run is rewritten
    history = _read_history(resume_from / runs.HISTORY_FILE) if resume else []
    train_data, validation_data, steps_per_epoch = task_object.datasets(config, prepared)
    loaded = time.monotonic()  # a time budget starts here
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
    start = _restore(model, resume_from) if resume else checkpoints.Position()
    carried = getattr(model, "carried_states", None)
    if carried is not None and worker is not None and not worker.chief:
        # The checkpoint holds the chief's streams' states; this worker reads other streams.
        carried.clear()
    if worker is None:
        fitter = _KerasFit(model, interrupts.take)
    else:
        from rnnkit.multiworker import MultiWorkerFit

        fitter = MultiWorkerFit(model, strategy, interrupts.take, start=loaded)

    # The checkpoint fits the model: from here on the run folder may be rewritten.
    write_text_atomic(work / runs.CONFIG_FILE, config.to_json())
    task_object.save_preprocessor(prepared, work / runs.PREPROCESSOR_DIR)
    earlier = [row for row in history if row.get("epoch", math.inf) < start.epoch]
    if resume:
        _keep_history(work / runs.HISTORY_FILE, start.epoch)  # a kill after an epoch's row but before its checkpoint
    budget = None
    if config.training.time_budget:
        budget = TimeBudget(config.training.time_budget, start=loaded, clock=fitter.clock)
        validation_data, final_seconds, final_reserved = _fit_validation_to(budget, fitter, validation_data)

    scores = [row[monitor] for row in earlier if monitor in row]
    checkpoint = checkpoints.TrainingCheckpoint(work / runs.CHECKPOINT_DIR, steps_per_epoch, fitter.stop_requested,
                                                start)
    callbacks = [
        WarmupCosineSchedule(config.training.learning_rate, config.training.epochs * steps_per_epoch, budget),
        DerivedMetrics(lambda logs: task_object.epoch_metrics(config, logs)),
        keras.callbacks.CSVLogger(str(work / runs.HISTORY_FILE), append=resume),
        BestModelSaver(work / runs.MODEL_FILE, monitor, min(scores) if scores else None),
    ]
    if config.training.early_stopping:
        callbacks.append(ResumableEarlyStopping(monitor, config.training.patience, earlier=scores))
    if config.training.tensorboard:
        callbacks.append(keras.callbacks.TensorBoard(log_dir=str(work / runs.LOGS_DIR)))
        _log_hyperparameters(work / runs.LOGS_DIR, config, trial=Path(work).name)
    progress = None if quiet or not chief else RichProgress(config.training.epochs, steps_per_epoch, start)
    callbacks.extend([progress] if progress else [])
    callbacks.extend(extra_callbacks)
    callbacks.append(checkpoint)
    try:
        with interrupts.deferred():
            epochs, first = config.training.epochs, start.epoch
            if start.batch and first < epochs:
                # The rest of the epoch it stopped in: a fit of its own, as every epoch of one fit has one length.
                # Its running metrics go on from the checkpoint's, into variables Keras builds in a first step.
                fitter.evaluate(validation_data.take(1))
                fitter.fit(_stream(train_data, first * steps_per_epoch + start.batch), validation_data,
                           steps_per_epoch - start.batch, epochs=first + 1, initial_epoch=first, callbacks=callbacks)
                first += 1
                # A fresh pipeline: the one just used has drawn its next shuffles already.
                train_data, _, _ = task_object.datasets(config, prepared)
            if first < epochs and not model.stop_training:
                fitter.fit(_stream(train_data, first * steps_per_epoch), validation_data, steps_per_epoch,
                           epochs=epochs, initial_epoch=first, callbacks=callbacks)
            if interrupts.take():  # a signal during the last epoch's end
                raise KeyboardInterrupt
    except KeyboardInterrupt:
        # Keep where the interrupted epoch stood, so --resume loses nothing done.
        checkpoint.save_now()
        raise TrainingInterrupted(
            f"Training interrupted; the last checkpoint is in {work}. Continue with "
            f"`rnnkit train --resume --out {work}`."
        ) from None
    finally:
        if progress is not None:
            progress.close()
    if not chief:
        return  # the chief scores the model and writes the run
    if not (work / runs.MODEL_FILE).exists():
        raise TrainingDiverged("Training produced no finite validation loss, so no model was saved. Try a lower --learning-rate.")

    # Metrics and plots come from the best epoch, through the same inference module that
    # `Run`'s verbs and the SavedModel use, after what the task settles on the validation part.
    best = task_object.load_model(work / runs.MODEL_FILE)
    if task_object.after_fit(best, config, prepared):
        task_object.save_preprocessor(prepared, work / runs.PREPROCESSOR_DIR)
        write_text_atomic(work / runs.CONFIG_FILE, config.to_json())
    inference = task_object.build_inference(best, prepared.preprocessor)
    portion = 1.0
    if budget is not None and final_seconds > budget.left():
        # Sized to what the budget has left, or at least what it kept for it when training and
        # validation ran over theirs; metrics.json records the share.
        portion = min(1.0, max(budget.left(), final_reserved) / final_seconds)
    if portion < 1:
        log.warning(f"Scoring the best model on {portion:.1%} of the held-out data to stay within the time budget "
                    f"(all of it would take about {final_seconds:.0f} s); metrics.json records the share.")
    # `portion` only when needed: a task plugin written before it existed still trains.
    metrics = task_object.final_metrics(inference, config, prepared, **({"portion": portion} if portion < 1 else {}))
    write_json_atomic(work / runs.METRICS_FILE, metrics)
    task_object.plots(work / runs.PLOTS_DIR, _read_history(work / runs.HISTORY_FILE), metrics, inference, prepared)


def _fit_validation_to(budget, fitter, validation_data):
    """With a time budget: the validation batches each epoch evaluates, the seconds the final evaluation
    of all the held-out data takes, and the seconds the budget keeps for it.

    One validation batch is timed (after another has traced the evaluation). Each epoch evaluates
    the same first batches, as many as a tenth of the budget allows; the budget keeps time for
    the last epoch's validation and the final evaluation of all the held-out data, up to a quarter
    of the budget; beyond that, the final evaluation scores the share of the data that fits.
    """
    batches = int(validation_data.cardinality())
    started = time.monotonic()
    fitter.evaluate(validation_data.take(1))
    traced = time.monotonic()
    fitter.evaluate(validation_data.take(1))
    # Several workers must evaluate the same batches: they take the mean of their timings.
    per_batch, tracing = fitter.agree([max(time.monotonic() - traced, 1e-4), traced - started])
    if batches < 0:  # unknown: no sizing
        return validation_data, 0.0, 0.0
    kept = max(1, min(batches, int(0.1 * budget.seconds / per_batch)))
    # The final evaluation loads the best model and traces again: as long as the first batch here.
    final_seconds = batches * per_batch + tracing
    final_reserved = min(final_seconds, 0.25 * budget.seconds)
    budget.reserve = kept * per_batch + final_reserved
    return (validation_data.take(kept) if kept < batches else validation_data), final_seconds, final_reserved


class _KerasFit:
    """`model.fit` and `model.evaluate` in one process, behind the interface `multiworker.MultiWorkerFit` shares."""

    def __init__(self, model, interrupted):
        self.model = model
        self.stop_requested = interrupted
        self.clock = time.monotonic

    def agree(self, values: list[float]) -> list[float]:
        return values  # one process agrees with itself

    def evaluate(self, dataset) -> dict[str, float]:
        return self.model.evaluate(dataset, verbose=0, return_dict=True)

    def fit(self, stream, validation_data, steps_per_epoch: int, epochs: int, initial_epoch: int,
            callbacks: list) -> None:
        self.model.fit(stream, validation_data=validation_data, steps_per_epoch=steps_per_epoch, epochs=epochs,
                       initial_epoch=initial_epoch, callbacks=callbacks, verbose=0, shuffle=False)


def _stream(train_data, position: int):
    """The training batches from `position` (epochs x steps + batch) on, as one endless stream.

    Each pass of the task's pipeline draws its next shuffle from its seed, so batch `position`
    of a fresh pipeline's stream is the batch an uninterrupted run trains on there, whatever
    Keras does with its iterators: a resumed run sees exactly the data it would have seen.
    """
    stream = train_data.repeat()
    return stream.skip(position) if position else stream


def _restore(model, work: Path):
    from rnnkit import checkpoints

    try:
        return checkpoints.load(model, work / runs.CHECKPOINT_DIR)
    except (OSError, ValueError, KeyError, TypeError) as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise RunError(f"The checkpoint in {work / runs.CHECKPOINT_DIR} cannot be loaded ({reason[:200]}). Train the "
                       "run again with --overwrite instead of --resume.") from None


def _keep_history(path: Path, epochs: int) -> None:
    """Keep the rows of history.csv for the first `epochs` epochs: those the checkpoint includes."""
    if not path.exists():
        return
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    kept = lines[:1] + [line for line in lines[1:] if _is_float(line.split(",", 1)[0])
                        and float(line.split(",", 1)[0]) < epochs]
    if kept != lines:
        write_text_atomic(path, "".join(kept))


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
    if name == "multi-worker":  # first: it configures collective ops, which must come before devices are listed
        return tf.distribute.MultiWorkerMirroredStrategy()
    gpus = tf.config.list_logical_devices("GPU")
    if name == "auto":
        return tf.distribute.MirroredStrategy() if len(gpus) > 1 else tf.distribute.get_strategy()
    if name == "one":
        return tf.distribute.OneDeviceStrategy("/gpu:0" if gpus else "/cpu:0")
    return tf.distribute.MirroredStrategy()


def _runtime(strategy, precision: str) -> dict[str, Any]:
    """How this run trains, for config.json: the dtype policy, the strategy and its devices."""
    try:
        devices = list(strategy.extended.worker_devices)
    except (RuntimeError, NotImplementedError):  # the default strategy: one device, TensorFlow's choice
        tf = import_tensorflow()
        devices = [device.name for device in (tf.config.list_logical_devices("GPU") or
                                              tf.config.list_logical_devices("CPU"))[:1]]
    name = type(strategy).__name__.lstrip("_")
    # tf.distribute.MultiWorkerMirroredStrategy's class is CollectiveAllReduceStrategy: record the name users know.
    name = {"CollectiveAllReduceStrategy": "MultiWorkerMirroredStrategy"}.get(name, name)
    return {"precision_policy": precision, "strategy": name,
            "replicas": strategy.num_replicas_in_sync, "devices": devices}


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
    boundary (see `checkpoints.TrainingCheckpoint`), so a checkpoint being written is finished first."""

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
