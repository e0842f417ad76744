"""Forecasting through the public API: train, metrics next to baselines, forecast, backtest, export."""

from __future__ import annotations

import csv
import json
import subprocess
import sys

import numpy as np
import pytest

import rnnkit
from tests.helpers import TINY_FORECAST, make_series


def test_run_folder_metrics_and_resolved_config(forecast_run):
    metrics = json.loads((forecast_run.path / "metrics.json").read_text())
    assert metrics["split"] == "test" and metrics["targets"] == ["value"] and metrics["horizon"] == 6
    # 96 rows, 10% held out twice: the test part is the last 10 rows, so 5 origins of 6 steps.
    assert metrics["windows"] == 5
    assert {"mae", "rmse", "smape", "mase", "coverage"} <= set(metrics["model"])
    assert set(metrics["baselines"]) == {"naive", "seasonal_naive", "mean"}
    assert all(np.isfinite(v) for v in metrics["model"].values() if v is not None)
    config = json.loads((forecast_run.path / "config.json").read_text())
    assert (config["data"]["horizon"], config["data"]["window"], config["data"]["season"]) == (6, 12, 12)
    assert config["data_summary"]["frequency"] == "MS" and config["data_summary"]["rows"] == 96
    for plot in ("forecast.png", "learning_curves.png"):
        assert (forecast_run.path / "plots" / plot).stat().st_size > 0


def test_forecast_continues_the_timestamps_with_ordered_bounds(forecast_run, series, tmp_path):
    result = forecast_run.forecast(str(series), plot=tmp_path / "f.png")
    assert result["target"] == "value"
    assert [item["time"] for item in result["forecast"]] == [f"2008-{m:02d}-01" for m in range(1, 7)]
    assert all(item["lower"] <= item["value"] <= item["upper"] for item in result["forecast"])
    assert (tmp_path / "f.png").stat().st_size > 0
    shorter = forecast_run.forecast(str(series), horizon=2)["forecast"]
    assert shorter == result["forecast"][:2]
    with pytest.raises(rnnkit.ConfigError, match="beyond the 6 steps"):
        forecast_run.forecast(str(series), horizon=7)


def test_forecast_from_a_dataframe_equals_the_csv(forecast_run, series):
    import pandas as pd

    frame = pd.read_csv(series, parse_dates=["date"]).set_index("date")
    assert forecast_run.forecast(frame) == forecast_run.forecast(str(series))


def test_forecast_reads_only_the_last_window(forecast_run, series, tmp_path):
    rows = list(csv.reader(series.open()))
    short = tmp_path / "recent.csv"
    with short.open("w", newline="") as handle:
        csv.writer(handle).writerows([rows[0]] + rows[-12:])
    assert forecast_run.forecast(str(short)) == forecast_run.forecast(str(series))
    with short.open("w", newline="") as handle:
        csv.writer(handle).writerows([rows[0]] + rows[-11:])
    with pytest.raises(rnnkit.DataError, match="at least 12 rows"):
        forecast_run.forecast(str(short))


def test_backtest_over_the_last_horizons(forecast_run, series):
    metrics = forecast_run.evaluate(str(series), backtest=3)
    assert metrics["split"] == "test" and metrics["backtest"] == 3 and metrics["windows"] == 3
    assert metrics["model"]["mase"] > 0 and "coverage" in metrics["model"]
    assert forecast_run.evaluate(str(series))["windows"] == 1
    with pytest.raises(rnnkit.DataError, match="--backtest 14 or less"):
        forecast_run.evaluate(str(series), backtest=20)


