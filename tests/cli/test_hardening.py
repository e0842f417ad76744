"""Issue #10: defects a hostile tester found. Each test failed before its fix."""

from __future__ import annotations

import json
import math
import re
import shutil
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rnnkit.cli.main import app
from tests.cli.test_bad_input import assert_user_error
from tests.helpers import TINY_FORECAST, make_series

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[2]


# -- 6. values that corrupt data silently -------------------------------------------------------


def test_a_value_beyond_float32_is_an_error_naming_its_line(tmp_path):
    data = make_series(tmp_path / "big.csv", rows=60)
    lines = data.read_text().splitlines()
    lines[10] = lines[10].split(",")[0] + ",1e300"
    data.write_text("\n".join(lines) + "\n")
    result = runner.invoke(app, ["train", str(data), "--target", "value", "--out", str(tmp_path / "run")])
    assert_user_error(result, "big.csv line 11: '1e300' in column 'value'", "float32")
    assert not (tmp_path / "run").exists()


def test_mase_of_a_constant_series_is_undefined_not_a_number(tmp_path):
    import rnnkit

    data = tmp_path / "flat.csv"
    data.write_text("date,value\n" + "".join(f"2000-{1 + i % 12:02d}-01,5\n".replace("2000", str(2000 + i // 12))
                                             for i in range(60)))
    run = rnnkit.train(str(data), task="forecast", target="value", out=tmp_path / "run", **TINY_FORECAST)
    metrics = json.loads((run.path / "metrics.json").read_text())
    assert metrics["model"]["mase"] is None and metrics["baselines"]["naive"]["mase"] is None
    assert metrics["baselines"]["naive"]["mae"] == 0.0


# -- 9. tracebacks where a clean error belongs ---------------------------------------------------


def test_a_model_file_with_code_is_refused_in_one_line(trained_run, tmp_path):
    import keras

    run = tmp_path / "run"
    shutil.copytree(trained_run.path, run)
    inputs = keras.Input((None,), dtype="int32")
    keras.Model(inputs, keras.layers.Lambda(lambda x: x * 2)(inputs)).save(run / "model.keras")
    result = runner.invoke(app, ["generate", str(run), "--length", "5"])
    assert_user_error(result, "model.keras", "code")


def test_a_damaged_model_file_is_one_line(trained_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(trained_run.path, run)
    data = (run / "model.keras").read_bytes()
    (run / "model.keras").write_bytes(data[: len(data) // 2])
    result = runner.invoke(app, ["generate", str(run), "--length", "5"])
    assert_user_error(result, "model.keras", "damaged")


def test_null_sections_in_a_config_file(corpus, tmp_path):
    for section in ("data", "model"):
        config = tmp_path / f"{section}.json"
        config.write_text(json.dumps({"task": "textgen", section: None}))
        result = runner.invoke(app, ["train", str(corpus), "--config", str(config), "--out", str(tmp_path / "r")])
        assert_user_error(result, f"'{section}' must be an object")


# -- 16, 17. small things a user sees -------------------------------------------------------------


def test_keras_export_never_writes_into_a_non_empty_folder(trained_run, tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep.txt").write_text("mine")
    result = runner.invoke(app, ["export", str(trained_run.path), "--out", str(tmp_path / "out"), "--format", "keras"])
    assert_user_error(result, "already exists and is not empty", "--overwrite")
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["keep.txt"]


def test_learning_curves_tick_whole_epochs(tmp_path):
    from rnnkit.plots import learning_curves_figure

    figure = learning_curves_figure([{"epoch": 0, "loss": 2.0}, {"epoch": 1, "loss": 1.5}, {"epoch": 2, "loss": 1.2}])
    for axis in figure.axes:
        ticks = [tick for tick in axis.get_xticks() if axis.get_xlim()[0] <= tick <= axis.get_xlim()[1]]
        assert ticks and all(float(tick).is_integer() for tick in ticks), ticks


def test_readme_code_fences_open_and_close_on_their_own_lines():
    """An opening fence may name a language; a closing fence is the fence alone, never mid-sentence."""
    fences = [line.strip() for line in (ROOT / "README.md").read_text(encoding="utf-8").splitlines() if "```" in line]
    assert len(fences) % 2 == 0
    assert all(re.fullmatch(r"```[\w-]*", line) for line in fences[0::2]), fences[0::2]
    assert all(line == "```" for line in fences[1::2]), [line for line in fences[1::2] if line != "```"]


# -- 11. usage errors are one line too ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["train", "x.txt", "--units", "abc"], ["Invalid value for '--units'", "valid integer",
                                                "Try 'rnnkit train --help'"]),
        (["train", "x.txt", "--cell", "lstn"], ["'lstn' is not one of 'simple', 'lstm', 'gru'",
                                                "Try 'rnnkit train --help'"]),
        (["generate"], []),
        (["frobnicate"], ["No such command 'frobnicate'", "Try 'rnnkit --help'"]),
        (["train", "x.txt", "--colour", "red"], ["No such option: --colour"]),
    ],
)
def test_usage_errors_are_one_line(args, fragments):
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-m", "rnnkit.cli.main", *args], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2, result
    if args == ["generate"]:  # no arguments: the command's help, as `no_args_is_help` promises
        assert "Usage: rnnkit generate" in result.stdout + result.stderr
        return
    assert result.stderr.strip().count("\n") == 0 and "╭" not in result.stderr, result.stderr
    for fragment in fragments:
        assert fragment in result.stderr, result.stderr
    assert result.stdout == ""


def test_version_prints_the_version():
    import subprocess
    import sys

    from rnnkit.version import __version__

    result = subprocess.run([sys.executable, "-m", "rnnkit.cli.main", "--version"], capture_output=True, text=True,
                            timeout=60)
    assert (result.returncode, result.stdout.strip(), result.stderr) == (0, __version__, "")


def test_a_damaged_history_on_resume_is_one_line(corpus, tmp_path):
    import rnnkit
    from tests.helpers import TINY

    out = tmp_path / "run"
    rnnkit.train(str(corpus), out=out, **TINY)
    history = out / "history.csv"
    history.write_text(history.read_text().replace("\n0,", "\n0,oops,", 1))
    result = runner.invoke(app, ["train", "--resume", "--out", str(out), "--epochs", "2"])
    assert_user_error(result, "history.csv line 2", "not a number")


# -- 8. SIGTERM is handled like Ctrl-C -------------------------------------------------------------


def test_sigterm_saves_a_checkpoint_and_resume_continues(corpus, tmp_path):
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "run"
    args = [sys.executable, "-m", "rnnkit.cli.main", "train", str(corpus), "--out", str(out), "--units", "16",
            "--layers", "1", "--embedding-dim", "8", "--max-len", "16", "--batch-size", "4", "--seed", "1",
            "--no-early-stopping", "--quiet"]
    process = subprocess.Popen([*args, "--epochs", "500"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not (out / "history.csv").exists() or len((out / "history.csv").read_text().splitlines()) < 2:
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()
        time.sleep(0.2)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert "Interrupted" in stderr and "--resume" in stderr and "Traceback" not in stderr
    done = len((out / "history.csv").read_text().splitlines()) - 1
    assert done >= 1 and (out / "checkpoints" / "training_metadata.json").exists()
    result = subprocess.run([*args, "--resume", "--epochs", str(done + 1)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert (out / "model.keras").exists()


# -- 10. --tensorboard works and records the run's hyperparameters -----------------------------------


def test_tensorboard_logs_scalars_and_hyperparameters(corpus, tmp_path):
    import tensorflow as tf

    from tests.cli.test_bad_input import TINY_FLAGS

    result = runner.invoke(app, ["train", str(corpus), "--out", str(tmp_path / "run"), "--tensorboard", *TINY_FLAGS])
    assert result.exit_code == 0, result.output
    plugins, tags = set(), set()
    for events in (tmp_path / "run" / "logs").rglob("events.out.tfevents.*"):
        for event in tf.compat.v1.train.summary_iterator(str(events)):
            for value in event.summary.value:
                tags.add(value.tag)
                plugins.add(value.metadata.plugin_data.plugin_name)
    assert "hparams" in plugins, plugins
    assert any("loss" in tag for tag in tags), tags


# -- 5. one date format per file ----------------------------------------------------------------------


def test_dates_in_two_formats_are_an_error_naming_the_first_different_line(tmp_path):
    import pandas as pd

    months = pd.date_range("1952-03-01", periods=60, freq="MS")
    rows = [f"{m:%Y-%m-%d},{i}" if i < 41 else f"{m:%m/%d/%Y},{i}" for i, m in enumerate(months)]
    (tmp_path / "mixed.csv").write_text("date,value\n" + "\n".join(rows) + "\n")
    result = runner.invoke(app, ["train", str(tmp_path / "mixed.csv"), "--task", "forecast", "--out", str(tmp_path / "run")])
    assert_user_error(result, "mixed.csv line 43", "'08/01/1955'", "the same way")
    rows = [f"{m:%Y-%m-%d},{i}" for i, m in enumerate(months)]
    rows[20] = f"{months[20]:%m/%d/%Y},20"
    (tmp_path / "one.csv").write_text("date,value\n" + "\n".join(rows) + "\n")
    result = runner.invoke(app, ["train", str(tmp_path / "one.csv"), "--task", "forecast", "--out", str(tmp_path / "run")])
    assert_user_error(result, "one.csv line 22", f"'{months[20]:%m/%d/%Y}'")
    assert not (tmp_path / "run").exists()


def test_a_signal_during_a_checkpoint_write_waits_for_the_write(corpus, tmp_path, monkeypatch):
    """SIGTERM (or Ctrl-C) while a checkpoint is written: interrupting inside the HDF5 write left the file open and
    the interrupt's own checkpoint failed. Now the write finishes and training stops at the next boundary."""
    import os
    import signal

    import rnnkit
    from rnnkit import checkpoints
    from tests.helpers import TINY

    original, finished = checkpoints.save, []

    def save_while_signalled(*args):
        if not finished:
            os.kill(os.getpid(), signal.SIGTERM)  # delivered before the write starts
        original(*args)
        finished.append(True)

    monkeypatch.setattr(checkpoints, "save", save_while_signalled)
    with pytest.raises(rnnkit.TrainingInterrupted, match="--resume"):
        rnnkit.train(str(corpus), out=tmp_path / "run", **{**TINY, "epochs": 3})
    assert finished and (tmp_path / "run" / "checkpoints" / "training_metadata.json").exists()
    assert len((tmp_path / "run" / "history.csv").read_text().splitlines()) == 2  # stopped after epoch 1


# -- 14. progress: the steps and ETA fit 80 columns; nothing is cut where no terminal is ---------------------


def _progress_output(terminal: bool, width: int) -> str:
    import io

    from rich.console import Console

    from rnnkit.callbacks import RichProgress

    output = io.StringIO()
    console = Console(file=output, width=width, force_terminal=terminal, color_system=None)
    progress = RichProgress(epochs=12, steps_per_epoch=1500, console=console)
    progress.on_train_begin()
    progress.on_epoch_begin(9)
    progress.on_train_batch_end(56, {"loss": 1.23456})
    if progress.progress is not None:
        progress.progress.refresh()
    logs = {"loss": 1.2, "accuracy": 0.61, "bits_per_char": 1.73, "val_loss": 1.3, "val_accuracy": 0.6,
            "val_bits_per_char": 1.88, "learning_rate": 0.0012}
    progress.on_epoch_end(9, logs)
    progress.on_train_end()
    return output.getvalue()


@pytest.mark.parametrize("width", [80, 100])
def test_progress_in_a_narrow_terminal_keeps_steps_elapsed_and_eta(width):
    text = _progress_output(terminal=True, width=width)
    live = next(line for line in text.splitlines() if "57/1500" in line)
    assert "epoch 10/12" in live and "loss 1.2346" in live and "…" not in live
    assert re.search(r" 0:00:\d\d [-\d]:[-\d]{2}:[-\d]{2} ", live), live  # elapsed, then the ETA


def test_progress_without_a_terminal_writes_full_lines_one_per_epoch():
    text = _progress_output(terminal=False, width=80)
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1, text
    assert lines[0].startswith("epoch 10/12 ") and "…" not in lines[0]
    for name in ("loss 1.2000", "val_loss 1.3000", "val_bits_per_char 1.8800", "accuracy 0.6100",
                 "learning_rate 1.20e-03"):
        assert name in lines[0], lines[0]


def test_train_in_a_pipe_logs_every_epoch_in_full(corpus, tmp_path):
    import subprocess
    import sys

    from tests.cli.test_bad_input import TINY_FLAGS

    flags = [flag for flag in TINY_FLAGS if flag != "--quiet"]
    flags[flags.index("--epochs") + 1] = "2"
    result = subprocess.run([sys.executable, "-m", "rnnkit.cli.main", "train", str(corpus), "--out",
                             str(tmp_path / "run"), *flags], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    epochs = [line for line in result.stderr.splitlines() if line.startswith("epoch ")]
    assert [line.split()[1] for line in epochs] == ["1/2", "2/2"], result.stderr
    assert all("val_loss" in line and "val_bits_per_char" in line for line in epochs)


# -- 15. TensorFlow's native log lines stay out of the output ---------------------------------------------


def test_native_tensorflow_log_lines_are_muted_for_the_whole_command(trained_run):
    import subprocess
    import sys

    from rnnkit.tf_import import NATIVE_LOG_LINE

    assert NATIVE_LOG_LINE.match(b"E0000 00:00:1795489752.877744    7849 util.cc:131] oneDNN supports DT_INT64 only")
    assert not NATIVE_LOG_LINE.match(b"Error: length must be an integer from 1 to 1000000.")
    for args in (["generate", str(trained_run.path), "--length", "5", "--seed", "1"],
                 ["evaluate", str(trained_run.path), str(trained_run.config.data.path)]):
        result = subprocess.run([sys.executable, "-m", "rnnkit.cli.main", *args], capture_output=True, text=True,
                                timeout=300)
        assert result.returncode == 0, result.stderr
        native = [line for line in result.stderr.splitlines() if NATIVE_LOG_LINE.match(line.encode())]
        assert not native, native
    result = subprocess.run([sys.executable, "-m", "rnnkit.cli.main", "generate", str(trained_run.path), "--length",
                             "-1"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 2 and result.stderr.startswith("Error: length must be")  # rnnkit's own still shows


# -- 13. --time-budget covers the validation and the final evaluation -------------------------------------


def test_time_budget_keeps_time_for_the_last_validation_and_the_final_evaluation():
    import keras

    from rnnkit.callbacks import TimeBudget, WarmupCosineSchedule

    now = [0.0]
    budget = TimeBudget(100, clock=lambda: now[0])
    budget.reserve = 30  # the last validation and the final evaluation
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    model.compile(keras.optimizers.Adam(), "mse")
    model.optimizer.build(model.trainable_variables)
    schedule = WarmupCosineSchedule(0.01, 1_000, budget)  # warm-up: 50 steps
    schedule.set_model(model)
    model.stop_training = False
    schedule.on_train_begin()
    steps = 0
    while not model.stop_training:
        now[0] += 1.0  # one second a step
        schedule.on_train_batch_end(steps)
        steps += 1
    assert steps == 70  # not 100: the rest is kept for what follows training
    assert float(model.optimizer.learning_rate.numpy()) == pytest.approx(0.01 * 0.05)  # the schedule ended too


def test_time_budget_evaluates_few_validation_batches_and_scores_the_share_of_the_data_that_fits(tmp_path, caplog):
    import time

    import rnnkit
    from tests.helpers import TINY, make_corpus

    corpus = make_corpus(tmp_path / "big.txt", characters=300_000)
    start = time.monotonic()
    with caplog.at_level("WARNING", logger="rnnkit"):
        run = rnnkit.train(str(corpus), out=tmp_path / "run", **{**TINY, "epochs": 50, "val_split": 0.45,
                                                                  "time_budget": 0.5})
    seconds = time.monotonic() - start
    assert (run.path / "model.keras").exists()
    assert re.search(r"Scoring the best model on [\d.]+% of the held-out data to stay within the time budget \(all of it "
                     r"would take about \d+ s\)", caplog.text), caplog.text
    assert 0 < run.metrics["portion"] < 1, run.metrics
    print(f"train with a 0.5 s budget: {seconds:.1f} s")


# -- 12. options only one task has decide the task; an unsure inference says what it saw ---------------


def _series_with(tmp_path: Path, name: str, column: str, value) -> Path:
    """A monthly series CSV with one more column, `value(i)` in row i."""
    import csv

    import pandas as pd

    with open(tmp_path / name, "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["date", "value", column])
        for i, month in enumerate(pd.date_range("1990-01-01", periods=72, freq="MS")):
            writer.writerow([f"{month:%Y-%m-%d}", round(100 + 1.3 * i + 5 * math.sin(i / 2), 2), value(i)])
    return tmp_path / name


def test_a_series_with_a_text_column_names_what_was_found_and_target_makes_it_a_forecast(tmp_path):
    notes = ["sunny and warm", "rainy, cold week", "quiet month", "storm on the coast"]
    data = _series_with(tmp_path, "sales.csv", "note", lambda i: notes[i % 4])
    result = runner.invoke(app, ["train", str(data), "--out", str(tmp_path / "run")])
    assert_user_error(result, "sales.csv could be data for forecast (a time column 'date', numeric column value, "
                              "other column note) or sentiment (a text column 'note' and no label column found)",
                      "Pass --task forecast or --task sentiment.")
    options = ["--units", "8", "--epochs", "1", "--horizon", "6", "--window", "12"]
    result = runner.invoke(app, ["train", str(data), "--target", "value", "--out", str(tmp_path / "run"), *options])
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "run" / "config.json").read_text())["task"] == "forecast"
    result = runner.invoke(app, ["train", str(data), "--target", "value", "--text-col", "note"])
    assert_user_error(result, "--text-col is a sentiment option and --target a forecast option: no task has both")


def test_a_series_with_an_empty_target_or_mixed_dates_is_read_as_a_series(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_text("date,value\n" + "".join(f"1990-{m:02d}-01,\n" for m in range(1, 13)))
    result = runner.invoke(app, ["train", str(empty), "--out", str(tmp_path / "run")])
    assert_user_error(result, "empty.csv has no numeric column to forecast")  # not "Cannot find a text column"
    result = runner.invoke(app, ["train", str(empty), "--target", "value", "--out", str(tmp_path / "run")])
    assert_user_error(result, "the target column 'value' has no values")
    mixed = tmp_path / "mixed.csv"
    mixed.write_text("date,value\n" + "".join(f"{'1990-%02d-01' % m if m < 7 else '%02d/01/1990' % m},{m}\n"
                                              for m in range(1, 13)))
    result = runner.invoke(app, ["train", str(mixed), "--out", str(tmp_path / "run")])
    assert_user_error(result, "mixed.csv line 8: '07/01/1990' in the time column 'date' is not written like the dates")
    assert not (tmp_path / "run").exists()
