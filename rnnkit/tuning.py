"""Hyperparameter search over a task's options with Optuna: `rnnkit tune`.

A search lives in one folder:

    DIR/
      study.db            Optuna's study (SQLite): every trial's options, metric and state. `--resume`
                          continues it; several processes (`rnnkit tune --resume --out DIR`) share it.
      trials/NNN/         trial NNN: a normal run folder (generate, predict, forecast, evaluate, export it)
      best_config.json    the best trial's config.json: `rnnkit train --config DIR/best_config.json`
      best -> trials/NNN  the best trial's run
      plots/              optimization_history.png, param_importances.png, parallel_coordinate.png, slice.png

Each trial is `rnnkit.train` with the fixed options, the values the sampler chose, the search's
seed (the same for every trial, so trials differ only by their options) and its share of the
time budget. It reports the task's validation metric (`Task.monitor`) after every epoch to
Optuna's median pruner, which stops a trial that falls behind the others at the same epoch.
The objective is that metric at the trial's best epoch, the one its model.keras holds.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import random
import shutil
import signal
import threading
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rnnkit import runs
from rnnkit.atomic import write_text_atomic
from rnnkit.errors import ConfigError, DataError, RunError
from rnnkit.options import Tuned
from rnnkit.training import TrainingDiverged, TrainingInterrupted, _read_history, resolve_config, train

log = logging.getLogger("rnnkit")

STUDY_FILE = "study.db"
TRIALS_DIR = "trials"
BEST_CONFIG_FILE = "best_config.json"
BEST_LINK = "best"
PLOTS_DIR = "plots"
STUDY_NAME = "rnnkit"
SAMPLERS = ("tpe", "random", "grid")
DEFAULT_TRIALS = 20
# Below this a trial cannot build, trace, fit one epoch and score its model.
MIN_TRIAL_SECONDS = 10.0
# A search whose trials keep failing stops and says why.
MAX_FAILURES_IN_A_ROW = 3
# How often a worker looks whether the trials that other processes run have finished.
POLL_SECONDS = 5.0
# What a search records in its study, and what --resume may not change.
RECORD = "rnnkit"
# Options a search sets itself, or that say how a trial runs rather than what it is.
NOT_TUNABLE = ("seed", "time_budget", "tensorboard", "strategy", "encoding")
PLOTS = ("optimization_history", "param_importances", "parallel_coordinate", "slice")
# How the summary names Optuna's trial states; a failed trial that was interrupted is "interrupted",
# a pruned one that the search's time budget stopped "cut".
TRIAL_STATES = {"COMPLETE": "complete", "PRUNED": "pruned", "FAIL": "failed", "RUNNING": "running",
                "WAITING": "waiting"}


class SearchInterrupted(TrainingInterrupted):
    """The search was stopped (Ctrl-C or SIGTERM); `rnnkit tune --resume --out DIR` continues it."""


class _TrialFailed(Exception):
    """A trial that trained but produced no model (it diverged): recorded as failed, and the search goes on."""


@dataclass
class Search:
    """A search folder's study, summarized (what `rnnkit tune` prints and `--json` shows).

    Attributes:
        path: the search folder.
        task: the task searched.
        metric: the validation metric minimized (`val_loss`).
        trials: one dict per trial: number, state, value, params, epochs, seconds, run.
        best: the best finished trial's dict with its `config` file, or `None` before any finished.
        plots: the plot files written.
    """

    path: Path
    task: str
    metric: str
    trials: list[dict[str, Any]] = field(default_factory=list)
    best: dict[str, Any] | None = None
    plots: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        states = [trial["state"] for trial in self.trials]
        return {"study": str(self.path), "task": self.task, "metric": self.metric, "direction": "minimize",
                "trials": self.trials, "complete": states.count("complete"), "pruned": states.count("pruned"),
                "failed": states.count("failed"), "interrupted": states.count("interrupted"),
                "cut": states.count("cut"), "best": self.best,
                "plots": self.plots}


def tune(data: str | Path | None = None, task: str | None = None, out: str | Path | None = None,
         trials: int | None = None, time_budget: float | None = None, trial_budget: float | None = None,
         sampler: str | None = None, space: str | Path | dict | None = None, resume: bool = False,
         quiet: bool = True, tensorboard: bool = False, progress=None, **options: Any) -> Search:
    """Search the task's options for the lowest validation metric; returns the `Search`.

    Args:
        data: the training data, as for `rnnkit.train`; with `resume`, the search's own when `None`.
        task: the task; inferred from `data` when `None`. Defaults to `None`.
        out: the search folder; a new `runs/<task>-tune-<timestamp>` when `None`. Defaults to `None`.
        trials: how many trials the study should hold, finished (complete or pruned), counting
            those of earlier sessions and of other workers. Defaults to the search's (20 for a new
            one; a grid: its size), or no limit when `time_budget` is given.
        time_budget: seconds for the whole search: no trial starts after them, and a trial still
            running then is stopped at its best epoch so far (its state "cut": it does not
            compete for best). Defaults to `None`: no limit.
        trial_budget: seconds per trial: each trial's `time_budget` (its learning-rate schedule
            follows the clock). Recorded with the search. Defaults to `None`: the task's epochs.
        sampler: `tpe` (Bayesian), `random` or `grid` (each range at its ends and middle).
            Defaults to `tpe`.
        space: a JSON file or dict that overrides the task's search space (`Task.search_space`),
            by option: `{"units": {"low": 32, "high": 512, "log": true}, "cell": {"choices":
            ["gru", "lstm"]}, "dropout": null}` (null leaves an option out). Defaults to `None`.
        resume: continue the search in `out` (or work on it beside another process). Only
            `trials`, `time_budget` and `trial_budget` may be given anew. Defaults to `False`.
        quiet: no progress bars in the trials. Defaults to `True`.
        tensorboard: each trial writes TensorBoard logs with its options (HParams); open
            `tensorboard --logdir DIR/trials`. Defaults to `False`.
        progress: called as `progress(trial_dict)` after each trial. Defaults to `None`.
        **options: options every trial takes as they are (`target="passengers"`,
            `units=256`): an option given here is not searched. `seed` is the seed of every trial
            and of the sampler (drawn and recorded when not given).

    Returns:
        The `Search`, with its trials and best trial.

    Raises:
        ConfigError: an unknown or fixed option in `space`, an empty range, a budget too small
            for one trial, or an option that `resume` cannot change.
        SearchInterrupted: Ctrl-C or SIGTERM; the running trial is discarded and retried first
            by `--resume`.
    """
    optuna = _import_optuna()
    _check_session(trials, time_budget, trial_budget)
    out = Path(out) if out is not None else None
    if resume:
        if out is None:
            raise ConfigError("--resume needs --out DIR: the search folder to continue.")
        record = _resumed_record(out, data, task, sampler, space, options)
    else:
        record, out = _new_record(data, task, out, sampler, space, options)
    if trials is not None:
        record["trials"] = trials
    if trial_budget is not None:
        record["trial_budget"] = trial_budget
    space_entries = [_tuned_from_dict(name, values) for name, values in record["space"].items()]
    study = _open_study(optuna, out, record, resume)
    deadline = None if time_budget is None else time.monotonic() + time_budget
    with _StopRequests() as stop, _quiet_retracing():
        try:
            # With a time budget and no --trials, the budget alone ends this session.
            target = math.inf if trials is None and time_budget is not None else record["trials"]
            _search(optuna, study, out, record, space_entries, target, deadline, quiet, tensorboard, stop, progress)
        except SearchInterrupted:
            _finish(study, out, record)
            raise
    return _finish(study, out, record)


# -- the record and the space -----------------------------------------------------------------


def search_space(task_object, fixed: dict[str, Any], override: str | Path | dict | None = None) -> list[Tuned]:
    """The task's search space with `override` applied, without the `fixed` options, each checked
    against its option (`ConfigError` for an unknown option, an empty range or a value it refuses)."""
    options = {option.name: option for option in task_object.all_options()}
    entries = {tuned.name: tuned for tuned in task_object.search_space}
    for name, values in _read_space(override).items():
        if name in NOT_TUNABLE or name not in options:
            tunable = ", ".join(sorted(name for name in options if name not in NOT_TUNABLE))
            raise ConfigError(f"Unknown parameter '{name}' in --space: {task_object.name} options that can be tuned "
                              f"are {tunable}.")
        if values is None:
            entries.pop(name, None)
        else:
            entries[name] = _tuned_from_dict(name, values, source="--space")
    tuned = [entry for name, entry in entries.items() if name not in fixed]
    for entry in tuned:
        _check_tuned(entry, options[entry.name])
    if not tuned:
        raise ConfigError("Nothing left to search: every option of the search space is fixed (by --set or a flag). "
                          "Drop a fixed option or add one to the space with --space.")
    return tuned


def _read_space(override: str | Path | dict | None) -> dict[str, Any]:
    if override is None:
        return {}
    if isinstance(override, dict):
        values = override
    else:
        path = Path(override)
        try:
            values = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"--space {path} does not exist. Pass a JSON file of option ranges.") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            raise ConfigError(f"--space {path} is not a readable JSON file ({error}). Fix it, e.g. "
                              '{"units": {"low": 32, "high": 512, "log": true}}.') from None
    if not isinstance(values, dict):
        raise ConfigError('--space must be a JSON object of option ranges, e.g. {"units": {"low": 32, "high": 512}}.')
    return values


def _tuned_from_dict(name: str, values: Any, source: str = "the study") -> Tuned:
    example = '{"low": 32, "high": 512, "log": true} or {"choices": ["gru", "lstm"]}'
    if not isinstance(values, dict) or not ({"low", "high"} <= set(values) or "choices" in values) \
            or set(values) - {"low", "high", "log", "choices"}:
        raise ConfigError(f"{source}: '{name}' must be a range or a list of choices, such as {example}. "
                          f"Received: {name}={values!r}")
    if "choices" in values:
        if not isinstance(values["choices"], list) or not values["choices"]:
            raise ConfigError(f"{source}: '{name}' has an empty list of choices. Give at least one value.")
        return Tuned(name, choices=tuple(values["choices"]))
    return Tuned(name, values["low"], values["high"], log=bool(values.get("log", False)))


def _check_tuned(entry: Tuned, option) -> None:
    if entry.choices:
        for value in entry.choices:
            option.validate(value)
        return
    if option.type not in (int, float) or option.choices:
        raise ConfigError(f"--space: '{entry.name}' takes values, not a range: give it as "
                          f'{{"choices": [...]}}. Received: {entry.to_dict()}')
    for value in (entry.low, entry.high):
        if option.type is int and not (isinstance(value, int) and not isinstance(value, bool)):
            raise ConfigError(f"--space: '{entry.name}' is an integer option; its range must be integers. "
                              f"Received: {entry.to_dict()}")
        option.validate(value)
    if entry.low >= entry.high:
        raise ConfigError(f"--space: the range of '{entry.name}' is empty (low {entry.low} is not below high "
                          f"{entry.high}). Give low < high, or fix the option with --set {entry.name}=VALUE.")
    if entry.log and entry.low <= 0:
        raise ConfigError(f"--space: '{entry.name}' has a log scale, so its low end must be above 0. "
                          f"Received: low={entry.low}")


def _new_record(data, task, out, sampler, space, options) -> tuple[dict[str, Any], Path]:
    from rnnkit.datasets.fingerprint import data_fingerprint

    for name in ("time_budget", "tensorboard"):
        if options.get(name) is not None:
            raise ConfigError(f"--{name.replace('_', '-')} is not an option of rnnkit tune: "
                              + ("give --trial-budget (per trial) or --time-budget (the search)."
                                 if name == "time_budget" else "pass --tensorboard to rnnkit tune itself."))
    fixed = {name: value for name, value in options.items() if value is not None}
    if fixed.get("seed") is None:
        fixed["seed"] = random.randrange(2**31)
    task_object, config = resolve_config(None if data is None else str(data), task=task, **fixed)
    fixed = {name: config.get(name) for name in fixed}  # normalized (column lists split)
    entries = search_space(task_object, fixed, space)
    sampler = sampler or "tpe"
    if sampler not in SAMPLERS:
        raise ConfigError(f"Unknown sampler '{sampler}'. Expected one of: {', '.join(SAMPLERS)}.")
    if out is None:
        out = runs.create_default_run_dir(config.task, kind="tune")
    elif out.exists() and (not out.is_dir() or any(out.iterdir())):
        hint = " Pass --resume to continue its search," if (out / STUDY_FILE).exists() else ""
        raise RunError(f"{out} already exists and is not empty.{hint} Choose another --out.")
    record = {"task": config.task, "data": config.data.path, "fingerprint": data_fingerprint(config.data.path),
              "options": fixed, "space": {entry.name: entry.to_dict() for entry in entries}, "sampler": sampler,
              "seed": fixed["seed"], "metric": task_object.monitor, "trials": DEFAULT_TRIALS}
    if sampler == "grid":
        record["trials"] = math.prod(len(entry.grid(_kind(task_object, entry.name))) for entry in entries)
    return record, out


def _resumed_record(out: Path, data, task, sampler, space, options) -> dict[str, Any]:
    from rnnkit.datasets.fingerprint import data_fingerprint, describe

    if not (out / STUDY_FILE).is_file():
        raise RunError(f"Nothing to resume: {out} holds no search ({STUDY_FILE}). Pass the --out of an rnnkit tune "
                       "search, or start a new one without --resume.")
    import optuna

    try:
        record = optuna.load_study(study_name=STUDY_NAME, storage=_storage_url(out)).user_attrs[RECORD]
    except (KeyError, ValueError) as error:
        raise RunError(f"{out / STUDY_FILE} is not an rnnkit search ({error}). Start a new search.") from None
    given = {"task": task, "sampler": sampler, "space": space,
             **{name: value for name, value in options.items() if value is not None}}
    changed = [name for name, value in given.items() if value is not None
               and value != record.get(name, record["options"].get(name))]
    if changed:
        raise ConfigError(f"{', '.join('--' + name.replace('_', '-') for name in changed)} cannot change on --resume: "
                          "the search keeps its task, data, options and space. Only --trials, --time-budget and "
                          "--trial-budget may be given; start a new search to change the others.")
    if data is not None and Path(str(data)).expanduser().exists():
        data = str(Path(str(data)).expanduser().resolve())
    if data is not None and str(data) != record["data"]:
        raise ConfigError(f"{data} is not the data of the search in {out} ({record['data']}). Drop DATA to continue "
                          "on the search's own.")
    fingerprint = data_fingerprint(record["data"])
    if fingerprint != record["fingerprint"]:
        raise ConfigError(f"{record['data']} has changed since the search in {out} started "
                          f"({describe(record['fingerprint'])} then, {describe(fingerprint)} now); its trials would "
                          "not be comparable. Start a new search.")
    return record


def _kind(task_object, name: str) -> type:
    return next(option.type for option in task_object.all_options() if option.name == name)


# -- the study ----------------------------------------------------------------------------------


def _import_optuna():
    try:
        import optuna
    except ImportError:
        raise ConfigError("rnnkit tune needs Optuna, which is not installed: pip install 'rnnkit[tune]'") from None
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    return optuna


def _check_session(trials, time_budget, trial_budget) -> None:
    if trials is not None and (not isinstance(trials, int) or isinstance(trials, bool) or trials < 1):
        raise ConfigError(f"--trials must be an integer >= 1. Received: trials={trials!r}")
    for name, value in (("time_budget", time_budget), ("trial_budget", trial_budget)):
        if value is None:
            continue
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
            raise ConfigError(f"--{name.replace('_', '-')} must be a number of seconds. Received: {name}={value!r}")
        if value < MIN_TRIAL_SECONDS:
            raise ConfigError(f"--{name.replace('_', '-')} {value:g} is too small for one trial: give at least "
                              f"{MIN_TRIAL_SECONDS:g} seconds.")
    if time_budget is not None and trial_budget is not None and trial_budget > time_budget:
        raise ConfigError(f"--trial-budget {trial_budget:g} is longer than --time-budget {time_budget:g}: give each "
                          "trial at most the whole search's time.")


def _storage_url(out: Path) -> str:
    return f"sqlite:///{(out / STUDY_FILE).resolve()}"


def _open_study(optuna, out: Path, record: dict[str, Any], resume: bool):
    out.mkdir(parents=True, exist_ok=True)
    # A process killed in a trial stops its heartbeat; the next worker to start a trial marks
    # that trial failed and retries its options once.
    if hasattr(optuna.storages, "RetryHeartbeatStaleTrialCallback"):  # Optuna 4.9 renamed both
        retry = {"heartbeat_stale_trial_callback": optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=1)}
    else:
        retry = {"failed_trial_callback": optuna.storages.RetryFailedTrialCallback(max_retry=1)}
    # Several workers write one SQLite file: a writer waits for another's lock instead of failing.
    storage = optuna.storages.RDBStorage(_storage_url(out), heartbeat_interval=30, grace_period=90,
                                         engine_kwargs={"connect_args": {"timeout": 60}}, **retry)
    study = optuna.create_study(study_name=STUDY_NAME, storage=storage, direction="minimize", pruner=_pruner(optuna),
                                load_if_exists=resume)
    # The first session samples from the search's seed, so a search repeats; later sessions, and
    # workers started at the same moment, each from their own, so they do not propose the same options.
    study.sampler = _sampler(optuna, record, study_size=len(study.trials) if resume else 0)
    if not resume and record["sampler"] != "grid":  # a grid tries its own points
        # The first trial is the task's defaults (those inside the space), so the search's best
        # is never worse on validation than what `rnnkit train` gives without it.
        defaults = _defaults_in_space(record)
        if defaults:
            study.enqueue_trial(defaults, user_attrs={"defaults": True})
    if not resume or study.user_attrs.get(RECORD) != record:  # --trials or --trial-budget given anew
        study.set_user_attr(RECORD, record)
    return study


def _defaults_in_space(record: dict[str, Any]) -> dict[str, Any]:
    from rnnkit.registry import get_task

    defaults = {option.name: option.default for option in get_task(record["task"]).all_options()}
    chosen = {}
    for name, values in record["space"].items():
        entry, value = _tuned_from_dict(name, values), defaults.get(name)
        if value is None:
            continue
        if entry.choices and value in entry.choices or not entry.choices and entry.low <= value <= entry.high:
            chosen[name] = value
    return chosen


def _sampler(optuna, record: dict[str, Any], study_size: int):
    seed = record["seed"] if study_size == 0 else (record["seed"] + study_size + os.getpid()) % 2**32
    if record["sampler"] == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if record["sampler"] == "grid":
        from rnnkit.registry import get_task

        task_object = get_task(record["task"])
        grid = {name: _tuned_from_dict(name, values).grid(_kind(task_object, name))
                for name, values in record["space"].items()}
        return optuna.samplers.GridSampler(grid, seed=seed)
    # constant_liar: a worker does not propose what another one is trying now.
    return optuna.samplers.TPESampler(seed=seed, n_startup_trials=5, multivariate=True, constant_liar=True)


def _pruner(optuna):
    # A trial is stopped when its best loss so far is worse than the median of the earlier
    # trials' at the same epoch, once three trials have finished and from its third epoch on.
    return optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=2)


def _search(optuna, study, out: Path, record, space: list[Tuned], target: float, deadline, quiet, tensorboard,
            stop, progress) -> None:
    from rnnkit.registry import get_task

    task_object = get_task(record["task"])
    kinds = {entry.name: _kind(task_object, entry.name) for entry in space}
    states = optuna.trial.TrialState
    grid = None
    if record["sampler"] == "grid":  # beyond its size, a grid would only repeat itself
        grid = math.prod(len(entry.grid(kinds[entry.name])) for entry in space)
        if record["trials"] > grid:
            log.warning(f"The grid has {grid} points: the search stops there, not at {record['trials']} trials.")
    current = {}

    def objective(trial):
        params = {entry.name: _suggest(trial, entry, kinds[entry.name]) for entry in space}
        current.update(number=trial.number, params=params)
        if stop.requested:  # Ctrl-C while the sampler chose: retried first by --resume
            trial.set_user_attr("interrupted", True)
            raise SearchInterrupted(_interrupted_message(out))
        folder = out / TRIALS_DIR / f"{trial.number:03d}"
        pruning = _pruning_callback(trial, record["metric"], deadline)
        started = time.monotonic()
        try:
            train(record["data"], task=record["task"], out=folder, overwrite=True, quiet=quiet, callbacks=[pruning],
                  time_budget=record.get("trial_budget"), tensorboard=tensorboard or None, **record["options"],
                  **params)
        except (TrainingInterrupted, KeyboardInterrupt):
            shutil.rmtree(folder, ignore_errors=True)
            trial.set_user_attr("interrupted", True)
            raise SearchInterrupted(_interrupted_message(out)) from None
        except (TrainingDiverged, ConfigError, DataError) as error:
            # This trial's options cannot train (a learning rate that diverges, a sequence longer
            # than the data): a failed trial, and the search goes on.
            shutil.rmtree(folder, ignore_errors=True)
            trial.set_user_attr("error", str(error))
            trial.set_user_attr("seconds", round(time.monotonic() - started, 3))
            raise _TrialFailed(str(error)) from None
        history = _read_history(folder / runs.HISTORY_FILE)
        scored = [(row[record["metric"]], index) for index, row in enumerate(history)
                  if math.isfinite(row.get(record["metric"], math.nan))]
        value, best = min(scored)
        trial.set_user_attr("run", f"{TRIALS_DIR}/{folder.name}")
        trial.set_user_attr("epochs", len(history))
        trial.set_user_attr("best_epoch", best + 1)
        trial.set_user_attr("seconds", round(time.monotonic() - started, 3))
        trial.set_user_attr("metrics", {key: val for key, val in history[best].items() if key.startswith("val_")})
        trial.set_user_attr("value", value)
        if pruning.cut_at is not None:
            trial.set_user_attr("cut", True)
            raise optuna.TrialPruned(f"cut at epoch {pruning.cut_at} by the search's time budget")
        if pruning.pruned_at is not None:
            raise optuna.TrialPruned(f"behind the median at epoch {pruning.pruned_at}")
        return value

    failures = 0
    while True:
        optuna.storages.fail_stale_trials(study)
        _discard_failed(study, out)
        trials = study.get_trials(deepcopy=False)
        finished = sum(trial.state in (states.COMPLETE, states.PRUNED) for trial in trials)
        running = sum(trial.state == states.RUNNING for trial in trials)
        failed = sum(trial.state == states.FAIL for trial in trials)
        if finished >= target or grid is not None and finished + failed >= grid:
            return
        if deadline is not None and deadline - time.monotonic() < MIN_TRIAL_SECONDS:
            log.info("The time budget is spent: no further trial started.")
            return
        if stop.requested:
            raise SearchInterrupted(_interrupted_message(out))
        if finished + running >= target:
            # The last trials run elsewhere: another worker's, or a killed process's, which its
            # silent heartbeat marks failed (and retries) after the grace period.
            time.sleep(POLL_SECONDS)
            continue
        current.clear()
        try:
            study.optimize(objective, n_trials=1, catch=(_TrialFailed,))
        except SearchInterrupted:
            if current:
                study.enqueue_trial(current["params"], user_attrs={"retry_of": current["number"]})
            raise
        if "number" not in current:
            continue
        trial = next(trial for trial in study.get_trials(deepcopy=False) if trial.number == current["number"])
        failures = failures + 1 if trial.state == states.FAIL else 0
        if failures >= MAX_FAILURES_IN_A_ROW:
            raise ConfigError(f"{failures} trials in a row failed (the last: {trial.user_attrs.get('error')}). Narrow "
                              "the search space (--space) or fix the options, then continue with "
                              f"`rnnkit tune --resume --out {out}`.")
        if progress is not None:
            progress(_trial_dict(optuna, trial))


def _suggest(trial, entry: Tuned, kind: type):
    if entry.choices:
        return trial.suggest_categorical(entry.name, list(entry.choices))
    if kind is int:
        return trial.suggest_int(entry.name, int(entry.low), int(entry.high), log=entry.log)
    return trial.suggest_float(entry.name, float(entry.low), float(entry.high), log=entry.log)


def _pruning_callback(trial, metric: str, deadline: float | None):
    """A Keras callback reporting `metric` after each epoch, stopping training when Optuna prunes the trial
    (the equivalent of optuna-integration's Keras callback, which predates Keras 3), or when the search's
    time budget ends (`deadline`). The run still ends as every run does: its best epoch scored and written.

    The search's deadline stops a trial from outside, rather than becoming its `time_budget`, so a
    trial's learning-rate schedule and validation batches are those of `rnnkit train` with its config."""
    import keras

    class Pruning(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.pruned_at = self.cut_at = None
            self.best = math.inf

        def on_train_batch_end(self, batch, logs=None):
            if deadline is not None and time.monotonic() > deadline and self.cut_at is None:
                self.cut_at = "end"
                self.model.stop_training = True

        def on_epoch_end(self, epoch, logs=None):
            if self.cut_at == "end":
                self.cut_at = epoch + 1
            value = (logs or {}).get(metric)
            if value is None or not math.isfinite(value):
                return
            self.best = min(self.best, float(value))
            trial.report(self.best, epoch)
            if trial.should_prune():
                self.pruned_at = epoch + 1
                self.model.stop_training = True

    return Pruning()


def _interrupted_message(out: Path) -> str:
    return (f"Search interrupted; the running trial was discarded and will be retried first. Continue with "
            f"`rnnkit tune --resume --out {out}`.")


def _discard_failed(study, out: Path) -> None:
    """Remove the folders of failed trials (interrupted, killed or diverged): only finished trials keep one."""
    import optuna

    for trial in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.FAIL,)):
        shutil.rmtree(out / TRIALS_DIR / f"{trial.number:03d}", ignore_errors=True)


