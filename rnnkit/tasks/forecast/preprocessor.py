"""The forecasting preprocessor: windows in, scaling fitted on the training part only.

First, when the training part asks for it, the target columns are taken to their logarithm
(`choose_transform`: a positive series whose seasonal swing grows with its level, as airline
passengers do), so that a multiplicative season becomes additive; forecasts are taken back
with the exponential. Then two scalings, both inside the model so that it takes raw values:

1. per column, the mean and standard deviation of the training part (`keras.layers.Normalization`
   would do the same; these are fixed numbers saved in `preprocessor/series.json`);
2. per window, for the target columns only: the window's own level and spread are taken out
   (reversible instance normalization, Kim et al. 2022), so a series that trends out of the
   range it was trained on still looks familiar to the network, and forecasts are made
   relative to the recent level.

`window_statistics` is the one definition of both, used by the model's input layer, by the
training targets and by the postprocessing that turns outputs back into original units.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from rnnkit.atomic import write_json_atomic
from rnnkit.errors import RunError

QUANTILES = (0.1, 0.5, 0.9)  # lower bound, forecast, upper bound
INTERVAL = f"{QUANTILES[-1] - QUANTILES[0]:.0%}"  # the interval the bounds span
# The smallest per-window spread, in units of the training standard deviation: a flat window
# is not blown up into noise.
SCALE_FLOOR = 0.1
FILE = "series.json"


@dataclass
class SeriesPreprocessor:
    """What turns a window of raw values into model input, and outputs back into values.

    Args:
        columns: the input columns, targets first.
        num_targets: how many leading `columns` are forecast.
        window: input steps per forecast.
        horizon: steps forecast at once.
        season: steps per seasonal cycle (1: none).
        mean: per column, the mean of the training part.
        std: per column, the standard deviation of the training part (1 where it is 0).
        time_column: the time column of the training data, or `None`.
        step: the time step of the training data (see `Series.step`).
        quantiles: the quantiles the model predicts; the middle one is the forecast.
        mase_scale: per target, the mean absolute error of the seasonal naive forecast
            on the training part (the denominator of MASE).
        transform: `"log"` when the targets are modelled as their logarithm, else `None`.
        seasons: the cycles the model reads (see `SeriesPreprocessor.recurrent_window`);
            `season` is the one the seasonal naive forecast and MASE use.
        recurrent_window: the last steps of the window the recurrent layers read; the whole
            window (which may reach back a longer season) goes to the linear part. `None`:
            the whole window.
        interval_scale: how far the lower and upper bounds are moved from the forecast,
            relative to the model's quantiles: calibrated on the validation part so that the
            interval holds 80% of it.
        forecaster: `"network"`, or the simple forecast (`"seasonal_naive"`, `"seasonal_trend"`)
            `--model auto` found better on the validation part.
        simple_quantiles: per target, the 10% and 90% quantiles of the chosen simple
            forecast's errors on the validation part: its interval.
    """

    columns: list[str]
    num_targets: int
    window: int
    horizon: int
    season: int
    mean: list[float]
    std: list[float]
    time_column: str | None = None
    step: dict | None = None
    quantiles: tuple[float, ...] = QUANTILES
    mase_scale: list[float] = field(default_factory=list)
    transform: str | None = None
    seasons: list[int] = field(default_factory=list)
    recurrent_window: int | None = None
    interval_scale: list[float] = field(default_factory=lambda: [1.0, 1.0])
    forecaster: str = "network"
    simple_quantiles: list[list[float]] = field(default_factory=list)

    @property
    def log_targets(self) -> bool:
        return self.transform == "log"

    @property
    def targets(self) -> list[str]:
        return self.columns[: self.num_targets]

    @property
    def num_features(self) -> int:
        return len(self.columns)

    def save(self, directory: str | Path) -> None:
        values = asdict(self)
        values["quantiles"] = list(self.quantiles)
        write_json_atomic(Path(directory) / FILE, values)

    @classmethod
    def load(cls, directory: str | Path) -> "SeriesPreprocessor":
        path = Path(directory) / FILE
        try:
            values = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as error:
            raise RunError(f"Cannot read the series preprocessor {path}: {error}. Retrain the run.") from None
        values["quantiles"] = tuple(values.get("quantiles", QUANTILES))
        return cls(**values)


def fit_preprocessor(values: np.ndarray, columns: list[str], num_targets: int, window: int, horizon: int,
                     season: int, time_column: str | None, step: dict | None, transform: str | None = None,
                     seasons: list[int] | None = None, recurrent_window: int | None = None) -> SeriesPreprocessor:
    """Fit the scaling on `values` (the training part only)."""
    modelled = np.array(values, dtype=np.float64)
    if transform == "log":
        modelled[:, :num_targets] = np.log(modelled[:, :num_targets])
    mean = modelled.mean(axis=0)
    std = modelled.std(axis=0)
    std = np.where(std > 1e-12 * np.maximum(np.abs(mean), 1.0), std, 1.0)
    return SeriesPreprocessor(columns=list(columns), num_targets=num_targets, window=window, horizon=horizon,
                              season=season, mean=[float(v) for v in mean], std=[float(v) for v in std],
                              time_column=time_column, step=step,
                              mase_scale=[float(v) for v in seasonal_naive_scale(values[:, :num_targets], season)],
                              transform=transform, seasons=list(seasons or [season]),
                              recurrent_window=recurrent_window if recurrent_window != window else None)


# A log transform is chosen when it makes the seasonal swing at least this much steadier.
LOG_GAIN = 0.8


def choose_transform(values: np.ndarray, season: int) -> str | None:
    """`"log"` when every target column of the training part is positive and its seasonal swing
    grows with its level, else `None`.

    The swing of a cycle is the spread of the series around its moving average (one season
    long) within that cycle. When the logarithm makes the swings of the cycles steadier
    (their coefficient of variation at most `LOG_GAIN` times that of the raw series), the
    season is multiplicative and the log is taken. Needs three full cycles.
    """
    if season < 2 or len(values) < 3 * season + season or not np.all(values > 0):
        return None
    return "log" if all(_log_steadies(values[:, column], season) for column in range(values.shape[1])) else None


def _log_steadies(column: np.ndarray, season: int) -> bool:
    def swing_variation(x: np.ndarray) -> float:
        trend = np.convolve(x, np.ones(season) / season, mode="valid")  # centred moving average
        offset = season // 2
        residual = x[offset:offset + len(trend)] - trend
        cycles = len(residual) // season
        swings = residual[:cycles * season].reshape(cycles, season).std(axis=1)
        return float(swings.std() / swings.mean()) if swings.mean() > 0 else 0.0

    raw = swing_variation(column)
    return raw > 0 and swing_variation(np.log(column)) <= LOG_GAIN * raw


def seasonal_naive_scale(values: np.ndarray, season: int) -> np.ndarray:
    """Per column, the in-sample mean absolute error of the seasonal naive forecast
    (the naive forecast when the series is not longer than one season); 0 for a column that
    never changes, whose MASE is then undefined."""
    lag = season if len(values) > season else 1
    return np.abs(values[lag:] - values[:-lag]).mean(axis=0)


def window_statistics(history, mean, std, num_targets: int, log_targets: bool = False):
    """`(scaled, loc, scale)` of a batch of raw windows `[batch, window, features]`.

    `scaled` is the model's input: the targets' logarithm with `log_targets`, every column
    standardized with the training `mean` and `std`, and the target columns further centred
    on the window's mean and divided by its spread (`loc`, `scale`: `[batch, 1, num_targets]`,
    in standardized units).
    """
    from keras import ops

    if log_targets:
        history = ops.concatenate([ops.log(history[..., :num_targets]), history[..., num_targets:]], axis=-1)
    standardized = (history - mean) / std
    targets = standardized[..., :num_targets]
    loc = ops.mean(targets, axis=1, keepdims=True)
    scale = ops.sqrt(ops.var(targets, axis=1, keepdims=True) + SCALE_FLOOR**2)
    scaled_targets = (targets - loc) / scale
    scaled = ops.concatenate([scaled_targets, standardized[..., num_targets:]], axis=-1)
    return scaled, loc, scale


def to_model_units(values, loc, scale, mean, std, log_targets: bool = False):
    """Raw target values `[batch, horizon, num_targets]` -> the units the model predicts in."""
    from keras import ops

    if log_targets:
        values = ops.log(values)
    return ((values - mean) / std - loc) / scale


def to_original_units(outputs, loc, scale, mean, std, log_targets: bool = False):
    """Model outputs `[batch, horizon, num_targets, ...]` -> original units. `loc` and `scale`
    are `[batch, 1, num_targets]`; `mean` and `std` are per target."""
    from keras import ops

    extra = len(outputs.shape) - 3
    for _ in range(extra):
        loc, scale = ops.expand_dims(loc, -1), ops.expand_dims(scale, -1)
        mean, std = ops.expand_dims(mean, -1), ops.expand_dims(std, -1)
    values = (outputs * scale + loc) * std + mean
    return ops.exp(values) if log_targets else values
