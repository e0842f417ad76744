"""The run directory (DESIGN §4) and the `Run` handle the API returns.

Files are written atomically (a temporary name, then `os.replace`), and a folder that
already holds something is never written into unless the caller asked to overwrite or
resume.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from rnnkit.config import Config
from rnnkit.errors import ConfigError, RunError

CONFIG_FILE = "config.json"
MODEL_FILE = "model.keras"
METRICS_FILE = "metrics.json"
HISTORY_FILE = "history.csv"
PREPROCESSOR_DIR = "preprocessor"
CHECKPOINT_DIR = "checkpoints"
PLOTS_DIR = "plots"


def write_text_atomic(path: str | Path, text: str) -> None:
    """Write `text` to `path` so that readers see the old file or the new one, never half."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write_json_atomic(path: str | Path, values: Any) -> None:
    write_text_atomic(path, json.dumps(values, indent=2, ensure_ascii=False) + "\n")


def default_run_dir(task: str) -> Path:
    return Path("runs") / f"{task}-{time.strftime('%Y%m%d-%H%M%S')}"


def is_run_dir(path: Path) -> bool:
    return (path / CONFIG_FILE).is_file() and ((path / MODEL_FILE).exists() or (path / CHECKPOINT_DIR).is_dir())


def prepare_run_dir(path: str | Path, overwrite: bool = False, resume: bool = False,
                    data: str | None = None) -> Path:
    """Check that a new run may be written to `path` (nothing is created yet).

    Raises `RunError` when `path` holds files and neither `overwrite` nor `resume` is set,
    when `overwrite` would replace something that is not an rnnkit run or would remove the
    training data, or when `resume` is set and there is no checkpoint to resume from.
    """
    path = Path(path)
    if overwrite and resume:
        raise ConfigError("--overwrite and --resume exclude each other: pick one.")
    if path.exists() and not path.is_dir():
        raise RunError(f"--out {path} is a file, not a folder. Choose another --out.")
    if resume:
        if not (path / CHECKPOINT_DIR / "training_metadata.json").exists():
            raise RunError(f"Nothing to resume in {path}: it has no checkpoint ({CHECKPOINT_DIR}/). Train without --resume.")
        return path
    if data and Path(data).exists() and Path(data).resolve().is_relative_to(path.resolve()):
        raise RunError(f"--out {path} holds the training data {data}. Choose another --out.")
    if path.is_dir() and any(path.iterdir()):
        if not overwrite:
            raise RunError(
                f"{path} already exists and is not empty. Pass --overwrite to replace it, "
                "--resume to continue it, or choose another --out."
            )
        if not is_run_dir(path):
            raise RunError(f"{path} is not an rnnkit run, so --overwrite will not replace it. Choose another --out.")
    return path


def replace_dir(source: Path, target: Path) -> None:
    """Move a finished run from `source` onto `target`, removing what was there."""
    target = target.resolve()
    if target.exists():
        trash = target.with_name(f".{target.name}.old-{os.getpid()}")
        os.replace(target, trash)
        os.replace(source, target)
        shutil.rmtree(trash, ignore_errors=True)
    else:
        os.replace(source, target)


