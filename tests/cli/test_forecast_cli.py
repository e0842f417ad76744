"""`rnnkit train --task forecast`, `rnnkit forecast` and `rnnkit evaluate --backtest` end to end,
and every bad input of issue #4: exit 2, one clear line, nothing written."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from rnnkit.cli.main import app
from tests.cli.test_bad_input import assert_user_error, snapshot
from tests.helpers import make_series

runner = CliRunner()
TINY_FLAGS = ["--units", "8", "--layers", "1", "--epochs", "2", "--batch-size", "16", "--seed", "1",
              "--horizon", "6", "--window", "12", "--quiet"]


def train(tmp_path, data, *flags):
    return runner.invoke(app, ["train", str(data), "--out", str(tmp_path / "run"), *flags])


def test_train_forecast_and_backtest_from_the_command_line(tmp_path):
    data = make_series(tmp_path / "sales.csv", rows=60)
    result = runner.invoke(app, ["train", str(data), "--target", "value", "--out", str(tmp_path / "run"), "--json",
                                 *TINY_FLAGS])  # --task forecast inferred from the date column
    assert result.exit_code == 0, result.output
    trained = json.loads(result.stdout)
    assert trained["metrics"]["split"] == "test" and "seasonal_naive" in trained["metrics"]["baselines"]
    result = runner.invoke(app, ["forecast", str(tmp_path / "run"), str(data), "--json", "--horizon", "4",
                                 "--plot", str(tmp_path / "f.png")])
    assert result.exit_code == 0, result.output
    forecast = json.loads(result.stdout)
    assert forecast["target"] == "value" and [f["time"] for f in forecast["forecast"]] == [
        "2005-01-01", "2005-02-01", "2005-03-01", "2005-04-01"]
    assert (tmp_path / "f.png").stat().st_size > 0
    result = runner.invoke(app, ["forecast", str(tmp_path / "run"), str(data)])
    assert result.exit_code == 0 and "2005-06-01" in result.stdout and "upper (90%)" in result.stdout
    result = runner.invoke(app, ["evaluate", str(tmp_path / "run"), str(data), "--backtest", "2", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["metrics"]["windows"] == 2


def test_missing_values_train_with_a_warning(tmp_path):
    data = make_series(tmp_path / "gappy.csv", rows=60, missing=(3, 4, 30))
    result = train(tmp_path, data, "--task", "forecast", *TINY_FLAGS)
    assert result.exit_code == 0, result.output
    assert "interpolated 3 missing value(s) by time" in result.stderr
    result = train(tmp_path, data, "--task", "forecast", "--missing", "error", "--overwrite", *TINY_FLAGS)
    assert_user_error(result, "3 missing value(s)", "--missing error")


@pytest.mark.parametrize("text, flags, fragments", [
    ("date,name\n2020-01-01,a\n2020-01-02,b\n", [], ["no numeric column"]),
    (None, ["--target", "sales"], ["'sales' is not a column", "Its columns: date, value"]),
    ("date,x,y\n" + "".join(f"2020-01-{d:02d},,{d}\n" for d in range(1, 29)), ["--target", "x"],
     ["'x' has no values"]),
    ("date,x\n" + "".join(f"2020-01-{d:02d},{d}\n" for d in range(1, 21)), ["--horizon", "6", "--window", "12"],
     ["20 rows", "need at least 30"]),
    ("date,x\n2020-01-01,1\n2020-01-02,2\n2020-01-02,3\n2020-01-03,4\n", [], ["'2020-01-02' appears 2 times",
                                                                            "lines 3, 4"]),
    ("date,x\n2020-01-01,1\n2020-01-02,2\n2020-13-45,3\n", [], ["line 4", "'2020-13-45'", "not a date"]),
    ("date,x\n2020-01-01,1\n2020-01-02,two\n2020-01-03,3\n2020-01-04,4\n2020-01-05,5\n", [], ["line 3", "'two'",
                                                                                           "not a number"]),
    (None, ["--horizon", "0"], ["horizon must be an integer >= 1"]),
    (None, ["--window", "1"], ["window must be an integer >= 2"]),
    (None, ["--bidirectional"], ["--bidirectional is a sentiment option; this is a forecast run"]),
])
def test_bad_input_is_one_line_and_writes_nothing(tmp_path, text, flags, fragments):
    data = tmp_path / "data.csv"
    if text is None:
        make_series(data, rows=40)
    else:
        data.write_text(text)
    before = snapshot(tmp_path)
    result = runner.invoke(app, ["train", str(data), "--task", "forecast", "--out", str(tmp_path / "run"),
                                 "--epochs", "1", *flags])
    assert_user_error(result, *fragments)
    assert snapshot(tmp_path) == before and not (tmp_path / "run").exists()


def test_forecast_with_other_columns_or_too_little_history(forecast_run, tmp_path):
    other = tmp_path / "other.csv"
    other.write_text("date,sales\n" + "".join(f"2020-{m:02d}-01,{m}\n" for m in range(1, 13)))
    result = runner.invoke(app, ["forecast", str(forecast_run.path), str(other)])
    assert_user_error(result, "lacks the column(s) value", "it has: date, sales")
    short = tmp_path / "short.csv"
    short.write_text("date,value\n2020-01-01,1\n2020-02-01,2\n2020-03-01,3\n")
    result = runner.invoke(app, ["forecast", str(forecast_run.path), str(short)])
    assert_user_error(result, "3 rows", "at least 12")
    result = runner.invoke(app, ["forecast", str(forecast_run.path), str(short), "--horizon", "0"])
    assert_user_error(result, "horizon must be an integer >= 1")


def test_forecast_plot_must_be_a_png_and_the_run_a_forecaster(forecast_run, series, tmp_path):
    result = runner.invoke(app, ["forecast", str(forecast_run.path), str(series), "--plot", str(tmp_path / "f.pdf")])
    assert_user_error(result, "--plot writes a PNG")
    assert not (tmp_path / "f.pdf").exists()
    # Another task's run: only its config.json is read before the error.
    other = tmp_path / "textgen-run"
    other.mkdir()
    config = json.loads((forecast_run.path / "config.json").read_text())
    (other / "config.json").write_text(json.dumps({**config, "task": "textgen"}))
    (other / "model.keras").write_bytes(b"")
    result = runner.invoke(app, ["forecast", str(other), str(series)])
    assert_user_error(result, "needs a forecast run")
    result = runner.invoke(app, ["evaluate", str(other), str(series), "--backtest", "2"])
    assert_user_error(result, "backtest applies to forecast runs")
