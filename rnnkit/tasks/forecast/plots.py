"""The forecaster's own plot: recent history, the forecast and its interval (and what happened, on test data)."""

from __future__ import annotations

from pathlib import Path

from rnnkit.plots import pyplot, save_figure
from rnnkit.tasks.forecast.preprocessor import INTERVAL


def forecast_plot(path: Path, series, result: dict, origin: int, title: str) -> Path:
    """History, the forecast from `origin` and its interval; the actual values after
    `origin` too when the series has them (a test window)."""
    import numpy as np

    plt = pyplot()
    horizon = len(result["times"])
    shown = max(4 * horizon, 3 * max(series.season, 1) if series.season <= 200 else 0, 48)
    start = max(0, origin - shown)
    dated = series.times is not None
    if dated:
        import pandas as pd

        past = series.times[start:origin]
        future = pd.DatetimeIndex(pd.to_datetime(result["times"]))
    else:
        past = np.arange(start + 1, origin + 1)
        future = np.arange(origin + 1, origin + horizon + 1)
    targets = result["targets"][:4]
    figure, axes = plt.subplots(len(targets), 1, figsize=(9, 3.4 * len(targets)), squeeze=False)
    for index, (axis, target) in enumerate(zip(axes[:, 0], targets)):
        axis.plot(past, series.values[start:origin, index], color="#1f77b4", label="history")
        actual = series.values[origin:origin + horizon, index]
        if len(actual):
            axis.plot(future[: len(actual)], actual, color="#1f77b4", alpha=0.45, marker=".", label="actual")
        axis.fill_between(future, result["lower"][:, index], result["upper"][:, index], color="#ff7f0e", alpha=0.25,
                          label=f"{INTERVAL} interval")
        axis.plot(future, result["value"][:, index], color="#ff7f0e", marker=".", label="forecast")
        axis.axvline(future[0] if not dated else past[-1], color="gray", linestyle=":", linewidth=1)
        axis.set_title(f"{target}: {title}" if index == 0 else target)
        axis.set_xlabel(series.time_column or "step")
        axis.grid(alpha=0.3)
        axis.legend(loc="upper left")
    if dated:
        figure.autofmt_xdate()
    return save_figure(figure, Path(path))