# -- the report -----------------------------------------------------------------------------------


def _trial_dict(optuna, trial) -> dict[str, Any]:
    attrs = trial.user_attrs
    state = TRIAL_STATES.get(trial.state.name, trial.state.name.lower())
    if attrs.get("interrupted"):
        state = "interrupted"  # and retried by the next session
    elif attrs.get("cut"):
        state = "cut"  # stopped by the search's time budget
    value = trial.value if trial.state == optuna.trial.TrialState.COMPLETE else attrs.get("value")
    return {"number": trial.number, "state": state, "value": value, "params": trial.params,
            "epochs": attrs.get("epochs"), "best_epoch": attrs.get("best_epoch"), "seconds": attrs.get("seconds"),
            "metrics": attrs.get("metrics", {}),
            "run": attrs.get("run") if state in ("complete", "pruned", "cut") else None,
            "defaults": bool(attrs.get("defaults")),
            **({"error": attrs["error"]} if "error" in attrs else {})}


def load_search(path: str | Path) -> Search:
    """The `Search` of the search folder `path` as its study holds it now."""
    optuna = _import_optuna()
    path = Path(path)
    if not (path / STUDY_FILE).is_file():
        raise RunError(f"{path} holds no search ({STUDY_FILE}). Pass the --out of an rnnkit tune search.")
    study = optuna.load_study(study_name=STUDY_NAME, storage=_storage_url(path))
    return _summary(optuna, study, path, study.user_attrs[RECORD])


