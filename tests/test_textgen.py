"""Text generation through the public API: fit, sample, save, load, resume, re-run from config."""

from __future__ import annotations

import json

import numpy as np
import pytest

import rnnkit
from tests.helpers import MULTILINGUAL, TINY, make_corpus


def test_run_folder_has_every_file(trained_run):
    for name in ("config.json", "model.keras", "history.csv", "metrics.json",
                 "preprocessor/vocabulary.json", "checkpoints/training_metadata.json", "plots/learning_curves.png"):
        assert (trained_run.path / name).exists(), name
    metrics = trained_run.metrics
    assert metrics["split"] == "validation"
    assert set(metrics["model"]) == {"loss", "bits_per_char", "accuracy", "streaming_loss", "streaming_bits_per_char"}
    assert set(metrics["baselines"]["unigram"]) == {"loss", "bits_per_char", "accuracy"}
    config = json.loads((trained_run.path / "config.json").read_text())
    assert config["task"] == "textgen" and config["training"]["seed"] == 1
    assert not {"horizon", "text_column", "target_columns", "missing"} & set(config["data"])
    assert not {"bidirectional"} & set(config["model"]) and "class_weight" not in config["training"]
    assert {"tensorflow", "keras", "rnnkit"} <= set(config["versions"])


def test_same_seed_same_text_and_batches(trained_run):
    first = trained_run.generate("The ", length=40, seed=5)
    assert first == trained_run.generate("The ", length=40, seed=5)
    assert first[0].startswith("The ") and len(first[0]) == 44
    assert first != trained_run.generate("The ", length=40, seed=6)
    batch = trained_run.generate("The ", length=40, seed=5, num_samples=4)
    assert len(batch) == 4 and len(set(batch)) > 1


def test_a_filter_that_keeps_every_token_changes_nothing(trained_run):
    # Unfiltered sampling runs a loop without the top-k/top-p steps; a top-k above the vocabulary
    # runs the filtering loop, keeping every token: the same seed must give the same text.
    for seed in (1, 2):
        plain = trained_run.generate(["The ", "rain"], length=60, seed=seed)
        assert plain == trained_run.generate(["The ", "rain"], length=60, seed=seed, top_k=100_000)


def test_top_k_one_is_greedy(trained_run):
    greedy = {trained_run.generate("rain ", length=30, top_k=1, seed=seed)[0] for seed in (1, 2, 3)}
    assert len(greedy) == 1


def test_ragged_prompts_and_unknown_characters(trained_run, caplog):
    texts = trained_run.generate(["", "a", "The baker sells §§ bread"], length=10, seed=1)
    assert len(texts[0]) == 10 and texts[1].startswith("a") and len(texts[1]) == 11
    assert texts[2].startswith("The baker sells §§ bread")
    assert "not in the training text were skipped" in caplog.text


def test_char_level_round_trip_is_exact(tmp_path):
    from rnnkit.datasets import open_text_corpus
    from rnnkit.tasks.textgen.vocabulary import fit_vocabulary

    path = make_corpus(tmp_path / "multi.txt", 2000, extra=MULTILINGUAL * 3)
    corpus = open_text_corpus(path)
    vocabulary = fit_vocabulary(corpus.chunks(), "char")
    ids = vocabulary.encode(corpus.chunks())
    assert 1 not in ids
    decoded = "".join(vocabulary.id_to_token[i] for i in ids)
    assert decoded == path.read_text(encoding="utf-8")


def test_multilingual_generation_and_savedmodel_round_trip(tmp_path):
    import tensorflow as tf

    path = make_corpus(tmp_path / "multi.txt", 4000, extra=MULTILINGUAL * 20)
    run = rnnkit.train(str(path), out=tmp_path / "run", **TINY)
    text = run.generate("汉字👋🏽", length=20, temperature=0.9, seed=3)[0]
    assert text.startswith("汉字👋🏽") and len(text) == 4 + 20
    served = tf.saved_model.load(str(run.export(tmp_path / "sm"))).signatures["generate"](
        prompt=tf.constant(["汉字👋🏽"]), length=tf.constant(20), temperature=tf.constant(0.9), seed=tf.constant(3))
    assert served["text"].numpy()[0].decode("utf-8") == text


