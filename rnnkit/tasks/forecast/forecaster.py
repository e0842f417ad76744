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
# What `--model auto` weighs against the network: the seasonal naive forecast, and the
# classical one the network starts from (`rnnkit.tasks.forecast.layers.seasonal_trend_weights`).
SIMPLE_FORECASTERS = ("seasonal_naive", "seasonal_trend")


def build_forecaster(model, preprocessor: SeriesPreprocessor):
    """A `tf.Module` whose `forecast(history: float32[None, window, features])` returns
    `forecast`, `lower` and `upper`: `[None, horizon]` for one target, `[None, horizon, targets]`
    for several, in original units.

    The forecast is the network's median, its bounds the network's quantiles moved by the
    calibrated `interval_scale`; or, when `--model auto` chose one (`preprocessor.forecaster`),
    a simple forecast (`SIMPLE_FORECASTERS`) with its validation errors' quantiles as bounds."""
    import tensorflow as tf

    from rnnkit.tasks.forecast.layers import seasonal_trend_weights

    window, features, targets = preprocessor.window, preprocessor.num_features, preprocessor.num_targets
    chosen = preprocessor.forecaster
    log_targets = preprocessor.log_targets

    class Forecaster(tf.Module):
        def __init__(self):
            super().__init__(name="forecaster")
            self.model = model
            # NumPy arrays, which become constants of the traced graph (captured tensors would be
            # inputs to an ONNX converter, not weights).
            self.mean = np.asarray(preprocessor.mean, np.float32)
            self.std = np.asarray(preprocessor.std, np.float32)
            self.interval_scale = np.asarray(preprocessor.interval_scale, np.float32)
            # [targets, 2]: added to a simple forecast for its lower and upper bounds
            self.simple_quantiles = np.asarray(preprocessor.simple_quantiles or [[0.0, 0.0]] * targets, np.float32)
            if chosen == "seasonal_naive":
                self.naive_steps = np.asarray(seasonal_naive_steps(window, preprocessor.horizon, preprocessor.season),
                                              np.int32)
            elif chosen == "seasonal_trend":
                self.trend_weights = seasonal_trend_weights(window, preprocessor.horizon, preprocessor.season)

        @tf.function(input_signature=[tf.TensorSpec([None, window, features], tf.float32, name="history")])
        def forecast(self, history):
            return self.compute(history)

        def compute(self, history):
            """`forecast`, untraced: the LiteRT and ONNX exports trace it with their own shapes."""
            if chosen in SIMPLE_FORECASTERS:
                if chosen == "seasonal_naive":
                    median = tf.gather(history[..., :targets], self.naive_steps, axis=1)  # [batch, horizon, targets]
                else:
                    series = history[..., :targets]
                    series = tf.math.log(series) if log_targets else series
                    median = tf.einsum("bwt,wh->bht", series, self.trend_weights)
                    median = tf.exp(median) if log_targets else median
                lower, upper = median + self.simple_quantiles[:, 0], median + self.simple_quantiles[:, 1]
            else:
                quantiles = self.model(history, training=False)  # [batch, horizon, targets, 3(, members)]
                if len(quantiles.shape) == 5:
                    quantiles = median_of_members(quantiles)
                _, loc, scale = window_statistics(history, self.mean, self.std, targets, log_targets)
                values = to_original_units(quantiles, loc, scale, self.mean[:targets], self.std[:targets], log_targets)
                median = values[..., 1]
                lower = median - self.interval_scale[0] * (median - values[..., 0])
                upper = median + self.interval_scale[1] * (values[..., 2] - median)
            if targets == 1:
                median, lower, upper = median[:, :, 0], lower[:, :, 0], upper[:, :, 0]
            return {"forecast": median, "lower": lower, "upper": upper}

        def endpoints(self) -> dict:
            """The SavedModel's signatures (DESIGN §7)."""
            return {"serving_default": self.forecast}

        def resources(self) -> list:
            return []

    return Forecaster()


def median_of_members(quantiles):
    """The median over an ensemble's last (member) axis, in model units: the way back to original units
    is increasing, so it is the median there too (for an odd number of members)."""
    import tensorflow as tf

    members = quantiles.shape[-1]
    ordered = tf.sort(quantiles, axis=-1)
    middle = members // 2
    if members % 2:
        return ordered[..., middle]
    return (ordered[..., middle - 1] + ordered[..., middle]) / 2.0


def build_edge_core(model, preprocessor: SeriesPreprocessor):
    """The forecaster's numeric core for LiteRT and ONNX (`rnnkit.task.EdgeCore`): the same
    `forecast` as the SavedModel's, raw windows `history[batch, window, features]` in, forecasts
    and bounds in original units out."""
    from rnnkit.task import EdgeCore
    from rnnkit.tasks.forecast.preprocessor import INTERVAL

    forecast = build_forecaster(model, preprocessor).compute
    window, features, targets = preprocessor.window, preprocessor.num_features, preprocessor.num_targets
    mean, std = np.asarray(preprocessor.mean), np.asarray(preprocessor.std)

    def sample(rng: np.random.Generator, rows: int) -> dict:
        values = mean + std * rng.normal(size=(rows, window, features))
        if preprocessor.log_targets:  # mean and std are of the logarithm
            values[..., :targets] = np.exp(values[..., :targets])
        return {"history": values.astype(np.float32)}

    shape = "[batch, horizon]" if targets == 1 else "[batch, horizon, targets]"
    description = {
        "columns": preprocessor.columns,
        "targets": preprocessor.targets,
        "window": window,
        "horizon": preprocessor.horizon,
        "time_column": preprocessor.time_column,
        "step": preprocessor.step,
        "interval": INTERVAL,
        "steps": [
            "the input 'history' is the last 'window' rows of the series, oldest first, one column per name in "
            "'columns' in that order, in original units, with no missing values",
            f"the outputs 'forecast', 'lower' and 'upper' ({shape}) are the next 'horizon' steps and the bounds of "
            "the 'interval' prediction interval, in original units",
        ],
    }
    return EdgeCore(model=model, function=forecast, inputs=[("history", "float32", (window, features))],
                    sample=sample, description=description)


