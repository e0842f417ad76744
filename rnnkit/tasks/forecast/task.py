"""Time-series forecasting from a CSV: direct multi-step forecasts with 80% intervals.

Preprocessor: `SeriesPreprocessor` (windows of `--window` steps; scaling fitted on the
training part; per-window level and spread taken out of the targets). Model: raw window ->
`WindowNormalization` -> recurrent stack -> `QuantileForecastHead` (10%, 50% and 90%
quantiles of every step of the horizon, trained with the pinball loss). Postprocessor:
the in-graph forecaster (`forecaster.py`, back to original units), the same graph
`Run.forecast`, `evaluate`, the training metrics and the SavedModel run.

The series is split in time order: the last part for testing, the part before it for
validation (early stopping, the best epoch: every forecast that ends in it), the rest for
training. The metrics are those of every forecast whose horizon lies wholly inside the test
part, next to the naive, seasonal naive and mean baselines on the same windows.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any


from rnnkit.config import Config
from rnnkit.errors import ConfigError, DataError, RunError
from rnnkit.options import Option, Tuned, integer, non_empty
from rnnkit.task import PreparedData, Task
from rnnkit.tf_import import import_tensorflow

if TYPE_CHECKING:
    from rnnkit.tasks.forecast.preprocessor import SeriesPreprocessor

MIN_TRAINING_WINDOWS = 10
RECURRENT_STEPS = 16  # at least, of the window's last steps, read by the recurrent layers
MAX_HORIZON = 10000
MISSING_MODES = ("interpolate", "error")
TRANSFORMS = ("auto", "log", "none")
FORECASTERS = ("network", "auto")
FORECAST = "Forecast"
# A small series gives a network few windows, and one random start can land it anywhere: the median of
# several, trained side by side, is steadier (Hewamalage et al. 2021; ES-RNN's ensembles).
SMALL_SERIES_WINDOWS = 1000
SMALL_SERIES_ENSEMBLE = 5
MAX_ENSEMBLE = 32
log = logging.getLogger("rnnkit")


def _horizon(name: str, value: Any) -> str | None:
    if value is not None and integer(1)(name, value) is None and value > MAX_HORIZON:
        return f"{name} must be at most {MAX_HORIZON} steps. Received: {name}={value!r}"
    return integer(1)(name, value)


class ForecastTask(Task):
    """Train a recurrent forecaster on a series and forecast past its end."""

    name = "forecast"
    data_description = "a time series (a CSV/TSV/JSONL with a time column and numeric columns)"
    options = (
        Option("target", "data", key="target_columns", nullable=True, columns=True, panel=FORECAST,
               help="The column to forecast, or several as a,b; the only numeric column when not given."),
        Option("time_col", "data", key="time_column", nullable=True, check=non_empty, panel=FORECAST,
               help="The time column; found by name (date, time, ...) or content when not given."),
        Option("features", "data", key="feature_columns", nullable=True, columns=True, panel=FORECAST,
               help="Extra input columns, as a,b (their past values are read, never forecast)."),
        Option("horizon", "data", type=int, nullable=True, check=_horizon, panel=FORECAST,
               help="Steps forecast at once; one season when not given."),
        Option("window", "data", type=int, nullable=True, check=integer(2), panel=FORECAST,
               help="Past steps each forecast reads; two seasons or two horizons (at least 16) when not given."),
        Option("recurrent_window", "data", type=int, nullable=True, check=integer(1), panel=FORECAST,
               help="The window's last steps the recurrent layers read (the linear part reads all of it); the "
                    "horizon, at most two cycles of the shortest season, at least 16, when not given."),
        Option("season", "data", type=int, nullable=True, check=integer(1), panel=FORECAST,
               help="Steps per seasonal cycle; from the time step when not given (monthly 12, weekly 52, daily 7, "
                    "hourly 24)."),
        Option("missing", "data", default="interpolate", choices=MISSING_MODES, panel=FORECAST,
               help="Interpolate missing values by time (with a warning), or stop with an error."),
        Option("transform", "data", default="auto", choices=TRANSFORMS, panel=FORECAST,
               help="Model the target's logarithm: auto when the series is positive and its seasonal swing grows "
                    "with its level (chosen on the training part)."),
        Option("ensemble", "model", type=int, default=None, nullable=True, absent=1, check=integer(1, MAX_ENSEMBLE),
               panel=FORECAST,
               help=f"Networks trained side by side in one model, each from its own random start; the forecast is "
                    f"their median. When not given: {SMALL_SERIES_ENSEMBLE} for a series with fewer than "
                    f"{SMALL_SERIES_WINDOWS} training windows, else 1."),
        Option("model", "model", key="forecaster", default="network", choices=FORECASTERS, panel=FORECAST,
               help="network: the recurrent forecaster (train warns when a simple forecast beats it on the "
                    "validation part); auto: keep the best there of it, the seasonal naive forecast and the "
                    "seasonal trend forecast the network starts from."),
    )
    # Chosen on the airline (monthly, 144 steps) and Mauna Loa CO2 (weekly, 2,284 steps)
    # series: one GRU(64) layer with the linear highway reached MASE 0.5-0.6 and 0.35-0.4
    # (benchmarks/forecast_accuracy.py); an LSTM and two layers were no better.
    # `rnnkit tune`: around the defaults (the window depends on the series: add it with --space).
    search_space = (
        Tuned("cell", choices=("gru", "lstm")),
        Tuned("layers", 1, 2),
        Tuned("units", 16, 256, log=True),
        Tuned("dropout", 0.0, 0.4),
        Tuned("learning_rate", 1e-4, 1e-2, log=True),
        Tuned("batch_size", choices=(16, 32, 64)),
    )
    defaults = {"cell": "gru", "layers": 1, "units": 64, "dropout": 0.1, "epochs": 100, "batch_size": 32,
                "learning_rate": 0.001, "patience": 10}
    evaluate_options = (
        Option("backtest", "data", type=int, nullable=True, check=integer(1, note=" (horizons to forecast)"),
               help="Rolling-origin evaluation over the last K horizons of DATA; the last horizon when not given."),
    )

    @classmethod
    def recognizes(cls, path: Path, encoding: str | None = None) -> float:
        from rnnkit.datasets.csv_series import series_layout

        layout = series_layout(path, encoding)
        if layout is None or not (layout.numeric or layout.empty):
            return 0.0
        if layout.is_series:
            return 1.0
        # A series with a defect its reader will name (an empty column, dates in two formats),
        # or one with text beside it, which could as well be texts to classify.
        return 0.5 if layout.other else 0.75

    @classmethod
    def detected(cls, path: Path, encoding: str | None = None) -> str:
        from rnnkit.datasets.csv_series import series_layout

        layout = series_layout(path, encoding)
        return layout.describe() if layout is not None else ""

    def check_config(self, config: Config) -> None:
        if not config.data.target_columns and config.data.feature_columns:
            raise ConfigError("--features needs --target: name the column(s) to forecast.")

    # -- data -------------------------------------------------------------------------------

    def prepare(self, config: Config, preprocessor_dir: Path | None = None) -> PreparedData:
        import numpy as np

        from rnnkit.tasks.forecast.preprocessor import fit_preprocessor

        series = self.load_series(config)
        horizon = config.data.horizon or max(series.season, 1)
        length = len(series)
        held_out = max(horizon, round(config.data.val_split * length))
        train_end = length - 2 * held_out
        targets = series.values[:train_end, :series.num_targets]
        # The cycles the training part is long enough to check; the seasonal naive forecast
        # (and MASE) takes the one that forecasts it best, unless --season named one.
        seasons = [s for s in series.seasons if s > 1 and train_end >= 2 * s] or [series.season]
        window = config.data.window or _long_window(_default_window(seasons[0], horizon, train_end), seasons, horizon,
                                                    train_end)
        seasons = [s for s in seasons if s <= window] or [min(seasons)]
        season = series.season if config.data.season else _best_season(targets, seasons)
        # The linear part carries the seasons; the recurrent layers read the recent steps.
        asked_recurrent = config.data.recurrent_window
        recurrent = asked_recurrent or min(window, max(min(horizon, 2 * seasons[0]), RECURRENT_STEPS))
        if recurrent > window:
            raise ConfigError(f"--recurrent-window {recurrent} is longer than the window of {window} steps it is part "
                              f"of. Pass --recurrent-window {window} or less, or a longer --window.")
        asked = (f"--window {window}" if config.data.window else f"a window of {window} steps") + (
            f" and --horizon {horizon}" if config.data.horizon else f" and a horizon of {horizon} (one season)")
        if length < window + 3 * horizon:
            raise DataError(f"{series.name} has {length} rows; {asked} need at least "
                            f"{window + 3 * horizon}: {window + horizon} for one training window and {horizon} each "
                            "for validation and testing. Lower --window or --horizon, or add data.")
        if train_end < window + horizon:
            raise DataError(f"{series.name} has {length} rows: --val-split {config.data.val_split} holds out {held_out} "
                            f"each for validation and testing, leaving {train_end} for training, fewer than one window "
                            f"of {window + horizon} ({asked}). Lower --val-split, --window or --horizon.")
        # Every row is some window's input (the test part's too), so all must be positive for a log.
        positive = bool(np.all(series.values[:, :series.num_targets] > 0))
        if config.data.transform == "log" and not positive:
            raise DataError(f"--transform log needs positive values, but {series.name} has values <= 0 in "
                            f"{', '.join(series.targets)}. Pass --transform none (or auto).")
        transform = {"log": "log", "none": None}.get(config.data.transform, None)
        if config.data.transform == "auto" and positive:
            from rnnkit.tasks.forecast.preprocessor import choose_transform

            transform = choose_transform(targets, seasons[0])
        config.data.horizon, config.data.window = horizon, window
        if config.model.ensemble is None:  # resolved, so --config and --resume rebuild the same model
            small = train_end - window - horizon + 1 < SMALL_SERIES_WINDOWS
            config.model.ensemble = SMALL_SERIES_ENSEMBLE if small else 1
        config.data.recurrent_window, config.data.season = recurrent, season
        config.data.transform = transform or "none"  # resolved, so --config repeats the run
        config.data.target_columns = series.targets
        config.data.feature_columns = series.features
        config.data.time_column = series.time_column
        if preprocessor_dir is not None:
            preprocessor = self.load_preprocessor(preprocessor_dir)
            if preprocessor.columns != series.columns:
                raise DataError(f"{series.name} has the columns {', '.join(series.columns)}, but the run being resumed "
                                f"was trained on {', '.join(preprocessor.columns)}. Resume with the same data.")
            recorded = preprocessor.recurrent_window or preprocessor.window
            if asked_recurrent is None:  # a run from before --recurrent-window reads its whole window
                recurrent = config.data.recurrent_window = recorded
            if (preprocessor.window, preprocessor.horizon, recorded) != (window, horizon, recurrent):
                raise ConfigError(f"The run being resumed has --window {preprocessor.window}, --horizon "
                                  f"{preprocessor.horizon} and --recurrent-window {recorded}; they cannot change on "
                                  "--resume. Drop those options, or train a new run.")
        else:
            preprocessor = fit_preprocessor(series.values[:train_end], series.columns, series.num_targets, window,
                                            horizon, season, series.time_column, series.step, transform=transform,
                                            seasons=seasons, recurrent_window=recurrent)
        validation_end = length - held_out
        config.data_summary = {
            "time_column": series.time_column, "targets": series.targets, "features": series.features,
            "frequency": describe_step(series.step), "season": season, "seasons": seasons, "window": window,
            "recurrent_window": recurrent, "horizon": horizon, "transform": preprocessor.transform or "none",
            "rows": length, "train_rows": train_end, "validation_rows": held_out, "test_rows": held_out,
            "first_time": series.time_labels(slice(0, 1))[0], "last_time": series.time_labels(slice(-1, None))[0],
            "interpolated": series.filled,
        }
        warnings = list(series.notes)
        if train_end - window - horizon + 1 < MIN_TRAINING_WINDOWS:
            warnings.append(f"Only {train_end - window - horizon + 1} training window(s) of {window} + {horizon} steps: "
                            "the model has little to learn from. Lower --window or add data.")
        return PreparedData(
            preprocessor=preprocessor,
            train=series.values[:train_end],
            # Every forecast that ends inside the validation part: with a short series, the
            # windows wholly inside it would be one or two, too few to pick the best epoch by.
            validation=series.values[train_end - window - horizon + 1:validation_end],
            test=(series, validation_end),
            warnings=warnings,
        )

    def after_fit(self, model, config: Config, prepared: PreparedData) -> bool:
        """Calibrate the interval on the validation part and weigh the network against the
        seasonal naive forecast there: warn when the simple forecast is better, and keep it
        with `--model auto`."""
        from rnnkit.tasks.forecast.forecaster import SIMPLE_FORECASTERS, check_on_validation

        preprocessor: SeriesPreprocessor = prepared.preprocessor
        series, validation_end = prepared.test
        check = check_on_validation(model, preprocessor, series.values, len(prepared.train), validation_end)
        errors = check["errors"]
        simple = min(SIMPLE_FORECASTERS, key=errors.get)
        chosen = simple if config.model.forecaster == "auto" and errors[simple] < errors["network"] else "network"
        preprocessor.forecaster = chosen
        preprocessor.interval_scale = check["interval_scale"]
        preprocessor.simple_quantiles = check["simple_quantiles"].get(chosen, [])
        config.data_summary["validation"] = {
            "errors": errors, "forecaster": chosen, "interval_scale": check["interval_scale"],
            "coverage": check["coverage"], "calibrated_coverage": check["calibrated_coverage"],
            "points": check["points"]}
        compared = (f"on the validation part the network's error is {errors['network']:.3f}, the "
                    f"{simple.replace('_', ' ')} forecast's (season {preprocessor.season}) {errors[simple]:.3f} "
                    "(in units of the training part's seasonal naive error)")
        if chosen != "network":
            log.warning(f"--model auto keeps the {simple.replace('_', ' ')} forecast: {compared}.")
        elif config.model.forecaster == "network" and errors[simple] < errors["network"]:
            log.warning(f"A simple forecast beats the network: {compared}. Pass --model auto to forecast with the "
                        "better of them, or add data.")
        return True

    def load_preprocessor(self, directory: Path) -> SeriesPreprocessor:
        from rnnkit.tasks.forecast.preprocessor import SeriesPreprocessor

        return SeriesPreprocessor.load(directory)

    def load_series(self, config: Config):
        """The series the config's data names, with its columns and options."""
        from rnnkit.datasets.csv_series import open_series

        data = config.data
        self.check_builtin(data.path)
        return open_series(data.path, target=data.target_columns, time_col=data.time_column,
                           features=data.feature_columns, encoding=data.encoding, missing=data.missing,
                           season=data.season)

    def datasets(self, config: Config, prepared: PreparedData):
        preprocessor: SeriesPreprocessor = prepared.preprocessor
        batch = config.training.batch_size
        count = len(prepared.train) - preprocessor.window - preprocessor.horizon + 1
        train = _windows(preprocessor, prepared.train, batch, shuffle=True, seed=config.training.seed)
        # prepared.validation starts window + horizon - 1 rows before the validation part.
        validation = _windows(preprocessor, prepared.validation, batch, shuffle=False,
                              first_scored=preprocessor.window + preprocessor.horizon - 1)
        return train, validation, math.ceil(count / batch)

    # -- model ------------------------------------------------------------------------------

    def build_model(self, config: Config, prepared: PreparedData):
        from rnnkit.tasks.forecast.model import build_forecast_model

        return build_forecast_model(config, prepared.preprocessor)

    def compile(self, model, config: Config, optimizer) -> None:
        from rnnkit.tasks.forecast.layers import pinball_loss

        model.compile(optimizer=optimizer, loss=pinball_loss, jit_compile=False)  # cuDNN RNNs do not XLA-compile

    def build_inference(self, model, preprocessor: SeriesPreprocessor):
        from rnnkit.tasks.forecast.forecaster import build_forecaster

        return build_forecaster(model, preprocessor)

    def edge_core(self, run, model):
        from rnnkit.tasks.forecast.forecaster import build_edge_core

        return build_edge_core(model, self.preprocessor(run))

    def custom_objects(self) -> dict[str, Any]:
        from rnnkit.tasks.forecast import layers

        return {"WindowNormalization": layers.WindowNormalization,
                "QuantileForecastHead": layers.QuantileForecastHead, "pinball_loss": layers.pinball_loss}

    # -- metrics ----------------------------------------------------------------------------

    def final_metrics(self, inference, config: Config, prepared: PreparedData, portion: float = 1.0) -> dict[str, Any]:
        # A few horizons of one series: always quick, so always all of them.
        from rnnkit.tasks.forecast.forecaster import evaluate_origins, origins_for

        preprocessor: SeriesPreprocessor = prepared.preprocessor
        series, test_start = prepared.test
        origins = origins_for(len(series), preprocessor.window, preprocessor.horizon, test_start)
        metrics = evaluate_origins(inference, preprocessor, series.values, origins)
        return {"split": "test", "targets": preprocessor.targets, "horizon": preprocessor.horizon,
                "windows": len(origins), "season": preprocessor.season, "forecaster": preprocessor.forecaster,
                **metrics}

    def plots(self, directory: Path, history: list[dict[str, float]], metrics: dict[str, Any], inference,
              prepared: PreparedData) -> None:
        from rnnkit.tasks.forecast.forecaster import origins_for
        from rnnkit.tasks.forecast.plots import forecast_plot

        super().plots(directory, history, metrics, inference, prepared)
        preprocessor: SeriesPreprocessor = prepared.preprocessor
        series, test_start = prepared.test
        # The last test forecast: the one whose horizon ends with the series.
        origin = origins_for(len(series), preprocessor.window, preprocessor.horizon, test_start)[-1]
        result = forecast_from(inference, preprocessor, series, origin=origin)
        forecast_plot(Path(directory) / "forecast.png", series, result, origin=origin, title="the last test window")

    def next_steps(self, run) -> list[str]:
        found = run.config.data_summary
        time = f"time column '{found['time_column']}' ({found['frequency']})" if found.get("time_column") else "no time column"
        seasons = found.get("seasons") or [found["season"]]
        cycles = f"season {found['season']}" + (f" (read: {', '.join(map(str, seasons))})" if len(seasons) > 1 else "")
        lines = [f"Data:       {found['rows']} rows, {time}, {cycles}; window {found['window']}, "
                 f"horizon {found['horizon']}" + ("; log transform" if found.get("transform") == "log" else "")
                 + f"; tested on the last {found['test_rows']} rows ({run.metrics.get('windows')} forecasts)"]
        checked = found.get("validation")
        if checked:
            errors = ", ".join(f"{name.replace('_', ' ')} {error:.3f}" for name, error in checked["errors"].items())
            lines.append(f"Validation: {checked['forecaster'].replace('_', ' ')} kept; errors ({errors}); "
                         f"80% interval scaled by {checked['interval_scale'][0]:.2f} / {checked['interval_scale'][1]:.2f}"
                         f" (coverage {checked['coverage']:.2f} -> {checked['calibrated_coverage']:.2f})")
        return [*lines,
                f"Forecast:   rnnkit forecast {run.path} {run.config.data.path} --plot forecast.png"]

    # -- a trained run ------------------------------------------------------------------------

    def read(self, run, data, purpose: str):
        """The series in `data` (a file, built-in name or DataFrame) with the run's columns."""
        import numpy as np

        preprocessor = self.preprocessor(run)
        series = load_series_for(run, data, preprocessor, purpose)
        for note in series.notes:
            log.warning(note)
        if preprocessor.step and series.step and series.step != preprocessor.step:
            log.warning(
                f"{series.name} steps by {describe_step(series.step)}, but the run was trained on data stepping by "
                f"{describe_step(preprocessor.step)}: its forecasts assume the training frequency.")
        if len(series) < preprocessor.window:
            raise DataError(f"{series.name} has {len(series)} rows; the run reads the last {preprocessor.window} "
                            f"(its --window) to forecast. Pass at least {preprocessor.window} rows.")
        if preprocessor.log_targets and not np.all(series.values[:, :preprocessor.num_targets] > 0):
            raise DataError(f"{series.name} has values <= 0 in {', '.join(preprocessor.targets)}, but the run models "
                            "their logarithm (--transform log, or auto on positive training data). Pass positive "
                            "values, or retrain with --transform none.")
        return series

    def forecast(self, run, data, horizon: int | None = None, plot: str | Path | None = None) -> dict[str, Any]:
        from rnnkit.tasks.forecast.plots import forecast_plot

        preprocessor = self.preprocessor(run)
        if horizon is not None:
            invalid = integer(1)("horizon", horizon)
            if invalid:
                raise ConfigError(invalid)
            if horizon > preprocessor.horizon:
                raise ConfigError(f"--horizon {horizon} is beyond the {preprocessor.horizon} steps this run forecasts. "
                                  f"Pass --horizon {preprocessor.horizon} or less, or retrain with --horizon {horizon}.")
        plot = _plot_path(plot)
        series = self.read(run, data, "forecast")
        result = forecast_from(self.inference(run), preprocessor, series, origin=len(series),
                               horizon=horizon or preprocessor.horizon)
        if plot is not None:
            try:
                forecast_plot(plot, series, result, origin=len(series), title=f"forecast from {series.name}")
            except OSError as error:
                raise RunError(f"Cannot write the plot to {plot}: {error.strerror}. Choose another path.") from None
        return forecast_json(result)

    def evaluate(self, run, data, backtest: int | None = None) -> dict[str, Any]:
        from rnnkit.tasks.forecast.forecaster import evaluate_origins, origins_for
        from rnnkit.tasks.forecast.preprocessor import seasonal_naive_scale

        preprocessor = self.preprocessor(run)
        folds = 1 if backtest is None else backtest
        series = self.read(run, data, "evaluate")
        window, horizon = preprocessor.window, preprocessor.horizon
        first = len(series) - folds * horizon
        if first < window:
            most = (len(series) - window) // horizon
            raise DataError(f"{series.name} has {len(series)} rows: a backtest of {folds} horizon(s) of {horizon} steps "
                            f"after a first window of {window} needs {window + folds * horizon}. "
                            + (f"Pass --backtest {most} or less." if most >= 1 else "Pass more data."))
        origins = origins_for(len(series), window, horizon, first, stride=horizon)
        history = series.values[:first, :preprocessor.num_targets]
        # MASE is scaled by the seasonal naive error of the history before the first forecast,
        # or of the training data when that history is too short to have one.
        scale = seasonal_naive_scale(history, preprocessor.season) if len(history) > 2 * preprocessor.season else None
        metrics = evaluate_origins(self.inference(run), preprocessor, series.values, origins, mase_scale=scale)
        return {"split": "test", "backtest": folds, "targets": preprocessor.targets, "horizon": horizon,
                "windows": len(origins), "season": preprocessor.season, "forecaster": preprocessor.forecaster,
                **metrics}


