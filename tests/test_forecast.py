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
    assert again.config.data.target_columns == ["value"]
