"""Keras layers of the forecaster, registered so that `model.keras` files load by name."""

from __future__ import annotations

import keras
from keras import ops

from rnnkit.tasks.forecast.preprocessor import QUANTILES, window_statistics


@keras.saving.register_keras_serializable(package="rnnkit")
class WindowNormalization(keras.layers.Layer):
    """Raw windows `[batch, window, features]` -> the scaled input the forecaster reads.

    Every column is standardized with the training part's `mean` and `std`; the target
    columns are then centred on the window's own mean and divided by its spread (see
    `rnnkit.tasks.forecast.preprocessor.window_statistics`), so that the model takes raw values.

    Args:
        num_targets: how many leading columns are forecast.
        mean: per column, the training mean.
        std: per column, the training standard deviation.
        log_targets: whether the targets are modelled as their logarithm.
    """

    def __init__(self, num_targets: int, mean: list[float], std: list[float], log_targets: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.num_targets = int(num_targets)
        self.mean = [float(v) for v in mean]
        self.std = [float(v) for v in std]
        self.log_targets = bool(log_targets)

    def call(self, inputs):
        mean = ops.convert_to_tensor(self.mean, dtype=inputs.dtype)
        std = ops.convert_to_tensor(self.std, dtype=inputs.dtype)
        scaled, _, _ = window_statistics(inputs, mean, std, self.num_targets, self.log_targets)
        return scaled

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "num_targets": self.num_targets, "mean": self.mean, "std": self.std,
                "log_targets": self.log_targets}


@keras.saving.register_keras_serializable(package="rnnkit")
class QuantileForecastHead(keras.layers.Layer):
    """Recurrent features and the scaled window -> ordered quantiles `[batch, horizon, targets, 3]`.

    The median is a dense projection of the recurrent features plus a linear autoregressive
    "highway" over each target's scaled window (LSTNet, Lai et al. 2018), which carries the
    level and seasonal shape so the recurrent part learns what a linear model misses. With a
    `season`, the highway starts as a classical forecast (`seasonal_trend_weights`: the
    window's average seasonal profile on its level, extrapolated by its growth per cycle)
    and the projection at zero, so training starts from that forecast and the network
    learns the remainder (the deseasonalize-then-learn recipe of ES-RNN, Smyl 2020, with the
    season read from the window itself, so no timestamps are needed). The lower and upper
    quantiles sit below and above the median by softplus margins, so the interval always
    contains the forecast.

    Args:
        horizon: steps forecast at once.
        num_targets: columns forecast.
        season: steps per cycle the highway starts from; 0 for a random start (runs
            before 0.2). Defaults to 0.
    """

    def __init__(self, horizon: int, num_targets: int, season: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.horizon = int(horizon)
        self.num_targets = int(num_targets)
        self.season = int(season)
        self.projection = keras.layers.Dense(self.horizon * self.num_targets * 3, name="projection",
                                             kernel_initializer="zeros" if self.season else "glorot_uniform")
        self.highway = keras.layers.Dense(self.horizon, name="highway")

    def build(self, input_shape):
        features_shape, window_shape = input_shape
        self.projection.build(features_shape)
        self.highway.build((window_shape[0], window_shape[1]))
        if self.season:
            self.highway.kernel.assign(seasonal_trend_weights(int(window_shape[1]), self.horizon, self.season))
        self.built = True

    def call(self, inputs):
        features, window = inputs
        raw = ops.reshape(self.projection(features), (-1, self.horizon, self.num_targets, 3))
        targets = ops.transpose(window[..., : self.num_targets], (0, 2, 1))  # [batch, targets, window]
        linear = ops.transpose(self.highway(targets), (0, 2, 1))  # [batch, horizon, targets]
        median = raw[..., 1] + linear
        lower = median - ops.softplus(raw[..., 0])
        upper = median + ops.softplus(raw[..., 2])
        return ops.stack([lower, median, upper], axis=-1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0][0], self.horizon, self.num_targets, 3)

    def get_config(self):
        return {**super().get_config(), "horizon": self.horizon, "num_targets": self.num_targets, "season": self.season}


def seasonal_trend_weights(window: int, horizon: int, season: int):
    """The `[window, horizon]` matrix of a classical forecast, linear in the window.

    With two or more whole cycles of `season` steps at the window's end: a line through the
    cycles' means (from the first to the last) carried forward, plus the cycles' average
    seasonal profile around that line. With one
    cycle: the seasonal naive forecast. Shorter (or no season): the last value. Every
    column sums to 1, so a constant window is forecast as that constant.
    """
    import numpy as np

    def forecast(x):  # x: [n, window] -> [n, horizon]
        steps = np.arange(horizon)
        cycles = window // season if season > 1 else 0
        if cycles == 0:
            return np.repeat(x[:, -1:], horizon, axis=1)
        if cycles == 1:
            return x[:, window - season + steps % season]
        parts = np.stack([x[:, window - (cycles - c) * season:window - (cycles - c - 1) * season]
                          for c in range(cycles)], axis=1)  # [n, cycles, season]
        means = parts.mean(axis=2)
        growth = (means[:, -1] - means[:, 0]) / (cycles - 1)
        ramp = growth[:, None, None] * (np.arange(season) - (season - 1) / 2) / season
        profile = (parts - means[:, :, None] - ramp).mean(axis=1)  # [n, season], the trend taken out
        centre = window - season + (season - 1) / 2
        level = means[:, -1:] + growth[:, None] * (window + steps[None, :] - centre) / season
        return level + profile[:, steps % season]

    return forecast(np.eye(window)).astype("float32")


@keras.saving.register_keras_serializable(package="rnnkit")
def pinball_loss(y_true, y_pred, quantiles=QUANTILES):
    """Mean pinball (quantile) loss; `y_true` `[batch, horizon, targets]`, `y_pred` with a
    trailing quantile axis, and after it an ensemble's member axis (the mean of the members' losses)."""
    levels = ops.convert_to_tensor(quantiles, dtype=y_pred.dtype)
    y_true = ops.expand_dims(ops.cast(y_true, y_pred.dtype), -1)
    if len(y_pred.shape) == 5:  # [batch, horizon, targets, 3, members]
        levels, y_true = ops.expand_dims(levels, -1), ops.expand_dims(y_true, -1)
    error = y_true - y_pred
    axes = tuple(range(2 - len(y_pred.shape), 0))  # all but batch and horizon
    return ops.mean(ops.maximum(levels * error, (levels - 1.0) * error), axis=axes)