def _summary(optuna, study, out: Path, record: dict[str, Any]) -> Search:
    search = Search(out, record["task"], record["metric"],
                    trials=[_trial_dict(optuna, trial) for trial in study.get_trials(deepcopy=False)])
    complete = [trial for trial in search.trials if trial["state"] == "complete"]
    if complete:
        best = min(complete, key=lambda trial: trial["value"])
        search.best = {**best, "config": str(out / BEST_CONFIG_FILE)}
    search.plots = sorted(str(path) for path in (out / PLOTS_DIR).glob("*.png"))
    return search


def _finish(study, out: Path, record: dict[str, Any]) -> Search:
    """Write best_config.json, the `best` link and the plots for the trials so far; the summary."""
    import optuna

    search = _summary(optuna, study, out, record)
    if search.best is not None:
        best_run = out / search.best["run"]
        write_text_atomic(out / BEST_CONFIG_FILE, (best_run / runs.CONFIG_FILE).read_text(encoding="utf-8"))
        _link(out / BEST_LINK, Path(search.best["run"]))
        _plots(optuna, study, out / PLOTS_DIR)
        search.plots = sorted(str(path) for path in (out / PLOTS_DIR).glob("*.png"))
    return search


def _link(link: Path, target: Path) -> None:
    """`link` -> `target`, replaced atomically (a second worker may write it at the same time)."""
    temporary = link.with_name(f".{link.name}.{os.getpid()}.{threading.get_ident()}")
    try:
        temporary.unlink(missing_ok=True)
        temporary.symlink_to(target, target_is_directory=True)
        os.replace(temporary, link)
    except OSError as error:
        temporary.unlink(missing_ok=True)
        log.warning(f"Could not link {link} to {target} ({error.strerror}); the best run is {link.parent / target}.")


