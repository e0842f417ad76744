"""The forecasting postprocessor: the in-graph forecaster that serves raw windows, baselines, metrics.

`build_forecaster(...).forecast` is the one function behind `Run.forecast`, `rnnkit evaluate`,
the metrics of `rnnkit train` and the SavedModel's `serving_default`, so the four agree. It
takes raw windows `[batch, window, features]` and returns forecasts in original units, with
the lower and upper bounds of the 80% interval. Baselines and metrics are plain NumPy.
"""

from __future__ import annotations

import numpy as np

from rnnkit.tasks.forecast.preprocessor import SeriesPreprocessor, to_original_units, window_statistics

PREDICT_BATCH = 1024


def build_forecaster(model, preprocessor: SeriesPreprocessor):
    """A `tf.Module` whose `forecast(history: float32[None, window, features])` returns
    `forecast`, `lower` and `upper`: `[None, horizon]` for one target, `[None, horizon, targets]`
    for several, in original units."""
    import tensorflow as tf

    window, features, targets = preprocessor.window, preprocessor.num_features, preprocessor.num_targets

    class Forecaster(tf.Module):
        def __init__(self):
            super().__init__(name="forecaster")
            self.model = model
            self.mean = tf.constant(preprocessor.mean, tf.float32)
            self.std = tf.constant(preprocessor.std, tf.float32)

        @tf.function(input_signature=[tf.TensorSpec([None, window, features], tf.float32, name="history")])
        def forecast(self, history):
            quantiles = self.model(history, training=False)  # [batch, horizon, targets, 3]
            _, loc, scale = window_statistics(history, self.mean, self.std, targets)
            values = to_original_units(quantiles, loc, scale, self.mean[:targets], self.std[:targets])
            if targets == 1:
                values = values[:, :, 0, :]
            return {"forecast": values[..., 1], "lower": values[..., 0], "upper": values[..., 2]}

        def endpoints(self) -> dict:
            """The SavedModel's signatures (DESIGN §7)."""
            return {"serving_default": self.forecast}

        def resources(self) -> list:
            return []

    return Forecaster()


def predict_windows(forecaster, windows: np.ndarray) -> np.ndarray:
    """Quantile forecasts `[n, horizon, targets, 3]` (lower, median, upper) for raw windows."""
    import tensorflow as tf

    parts = []
    for start in range(0, len(windows), PREDICT_BATCH):
        out = forecaster.forecast(tf.constant(windows[start:start + PREDICT_BATCH], tf.float32))
        stacked = np.stack([out["lower"].numpy(), out["forecast"].numpy(), out["upper"].numpy()], axis=-1)
        parts.append(stacked if stacked.ndim == 4 else stacked[:, :, None, :])
    return np.concatenate(parts).astype(np.float64)


def origins_for(length: int, window: int, horizon: int, first: int, stride: int = 1) -> list[int]:
    """Forecast origins `o` (the first forecast step) from `first` on, each with a full window
    before it and a full horizon after it."""
    return list(range(max(first, window), length - horizon + 1, stride))


def evaluate_origins(forecaster, preprocessor: SeriesPreprocessor, values: np.ndarray, origins: list[int],
                     mase_scale: np.ndarray | None = None) -> dict:
    """The model and the naive, seasonal naive and mean baselines, forecasting from each of
    `origins` with the history before it: `{"model": {...}, "baselines": {...}}`."""
    window, horizon, targets = preprocessor.window, preprocessor.horizon, preprocessor.num_targets
    windows = np.stack([values[o - window:o] for o in origins])
    actual = np.stack([values[o:o + horizon, :targets] for o in origins])
    quantiles = predict_windows(forecaster, windows)
    scale = np.asarray(mase_scale if mase_scale is not None else preprocessor.mase_scale, dtype=np.float64)
    forecasts = baseline_forecasts(values[:, :targets], origins, horizon, preprocessor.season)
    return {
        "model": forecast_metrics(actual, quantiles[..., 1], scale, quantiles[..., 0], quantiles[..., 2]),
        "baselines": {name: forecast_metrics(actual, forecast, scale) for name, forecast in forecasts.items()},
    }


def baseline_forecasts(values: np.ndarray, origins: list[int], horizon: int, season: int) -> dict[str, np.ndarray]:
    """Naive (the last value), seasonal naive (the value one season earlier) and mean (of all
    the history before the origin), each `[origins, horizon, targets]`."""
    steps = np.arange(horizon)
    naive, seasonal, mean = [], [], []
    for origin in origins:
        naive.append(np.repeat(values[origin - 1][None, :], horizon, axis=0))
        if season > 1 and origin >= season:
            # Step h repeats the same point of the last observed cycle.
            seasonal.append(values[origin - season + steps % season])
        else:
            seasonal.append(naive[-1])
        mean.append(np.repeat(values[:origin].mean(axis=0)[None, :], horizon, axis=0))
    return {"naive": np.stack(naive), "seasonal_naive": np.stack(seasonal), "mean": np.stack(mean)}


def forecast_metrics(actual: np.ndarray, forecast: np.ndarray, mase_scale: np.ndarray,
                     lower: np.ndarray | None = None, upper: np.ndarray | None = None) -> dict:
    """MAE, RMSE, sMAPE (%), MAPE (% where no actual value is 0), MASE and, with bounds, the
    share of actual values inside the interval. With several targets MAE and RMSE mix their
    units; MASE is scaled per target, then averaged, and undefined (`None`) when a target's
    scale is 0 (a series that never changes in the training part)."""
    error = forecast - actual
    absolute = np.abs(error)
    denominator = np.abs(actual) + np.abs(forecast)
    smape = np.where(denominator > 0, 2 * absolute / np.where(denominator > 0, denominator, 1), 0.0)
    metrics = {
        "mae": float(absolute.mean()),
        "rmse": float(np.sqrt((error**2).mean())),
        "smape": float(100 * smape.mean()),
        "mape": float(100 * (absolute / np.abs(actual)).mean()) if np.all(actual != 0) else None,
        "mase": float(np.mean(absolute.mean(axis=(0, 1)) / mase_scale)) if np.all(mase_scale > 0) else None,
    }
    if lower is not None and upper is not None:
        metrics["coverage"] = float(((actual >= lower) & (actual <= upper)).mean())
    return metrics
