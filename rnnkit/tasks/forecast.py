"""Time-series forecasting from a CSV: direct multi-step forecasts with 80% intervals.

Preprocessor: `SeriesPreprocessor` (windows of `--window` steps; scaling fitted on the
training part; per-window level and spread taken out of the targets). Model: raw window ->
`WindowNormalization` -> recurrent stack -> `QuantileForecastHead` (10%, 50% and 90%
quantiles of every step of the horizon, trained with the pinball loss). Postprocessor:
`rnnkit.forecasting` (back to original units), the same graph `Run.forecast`, `evaluate`,
the training metrics and the SavedModel run.

The series is split in time order: the last part for testing, the part before it for
validation (early stopping, the best epoch: every forecast that ends in it), the rest for
training. The metrics are those of every forecast whose horizon lies wholly inside the test
part, next to the naive, seasonal naive and mean baselines on the same windows.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from rnnkit.config import Config, DataConfig, ModelConfig, TrainingConfig
from rnnkit.errors import ConfigError, DataError
from rnnkit.preprocessing.series import SeriesPreprocessor
from rnnkit.tasks.base import PreparedData, Task

MIN_TRAINING_WINDOWS = 10


class ForecastTask(Task):
    """Train a recurrent forecaster on a series and forecast past its end."""

    name = "forecast"

    def default_config(self) -> Config:
        # Chosen on the airline (monthly, 144 steps) and Mauna Loa CO2 (weekly, 2,284 steps)
        # series: one GRU(64) layer with the linear highway reached MASE 0.5-0.6 and 0.35-0.4
        # (benchmarks/forecast_accuracy.py); an LSTM and two layers were no better.
        return Config(
            task=self.name,
            data=DataConfig(val_split=0.1),
            model=ModelConfig(cell="gru", num_layers=1, units=64, dropout=0.1),
            training=TrainingConfig(epochs=100, batch_size=16, learning_rate=0.01, patience=15),
        )

    def check_config(self, config: Config) -> None:
        if config.model.bidirectional:
            raise ConfigError("--bidirectional does not apply to forecasting: a forecast reads the past in time "
                              "order. Drop --bidirectional.")
        if not config.data.target_columns and config.data.feature_columns:
            raise ConfigError("--features needs --target: name the column(s) to forecast.")

    # -- data -------------------------------------------------------------------------------

    def prepare(self, config: Config, preprocessor_dir: Path | None = None) -> PreparedData:
        from rnnkit.preprocessing.series import fit_preprocessor

        series = load_series(config.data)
        horizon = config.data.horizon or max(series.season, 1)
        length = len(series)
        held_out = max(horizon, round(config.data.val_split * length))
        train_end = length - 2 * held_out
        window = config.data.window or _default_window(series.season, horizon, train_end)
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
        config.data.horizon, config.data.window = horizon, window
        config.data.season = series.season
        config.data.target_columns = series.targets
        config.data.feature_columns = series.features
        config.data.time_column = series.time_column
        if preprocessor_dir is not None:
            preprocessor = SeriesPreprocessor.load(preprocessor_dir)
            if preprocessor.columns != series.columns:
                raise DataError(f"{series.name} has the columns {', '.join(series.columns)}, but the run being resumed "
                                f"was trained on {', '.join(preprocessor.columns)}. Resume with the same data.")
            if (preprocessor.window, preprocessor.horizon) != (window, horizon):
                raise ConfigError(f"The run being resumed has --window {preprocessor.window} and --horizon "
                                  f"{preprocessor.horizon}; they cannot change on --resume. Drop those options, or "
                                  "train a new run.")
        else:
            preprocessor = fit_preprocessor(series.values[:train_end], series.columns, series.num_targets, window,
                                            horizon, series.season, series.time_column, series.step)
        validation_end = length - held_out
        config.data_summary = {
            "time_column": series.time_column, "targets": series.targets, "features": series.features,
            "frequency": describe_step(series.step), "season": series.season, "window": window, "horizon": horizon,
            "rows": length, "train_rows": train_end, "validation_rows": held_out, "test_rows": held_out,
            "first_time": series.time_labels()[0], "last_time": series.time_labels()[-1],
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

    def save_preprocessor(self, prepared: PreparedData, directory: Path) -> None:
        prepared.preprocessor.save(directory)

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
        return build_forecast_model(config, prepared.preprocessor)

    def compile(self, model, config: Config, optimizer) -> None:
        from rnnkit.layers import pinball_loss

        model.compile(optimizer=optimizer, loss=pinball_loss, jit_compile=False)  # cuDNN RNNs do not XLA-compile

    # -- metrics ----------------------------------------------------------------------------

    def final_metrics(self, model, config: Config, prepared: PreparedData) -> dict[str, Any]:
        from rnnkit.forecasting import build_forecaster, evaluate_origins, origins_for

        preprocessor: SeriesPreprocessor = prepared.preprocessor
        series, test_start = prepared.test
        origins = origins_for(len(series), preprocessor.window, preprocessor.horizon, test_start)
        forecaster = build_forecaster(model, preprocessor)
        metrics = evaluate_origins(forecaster, preprocessor, series.values, origins)
        # plots() draws the last test forecast; the driver calls it right after this.
        self._last_test = (forecaster, preprocessor, series, origins[-1])
        return {"split": "test", "targets": preprocessor.targets, "horizon": preprocessor.horizon,
                "windows": len(origins), **metrics}

    def plots(self, run_dir: Path, history: list[dict[str, float]]) -> None:
        from rnnkit.plots import forecast_plot, learning_curves

        learning_curves(run_dir, history)
        forecaster, preprocessor, series, origin = self._last_test
        result = forecast_from(forecaster, preprocessor, series, origin=origin)
        forecast_plot(Path(run_dir) / "plots" / "forecast.png", series, result, origin=origin,
                      title="the last test window")

    # -- run methods ------------------------------------------------------------------------

    def preprocessor(self, run) -> SeriesPreprocessor:
        if "preprocessor" not in run._cache:
            run._cache["preprocessor"] = SeriesPreprocessor.load(run.path / "preprocessor")
        return run._cache["preprocessor"]

    def forecaster(self, run):
        if "forecaster" not in run._cache:
            from rnnkit.forecasting import build_forecaster

            run._cache["forecaster"] = build_forecaster(run.model, self.preprocessor(run))
        return run._cache["forecaster"]

    def read(self, run, data, purpose: str):
        """The series in `data` (a file, built-in name or DataFrame) with the run's columns."""
        preprocessor = self.preprocessor(run)
        series = load_series_for(run, data, preprocessor, purpose)
        if preprocessor.step and series.step and series.step != preprocessor.step:
            import logging

            logging.getLogger("rnnkit").warning(
                f"{series.name} steps by {describe_step(series.step)}, but the run was trained on data stepping by "
                f"{describe_step(preprocessor.step)}: its forecasts assume the training frequency.")
        if len(series) < preprocessor.window:
            raise DataError(f"{series.name} has {len(series)} rows; the run reads the last {preprocessor.window} "
                            f"(its --window) to forecast. Pass at least {preprocessor.window} rows.")
        return series

    def forecast(self, run, data, horizon: int | None = None) -> dict[str, Any]:
        import logging

        preprocessor = self.preprocessor(run)
        horizon = preprocessor.horizon if horizon is None else horizon
        if horizon > preprocessor.horizon:
            raise ConfigError(f"--horizon {horizon} is beyond the {preprocessor.horizon} steps this run forecasts. "
                              f"Pass --horizon {preprocessor.horizon} or less, or retrain with --horizon {horizon}.")
        series = self.read(run, data, "forecast")
        for note in series.notes:
            logging.getLogger("rnnkit").warning(note)
        result = forecast_from(self.forecaster(run), preprocessor, series, origin=len(series), horizon=horizon)
        result["history"] = series
        return result

    def evaluate(self, run, data, backtest: int | None = None) -> dict[str, Any]:
        import logging

        from rnnkit.forecasting import evaluate_origins, origins_for
        from rnnkit.preprocessing.series import seasonal_naive_scale

        preprocessor = self.preprocessor(run)
        folds = 1 if backtest is None else backtest
        series = self.read(run, data, "evaluate")
        for note in series.notes:
            logging.getLogger("rnnkit").warning(note)
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
        metrics = evaluate_origins(self.forecaster(run), preprocessor, series.values, origins, mase_scale=scale)
        return {"split": "test", "backtest": folds, "targets": preprocessor.targets, "horizon": horizon,
                "windows": len(origins), **metrics}

    def export_archive(self, run):
        """A Keras `ExportArchive` whose `serving_default` takes raw windows (DESIGN §7)."""
        import keras

        forecaster = self.forecaster(run)
        archive = keras.export.ExportArchive()
        archive.track(run.model)
        archive.add_endpoint("serving_default", forecaster.forecast)
        return archive


