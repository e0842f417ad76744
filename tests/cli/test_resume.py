"""Issue #10 items 1-4 and 7: --resume continues exactly or refuses cleanly; one writer per run folder;
a killed run is always resumable or replaceable. Each test failed before its fix."""

from __future__ import annotations

import csv
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import rnnkit
from rnnkit.cli.main import app
from tests.cli.test_bad_input import assert_user_error
from tests.helpers import TINY, make_corpus

runner = CliRunner()
# Two epochs of several batches each, with dropout: what an exact resume must reproduce.
RESUMABLE = {**TINY, "epochs": 2, "batch_size": 8, "dropout": 0.2}


@pytest.fixture(scope="module")
def finished(tmp_path_factory, corpus):
    """A finished two-epoch run, never interrupted."""
    return rnnkit.train(str(corpus), out=tmp_path_factory.mktemp("finished") / "run", **RESUMABLE)


def _signal_at(epoch: int, batch: int | None, signum=signal.SIGINT):
    """A callback that sends this process `signum` after `batch` of `epoch`, or at the epoch's end when `batch` is
    `None` (as Ctrl-C or `kill` would)."""
    import keras

    class SignalAt(keras.callbacks.Callback):
        def on_epoch_begin(self, index, logs=None):
            self.epoch = index

        def on_train_batch_end(self, index, logs=None):
            if (self.epoch, index) == (epoch, batch):
                os.kill(os.getpid(), signum)

        def on_epoch_end(self, index, logs=None):
            if (index, None) == (epoch, batch):
                os.kill(os.getpid(), signum)

    return SignalAt()


def _epochs(run: Path) -> list[str]:
    with (run / "history.csv").open() as handle:
        return [row["epoch"] for row in csv.DictReader(handle)]


# -- 4. an interrupted and resumed run is the uninterrupted run -------------------------------------------


@pytest.mark.parametrize("epoch, batch", [(0, 2), (0, None), (1, 0)])
def test_resume_after_an_interrupt_ends_with_the_uninterrupted_weights(corpus, finished, tmp_path, epoch, batch):
    out = tmp_path / "run"
    with pytest.raises(rnnkit.TrainingInterrupted, match="--resume"):
        rnnkit.train(str(corpus), out=out, callbacks=[_signal_at(epoch, batch, signal.SIGTERM)], **RESUMABLE)
    resumed = rnnkit.train(str(corpus), out=out, resume=True)
    difference = max(float(np.max(np.abs(a - b))) for a, b in zip(finished.model.get_weights(),
                                                                  resumed.model.get_weights()))
    assert difference <= 1e-6
    assert _epochs(out) == ["0", "1"]
    # Each epoch's metrics too, the learning-rate schedule included (it restarted its warm-up).
    assert (out / "history.csv").read_text() == (finished.path / "history.csv").read_text()


def test_a_row_written_before_its_checkpoint_is_not_repeated(corpus, finished, tmp_path):
    """Killed between an epoch's history row and its checkpoint: --resume redoes that epoch, and its row once."""
    out = tmp_path / "run"
    with pytest.raises(rnnkit.TrainingInterrupted):
        rnnkit.train(str(corpus), out=out, callbacks=[_signal_at(0, None)], **RESUMABLE)
    assert _epochs(out) == ["0"]
    rows = (finished.path / "history.csv").read_text().splitlines(keepends=True)
    with (out / "history.csv").open("a") as handle:
        handle.write(rows[2])  # epoch 1's row, then killed before its checkpoint
    rnnkit.train(str(corpus), out=out, resume=True)
    assert (out / "history.csv").read_text() == "".join(rows)


# -- 1. options that define the model or its data cannot change on --resume ------------------------------


def test_resume_refuses_a_model_option_and_leaves_the_run_as_it_was(corpus, tmp_path):
    out = tmp_path / "run"
    rnnkit.train(str(corpus), out=out, **{**TINY, "epochs": 1})
    before = {path: path.read_bytes() for path in out.rglob("*") if path.is_file()}
    for flags, named in ((["--units", "32"], "--units"), (["--cell", "simple", "--max-len", "20"], "--cell, --max-len")):
        result = runner.invoke(app, ["train", "--resume", "--out", str(out), *flags])
        assert_user_error(result, f"{named} cannot change on --resume", "--epochs", "--learning-rate")
    assert {path: path.read_bytes() for path in out.rglob("*") if path.is_file()} == before
    result = runner.invoke(app, ["train", "--resume", "--out", str(out), "--epochs", "2", "--units", "16",
                                 "--learning-rate", "0.001", "--quiet"])
    assert result.exit_code == 0, result.output
    assert _epochs(out) == ["0", "1"]


def test_train_help_lists_the_options_that_may_change_on_resume():
    result = runner.invoke(app, ["train", "--help"], terminal_width=200)
    text = " ".join(result.output.replace("│", " ").split())
    assert "Only --clipnorm, --early-stopping, --epochs, --learning-rate, --patience, --strategy," in text
    assert "--time-budget may change" in text


# -- 2. the data's fingerprint -------------------------------------------------------------------------