def test_export_matches_generate_in_a_process_without_rnnkit(trained_run, tmp_path):
    import subprocess
    import sys

    out = trained_run.export(tmp_path / "sm")
    expected = trained_run.generate(["The ", ""], length=50, temperature=0.7, seed=11)
    script = (
        "import json, sys, tensorflow as tf\n"
        "m = tf.saved_model.load(sys.argv[1])\n"
        "assert 'rnnkit' not in sys.modules\n"
        "out = m.signatures['generate'](prompt=tf.constant(['The ', '']), length=tf.constant(50),"
        " temperature=tf.constant(0.7), seed=tf.constant(11))\n"
        "step = m.signatures['serving_default']\n"
        "print(json.dumps({'text': [t.decode() for t in out['text'].numpy()],"
        " 'inputs': sorted(step.structured_input_signature[1])}))\n"
    )
    result = subprocess.run([sys.executable, "-c", script, str(out)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    payload = json.loads(result.stdout.strip().splitlines()[-1])
    assert payload["text"] == expected
    states_per_layer = 2 if trained_run.config.model.cell == "lstm" else 1
    count = trained_run.config.model.num_layers * states_per_layer
    assert payload["inputs"] == [f"state_{i}" for i in range(count)] + ["token_ids"]


def test_xla_generation_matches_its_savedmodel_through_the_cli(trained_run, tmp_path, forecast_run):
    import subprocess
    import sys

    from typer.testing import CliRunner

    from rnnkit.cli.main import app

    runner = CliRunner()
    options = ["--prompt", "The ", "--length", "40", "--seed", "5", "--top-k", "8", "--json"]
    generated = runner.invoke(app, ["generate", str(trained_run.path), *options, "--xla"])
    assert generated.exit_code == 0, generated.output
    text = json.loads(generated.stdout)["samples"][0]
    assert text.startswith("The ") and len(text) == 44
    # The same compiled program for the same request: the same text, in any batch.
    assert trained_run.generate(["The ", "x"], length=40, seed=5, top_k=8, xla=True)[0] == text
    exported = runner.invoke(app, ["export", str(trained_run.path), "--out", str(tmp_path / "sm"), "--xla"])
    assert exported.exit_code == 0, exported.output
    script = (
        "import sys, tensorflow as tf\n"
        "m = tf.saved_model.load(sys.argv[1])\n"
        "out = m.signatures['sample'](prompt=tf.constant(['The ']), length=tf.constant(40), temperature=tf.constant(0.8),"
        " seed=tf.constant(5), top_k=tf.constant(8), top_p=tf.constant(1.0))\n"
        "print(out['text'].numpy()[0].decode())\n"
    )
    result = subprocess.run([sys.executable, "-c", script, str(tmp_path / "sm")], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.removesuffix("\n") == text
    wrong = runner.invoke(app, ["export", str(forecast_run.path), "--out", str(tmp_path / "f"), "--xla"])
    assert wrong.exit_code == 2 and "--xla compiles the sampling loop" in wrong.output


def test_streaming_validation_carries_the_state_across_chunks(trained_run, corpus):
    import tensorflow as tf

    from rnnkit.tasks.textgen.streaming import stateful_reader, streaming_loss

    metrics = trained_run.metrics["model"]
    assert np.isfinite(metrics["streaming_loss"]) and "streaming_bits_per_char" in metrics
    reader, sizes = stateful_reader(trained_run.model)
    ids = tf.constant(trained_run.task_object.preprocessor(trained_run).encode([corpus.read_text()[:400]])[None, :200],
                      tf.int32)
    zeros = [tf.zeros([1, size]) for size in sizes]
    whole, *_ = reader([ids, *zeros])
    np.testing.assert_allclose(whole, trained_run.model(ids), atol=1e-5)  # a zero state: the model itself
    first, *states = reader([ids[:, :120], *zeros])
    rest, *_ = reader([ids[:, 120:], *states])
    np.testing.assert_allclose(np.concatenate([first, rest], axis=1), whole, atol=1e-4)
    # One stream in chunks of 50 is the whole text read at once; 4 streams start cold 4 times.
    tokens = ids[0].numpy()
    one, count = streaming_loss(trained_run.model, tokens, chunk=50, streams=1)
    logits = trained_run.model(tokens[None, :-1])[0]
    expected = tf.keras.losses.sparse_categorical_crossentropy(tokens[1:], logits, from_logits=True)
    assert count == 199 and abs(one - float(tf.reduce_mean(expected))) < 1e-4
    evaluated = trained_run.evaluate(str(corpus))["model"]
    assert evaluated["streaming_loss"] <= evaluated["loss"] + 0.5


def test_resume_continues_from_the_checkpoint(corpus, tmp_path):
    out = tmp_path / "run"
    rnnkit.train(str(corpus), out=out, **TINY)
    options = {**TINY, "epochs": 2}
    run = rnnkit.train(str(corpus), out=out, resume=True, **options)
    history = (out / "history.csv").read_text().strip().splitlines()
    assert len(history) == 3  # header + epoch 0 + epoch 1: the second call ran only the new epoch
    assert json.loads((out / "checkpoints" / "training_metadata.json").read_text())["epoch"] == 2
    assert run.config.training.epochs == 2


def test_config_file_repeats_the_run(trained_run, tmp_path):
    again = rnnkit.train(config=trained_run.path / "config.json", out=tmp_path / "again")
    assert again.config.to_dict() | {"versions": {}} == trained_run.config.to_dict() | {"versions": {}}
    assert again.metrics["model"]["loss"] == pytest.approx(trained_run.metrics["model"]["loss"], rel=1e-6)


def test_overwrite_replaces_only_after_success(corpus, trained_run, tmp_path):
    import shutil

    out = tmp_path / "run"
    shutil.copytree(trained_run.path, out)
    with pytest.raises(rnnkit.DataError):
        rnnkit.train(str(tmp_path / "missing.txt"), out=out, overwrite=True, **TINY)
    assert (out / "model.keras").exists()
    run = rnnkit.train(str(corpus), out=out, overwrite=True, **{**TINY, "units": 8})
    assert run.config.model.units == 8
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_word_level(tmp_path):
    path = make_corpus(tmp_path / "words.txt", 8000)
    run = rnnkit.train(str(path), out=tmp_path / "run", level="word", vocab_size=20, **TINY)
    vocabulary = json.loads((run.path / "preprocessor" / "vocabulary.json").read_text())
    assert len(vocabulary["tokens"]) == 18
    assert set(run.metrics["model"]) == {"loss", "perplexity", "accuracy", "streaming_loss", "streaming_perplexity"}
    text = run.generate("The zebra", length=15, seed=2)[0]
    assert text.startswith("The zebra")
    assert "[UNK]" not in text and " ." not in text and " ," not in text


def test_evaluate_on_the_validation_text_repeats_the_training_metrics(trained_run, corpus, tmp_path):
    import math

    text = corpus.read_text(encoding="utf-8")
    held_out = tmp_path / "held_out.txt"
    held_out.write_text(text[len(text) - int(len(text) * 0.1):], encoding="utf-8")  # the validation split
    metrics = trained_run.evaluate(held_out)
    assert metrics["split"] == "test" and set(metrics["baselines"]) == {"unigram"}
    model, trained = metrics["model"], trained_run.metrics["model"]
    assert model["loss"] == pytest.approx(trained["loss"], rel=1e-5)
    assert model["accuracy"] == pytest.approx(trained["accuracy"], rel=1e-5)
    assert model["bits_per_char"] == pytest.approx(model["loss"] / math.log(2))
    # evaluate's unigram counts are the vocabulary's (the whole training file), training's those of
    # the training split: close, not equal.
    unigram = metrics["baselines"]["unigram"]
    assert unigram["bits_per_char"] == pytest.approx(unigram["loss"] / math.log(2))
    assert unigram["loss"] == pytest.approx(trained_run.metrics["baselines"]["unigram"]["loss"], rel=0.02)


def test_seeded_training_is_repeatable(corpus, tmp_path):
    first = rnnkit.train(str(corpus), out=tmp_path / "a", **TINY)
    second = rnnkit.train(str(corpus), out=tmp_path / "b", **TINY)
    assert (first.path / "history.csv").read_text() == (second.path / "history.csv").read_text()


def test_interrupt_saves_a_checkpoint_that_resume_continues(corpus, tmp_path):
    import keras

    class Interrupt(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == 2:
                raise KeyboardInterrupt

    out = tmp_path / "run"
    with pytest.raises(rnnkit.TrainingInterrupted, match="--resume"):
        rnnkit.train(str(corpus), out=out, callbacks=[Interrupt()], **TINY)
    assert (out / "checkpoints" / "training_metadata.json").exists()
    run = rnnkit.train(str(corpus), out=out, resume=True, **TINY)
    assert (run.path / "model.keras").exists() and run.metrics["split"] == "validation"


def test_time_budget_stops_training_and_keeps_the_best_model(corpus, tmp_path):
    import time

    start = time.monotonic()
    run = rnnkit.train(str(corpus), out=tmp_path / "run", **{**TINY, "epochs": 500, "time_budget": 3})
    assert time.monotonic() - start < 120
    epochs = len((run.path / "history.csv").read_text().strip().splitlines()) - 1
    assert 1 <= epochs < 500
    assert run.metrics["model"]["loss"] > 0
