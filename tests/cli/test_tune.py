"""Issue #14: `rnnkit tune` end to end for each task (a search, `--resume` adding trials, the best
config trained again to the same validation metric), an interrupted search resumed with no lost or
duplicated trial, and its bad input (exit 2, one line, nothing written)."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

import rnnkit
from rnnkit.cli.main import app
from tests.cli.test_bad_input import assert_user_error
from tests.helpers import make_corpus, make_reviews, make_series

pytest.importorskip("optuna")
runner = CliRunner()

# Per task: the data, its flags, the options fixed for every trial (tiny models) and a space that
# keeps each trial to seconds (`null` leaves an option of the task's space out).
CASES = {
    "textgen": (make_corpus, "corpus.txt", [],
                ["layers=1", "embedding_dim=8", "max_len=16", "batch_size=16", "epochs=2"],
                {"units": {"low": 8, "high": 16, "log": True}, "cell": {"choices": ["gru", "lstm"]}},
                "tpe"),
    "sentiment": (make_reviews, "reviews.csv", ["--task", "sentiment"],
                  ["layers=1", "embedding_dim=8", "max_len=24", "batch_size=16", "epochs=2", "units=8",
                   "cell=gru"], {}, "random"),
    "forecast": (lambda path: make_series(path, rows=60), "sales.csv", ["--target", "value", "--horizon", "6",
                                                                        "--window", "12"],
                 ["layers=1", "epochs=3", "batch_size=16", "cell=gru", "ensemble=1"],
                 {"units": {"low": 4, "high": 16, "log": True}, "learning_rate": {"low": 0.001, "high": 0.02}},
                 "tpe"),
}


def _tune(data: Path, out: Path, *flags: str):
    result = runner.invoke(app, ["tune", str(data), "--out", str(out), "--seed", "3", "--no-early-stopping",
                                 "--json", *flags])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _best_loss(run: Path) -> float:
    with (run / "history.csv").open(newline="") as handle:
        return min(float(row["val_loss"]) for row in csv.DictReader(handle))


@pytest.mark.parametrize("task", list(CASES))
def test_a_search_resumes_and_its_best_config_trains_the_same_model(task, tmp_path):
    make, name, flags, fixed, space, sampler = CASES[task]
    data = make(tmp_path / name)
    (tmp_path / "space.json").write_text(json.dumps(space))
    sets = [flag for value in fixed for flag in ("--set", value)]
    out = tmp_path / "search"
    extra = ["--tensorboard"] if task == "textgen" else []
    first = _tune(data, out, *flags, *sets, "--space", str(tmp_path / "space.json"), "--sampler", sampler,
                  "--trials", "3", *extra)
    assert first["task"] == task and first["metric"] == "val_loss"
    assert [trial["number"] for trial in first["trials"]] == [0, 1, 2]
    assert all(trial["state"] in ("complete", "pruned") for trial in first["trials"])
    searched = set(first["trials"][0]["params"])
    assert searched and not searched & {"layers", "embedding_dim", "batch_size", "epochs"}  # fixed or left out
    pinned = dict(value.split("=") for value in fixed)
    for trial in first["trials"]:
        run = rnnkit.load(out / trial["run"])  # a normal run
        assert run.model_path.is_file() and run.metrics["model"]
        assert trial["value"] == pytest.approx(_best_loss(run.path), abs=1e-9)
        for name, value in {**trial["params"], **pinned}.items():  # what the trial trained with
            assert str(run.config.get(name)).lower() == str(value).lower(), name
    if task == "textgen":  # TensorBoard's HParams view over the trials
        assert list((out / "trials" / "000" / "logs").rglob("events.out.tfevents.*"))
    assert (out / "plots" / "optimization_history.png").stat().st_size > 0
    assert (out / "plots" / "param_importances.png").stat().st_size > 0

    # --resume adds trials to the same study, with its recorded data and options.
    result = runner.invoke(app, ["tune", "--resume", "--out", str(out), "--trials", "4", "--json"])
    assert result.exit_code == 0, result.output
    resumed = json.loads(result.stdout)
    assert [trial["number"] for trial in resumed["trials"]] == [0, 1, 2, 3]
    assert resumed["trials"][:3] == first["trials"]
    best = resumed["best"]
    assert best["value"] == min(trial["value"] for trial in resumed["trials"] if trial["state"] == "complete")
    assert (out / "best").resolve() == (out / best["run"]).resolve()

    # The best config, trained again, is the best trial's run (same seed, CPU).
    again = rnnkit.train(config=out / "best_config.json", out=tmp_path / "again")
    assert _best_loss(again.path) == pytest.approx(best["value"], abs=1e-6)
    assert json.loads((again.path / "config.json").read_text())["model"] == \
        json.loads((out / "best_config.json").read_text())["model"]


def test_an_interrupted_search_resumes_with_no_lost_or_duplicated_trial(tmp_path):
    data = make_series(tmp_path / "sales.csv", rows=60)
    out = tmp_path / "search"
    command = [sys.executable, "-m", "rnnkit.cli.main", "tune", str(data), "--target", "value", "--horizon", "6",
               "--window", "12", "--set", "units=8", "--set", "layers=1", "--ensemble", "1", "--epochs", "60", "--no-early-stopping",
               "--seed", "2", "--trials", "3", "--out", str(out), "--quiet"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    deadline = time.monotonic() + 240
    while not (out / "trials" / "001" / "history.csv").exists():  # the second trial is training
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()
        time.sleep(0.2)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    assert "rnnkit tune --resume --out" in stderr and "Traceback" not in stderr

    stopped = rnnkit.load_search(out).to_dict()
    assert [trial["state"] for trial in stopped["trials"]] == ["complete", "interrupted", "waiting"]
    assert not (out / "trials" / "001").exists()  # discarded
    interrupted = stopped["trials"][1]["params"]

    result = runner.invoke(app, ["tune", "--resume", "--out", str(out), "--json", "--quiet"])
    assert result.exit_code == 0, result.output
    trials = json.loads(result.stdout)["trials"]
    assert [trial["state"] for trial in trials] == ["complete", "interrupted", "complete", "complete"]
    assert trials[2]["params"] == interrupted  # retried first, once
    finished = [trial for trial in trials if trial["state"] == "complete"]
    assert len({json.dumps(trial["params"], sort_keys=True) for trial in finished}) == 3
    assert sorted(path.name for path in (out / "trials").iterdir()) == ["000", "002", "003"]


def test_a_trial_that_cannot_train_fails_alone_and_a_grid_stops_at_its_size(tmp_path):
    data = make_series(tmp_path / "sales.csv", rows=60)
    space = {"window": {"choices": [12, 500]}, "units": None, "dropout": None, "learning_rate": None,
             "batch_size": None, "cell": None, "layers": None}
    search = rnnkit.tune(data, target="value", horizon=6, units=4, layers=1, epochs=1, early_stopping=False, seed=1,
                         sampler="grid", trials=5, space=space, out=tmp_path / "grid")
    states = {trial["params"]["window"]: trial for trial in search.trials}
    assert sorted(states) == [12, 500] and len(search.trials) == 2  # each point once, the failed one too
    assert states[12]["state"] == "complete" and states[500]["state"] == "failed"
    assert "window" in states[500]["error"] and not (tmp_path / "grid" / "trials" / f"{states[500]['number']:03d}").exists()

    # Trials that all fail stop the search with the reason, as a user error.
    result = runner.invoke(app, ["tune", str(data), "--target", "value", "--horizon", "6", "--sampler", "grid",
                                 "--set", "units=4", "--epochs", "1", "--out", str(tmp_path / "failing"),
                                 "--space", _write(tmp_path / "space.json", {**space, "window": {"choices": [400, 500, 600]}})])
    assert_user_error(result, "3 trials in a row failed", "window")


def _write(path: Path, values: dict) -> str:
    path.write_text(json.dumps(values))
    return str(path)


def test_bad_searches_end_in_one_line_and_write_nothing(tmp_path):
    data = make_series(tmp_path / "sales.csv", rows=60)
    base = ["tune", str(data), "--target", "value", "--horizon", "6"]
    space = tmp_path / "space.json"

    def refused(*flags, fragments, out=tmp_path / "search"):
        before = sorted(out.iterdir()) if out.exists() else None
        result = runner.invoke(app, [*base, "--out", str(out), *flags])
        assert_user_error(result, *fragments)
        assert (sorted(out.iterdir()) if out.exists() else None) == before

    space.write_text(json.dumps({"unit": {"low": 8, "high": 16}}))
    refused("--space", str(space), fragments=["Unknown parameter 'unit' in --space", "units"])
    space.write_text(json.dumps({"units": {"low": 64, "high": 16}}))
    refused("--space", str(space), fragments=["range of 'units' is empty"])
    space.write_text(json.dumps({"cell": {"choices": []}}))
    refused("--space", str(space), fragments=["empty list of choices"])
    space.write_text(json.dumps({"cell": {"choices": ["gru", "lstn"]}}))
    refused("--space", str(space), fragments=["Unknown cell 'lstn'"])
    space.write_text("{not json")
    refused("--space", str(space), fragments=["not a readable JSON file"])
    refused("--set", "unit=8", fragments=["Unknown option 'unit'"])
    refused("--set", "units", fragments=["--set takes NAME=VALUE"])
    refused("--time-budget", "3", fragments=["--time-budget 3 is too small for one trial"])
    refused("--trial-budget", "60", "--time-budget", "30", fragments=["--trial-budget 60 is longer"])
    refused("--set", "text_col=review", fragments=["--text-col a sentiment option"])
    refused("--sampler", "bayes", fragments=["'bayes' is not one of"])
    refused("--resume", fragments=["Nothing to resume", "holds no search"])

    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "notes.txt").write_text("mine")
    refused(fragments=["already exists and is not empty"], out=taken)
    assert (taken / "notes.txt").read_text() == "mine"


def test_resume_keeps_the_search_s_options(tmp_path):
    data = make_series(tmp_path / "sales.csv", rows=60)
    out = tmp_path / "search"
    _tune(data, out, "--target", "value", "--horizon", "6", "--window", "12", "--set", "units=4", "--set", "layers=1",
          "--epochs", "1", "--trials", "1", "--quiet")
    result = runner.invoke(app, ["tune", "--resume", "--out", str(out), "--units", "8"])
    assert_user_error(result, "--units cannot change on --resume")
    result = runner.invoke(app, ["tune", "--resume", "--out", str(out), "--sampler", "random"])
    assert_user_error(result, "--sampler cannot change on --resume")
    assert len(rnnkit.load_search(out).trials) == 1


def test_without_optuna_the_command_says_how_to_install_it(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "optuna", None)  # `import optuna` raises ImportError
    data = make_series(tmp_path / "sales.csv", rows=60)
    result = runner.invoke(app, ["tune", str(data), "--target", "value", "--horizon", "6", "--out",
                                 str(tmp_path / "search")])
    assert_user_error(result, "rnnkit tune needs Optuna", "pip install 'rnnkit[tune]'")
    assert not (tmp_path / "search").exists()