def load_series_for(run, data, preprocessor: SeriesPreprocessor, purpose: str):
    """Read `data` for a trained run: the same columns, in the training order."""
    from rnnkit.datasets.csv_series import open_series, series_from_table, table_from_dataframe

    config = run.config.data
    targets, features = preprocessor.targets, preprocessor.columns[preprocessor.num_targets:]
    options = dict(target=targets, features=features, missing=config.missing, season=preprocessor.season)
    if hasattr(data, "to_frame") and not hasattr(data, "columns"):  # a pandas Series
        data = data.to_frame()
    if hasattr(data, "columns") and hasattr(data, "index"):  # a pandas DataFrame
        table = table_from_dataframe(data, time_column=preprocessor.time_column)
        _check_columns("the DataFrame", table.columns, preprocessor)
        return series_from_table("the DataFrame", table, time_col=_time_col(table.columns, preprocessor), **options)
    from rnnkit.datasets.csv_series import read_columns

    columns, name = read_columns(data, config.encoding)
    _check_columns(name, columns, preprocessor)
    return open_series(data, time_col=_time_col(columns, preprocessor), encoding=config.encoding, purpose=purpose,
                       **options)


def _check_columns(name: str, columns: list[str], preprocessor: SeriesPreprocessor) -> None:
    wanted = list(preprocessor.columns) + ([preprocessor.time_column] if preprocessor.time_column else [])
    missing = [column for column in wanted if column not in columns]
    if missing:
        raise DataError(f"{name} lacks the column(s) {', '.join(missing)} the run was trained on (it has: "
                        f"{', '.join(columns)}). Pass data with the training columns: {', '.join(wanted)}.")


