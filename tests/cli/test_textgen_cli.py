"""`rnnkit train / generate / evaluate / export / datasets` end to end on a real file."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from rnnkit.cli.main import app
from tests.cli.test_bad_input import TINY_FLAGS
from tests.helpers import make_corpus

runner = CliRunner()


def test_train_generate_evaluate_export(tmp_path):
    corpus = make_corpus(tmp_path / "corpus.txt")
    out = tmp_path / "run"
    result = runner.invoke(app, ["train", str(corpus), "--out", str(out), "--json", *TINY_FLAGS])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["run"] == str(out) and payload["metrics"]["split"] == "validation"

    args = ["generate", str(out), "--prompt", "The ", "--length", "60", "--seed", "7", "--json"]
    first, second = runner.invoke(app, args), runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    generated = json.loads(first.stdout)
    assert generated == json.loads(second.stdout)
    assert set(generated) == {"samples", "prompt", "length", "temperature", "seed", "xla"}
    assert generated["seed"] == 7 and generated["samples"][0].startswith("The ")

    many = runner.invoke(app, ["generate", str(out), "--num-samples", "3", "--top-k", "5", "--top-p", "0.9",
                               "--length", "20", "--seed", "1", "--json"])
    assert len(json.loads(many.stdout)["samples"]) == 3

    human = runner.invoke(app, ["generate", str(out), "--prompt", "Rain", "--length", "20", "--seed", "1"])
    assert human.exit_code == 0 and human.stdout.startswith("Rain")

    held_out = make_corpus(tmp_path / "held_out.txt", 2000, seed=3)
    evaluated = runner.invoke(app, ["evaluate", str(out), str(held_out), "--json"])
    assert evaluated.exit_code == 0, evaluated.output
    assert json.loads(evaluated.stdout)["metrics"]["split"] == "test"

    exported = runner.invoke(app, ["export", str(out), "--out", str(tmp_path / "sm")])
    assert exported.exit_code == 0, exported.output
    assert (tmp_path / "sm" / "saved_model.pb").exists()
    keras_copy = runner.invoke(app, ["export", str(out), "--out", str(tmp_path / "k"), "--format", "keras"])
    assert keras_copy.exit_code == 0 and (tmp_path / "k" / "model.keras").exists()


def test_datasets_lists_the_builtin_names():
    result = runner.invoke(app, ["datasets"])
    assert result.exit_code == 0
    assert "python-docs" in result.stdout and "shakespeare" in result.stdout


def test_task_inference_needs_task_for_unknown_files(tmp_path):
    path = tmp_path / "data.parquet"
    path.write_bytes(b"PAR1")
    result = runner.invoke(app, ["train", str(path)])
    assert result.exit_code == 2 and "--task" in result.stderr
