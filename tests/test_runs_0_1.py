"""Run folders written by rnnkit 0.1 (tests/fixtures/runs_0_1, made with main 3f40607) still load,
answer exactly as they did then, and can be trained again from their config.json."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import rnnkit
from tests.helpers import make_series

FIXTURES = Path(__file__).parent / "fixtures" / "runs_0_1"
EXPECTED = json.loads((FIXTURES / "expected.json").read_text(encoding="utf-8"))


@pytest.fixture
def old_runs(tmp_path):
    shutil.copytree(FIXTURES, tmp_path / "runs")
    return tmp_path / "runs"


def test_old_runs_answer_as_they_did(old_runs, tmp_path):
    textgen, sentiment, forecast = (rnnkit.load(old_runs / name) for name in ("textgen", "sentiment", "forecast"))
    assert (textgen.task, sentiment.task, forecast.task) == ("textgen", "sentiment", "forecast")
    # Keys 0.1 wrote for every task are not part of the loaded config.
    assert "horizon" not in textgen.config.to_dict()["data"] and "level" not in forecast.config.to_dict()["data"]
    assert textgen.generate(["The ", ""], length=30, temperature=0.7, seed=3) == EXPECTED["generate"]
    predictions = sentiment.predict(["a wonderful film", "boring and dull", ""])
    assert [p["label"] for p in predictions] == [p["label"] for p in EXPECTED["predict"]]
    for got, want in zip(predictions, EXPECTED["predict"]):
        assert got["probabilities"] == pytest.approx(want["probabilities"], abs=1e-6)
    result = forecast.forecast(str(make_series(tmp_path / "series.csv")))["forecast"]
    assert [item["time"] for item in result] == [item["time"] for item in EXPECTED["forecast"]]
    for got, want in zip(result, EXPECTED["forecast"]):
        assert [got[k] for k in ("value", "lower", "upper")] == pytest.approx([want[k] for k in ("value", "lower", "upper")],
                                                                            rel=1e-5)


def test_an_old_config_json_trains_a_new_run(old_runs, corpus, tmp_path):
    run = rnnkit.train(str(corpus), config=old_runs / "textgen" / "config.json", out=tmp_path / "again", epochs=1)
    assert run.config.model.units == 8 and run.config.data.sequence_length == 16
    assert "horizon" not in json.loads((run.path / "config.json").read_text())["data"]