def build_forecast_model(config: Config, preprocessor: SeriesPreprocessor):
    """Raw window -> scaled window -> recurrent stack -> quantiles `[batch, horizon, targets, 3]`."""
    import keras

    from rnnkit.backbone import build_recurrent_stack
    from rnnkit.layers import QuantileForecastHead, WindowNormalization

    inputs = keras.Input(shape=(preprocessor.window, preprocessor.num_features), dtype="float32", name="history")
    # float32 even under mixed precision: raw values above 65504 or needing more than 11 bits
    # of precision must be scaled before anything is cast to float16.
    scaled = WindowNormalization(preprocessor.num_targets, preprocessor.mean, preprocessor.std, dtype="float32",
                                 name="scaling")(inputs)
    x = scaled
    for layer in build_recurrent_stack(config.model, return_sequences=False):
        x = layer(x)
    outputs = QuantileForecastHead(preprocessor.horizon, preprocessor.num_targets, dtype="float32",
                                   name="quantiles")([x, scaled])
    return keras.Model(inputs, outputs, name=f"forecaster_{config.model.cell}")


def load_series(data: DataConfig):
    """The series `data.path` names, with the columns and options of `data`."""
    from rnnkit.datasets.builtin import BUILTIN_DATASETS
    from rnnkit.datasets.csv_series import open_series

    builtin = BUILTIN_DATASETS.get(data.path)
    if builtin is not None and builtin.task != "forecast":
        raise DataError(f"'{data.path}' is {builtin.task} data, not a time series. Pass a CSV with a time column and "
                        "numeric columns, or a built-in series (`rnnkit datasets`).")
    return open_series(data.path, target=data.target_columns, time_col=data.time_column,
                       features=data.feature_columns, encoding=data.encoding, missing=data.missing,
                       season=data.season)


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
    from rnnkit.forecasting import predict_windows

    horizon = preprocessor.horizon if horizon is None else horizon
    window = series.values[origin - preprocessor.window:origin][None]
    quantiles = predict_windows(forecaster, window)[0, :horizon]  # [horizon, targets, 3]
    if origin == len(series):
        times = series.future_times(horizon)
    else:
        times = series.time_labels()[origin:origin + horizon]
    return {"targets": preprocessor.targets, "times": times, "lower": quantiles[..., 0],
            "value": quantiles[..., 1], "upper": quantiles[..., 2]}