def test_savedmodel_matches_forecast_in_a_process_without_rnnkit(forecast_run, series, tmp_path):
    out = forecast_run.export(tmp_path / "sm")
    expected = forecast_run.forecast(str(series))["forecast"]
    history = [float(row["value"]) for row in csv.DictReader(series.open())][-12:]
    script = (
        "import json, sys, tensorflow as tf\n"
        "m = tf.saved_model.load(sys.argv[1])\n"
        "assert 'rnnkit' not in sys.modules\n"
        "f = m.signatures['serving_default']\n"
        "x = tf.constant(json.loads(sys.argv[2]), tf.float32)[None, :, None]\n"
        "out = f(history=tf.concat([x, x + 100.0], 0))\n"
        "print(json.dumps({k: v.numpy().tolist() for k, v in out.items()} |"
        " {'inputs': {k: v.shape.as_list() for k, v in f.structured_input_signature[1].items()}}))\n"
    )
    result = subprocess.run([sys.executable, "-c", script, str(out), json.dumps(history)], capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    served = json.loads(result.stdout.strip().splitlines()[-1])
    assert served["inputs"] == {"history": [None, 12, 1]}
    for key, name in (("forecast", "value"), ("lower", "lower"), ("upper", "upper")):
        np.testing.assert_allclose(served[key][0], [item[name] for item in expected], rtol=1e-5)
    # Scaling is per window: a series shifted up by 100 is forecast 100 higher.
    np.testing.assert_allclose(np.array(served["forecast"][1]) - served["forecast"][0], 100.0, rtol=1e-3)


def test_several_targets_with_an_extra_feature(tmp_path):
    data = make_series(tmp_path / "multi.csv", rows=80, extra=True, missing=(5, 6))
    run = rnnkit.train(str(data), task="forecast", target="value,other", features="signal", out=tmp_path / "run",
                       **{**TINY_FORECAST, "epochs": 1})
    assert run.config.data.target_columns == ["value", "other"] and run.config.data.feature_columns == ["signal"]
    assert run.config.data_summary["interpolated"] == 2
    result = run.forecast(str(data))
    assert result["target"] == "value,other" and len(result["forecast"]) == 12
    assert {item["target"] for item in result["forecast"]} == {"value", "other"}
    served = run.export(tmp_path / "sm")
    assert (served / "saved_model.pb").exists()


def test_config_file_repeats_the_resolved_run(forecast_run, tmp_path):
    again = rnnkit.train(config=forecast_run.path / "config.json", out=tmp_path / "again", epochs=1)
    assert again.config.data.horizon == 6 and again.config.data.window == 12
    assert again.config.data.recurrent_window == forecast_run.config.data.recurrent_window == 12
    assert again.config.data.target_columns == ["value"]


def _write(path, times, values):
    with path.open("w", encoding="utf-8") as handle:
        handle.write("time,load\n")
        handle.writelines(f"{moment},{value:.4f}\n" for moment, value in zip(times, values))
    return path


def test_the_calibrated_interval_holds_80_percent_of_the_validation_part(forecast_run):
    checked = forecast_run.config.data_summary["validation"]
    # Split conformal: the calibrated interval holds at least 80% of the validation values it was fitted on.
    assert checked["calibrated_coverage"] >= 0.8 and checked["points"] > 0
    assert all(scale >= 0 for scale in checked["interval_scale"])
    saved = json.loads((forecast_run.path / "preprocessor" / "series.json").read_text())
    assert saved["interval_scale"] == checked["interval_scale"] and saved["forecaster"] == "network"


def test_log_transform_only_for_a_positive_season_that_grows_with_the_level():
    from rnnkit.tasks.forecast.preprocessor import choose_transform

    steps = np.arange(120)
    cycle = np.sin(2 * np.pi * steps / 12)
    growing = np.exp(4 + 0.01 * steps + 0.2 * cycle)  # multiplicative: airline-like
    steady = 100 + 0.5 * steps + 10 * cycle  # additive
    assert choose_transform(growing[:, None], 12) == "log"
    assert choose_transform(steady[:, None], 12) is None
    assert choose_transform((growing - growing.mean())[:, None], 12) is None  # not positive
    assert choose_transform(growing[:, None], 1) is None  # no season to judge by


def test_seasons_read_from_the_time_step(tmp_path):
    from rnnkit.datasets.csv_series import open_series

    for freq, expected in (("30min", (48, 336)), ("h", (24, 168)), ("D", (7, 365)), ("MS", (12,))):
        series = open_series(make_series(tmp_path / f"{freq}.csv", rows=60, freq=freq), target=["value"])
        assert series.seasons == expected and series.season == expected[0], freq
    given = open_series(make_series(tmp_path / "given.csv", rows=60, freq="h"), target=["value"], season=12)
    assert given.season == 12 and given.seasons == (12,)  # --season replaces the detected cycles


def test_half_hourly_data_reads_its_week_and_scores_by_the_better_season(tmp_path):
    import pandas as pd

    steps = np.arange(6 * 7 * 48)
    hour, weekday = (steps % 48) / 2, (steps // 48) % 7
    load = 100 + 30 * np.sin(2 * np.pi * hour / 24) - 40 * (weekday >= 5) + np.random.default_rng(0).normal(0, 2, len(steps))
    data = _write(tmp_path / "load.csv", pd.date_range("2024-01-01", periods=len(steps), freq="30min"), load)
    run = rnnkit.train(str(data), task="forecast", target="load", out=tmp_path / "run", units=8, epochs=1, seed=1,
                       horizon=48)
    found = run.config.data_summary
    # The weekly seasonal naive forecast knows the weekend; the daily one does not.
    assert found["seasons"] == [48, 336] and found["season"] == 336 and run.metrics["season"] == 336
    assert found["window"] == 672 and found["recurrent_window"] == 48
    assert run.model.input_shape == (None, 672, 1)
    assert len(run.forecast(str(data))["forecast"]) == 48


def test_model_auto_keeps_the_seasonal_naive_forecast_when_it_is_better(tmp_path, caplog):
    import pandas as pd

    steps = np.arange(96)
    values = 50 + 10 * np.sin(2 * np.pi * steps / 12) + 5 * np.cos(2 * np.pi * steps / 4)  # repeats exactly
    data = _write(tmp_path / "cycle.csv", pd.date_range("2000-01-01", periods=96, freq="MS"), values)
    options = dict(task="forecast", target="load", units=8, epochs=1, seed=1, horizon=6, window=12,
                   learning_rate=0.05)
    with caplog.at_level("WARNING", logger="rnnkit"):
        network = rnnkit.train(str(data), out=tmp_path / "network", **options)
    assert network.config.data_summary["validation"]["forecaster"] == "network"
    assert "Pass --model auto" in caplog.text
    run = rnnkit.train(str(data), out=tmp_path / "auto", model="auto", **options)
    assert run.config.model.forecaster == "auto" and run.metrics["forecaster"] == "seasonal_naive"
    forecast = run.forecast(str(data))["forecast"]
    np.testing.assert_allclose([item["value"] for item in forecast], values[84:90], atol=1e-3)
    assert all(item["lower"] <= item["value"] <= item["upper"] for item in forecast)
    assert run.metrics["model"]["mae"] < 1e-3
    served = run.export(tmp_path / "sm")
    import tensorflow as tf

    out = tf.saved_model.load(str(served)).signatures["serving_default"](
        history=tf.constant(values[-12:][None, :, None], tf.float32))
    np.testing.assert_allclose(out["forecast"].numpy()[0], values[84:90], atol=1e-3)


def test_the_simple_forecasters_in_the_graph_match_numpy():
    from rnnkit.tasks.forecast.forecaster import build_forecaster, simple_forecasts
    from rnnkit.tasks.forecast.preprocessor import SeriesPreprocessor

    rng = np.random.default_rng(0)
    windows = np.exp(rng.normal(4, 0.3, (5, 36, 1)))
    for transform in (None, "log"):
        for name in ("seasonal_naive", "seasonal_trend"):
            preprocessor = SeriesPreprocessor(columns=["v"], num_targets=1, window=36, horizon=8, season=12,
                                              mean=[0.0], std=[1.0], transform=transform, forecaster=name,
                                              simple_quantiles=[[-1.0, 2.0]])
            forecaster = build_forecaster(None, preprocessor)  # kept: its tf.function holds it weakly
            out = forecaster.forecast(windows.astype(np.float32))
            expected = simple_forecasts(preprocessor, windows)[name][..., 0]
            np.testing.assert_allclose(out["forecast"].numpy(), expected, rtol=1e-4)
            np.testing.assert_allclose(out["upper"].numpy() - out["forecast"].numpy(), 2.0, rtol=1e-4)


def test_a_log_run_refuses_values_it_cannot_take_the_log_of(tmp_path):
    import pandas as pd

    steps = np.arange(96)
    values = np.exp(4 + 0.01 * steps + 0.2 * np.sin(2 * np.pi * steps / 12))
    times = pd.date_range("2000-01-01", periods=96, freq="MS")
    data = _write(tmp_path / "growing.csv", times, values)
    run = rnnkit.train(str(data), task="forecast", target="load", out=tmp_path / "run", units=8, epochs=1, seed=1,
                       horizon=6, window=24)
    assert run.config.data_summary["transform"] == "log" and run.config.data.transform == "log"
    values[-3] = 0.0
    with pytest.raises(rnnkit.DataError, match="models their logarithm"):
        run.forecast(str(_write(tmp_path / "zero.csv", times, values)))
    with pytest.raises(rnnkit.DataError, match="--transform log needs positive values"):
        rnnkit.train(str(tmp_path / "zero.csv"), task="forecast", target="load", out=tmp_path / "r2", epochs=1,
                     transform="log")
    auto = rnnkit.train(str(tmp_path / "zero.csv"), task="forecast", target="load", out=tmp_path / "r3", units=8,
                        epochs=1, seed=1, horizon=6, window=24)
    assert auto.config.data.transform == "none"


def test_a_small_series_trains_an_ensemble_whose_median_is_served(forecast_run, series, tmp_path):
    """96 rows are a small series: five networks side by side in one model; `forecast`, the SavedModel
    and LiteRT give the median of their quantiles, and config.json records the resolved number."""
    import tensorflow as tf

    from rnnkit.tasks.forecast.forecaster import median_of_members
    from rnnkit.tasks.forecast.preprocessor import to_original_units, window_statistics

    config = json.loads((forecast_run.path / "config.json").read_text())
    assert config["model"]["ensemble"] == 5
    model = forecast_run.model
    assert model.output_shape == (None, 6, 1, 3, 5)
    assert len([layer for layer in model.layers if layer.name.startswith("quantiles")]) == 5
    members = [layer for layer in model.layers if layer.name.startswith("rnn") and "dropout" not in layer.name]
    assert [layer.name for layer in members] == ["rnn_0", "rnn_1_0", "rnn_2_0", "rnn_3_0", "rnn_4_0"]
    weights = [layer.get_weights()[0] for layer in members]
    assert not np.allclose(weights[0], weights[1])  # each from its own random start

    with series.open(newline="", encoding="utf-8") as handle:
        values = np.array([float(row["value"]) for row in csv.DictReader(handle)], np.float32)
    history = values[-12:].reshape(1, 12, 1)
    outputs = np.asarray(model(history, training=False))  # [1, 6, 1, 3, 5]
    preprocessor = forecast_run.task_object.preprocessor(forecast_run)
    mean, std = np.asarray(preprocessor.mean, np.float32), np.asarray(preprocessor.std, np.float32)
    _, loc, scale = window_statistics(tf.constant(history), mean, std, 1, preprocessor.log_targets)
    median = to_original_units(median_of_members(tf.constant(outputs)), loc, scale, mean[:1], std[:1],
                               preprocessor.log_targets)[..., 1]
    np.testing.assert_allclose(np.median(to_original_units(tf.constant(outputs), loc, scale, mean[:1], std[:1],
                                                           preprocessor.log_targets)[..., 1, :], axis=-1),
                               median, rtol=1e-5)  # the median in model units is the median in original units
    served = [item["value"] for item in forecast_run.forecast(str(series))["forecast"]]
    np.testing.assert_allclose(served, np.asarray(median)[0, :, 0], rtol=1e-5)


def test_ensemble_is_an_option_and_old_runs_had_one_network(series, tmp_path):
    run = rnnkit.train(str(series), task="forecast", target="value", out=tmp_path / "one",
                       **{**TINY_FORECAST, "ensemble": 1, "epochs": 1})
    assert run.model.output_shape == (None, 6, 1, 3)
    with pytest.raises(rnnkit.ConfigError, match="ensemble must be an integer from 1 to 32"):
        rnnkit.train(str(series), task="forecast", target="value", out=tmp_path / "bad", ensemble=0)
    # A config.json written before the option existed means one network: --config rebuilds that.
    recorded = json.loads((run.path / "config.json").read_text())
    del recorded["model"]["ensemble"]
    (tmp_path / "old.json").write_text(json.dumps(recorded))
    again = rnnkit.train(str(series), config=str(tmp_path / "old.json"), out=tmp_path / "again")
    assert again.model.output_shape == (None, 6, 1, 3)
    assert json.loads((again.path / "config.json").read_text())["model"]["ensemble"] == 1