def _time_col(columns: list[str], preprocessor: SeriesPreprocessor) -> str | None:
    return preprocessor.time_column if preprocessor.time_column in columns else None


def forecast_from(forecaster, preprocessor: SeriesPreprocessor, series, origin: int, horizon: int | None = None):
    """The forecast from `origin` (the first forecast step) of `series`: times, values, bounds."""
    from rnnkit.tasks.forecast.forecaster import predict_windows

    horizon = preprocessor.horizon if horizon is None else horizon
    window = series.values[origin - preprocessor.window:origin][None]
    quantiles = predict_windows(forecaster, window)[0, :horizon]  # [horizon, targets, 3]
    if origin == len(series):
        times = series.future_times(horizon)
    else:
        times = series.time_labels(slice(origin, origin + horizon))
    return {"targets": preprocessor.targets, "times": times, "lower": quantiles[..., 0],
            "value": quantiles[..., 1], "upper": quantiles[..., 2]}


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


def _plot_path(plot: str | Path | None) -> Path | None:
    """Check a `--plot` path before anything is computed: a .png whose folder can be made."""
    if plot is None:
        return None
    plot = Path(plot)
    if plot.suffix.lower() != ".png":
        raise ConfigError(f"--plot writes a PNG image; name it with .png. Received: {plot}")
    try:
        plot.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise RunError(f"Cannot write the plot to {plot}: {error.strerror}. Choose another path.") from None
    return plot