def test_resume_refuses_other_data_unless_told(corpus, tmp_path):
    out = tmp_path / "run"
    rnnkit.train(str(corpus), out=out, **{**TINY, "epochs": 1})
    assert rnnkit.load(out).config.data.fingerprint["size"] == corpus.stat().st_size
    other = make_corpus(tmp_path / "other.txt", seed=9)
    result = runner.invoke(app, ["train", str(other), "--resume", "--out", str(out), "--epochs", "2"])
    assert_user_error(result, "is not the data", "--data-changed")
    assert _epochs(out) == ["0"]
    moved = tmp_path / "moved.txt"
    shutil.copy(corpus, moved)  # the same data elsewhere is the same data
    result = runner.invoke(app, ["train", str(moved), "--resume", "--out", str(out), "--epochs", "2", "--quiet"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["train", str(other), "--resume", "--data-changed", "--out", str(out),
                                 "--epochs", "3", "--quiet"])
    assert result.exit_code == 0, result.output
    assert _epochs(out) == ["0", "1", "2"]


# -- 3. one writer per run folder ------------------------------------------------------------------------


def _hold_lock(folder: Path) -> subprocess.Popen:
    """Another process that holds `folder`'s lock until it is killed."""
    code = ("import sys, time; from rnnkit.locking import FolderLock; FolderLock(sys.argv[1]).acquire(); "
            "print('locked', flush=True); time.sleep(600)")
    process = subprocess.Popen([sys.executable, "-c", code, str(folder)], stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "locked"
    return process


def test_a_second_writer_is_refused_naming_the_first_and_a_dead_ones_lock_is_taken_over(corpus, tmp_path):
    out = tmp_path / "run"
    rnnkit.train(str(corpus), out=out, **{**TINY, "epochs": 1})
    holder = _hold_lock(out)
    try:
        for args in (["--resume", "--epochs", "2"], [str(corpus), "--overwrite", "--epochs", "1"]):
            result = runner.invoke(app, ["train", *args, "--out", str(out)])
            assert_user_error(result, f"is being written by process {holder.pid}")
        assert _epochs(out) == ["0"]
    finally:
        holder.kill()
        holder.wait()
    assert (out / ".rnnkit.lock").exists()  # left by the killed holder: stale
    result = runner.invoke(app, ["train", "--resume", "--out", str(out), "--epochs", "2", "--quiet"])
    assert result.exit_code == 0, result.output
    assert _epochs(out) == ["0", "1"] and not (out / ".rnnkit.lock").exists()


def test_default_run_folders_never_collide(tmp_path, monkeypatch):
    from rnnkit import runs

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(time, "strftime", lambda _: "20261124-120000")  # both started in the same second
    first, second = runs.create_default_run_dir("textgen"), runs.create_default_run_dir("textgen")
    assert first != second and first.is_dir() and second.is_dir()


# -- 7. a killed run is resumable or replaceable; no hidden leftovers -----------------------------------


def test_a_run_killed_before_its_first_checkpoint_can_be_resumed_or_overwritten(corpus, tmp_path):
    out = tmp_path / "run"
    rnnkit.train(str(corpus), out=out, **{**TINY, "epochs": 1})
    for name in ("checkpoints", "model.keras", "metrics.json", "plots"):
        shutil.rmtree(out / name) if (out / name).is_dir() else (out / name).unlink()
    (out / "history.csv").write_text((out / "history.csv").read_text().splitlines()[0] + "\n")
    (out / ".rnnkit.lock").write_text("999999\n")  # its killed writer's
    result = runner.invoke(app, ["train", "--resume", "--out", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    assert "no checkpoint yet" in result.output and _epochs(out) == ["0"]

    only_lock = tmp_path / "early"
    only_lock.mkdir()
    (only_lock / ".rnnkit.lock").write_text("999999\n")  # killed before it recorded anything
    result = runner.invoke(app, ["train", "--resume", "--out", str(only_lock)])
    assert_user_error(result, "stopped before it recorded its options", "--overwrite")
    result = runner.invoke(app, ["train", str(corpus), "--out", str(only_lock), "--overwrite", "--quiet",
                                 "--units", "16", "--layers", "1", "--epochs", "1", "--max-len", "16"])
    assert result.exit_code == 0, result.output
    assert (only_lock / "model.keras").exists()


def test_leftovers_of_a_killed_overwrite_are_cleaned_by_the_next_run_there(corpus, tmp_path):
    rnnkit.train(str(corpus), out=tmp_path / "kept", **{**TINY, "epochs": 1})
    new = tmp_path / ".run.new-abc123"  # an --overwrite killed while training
    new.mkdir()
    (new / ".rnnkit.lock").write_text("999999\n")
    (new / "config.json").write_text("{}")
    shutil.copytree(tmp_path / "kept", tmp_path / ".swapped.old-4242")  # killed between the two renames of a swap
    live = tmp_path / ".busy.new-xyz"  # a live --overwrite's, which must stay
    live.mkdir()
    holder = _hold_lock(live)
    try:
        rnnkit.train(str(corpus), out=tmp_path / "another", **{**TINY, "epochs": 1})
        assert not new.exists() and live.exists()
    finally:
        holder.kill()
        holder.wait()
    assert (tmp_path / "swapped" / "model.keras").exists()  # the old run put back
    assert sorted(path.name for path in tmp_path.iterdir() if path.name.startswith(".")) == [".busy.new-xyz"]


def test_a_failed_new_run_leaves_no_empty_folder(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    result = runner.invoke(app, ["train", str(empty), "--task", "textgen", "--out", str(tmp_path / "run")])
    assert result.exit_code == 2 and not (tmp_path / "run").exists()
