"""A task defined entirely under tests/ (tests/tasks/seqsum.py) works through the API and the CLI,
registered with `rnnkit.register_task` or declared by an entry point, with no change to rnnkit."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import rnnkit
from rnnkit import registry
from tests.tasks.seqsum import SequenceSumTask, write_values

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def registered(monkeypatch):
    rnnkit.task_names()  # reads the entry points, so the copy below holds every task
    monkeypatch.setattr(registry, "_tasks", dict(registry._tasks))  # the registration is forgotten after the test
    return rnnkit.register_task(SequenceSumTask)


def test_train_evaluate_export_through_the_api(registered, tmp_path):
    import tensorflow as tf

    data = write_values(tmp_path / "values.csv")
    assert "seqsum" in rnnkit.task_names()
    run = rnnkit.train(str(data), task="seqsum", out=tmp_path / "run", span=4, seed=1)
    assert run.task == "seqsum" and run.config.data.span == 4
    config = json.loads((run.path / "config.json").read_text())
    assert config["data"]["span"] == 4 and "horizon" not in config["data"] and "embedding_dim" not in config["model"]
    assert set(run.metrics["model"]) == {"mae"} and "mean" in run.metrics["baselines"]
    assert (run.path / "plots" / "learning_curves.png").exists() and (run.path / "preprocessor" / "scale.json").exists()

    again = rnnkit.load(run.path)
    metrics = again.evaluate(write_values(tmp_path / "held_out.csv", seed=1))
    assert metrics["split"] == "test" and metrics["model"]["mae"] >= 0

    served = tf.saved_model.load(str(again.export(tmp_path / "sm")))
    values = tf.constant([[0.1, 0.2, 0.3, 0.4]])
    expected = again.task_object.inference(again).predict(values)["sum"].numpy()
    assert served.signatures["serving_default"](values=values)["sum"].numpy() == pytest.approx(expected, abs=1e-6)

    with pytest.raises(rnnkit.RunError, match="`generate` needs a textgen run, but .* is a seqsum run"):
        again.generate("hello")
    with pytest.raises(rnnkit.ConfigError, match="A seqsum run has no LiteRT or ONNX export"):
        again.export(tmp_path / "edge", format="onnx")
    assert not (tmp_path / "edge").exists()


def test_its_option_belongs_to_it_and_others_do_not(registered, tmp_path, corpus):
    data = write_values(tmp_path / "values.csv")
    with pytest.raises(rnnkit.ConfigError, match="--span is a seqsum option; this is a textgen run"):
        rnnkit.train(str(corpus), out=tmp_path / "a", span=3)
    with pytest.raises(rnnkit.ConfigError, match="--horizon is a forecast option; this is a seqsum run"):
        rnnkit.train(str(data), task="seqsum", out=tmp_path / "b", horizon=3)
    with pytest.raises(rnnkit.ConfigError, match="span must be an integer >= 2"):
        rnnkit.train(str(data), task="seqsum", out=tmp_path / "c", span=1)
    assert not any((tmp_path / name).exists() for name in "abc")


def plugin_environment(tmp_path: Path) -> dict[str, str]:
    """An installed distribution that declares the task in the `rnnkit.tasks` entry-point group."""
    info = tmp_path / "site" / "seqsum_plugin-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: seqsum-plugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[rnnkit.tasks]\nseqsum = tests.tasks.seqsum:SequenceSumTask\n")
    path = os.pathsep.join([str(tmp_path / "site"), str(ROOT), os.environ.get("PYTHONPATH", "")])
    return {**os.environ, "PYTHONPATH": path}


def rnnkit_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rnnkit.cli.main", *args], capture_output=True, text=True,
                          env=env, timeout=300)


def test_train_evaluate_export_through_the_cli_from_an_entry_point(tmp_path):
    env = plugin_environment(tmp_path)
    data = write_values(tmp_path / "values.csv")
    run = tmp_path / "run"
    result = rnnkit_cli("train", str(data), "--task", "seqsum", "--span", "3", "--out", str(run), "--seed", "1",
                        "--quiet", env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "mae" in result.stdout and json.loads((run / "config.json").read_text())["data"]["span"] == 3
    result = rnnkit_cli("evaluate", str(run), str(data), "--json", env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout)["metrics"]["split"] == "test"
    result = rnnkit_cli("export", str(run), "--out", str(tmp_path / "sm"), env=env)
    assert result.returncode == 0 and (tmp_path / "sm" / "saved_model.pb").exists(), result.stderr[-2000:]
    result = rnnkit_cli("train", str(data), "--task", "seqsum", "--level", "word", "--out", str(tmp_path / "r"), env=env)
    assert result.returncode == 2 and "--level is a textgen option; this is a seqsum run" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "r").exists()


def test_register_task_adds_its_flag_and_choice_to_the_cli():
    code = ("import rnnkit; from tests.tasks.seqsum import SequenceSumTask; rnnkit.register_task(SequenceSumTask); "
            "from rnnkit.cli.main import main; main()")
    result = subprocess.run([sys.executable, "-c", code, "train", "--help"], capture_output=True, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "200"}, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "--span" in result.stdout and "seqsum: Values summed per window. [default: 5]" in result.stdout
    assert "textgen|sentiment|forecast|seqsum" in result.stdout
