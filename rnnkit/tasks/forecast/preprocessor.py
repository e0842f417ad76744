"""The forecasting preprocessor: windows in, scaling fitted on the training part only.

Two scalings, both inside the model so that it takes raw values:

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
                     season: int, time_column: str | None, step: dict | None) -> SeriesPreprocessor:
    """Fit the scaling on `values` (the training part only)."""
    mean = values.mean(axis=0)
    std = values.std(axis=0)
    std = np.where(std > 1e-12 * np.maximum(np.abs(mean), 1.0), std, 1.0)
    return SeriesPreprocessor(columns=list(columns), num_targets=num_targets, window=window, horizon=horizon,
                              season=season, mean=[float(v) for v in mean], std=[float(v) for v in std],
                              time_column=time_column, step=step,
                              mase_scale=[float(v) for v in seasonal_naive_scale(values[:, :num_targets], season)])


def seasonal_naive_scale(values: np.ndarray, season: int) -> np.ndarray:
    """Per column, the in-sample mean absolute error of the seasonal naive forecast
    (the naive forecast when the series is not longer than one season); 0 for a column that
    never changes, whose MASE is then undefined."""
    lag = season if len(values) > season else 1
    return np.abs(values[lag:] - values[:-lag]).mean(axis=0)


def window_statistics(history, mean, std, num_targets: int):
    """`(scaled, loc, scale)` of a batch of raw windows `[batch, window, features]`.

    `scaled` is the model's input: every column standardized with the training `mean` and
    `std`, and the target columns further centred on the window's mean and divided by its
    spread (`loc`, `scale`: `[batch, 1, num_targets]`, in standardized units).
    """
    from keras import ops

    standardized = (history - mean) / std
    targets = standardized[..., :num_targets]
    loc = ops.mean(targets, axis=1, keepdims=True)
    scale = ops.sqrt(ops.var(targets, axis=1, keepdims=True) + SCALE_FLOOR**2)
    scaled_targets = (targets - loc) / scale
    scaled = ops.concatenate([scaled_targets, standardized[..., num_targets:]], axis=-1)
    return scaled, loc, scale


def to_model_units(values, loc, scale, mean, std):
    """Raw target values `[batch, horizon, num_targets]` -> the units the model predicts in."""
    return ((values - mean) / std - loc) / scale


def to_original_units(outputs, loc, scale, mean, std):
    """Model outputs `[batch, horizon, num_targets, ...]` -> original units. `loc` and `scale`
    are `[batch, 1, num_targets]`; `mean` and `std` are per target."""
    from keras import ops

    extra = len(outputs.shape) - 3
    for _ in range(extra):
        loc, scale = ops.expand_dims(loc, -1), ops.expand_dims(scale, -1)
        mean, std = ops.expand_dims(mean, -1), ops.expand_dims(std, -1)
    return (outputs * scale + loc) * std + mean