def _plots(optuna, study, directory: Path) -> None:
    """The study's plots as PNG files (matplotlib, no display); those the trials so far allow."""
    from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullFormatter

    from rnnkit.plots import pyplot, save_figure

    pyplot()  # the headless backend, before Optuna's plots import pyplot
    metric = study.user_attrs[RECORD]["metric"]
    complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    directory.mkdir(parents=True, exist_ok=True)
    for name in PLOTS:
        if len(complete) < (2 if name != "optimization_history" else 1):
            continue
        plot = getattr(optuna.visualization.matplotlib, f"plot_{name}")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                axes = plot(study, target_name=metric)
        except (ValueError, RuntimeError) as error:  # e.g. importances when every trial scored the same
            log.warning(f"No {name.replace('_', ' ')} plot: {error}")
            continue
        first = axes.flat[0] if hasattr(axes, "flat") else axes
        figure = first.get_figure()
        for axis in figure.get_axes():  # the parallel coordinates' twin axes too
            for scale, ticks in ((axis.get_xscale(), axis.xaxis), (axis.get_yscale(), axis.yaxis)):
                if scale == "log":  # 1, 2, 5 per decade, as plain numbers: matplotlib's own labels overlap
                    ticks.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
                    ticks.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
                    ticks.set_minor_formatter(NullFormatter())
        if name == "optimization_history":
            first.xaxis.set_major_locator(MaxNLocator(integer=True))
        width = 1.6 * (len(study.best_trial.params) + 1) if name == "parallel_coordinate" else 8
        figure.set_size_inches(max(width, figure.get_size_inches()[0]), max(5, figure.get_size_inches()[1]))
        # Optuna lays out its colour bars itself: matplotlib's tight layout would move them over the plots.
        save_figure(figure, directory / f"{name}.png", tight=name not in ("slice", "parallel_coordinate"))


@contextlib.contextmanager
def _quiet_retracing():
    """Without TensorFlow's warning that functions were traced again: every trial builds its own
    model and forecaster in this one process, as it should."""
    logger = logging.getLogger("tensorflow")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


# -- signals --------------------------------------------------------------------------------------


class _StopRequests:
    """Between trials, Ctrl-C and SIGTERM ask the search to stop before its next trial (a trial's own
    training handles them while it runs: see `rnnkit.training`)."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self):
        self.requested = False
        self.previous = {}

    def __call__(self, signum, frame):
        self.requested = True

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self.previous = {number: signal.signal(number, self) for number in self.SIGNALS}
        return self

    def __exit__(self, *exc):
        for number, handler in self.previous.items():
            signal.signal(number, handler)
        return False

