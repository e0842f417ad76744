"""The run directory (DESIGN §4) and the `Run` handle the API returns.

A folder that already holds something is never written into unless the caller asked to
overwrite or resume, and one process at a time writes a run folder (`rnnkit.locking`). `Run` answers the API's verbs by delegating to its task (`rnnkit.task`):
it knows no task by name.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rnnkit.config import CONFIG_FILE, read_config_file
from rnnkit.errors import RunError
from rnnkit.locking import LOCK_FILE, FolderLock, is_locked
from rnnkit.registry import get_task, task_names

MODEL_FILE = "model.keras"
METRICS_FILE = "metrics.json"
HISTORY_FILE = "history.csv"
PREPROCESSOR_DIR = "preprocessor"
CHECKPOINT_DIR = "checkpoints"
PLOTS_DIR = "plots"
LOGS_DIR = "logs"
# Data derived for training (textgen's token file), kept for --resume and removed once training ends.
CACHE_DIR = "cache"


def create_default_run_dir(task: str, kind: str = "") -> Path:
    """Create and return a new `runs/<task>-<timestamp>` folder (`runs/<task>-<kind>-<timestamp>` with a
    `kind`, such as `tune`); folders started in the same second get `-2`, `-3`..."""
    base = Path("runs") / "-".join(filter(None, [task, kind, time.strftime('%Y%m%d-%H%M%S')]))
    base.parent.mkdir(parents=True, exist_ok=True)
    for attempt in itertools.count(1):
        path = base if attempt == 1 else base.with_name(f"{base.name}-{attempt}")
        try:
            path.mkdir()  # atomic: of two processes that try one name, one gets it
        except FileExistsError:
            continue
        return path
    raise AssertionError("unreachable")


def contents(path: Path) -> list[Path]:
    """What a folder holds besides its lock file."""
    return [entry for entry in path.iterdir() if entry.name != LOCK_FILE] if path.is_dir() else []


def is_run_dir(path: Path) -> bool:
    """A folder rnnkit train wrote, finished or not (it records its options first, or holds its lock file)."""
    return (path / CONFIG_FILE).is_file() or (path / LOCK_FILE).exists() or (path / MODEL_FILE).exists()


def prepare_run_dir(path: str | Path, overwrite: bool = False, data: str | None = None, locked: bool = False) -> Path:
    """Check that a new run may be written to `path` (nothing is created here).

    Raises `RunError` when another process writes `path` (unless `locked`: this process holds
    its lock), when `path` holds files and `overwrite` is not set, when `overwrite` would
    replace something that is not an rnnkit run, or when `path` holds the training data.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise RunError(f"--out {path} is a file, not a folder. Choose another --out.")
    if data and Path(data).exists() and Path(data).resolve().is_relative_to(path.resolve()):
        raise RunError(f"--out {path} holds the training data {data}. Choose another --out.")
    if not locked and is_locked(path):
        FolderLock(path).acquire()  # raises, naming the process that writes it
    if contents(path):
        if not overwrite:
            raise RunError(
                f"{path} already exists and is not empty. Pass --overwrite to replace it, "
                "--resume to continue it, or choose another --out."
            )
        if not is_run_dir(path):
            raise RunError(f"{path} is not an rnnkit run, so --overwrite will not replace it. Choose another --out.")
    return path


def check_resumable(path: str | Path) -> Path:
    """Check that `path` is a run folder `--resume` can continue (its lock is taken after this)."""
    path = Path(path)
    if not path.is_dir():
        raise RunError(f"Nothing to resume: {path} is not a folder. Pass the --out of the run to continue.")
    if not (path / CONFIG_FILE).is_file():
        if is_run_dir(path) or not contents(path):
            raise RunError(f"Nothing to resume in {path}: it was stopped before it recorded its options. Train it "
                           "again with --overwrite instead of --resume.")
        raise RunError(f"Nothing to resume in {path}: it is not an rnnkit run (no {CONFIG_FILE}).")
    return path


def clean_leftovers(parent: Path) -> None:
    """Remove what killed runs left in `parent`: `.NAME.new-*` folders of an `--overwrite` that never
    finished, and `.NAME.old-*` folders of one killed while swapping (put back when NAME is gone)."""
    for kind in ("old", "new"):
        for leftover in sorted(parent.glob(f".*.{kind}-*")):
            if not leftover.is_dir() or is_locked(leftover):
                continue  # a live run's
            name = leftover.name[1:].rsplit(f".{kind}-", 1)[0]
            if kind == "old" and not (parent / name).exists():
                os.replace(leftover, parent / name)
                (parent / name / LOCK_FILE).unlink(missing_ok=True)
            else:
                shutil.rmtree(leftover, ignore_errors=True)


def read_run_config(path: Path):
    """The run's task and the `Config` it records, read by that task (keys rnnkit 0.1 wrote for other tasks dropped)."""
    values = read_config_file(path / CONFIG_FILE)
    if values["task"] not in task_names():
        raise RunError(f"{path} is a {values['task']} run, but no task of that name is available here (tasks: "
                       f"{', '.join(task_names())}). Install or register the package that provides it.")
    task_object = get_task(values["task"])
    return task_object, task_object.read_config(values, source=str(path / CONFIG_FILE), record=True)


