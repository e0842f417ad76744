"""Stateful (truncated-BPTT) training of the language model: streams, carried states, resume."""

from __future__ import annotations

import json
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pytest

import rnnkit
from tests.helpers import TINY, make_corpus


@pytest.mark.parametrize("cell", ["gru", "lstm", "simple"])
def test_reading_in_chunks_with_carried_states_is_reading_at_once(cell):
    import tensorflow as tf

    from rnnkit.tasks.textgen.model import build_language_model

    config = SimpleNamespace(model=SimpleNamespace(cell=cell, num_layers=2, units=8, dropout=0.0, embedding_dim=4))
    model = build_language_model(config, 11)
    model.carry_states(3)
    tokens = np.random.default_rng(0).integers(0, 11, (3, 10)).astype("int32")
    first = model.read_streams(tokens[:, :4], tf.constant([True] * 3))
    rest = model.read_streams(tokens[:, 4:], tf.constant([False] * 3))
    np.testing.assert_allclose(np.concatenate([first, rest], axis=1), model(tokens), atol=1e-6)
    # A reset row starts cold; a carried one does not.
    again = model.read_streams(tokens[:, 4:], tf.constant([True, False, True])).numpy()
    cold = model(tokens[:, 4:]).numpy()
    np.testing.assert_allclose(again[[0, 2]], cold[[0, 2]], atol=1e-6)
    assert np.abs(again[1] - cold[1]).max() > 1e-4


def test_stream_batches_continue_each_row_and_replay_with_the_seed():
    from rnnkit.tasks.textgen.streaming import stream_dataset

    ids = np.arange(4 * 250 + 1)
    dataset, steps = stream_dataset(ids, sequence_length=10, streams=4, seed=3, reset_probability=0.25)
    assert steps == 24  # (250 - 1) // 10
    passes = [list(dataset.take(steps).as_numpy_iterator()) for _ in range(2)]
    for batches in passes:
        offset = batches[0][0]["token_ids"][0, 0]
        assert 0 <= offset <= 249 - 24 * 10
        for k, (inputs, targets) in enumerate(batches):
            tokens, reset = inputs["token_ids"], inputs["reset"]
            np.testing.assert_array_equal(targets, tokens + 1)  # the next token
            np.testing.assert_array_equal(tokens[:, 0], np.arange(4) * 250 + offset + 10 * k)  # each row goes on
            assert reset.shape == (4,) and set(reset) <= {0.0, 1.0} and (reset.all() if k == 0 else True)
        later = np.concatenate([inputs["reset"] for inputs, _ in batches[1:]])
        assert 0 < later.sum() < len(later)  # some rows, not all, reset mid-pass
    # A fresh pipeline with the seed replays the same passes; each pass cuts the text elsewhere.
    replay, _ = stream_dataset(ids, sequence_length=10, streams=4, seed=3, reset_probability=0.25)
    repeated = list(replay.repeat(2).take(2 * steps).as_numpy_iterator())
    for got, expected in zip(repeated, passes[0] + passes[1]):
        np.testing.assert_array_equal(got[0]["token_ids"], expected[0]["token_ids"])
        np.testing.assert_array_equal(got[0]["reset"], expected[0]["reset"])
    assert not np.array_equal(repeated[0][0]["token_ids"], repeated[steps][0]["token_ids"])


def test_stateful_training_carries_states_and_records_the_option(tmp_path):
    corpus = make_corpus(tmp_path / "corpus.txt", characters=8000)
    run = rnnkit.train(str(corpus), out=tmp_path / "run", stateful=True, state_reset=0.1, layer_norm=False,
                       **{**TINY, "epochs": 2})
    config = json.loads((run.path / "config.json").read_text())
    assert config["data"]["stateful"] is True and config["data"]["state_reset"] == 0.1
    assert np.isfinite(run.metrics["model"]["loss"]) and np.isfinite(run.metrics["model"]["streaming_loss"])
    # model.keras is the plain functional model: with Keras' GRU, Keras loads it in a process that
    # never imported rnnkit.
    loaded = subprocess.run([sys.executable, "-c", "import sys, keras; m = keras.saving.load_model(sys.argv[1]); "
                             "print(type(m).__name__, 'rnnkit' in sys.modules)", str(run.model_path)],
                            capture_output=True, text=True, check=True)
    assert loaded.stdout.split() == ["Functional", "False"]
    assert len(run.generate(prompt="The ", length=20, seed=1)[0]) >= 20


def test_too_short_a_text_for_the_streams_trains_on_windows_and_says_so(tmp_path, caplog):
    corpus = make_corpus(tmp_path / "corpus.txt", characters=1500)
    run = rnnkit.train(str(corpus), out=tmp_path / "run", stateful=True, **{**TINY, "batch_size": 64})
    assert "too short for 64 streams" in caplog.text and "random windows" in caplog.text
    assert np.isfinite(run.metrics["model"]["loss"])


def test_a_batch_the_replicas_cannot_share_is_refused(tmp_path, monkeypatch):
    import tensorflow as tf

    from rnnkit.training import resolve_config

    corpus = make_corpus(tmp_path / "corpus.txt", characters=6000)
    task_object, config = resolve_config(str(corpus), **{**TINY, "stateful": True, "batch_size": 7})
    prepared = task_object.prepare(config)
    monkeypatch.setattr(tf.distribute, "get_strategy", lambda: SimpleNamespace(num_replicas_in_sync=2))
    with pytest.raises(rnnkit.ConfigError, match="divisible by the 2 replicas"):
        task_object.build_model(config, prepared)


@pytest.mark.parametrize("epoch, batch", [(0, 3), (1, 2)])
def test_resume_mid_epoch_carries_the_states_on_as_if_never_stopped(tmp_path, epoch, batch):
    import signal

    from tests.cli.test_resume import _signal_at

    corpus = make_corpus(tmp_path / "corpus.txt", characters=6000)
    options = {**TINY, "epochs": 2, "batch_size": 8, "dropout": 0.2, "stateful": True, "state_reset": 0.2}
    finished = rnnkit.train(str(corpus), out=tmp_path / "finished", **options)
    out = tmp_path / "run"
    with pytest.raises(rnnkit.TrainingInterrupted):
        rnnkit.train(str(corpus), out=out, callbacks=[_signal_at(epoch, batch, signal.SIGTERM)], **options)
    saved = json.loads((out / "checkpoints" / "training_metadata.json").read_text())
    assert saved["batch"] == batch + 1 and (out / "checkpoints" / saved["carried"]).is_file()
    resumed = rnnkit.train(str(corpus), out=out, resume=True)
    difference = max(float(np.max(np.abs(a - b)))
                     for a, b in zip(finished.model.get_weights(), resumed.model.get_weights()))
    assert difference <= 1e-6
    assert (out / "history.csv").read_text() == (finished.path / "history.csv").read_text()
    assert not list((out / "checkpoints").glob("carried-*.npz"))  # the last checkpoint is an epoch's end