def seasonal_naive_steps(window: int, horizon: int, season: int) -> list[int]:
    """The window's steps a seasonal naive forecast repeats, one per forecast step: the same
    point of the last observed cycle (the last value when the window is shorter than a season)."""
    if season <= 1 or season > window:
        return [window - 1] * horizon
    return [window - season + step % season for step in range(horizon)]


def check_on_validation(model, preprocessor: SeriesPreprocessor, values: np.ndarray, train_end: int,
                        validation_end: int) -> dict:
    """The network against the simple forecasters on the validation part (rows
    `train_end:validation_end` of `values`), and the interval calibration they take from it.

    Every forecast with a step in the validation part counts, at those steps only. Returns
    `errors`: each forecaster's (`network` and `SIMPLE_FORECASTERS`) mean absolute error
    relative to the MASE scale; `interval_scale` (split conformal: the factor on the network's
    margins below and above its median that puts 80% of the validation values inside them,
    the same for both sides); the network's coverage before and after; and
    `simple_quantiles` (per simple forecaster and target, the 10% and 90% quantiles of its
    errors: its interval when it is chosen).
    """
    import dataclasses

    window, horizon, targets = preprocessor.window, preprocessor.horizon, preprocessor.num_targets
    origins = np.arange(max(window, train_end - horizon + 1), validation_end)
    windows = np.stack([values[o - window:o] for o in origins])
    actual = np.stack([values[o:o + horizon, :targets] for o in origins])  # the test part follows: never short
    rows = origins[:, None] + np.arange(horizon)[None, :]
    scored = np.broadcast_to(((rows >= train_end) & (rows < validation_end))[..., None], actual.shape)
    plain = dataclasses.replace(preprocessor, interval_scale=[1.0, 1.0], forecaster="network")
    lower, median, upper = (predict_windows(build_forecaster(model, plain), windows)[..., k] for k in range(3))
    forecasts = {"network": median, **simple_forecasts(preprocessor, windows)}
    tiny = 1e-12 * (np.abs(median) + 1.0)
    below = (median - actual) / np.maximum(median - lower, tiny)
    above = (actual - median) / np.maximum(upper - median, tiny)
    # One factor for both sides (conformalized quantile regression, Romano et al. 2019, with the
    # margins scaled rather than shifted): fitted per side, a validation part of a few dozen rows
    # that happens to lie above the forecast shrinks one side to nothing (test coverage 0.62-0.70
    # on the airline cases); one factor kept 0.83-1.00 on the benchmark's cases.
    both = _conformal_quantile(np.maximum(below, above)[scored], 0.8)
    scale = [both, both]
    reference = np.asarray(preprocessor.mase_scale, dtype=np.float64)
    reference = np.where(reference > 0, reference, np.asarray(preprocessor.std[:targets]))

    def relative_error(forecast: np.ndarray) -> float:
        errors = np.where(scored, np.abs(forecast - actual), 0.0).sum(axis=(0, 1)) / scored.sum(axis=(0, 1))
        return float(np.mean(errors / reference))

    def coverage(low: np.ndarray, high: np.ndarray) -> float:
        return float(((actual >= low) & (actual <= high))[scored].mean())

    simple_quantiles = {}
    for name in SIMPLE_FORECASTERS:
        errors = actual - forecasts[name]
        # Never above / below 0, so that the interval contains the forecast even when it is biased.
        simple_quantiles[name] = [[min(float(np.quantile(errors[..., k][scored[..., k]], 0.1)), 0.0),
                                   max(float(np.quantile(errors[..., k][scored[..., k]], 0.9)), 0.0)]
                                  for k in range(targets)]
    return {
        "errors": {name: relative_error(forecast) for name, forecast in forecasts.items()},
        "coverage": coverage(lower, upper),
        "calibrated_coverage": coverage(median - scale[0] * (median - lower), median + scale[1] * (upper - median)),
        "interval_scale": scale, "points": int(scored[..., 0].sum()), "simple_quantiles": simple_quantiles,
    }


def simple_forecasts(preprocessor: SeriesPreprocessor, windows: np.ndarray) -> dict[str, np.ndarray]:
    """`SIMPLE_FORECASTERS`' forecasts `[n, horizon, targets]` of raw `windows`, as the
    forecaster computes them in its graph."""
    from rnnkit.tasks.forecast.layers import seasonal_trend_weights

    window, horizon, season = preprocessor.window, preprocessor.horizon, preprocessor.season
    series = windows[..., :preprocessor.num_targets]
    logged = np.log(series) if preprocessor.log_targets else series
    trend = np.einsum("nwt,wh->nht", logged, seasonal_trend_weights(window, horizon, season).astype(np.float64))
    return {"seasonal_naive": series[:, seasonal_naive_steps(window, horizon, season)],
            "seasonal_trend": np.exp(trend) if preprocessor.log_targets else trend}


def _conformal_quantile(scores: np.ndarray, level: float) -> float:
    """The split-conformal quantile of `scores` at `level` (the finite-sample correction
    (n + 1) / n), never below 0 so that the bounds still contain the forecast."""
    n = len(scores)
    rank = min(1.0, np.ceil((n + 1) * level) / n)
    return max(float(np.quantile(scores, rank, method="higher")), 0.0)


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
