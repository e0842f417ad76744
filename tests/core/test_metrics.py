"""Each task's metrics and baselines on numbers worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest


def test_language_model_metrics():
    from rnnkit.tasks.textgen.metrics import convert, unigram_metrics

    assert convert(math.log(2), "bits_per_char") == pytest.approx(1.0)
    assert convert(math.log(50), "perplexity") == pytest.approx(50.0)
    # Counts of padding, [UNK], token 2, token 3; add-one smoothing, padding excluded: 1, 2, 3 -> 1/6, 2/6, 3/6.
    counts = np.array([0, 0, 1, 2])
    metrics = unigram_metrics(counts, np.array([2, 3, 3, 2]), "char")
    expected = -np.mean(np.log([3 / 6, 3 / 6, 2 / 6]))  # the targets are ids[1:]
    assert metrics["loss"] == pytest.approx(expected) and metrics["accuracy"] == pytest.approx(2 / 3)


def test_forecast_metrics_and_baselines():
    from rnnkit.tasks.forecast.forecaster import baseline_forecasts, forecast_metrics

    actual = np.array([[[10.0], [20.0]]])  # one origin, two steps, one target
    forecast = np.array([[[12.0], [20.0]]])
    metrics = forecast_metrics(actual, forecast, np.array([4.0]), lower=forecast - 1, upper=forecast + 1)
    assert metrics["mae"] == pytest.approx(1.0) and metrics["rmse"] == pytest.approx(math.sqrt(2))
    assert metrics["mase"] == pytest.approx(0.25) and metrics["coverage"] == pytest.approx(0.5)
    assert metrics["mape"] == pytest.approx(10.0) and metrics["smape"] == pytest.approx(100 * (4 / 22) / 2)
    values = np.arange(8, dtype=float)[:, None]
    baselines = baseline_forecasts(values, origins=[6], horizon=2, season=4)
    assert baselines["naive"][0, :, 0].tolist() == [5.0, 5.0]
    assert baselines["seasonal_naive"][0, :, 0].tolist() == [2.0, 3.0]
    assert baselines["mean"][0, :, 0].tolist() == [2.5, 2.5]


def test_classification_metrics():
    from rnnkit.tasks.sentiment.classifier import classification_metrics, majority_baseline

    probabilities = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7]])
    metrics = classification_metrics(np.array([0, 1, 1, 1]), probabilities)
    assert metrics["accuracy"] == 0.75 and metrics["confusion_matrix"] == [[1, 0], [1, 2]]
    assert metrics["precision"] == 1.0 and metrics["recall"] == pytest.approx(2 / 3) and metrics["roc_auc"] == 1.0
    assert majority_baseline(np.array([0, 1, 1, 1]), [10, 30])["accuracy"] == 0.75