def describe_step(step: dict | None) -> str | None:
    if step is None:
        return None
    if "freq" in step:
        return step["freq"]
    if "months" in step:
        return f"{step['months']} month(s)"
    return f"{step['seconds']} s"


def _best_season(targets, seasons: list[int]) -> int:
    """The season whose seasonal naive forecast errs least on `targets` (each column's error
    relative to its spread)."""
    import numpy as np

    from rnnkit.tasks.forecast.preprocessor import seasonal_naive_scale

    spread = np.where(targets.std(axis=0) > 0, targets.std(axis=0), 1.0)
    return min(seasons, key=lambda season: float(np.mean(seasonal_naive_scale(targets, season) / spread)))


def _long_window(window: int, seasons: list[int], horizon: int, train_rows: int) -> int:
    """`window`, or two cycles of the longest season (one when two leave too few training
    windows) when that is longer, so that the linear part sees the same point of the last
    long cycles."""
    fits = train_rows - horizon - MIN_TRAINING_WINDOWS + 1
    longest = max(seasons)
    for cycles in (2, 1):
        if window < cycles * longest <= fits:
            return cycles * longest
    return window


def _default_window(season: int, horizon: int, train_rows: int) -> int:
    """Two seasons (or two horizons) of history, at least 16 steps, shortened to leave
    enough training windows in a short series."""
    window = max(2 * season, 2 * horizon, 16)
    fits = train_rows - horizon - MIN_TRAINING_WINDOWS + 1
    return window if fits >= window else max(fits, 2)