class Run:
    """A trained run: its folder, configuration, metrics, model and task methods.

    Example:
        >>> run = rnnkit.load("runs/textgen-20261123-010000")   # doctest: +SKIP
        >>> run.generate("ROMEO:", length=200, seed=1)            # doctest: +SKIP
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        config_path = self.path / CONFIG_FILE
        if not self.path.is_dir():
            raise RunError(f"{self.path} is not a folder. Pass the folder `rnnkit train` wrote (see --out).")
        if not config_path.exists() or not (self.path / MODEL_FILE).exists():
            raise RunError(
                f"{self.path} is not an rnnkit run: it lacks {CONFIG_FILE} or {MODEL_FILE}. "
                "Pass the folder `rnnkit train` wrote."
            )
        self.config = Config.from_file(config_path)
        self._model = None
        self._cache: dict[str, Any] = {}

    @property
    def _task(self):
        """The task object, resolved on first use (a run of a task this version lacks still opens)."""
        if "task" not in self._cache:
            from rnnkit.registry import get_task

            self._cache["task"] = get_task(self.config.task)
        return self._cache["task"]

    @property
    def task(self) -> str:
        return self.config.task

    @property
    def metrics(self) -> dict[str, Any]:
        path = self.path / METRICS_FILE
        return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}

    @property
    def model(self):
        """The trained Keras model (best epoch), loaded on first use."""
        if self._model is None:
            from rnnkit.training import import_tensorflow

            import_tensorflow()
            import keras

            import rnnkit.layers  # noqa: F401  (registers rnnkit's layers for loading)

            self._model = keras.saving.load_model(self.path / MODEL_FILE, compile=False)
        return self._model

    def require_task(self, task: str, command: str) -> None:
        if self.task != task:
            raise RunError(f"`{command}` needs a {task} run, but {self.path} is a {self.task} run.")

    def generate(self, prompt: str | list[str] = "", length: int = 300, temperature: float = 0.8,
                 top_k: int = 0, top_p: float = 1.0, num_samples: int = 1,
                 seed: int | None = None) -> list[str]:
        """Sample text from a text-generation run; returns one string per sample.

        Args:
            prompt: text to continue (or one prompt per sample). Defaults to `""`.
            length: tokens to generate after the prompt. Defaults to `300`.
            temperature: >= 0.01; lower is more conservative. Defaults to `0.8`.
            top_k: sample among the k likeliest tokens; 0 keeps all. Defaults to `0`.
            top_p: nucleus sampling threshold in (0, 1]. Defaults to `1.0`.
            num_samples: samples drawn as one batch. Defaults to `1`.
            seed: same seed, same text; `None` draws one. Defaults to `None`.
        """
        from rnnkit.tasks.textgen import check_sampling

        check_sampling(length=length, temperature=temperature, top_k=top_k, top_p=top_p,
                       num_samples=num_samples, seed=seed)
        self.require_task("textgen", "generate")
        return self._task.generate(self, prompt=prompt, length=length, temperature=temperature,
                                   top_k=top_k, top_p=top_p, num_samples=num_samples, seed=seed)

    def predict(self, texts: str | list[str]) -> list[dict[str, Any]]:
        """Classify texts with a sentiment run: one dict per text with its `label`, the
        `probability` of that label and the `probabilities` of every label.

        Args:
            texts: a string or a list of strings (raw text, as a user wrote it).

        Example:
            >>> run.predict(["a wonderful film", "dull and too long"])[0]["label"]  # doctest: +SKIP
            'pos'
        """
        self.require_task("sentiment", "predict")
        texts = [texts] if isinstance(texts, str) else list(texts)
        if not all(isinstance(text, str) for text in texts):
            raise ConfigError("predict takes strings: pass a string or a list of strings.")
        if not texts:
            return []
        return self._task.predict(self, texts)

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
        self.require_task("forecast", "forecast")
        if plot is not None:
            plot = Path(plot)
            if plot.suffix.lower() != ".png":
                raise ConfigError(f"--plot writes a PNG image; name it with .png. Received: {plot}")
            try:
                plot.parent.mkdir(parents=True, exist_ok=True)
            except OSError as error:
                raise RunError(f"Cannot write the plot to {plot}: {error.strerror}. Choose another path.") from None
        if horizon is not None and not (isinstance(horizon, int) and not isinstance(horizon, bool) and horizon >= 1):
            raise ConfigError(f"horizon must be an integer >= 1. Received: horizon={horizon!r}")
        result = self._task.forecast(self, data, horizon=horizon)
        if plot is not None:
            from rnnkit.plots import forecast_plot

            history = result["history"]
            try:
                forecast_plot(plot, history, result, origin=len(history), title=f"forecast from {history.name}")
            except OSError as error:
                raise RunError(f"Cannot write the plot to {plot}: {error.strerror}. Choose another path.") from None
        return forecast_json(result)

    def evaluate(self, data: str | Path, **options: Any) -> dict[str, Any]:
        """Metrics of the model and its baselines on held-out `data` (the metrics.json shape).

        Args:
            data: held-out data in the form the run was trained on (or a built-in name).
            **options: sentiment: `text_col`, `label_col` when the file's columns differ
                from the training file's; forecast: `backtest=K`, rolling-origin evaluation
                over the last K horizons of `data` (default: the last horizon).
        """
        options = {key: value for key, value in options.items() if value is not None}
        allowed = {"sentiment": {"text_col", "label_col"}, "forecast": {"backtest"}}.get(self.task, set())
        unknown = sorted(set(options) - allowed)
        if unknown:
            owner = "forecast" if unknown[0] == "backtest" else "sentiment"
            raise ConfigError(f"{', '.join(unknown)} apply to {owner} runs; {self.path} is a {self.task} run.")
        backtest = options.get("backtest")
        if backtest is not None and not (isinstance(backtest, int) and not isinstance(backtest, bool) and backtest >= 1):
            raise ConfigError(f"backtest must be an integer >= 1 (horizons to forecast). Received: backtest={backtest!r}")
        return self._task.evaluate(self, data, **options)

    def export(self, out: str | Path, format: str = "savedmodel", overwrite: bool = False) -> Path:
        """Export the run for deployment; `savedmodel` takes raw input (DESIGN §7)."""
        from rnnkit.export import export_run

        return export_run(self, out, format=format, overwrite=overwrite)

    def __repr__(self) -> str:
        return f"Run(path={str(self.path)!r}, task={self.task!r})"


def forecast_json(result: dict[str, Any]) -> dict[str, Any]:
    """The `--json` shape of a forecast (DESIGN §5)."""
    targets = result["targets"]
    items = []
    for index, target in enumerate(targets):
        for step, moment in enumerate(result["times"]):
            item = {"time": moment, "value": float(result["value"][step, index]),
                    "lower": float(result["lower"][step, index]), "upper": float(result["upper"][step, index])}
            items.append({"target": target, **item} if len(targets) > 1 else item)
    return {"target": ",".join(targets), "forecast": items}


def load(path: str | Path) -> Run:
    """Open a run directory written by `rnnkit train`."""
    return Run(path)
