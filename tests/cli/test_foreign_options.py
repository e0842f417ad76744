"""An option of another task is a user error in the CLI and in `--config`: exit 2, one line naming the
task it belongs to, before any data is read or anything is written."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from rnnkit.cli.main import app
from tests.cli.test_bad_input import assert_user_error
from tests.helpers import make_series

runner = CliRunner()


@pytest.mark.parametrize(
    ("data", "flags", "message"),
    [
        ("corpus", ["--horizon", "12"], "--horizon is a forecast option; this is a textgen run. Drop it, or pass --task forecast."),
        ("corpus", ["--text-col", "body"], "--text-col is a sentiment option; this is a textgen run"),
        ("corpus", ["--class-weight", "balanced"], "--class-weight is a sentiment option; this is a textgen run"),
        ("series", ["--task", "forecast", "--vocab-size", "5000", "--embedding-dim", "32"],
         "--vocab-size is a sentiment and textgen option; this is a forecast run"),
        ("series", ["--task", "forecast", "--embedding-dim", "32"],
         "--embedding-dim is a sentiment and textgen option; this is a forecast run"),
        ("reviews", ["--level", "char"], "--level is a textgen option; this is a sentiment run"),
        ("reviews", ["--window", "24"], "--window is a forecast option; this is a sentiment run"),
    ],
)
def test_foreign_option_on_the_command_line(corpus, reviews, tmp_path, data, flags, message):
    path = {"corpus": corpus, "reviews": reviews, "series": make_series(tmp_path / "s.csv")}[data]
    result = runner.invoke(app, ["train", str(path), *flags, "--out", str(tmp_path / "run")])
    assert_user_error(result, message)
    assert not (tmp_path / "run").exists()


def test_foreign_key_in_a_config_file(corpus, tmp_path):
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"task": "textgen", "data": {"path": str(corpus), "horizon": 12}}))
    result = runner.invoke(app, ["train", "--config", str(config), "--out", str(tmp_path / "run")])
    assert_user_error(result, "'data.horizon' is a forecast option (--horizon); this is a textgen config")
    assert not (tmp_path / "run").exists()


def test_foreign_evaluate_option(trained_run):
    result = runner.invoke(app, ["evaluate", str(trained_run.path), "x.txt", "--backtest", "2"])
    assert_user_error(result, "backtest applies to forecast runs; this is a textgen run")