def describe_step(step: dict | None) -> str | None:
    if step is None:
        return None
    if "freq" in step:
        return step["freq"]
    if "months" in step:
        return f"{step['months']} month(s)"
    return f"{step['seconds']} s"


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
    import keras

    from rnnkit.preprocessing.series import to_model_units, window_statistics
    from rnnkit.training import import_tensorflow

    tf = import_tensorflow()
    window, horizon, targets = preprocessor.window, preprocessor.horizon, preprocessor.num_targets
    mean = tf.constant(preprocessor.mean, tf.float32)
    std = tf.constant(preprocessor.std, tf.float32)

    def split(sequence, start):
        history, future = sequence[:, :window], sequence[:, window:, :targets]
        _, loc, scale = window_statistics(history, mean, std, targets)
        y = to_model_units(future, loc, scale, mean[:targets], std[:targets])
        if first_scored is None:
            return history, y
        rows = start[:, None] + window + tf.range(horizon)[None, :]
        return history, y, tf.cast(rows >= first_scored, tf.float32)

    # The "targets" are each sequence's first row, so a window knows where it lies.
    dataset = keras.utils.timeseries_dataset_from_array(
        values.astype(np.float32), np.arange(len(values), dtype=np.int32), sequence_length=window + horizon,
        batch_size=batch, shuffle=shuffle, seed=seed)
    return dataset.map(split, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)