class Run:
    """A trained run: its folder, configuration, metrics, model and its task's verbs.

    Example:
        >>> run = rnnkit.load("runs/textgen-20261123-010000")   # doctest: +SKIP
        >>> run.generate("ROMEO:", length=200, seed=1)            # doctest: +SKIP
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if not self.path.is_dir():
            raise RunError(f"{self.path} is not a folder. Pass the folder `rnnkit train` wrote (see --out).")
        if not (self.path / CONFIG_FILE).exists() or not (self.path / MODEL_FILE).exists():
            raise RunError(
                f"{self.path} is not an rnnkit run: it lacks {CONFIG_FILE} or {MODEL_FILE}. "
                "Pass the folder `rnnkit train` wrote."
            )
        self.task_object, self.config = read_run_config(self.path)
        self._model = None
        self._cache: dict[str, Any] = {}

    @property
    def task(self) -> str:
        """The task's name (`"textgen"`, `"sentiment"`, `"forecast"`, or a registered one)."""
        return self.config.task

    @property
    def metrics(self) -> dict[str, Any]:
        path = self.path / METRICS_FILE
        return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}

    @property
    def model_path(self) -> Path:
        return self.path / MODEL_FILE

    @property
    def preprocessor_dir(self) -> Path:
        return self.path / PREPROCESSOR_DIR

    @property
    def model(self):
        """The trained Keras model (best epoch), loaded on first use."""
        if self._model is None:
            self._model = self.task_object.load_model(self.model_path)
        return self._model

    def cached(self, key: str, make: Callable[[], Any]) -> Any:
        """`make()` once per run: what a task builds from the run folder (preprocessor, inference module)."""
        if key not in self._cache:
            self._cache[key] = make()
        return self._cache[key]

    def require(self, verb: str) -> None:
        """Raise `RunError` unless this run's task answers `verb` (`"generate"`, `"predict"`, `"forecast"`)."""
        if not self.task_object.offers(verb):
            raise self.task_object.unsupported(verb, self)

    def generate(self, prompt: str | list[str] = "", length: int = 300, temperature: float = 0.8,
                 top_k: int = 0, top_p: float = 1.0, num_samples: int = 1,
                 seed: int | None = None, xla: bool = False) -> list[str]:
        """Sample text from a text-generation run; returns one string per sample.

        Args:
            prompt: text to continue (or one prompt per sample). Defaults to `""`.
            length: tokens to generate after the prompt. Defaults to `300`.
            temperature: >= 0.01; lower is more conservative. Defaults to `0.8`.
            top_k: sample among the k likeliest tokens; 0 keeps all. Defaults to `0`.
            top_p: nucleus sampling threshold in (0, 1]. Defaults to `1.0`.
            num_samples: samples drawn as one batch. Defaults to `1`.
            seed: same seed, same text; `None` draws one. Defaults to `None`.
            xla: sample with the XLA-compiled loop: several times faster for one sample, its
                own text for a seed (the same as a SavedModel exported with `xla=True`).
                Defaults to `False`.
        """
        options = {"xla": True} if xla else {}
        return self.task_object.generate(self, prompt=prompt, length=length, temperature=temperature, top_k=top_k,
                                         top_p=top_p, num_samples=num_samples, seed=seed, **options)

    def predict(self, texts: str | list[str]) -> list[dict[str, Any]]:
        """Classify texts with a sentiment run: one dict per text with its `label`, the
        `probability` of that label and the `probabilities` of every label.

        Args:
            texts: a string or a list of strings (raw text, as a user wrote it).

        Example:
            >>> run.predict(["a wonderful film", "dull and too long"])[0]["label"]  # doctest: +SKIP
            'pos'
        """
        return self.task_object.predict(self, texts)

    def forecast(self, data, horizon: int | None = None, plot: str | Path | None = None) -> dict[str, Any]:
        """Forecast the steps after the end of `data` with a forecast run.

        Args:
            data: the history: a CSV/TSV/JSONL path, a built-in series name or a pandas
                DataFrame, with the columns the run was trained on (at least `window` rows).
            horizon: steps to forecast, up to the run's horizon; `None` for all of them.
                Defaults to `None`.
            plot: write a PNG of the recent history, the forecast and its interval here.
                Defaults to `None`.

        Returns:
            `{"target": str, "forecast": [{"time", "value", "lower", "upper"}, ...]}` (the
            80% interval); with several targets each item also names its `target`.

        Example:
            >>> run.forecast("passengers.csv", horizon=12)["forecast"][0]  # doctest: +SKIP
            {'time': '1961-01-01', 'value': 447.1, 'lower': 431.0, 'upper': 462.9}
        """
        return self.task_object.forecast(self, data, horizon=horizon, plot=plot)

    def evaluate(self, data: str | Path, **options: Any) -> dict[str, Any]:
        """Metrics of the model and its baselines on held-out `data` (the metrics.json shape).

        Args:
            data: held-out data in the form the run was trained on (or a built-in name).
            **options: the task's `evaluate_options`: sentiment `text_col`, `label_col` when
                the file's columns differ from the training file's; forecast `backtest=K`,
                rolling-origin evaluation over the last K horizons of `data`.
        """
        return self.task_object.evaluate(self, data, **self.task_object.check_evaluate_options(options))

    def export(self, out: str | Path, format: str = "savedmodel", overwrite: bool = False, xla: bool = False) -> Path:
        """Export the run for deployment; `savedmodel` takes raw input (DESIGN §7). `xla`: a text
        generation run's sampling loop compiled with XLA, as `generate(xla=True)` runs it (TensorFlow
        Serving runs it on CPU only with `--xla_cpu_compilation_enabled=true`)."""
        from rnnkit.export import export_run

        return export_run(self, out, format=format, overwrite=overwrite, xla=xla)

    def __repr__(self) -> str:
        return f"Run(path={str(self.path)!r}, task={self.task!r})"


def load(path: str | Path) -> Run:
    """Open a run directory written by `rnnkit train`."""
    return Run(path)
