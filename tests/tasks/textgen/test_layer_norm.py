"""--layer-norm: GRU cells with layer normalization, through training, stateful reading,
generation, the SavedModel and a reload."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest

import rnnkit
from rnnkit.cli.main import app
from tests.helpers import TINY, make_corpus


def test_the_cell_normalizes_each_gate_and_reads_in_chunks_as_at_once():
    import tensorflow as tf

    from rnnkit.cells import LayerNormGRUCell
    from rnnkit.tasks.textgen.model import build_language_model

    cell = LayerNormGRUCell(6)
    cell.build((None, 4))
    inputs = np.random.default_rng(0).normal(size=(3, 4)).astype("float32") * 50  # any scale
    state = np.random.default_rng(1).normal(size=(3, 6)).astype("float32")
    normalized = cell._normalized(tf.constant(inputs) @ cell.kernel, 0).numpy()
    np.testing.assert_allclose(normalized.mean(-1), 0, atol=1e-4)
    np.testing.assert_allclose(normalized.std(-1), 1, atol=1e-3)
    new, (again,) = cell(tf.constant(inputs), [tf.constant(state)])
    assert new.shape == (3, 6) and np.all(np.abs(new.numpy()) <= np.abs(state).max() + 1)
    np.testing.assert_array_equal(new, again)

    config = SimpleNamespace(model=SimpleNamespace(cell="gru", num_layers=2, units=8, dropout=0.0, embedding_dim=4,
                                                   layer_norm=True))
    model = build_language_model(config, 11)
    model.carry_states(3)
    tokens = np.random.default_rng(0).integers(0, 11, (3, 10)).astype("int32")
    first = model.read_streams(tokens[:, :4], tf.constant([1.0] * 3))
    rest = model.read_streams(tokens[:, 4:], tf.constant([0.0] * 3))
    np.testing.assert_allclose(np.concatenate([first, rest], axis=1), model(tokens), atol=1e-5)


def test_a_layer_norm_run_trains_generates_exports_and_reloads(tmp_path):
    import tensorflow as tf

    corpus = make_corpus(tmp_path / "corpus.txt", characters=6000)
    run = rnnkit.train(str(corpus), out=tmp_path / "run", layer_norm=True, **TINY)
    assert json.loads((run.path / "config.json").read_text())["model"]["layer_norm"] is True
    assert np.isfinite(run.metrics["model"]["loss"]) and np.isfinite(run.metrics["model"]["streaming_loss"])
    text = run.generate("The ", length=40, temperature=1.0, seed=3)[0]
    served = tf.saved_model.load(str(run.export(tmp_path / "sm"))).signatures["generate"](
        prompt=tf.constant(["The "]), length=tf.constant(40), temperature=tf.constant(1.0), seed=tf.constant(3))
    assert served["text"].numpy()[0].decode() == text
    reloaded = rnnkit.load(run.path)
    assert any(type(layer.cell).__name__ == "LayerNormGRUCell" for layer in reloaded.model.layers
               if hasattr(layer, "cell"))
    assert reloaded.generate("The ", length=40, temperature=1.0, seed=3)[0] == text


@pytest.mark.parametrize("cell", ["lstm", "simple"])
def test_layer_norm_on_another_cell_is_a_usage_error(tmp_path, cell):
    from typer.testing import CliRunner

    corpus = make_corpus(tmp_path / "corpus.txt", characters=3000)
    result = CliRunner().invoke(app, ["train", str(corpus), "--cell", cell, "--layer-norm", "--epochs", "1",
                                      "--out", str(tmp_path / "run")])
    assert result.exit_code == 2 and "--layer-norm normalizes a GRU cell" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "run").exists() or not any((tmp_path / "run").iterdir())


def test_left_to_the_hardware_it_is_normalized_without_a_gpu_only(tmp_path):
    from rnnkit.config import read_config_file
    from rnnkit.training import resolve_config

    corpus = make_corpus(tmp_path / "corpus.txt", characters=3000)
    for options, gpu, expected in [({}, False, True), ({}, True, False), ({"cell": "lstm"}, False, False),
                                   ({"layer_norm": False}, False, False), ({"layer_norm": True}, True, True)]:
        task_object, config = resolve_config(str(corpus), **{**TINY, **options})
        task_object.resolve_for_hardware(config, gpu=gpu)
        assert config.model.layer_norm is expected, (options, gpu)
    # A config.json written before the option existed means Keras' GRU: --resume and --config rebuild that.
    run = rnnkit.train(str(corpus), out=tmp_path / "run", **TINY)
    assert run.config.model.layer_norm is True  # this machine has no GPU
    recorded = read_config_file(run.path)
    del recorded["model"]["layer_norm"]
    (tmp_path / "old.json").write_text(json.dumps(recorded))
    _, config = resolve_config(None, config=tmp_path / "old.json")
    assert config.model.layer_norm is False