def _windows(preprocessor: SeriesPreprocessor, values: np.ndarray, batch: int, shuffle: bool,
             seed: int | None = None, first_scored: int | None = None):
    """`(raw window, target in model units)` batches from `keras.utils.timeseries_dataset_from_array`.

    With `first_scored`, a third element weighs each target step 1 from that row of `values`
    on and 0 before it: validation forecasts reach back into training rows, which must not
    count when the best epoch is chosen.
    """
    import numpy as np

    import keras

    from rnnkit.tasks.forecast.preprocessor import to_model_units, window_statistics

    tf = import_tensorflow()
    window, horizon, targets = preprocessor.window, preprocessor.horizon, preprocessor.num_targets
    mean = tf.constant(preprocessor.mean, tf.float32)
    std = tf.constant(preprocessor.std, tf.float32)

    def split(sequence, start):
        history, future = sequence[:, :window], sequence[:, window:, :targets]
        _, loc, scale = window_statistics(history, mean, std, targets, preprocessor.log_targets)
        y = to_model_units(future, loc, scale, mean[:targets], std[:targets], preprocessor.log_targets)
        if first_scored is None:
            return history, y
        rows = start[:, None] + window + tf.range(horizon)[None, :]
        return history, y, tf.cast(rows >= first_scored, tf.float32)

    # The "targets" are each sequence's first row, so a window knows where it lies.
    dataset = keras.utils.timeseries_dataset_from_array(
        values.astype(np.float32), np.arange(len(values), dtype=np.int32), sequence_length=window + horizon,
        batch_size=batch, shuffle=shuffle, seed=seed)
    return dataset.map(split, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)
