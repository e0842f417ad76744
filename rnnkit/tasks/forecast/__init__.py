"""Time-series forecasting: train a recurrent forecaster on a series and forecast past its end."""

from rnnkit.tasks.forecast.task import ForecastTask

__all__ = ["ForecastTask"]
