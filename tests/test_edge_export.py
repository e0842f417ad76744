"""LiteRT and ONNX export: each task's numeric core, run by ai-edge-litert's interpreter and by
onnxruntime, with a client that knows nothing but model.json, gives what the run gives.

The clients below are what a phone or an ONNX user would write from model.json alone: they
tokenize, pad, step and read the outputs as its fields say, in plain Python.
"""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from typer.testing import CliRunner

from rnnkit.cli.main import app

pytest.importorskip("ai_edge_litert")
pytest.importorskip("onnxruntime")
pytest.importorskip("tf2onnx")

runner = CliRunner()
FORMATS = ("litert", "onnx")


def export(run, format, out):
    result = runner.invoke(app, ["export", str(run.path), "--format", format, "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "matches TensorFlow" in result.output, result.output
    files = {"litert": "model.tflite", "onnx": "model.onnx"}
    assert sorted(path.name for path in out.iterdir()) == sorted(["model.json", files[format]])
    sidecar = json.loads((out / "model.json").read_text(encoding="utf-8"))
    assert sidecar["format"] == format and sidecar["checked"]["max_difference"] <= 1e-5, sidecar["checked"]
    return sidecar, out / files[format]


def runtime(format, path):
    """`run(inputs) -> {output name: array}` over the exported file, with the runtime alone."""
    if format == "litert":
        from ai_edge_litert.interpreter import Interpreter

        signature = Interpreter(model_path=str(path)).get_signature_runner("serving_default")
        return lambda inputs: signature(**inputs)
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [output.name for output in session.get_outputs()]
    return lambda inputs: dict(zip(names, session.run(None, inputs)))


# -- sentiment ---------------------------------------------------------------------------------


def sentiment_token_ids(sidecar, texts):
    import regex  # NLTK's dependency; Python's re has no \pL

    assert sidecar["standardize"][0] == {"lowercase": "unicode"} and sidecar["split"] == "whitespace"
    index = {word: i for i, word in enumerate(sidecar["vocabulary"]) if i >= 2}
    first, last = sidecar["truncate"]["keep_first"], sidecar["truncate"]["keep_last"]
    rows = []
    for text in texts:
        text = text.lower()
        for step in sidecar["standardize"][1:]:
            text = regex.sub(step["replace"], step["with"], text)
        ids = [index.get(word, sidecar["unknown_id"]) for word in text.split()]
        rows.append(ids[:first] + ids[first:][-last:] or [sidecar["unknown_id"]])
    return rows


def padded(sidecar, rows):
    width = max(len(ids) for ids in rows)
    return np.array([ids + [sidecar["pad_id"]] * (width - len(ids)) for ids in rows], sidecar["inputs"][0]["dtype"])


@pytest.mark.parametrize("format", FORMATS)
def test_sentiment_core_with_the_sidecar_gives_what_predict_gives(sentiment_run, format, tmp_path):
    sidecar, path = export(sentiment_run, format, tmp_path / format)
    assert sidecar["inputs"] == [{"name": "token_ids", "dtype": "int64", "shape": [1 if format == "litert" else None, None]}]
    texts = ["A wonderful, brilliant film!", "", "Dull<br /><br />and BORING... a waste.", "zzz qqq",
             " ".join(["superb"] * 5 + ["the plot was dull and tedious"] * 12)]  # longer than the sequence length
    rows = sentiment_token_ids(sidecar, texts)
    assert max(len(ids) for ids in rows) == sidecar["sequence_length"]
    run_model = runtime(format, path)
    if format == "onnx":  # one padded batch
        probabilities = run_model({"token_ids": padded(sidecar, rows)})["probabilities"]
    else:  # one text at a time, each as long as it is
        probabilities = np.concatenate([run_model({"token_ids": padded(sidecar, [ids])})["probabilities"] for ids in rows])
    expected = [[p["probabilities"][label] for label in sidecar["labels"]] for p in sentiment_run.predict(texts)]
    np.testing.assert_allclose(probabilities, expected, atol=1e-5)
    # Padding is ignored: padded to the sequence length, the first text scores the same.
    full = np.array([rows[0] + [sidecar["pad_id"]] * (sidecar["sequence_length"] - len(rows[0]))], np.int64)
    np.testing.assert_allclose(run_model({"token_ids": full})["probabilities"], probabilities[:1], atol=1e-5)


# -- text generation ---------------------------------------------------------------------------


def greedy_text(sidecar, run_model, prompt: str, length: int) -> str:
    assert sidecar["level"] == "char"
    vocabulary = sidecar["vocabulary"]
    index = {token: i for i, token in enumerate(vocabulary) if i >= 2}
    ids = [index[c] for c in prompt if c in index] or [sidecar["start_id"]]
    states = {s["input"]: np.zeros([1, s["size"]], np.float32) for s in sidecar["states"]}
    generated = []
    for step in range(len(ids) + length - 1):
        token = ids[step] if step < len(ids) else generated[-1]
        outputs = run_model({"token_ids": np.array([token], np.int32), **states})
        states = {s["input"]: outputs[s["output"]] for s in sidecar["states"]}
        if step >= len(ids) - 1:
            logits = outputs["logits"][0].copy()
            logits[sidecar["never_sample"]] = -np.inf
            generated.append(int(np.argmax(logits)))
    return prompt + "".join(vocabulary[i] for i in generated)


@pytest.mark.parametrize("format", FORMATS)
def test_textgen_step_with_the_sidecar_continues_a_prompt_as_generate_does(trained_run, format, tmp_path):
    sidecar, path = export(trained_run, format, tmp_path / format)
    assert [s["input"] for s in sidecar["states"]] == [spec["name"] for spec in sidecar["inputs"][1:]]
    run_model = runtime(format, path)
    for prompt in ("The river", ""):
        expected = trained_run.generate(prompt, length=24, top_k=1, seed=0)[0]  # top-k 1: the likeliest token
        assert greedy_text(sidecar, run_model, prompt, 24) == expected


def test_onnx_textgen_steps_a_batch_of_streams(trained_run, tmp_path):
    """ONNX keeps the batch axis free: several streams step together, each as it would alone."""
    sidecar, path = export(trained_run, "onnx", tmp_path / "onnx")
    run_model = runtime("onnx", path)
    rng = np.random.default_rng(3)
    inputs = {"token_ids": rng.integers(2, len(sidecar["vocabulary"]), 5).astype(np.int32),
              **{s["input"]: rng.uniform(-1, 1, (5, s["size"])).astype(np.float32) for s in sidecar["states"]}}
    together = run_model(inputs)
    for row in range(5):
        alone = run_model({name: value[row:row + 1] for name, value in inputs.items()})
        for name, value in alone.items():
            np.testing.assert_allclose(together[name][row:row + 1], value, atol=1e-6)


# -- forecasting -------------------------------------------------------------------------------


@pytest.mark.parametrize("format", FORMATS)
def test_forecast_core_with_the_sidecar_gives_what_forecast_gives(forecast_run, series, format, tmp_path):
    sidecar, path = export(forecast_run, format, tmp_path / format)
    with series.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    history = np.array([[float(row[column]) for column in sidecar["columns"]] for row in rows[-sidecar["window"]:]],
                       np.float32)[None]
    outputs = runtime(format, path)({"history": history})
    expected = forecast_run.forecast(str(series))["forecast"]
    assert len(expected) == sidecar["horizon"]
    for name, key in (("forecast", "value"), ("lower", "lower"), ("upper", "upper")):
        np.testing.assert_allclose(outputs[name][0], [step[key] for step in expected], rtol=1e-5)


# -- the command -------------------------------------------------------------------------------


def test_export_refuses_to_overwrite_what_is_not_its_own(sentiment_run, tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    result = runner.invoke(app, ["export", str(sentiment_run.path), "--format", "onnx", "--out", str(mine)])
    assert result.exit_code == 2 and "Pass --overwrite" in result.output
    result = runner.invoke(app, ["export", str(sentiment_run.path), "--format", "onnx", "--out", str(mine), "--overwrite"])
    assert result.exit_code == 2 and "not an rnnkit LiteRT or ONNX export" in result.output
    assert (mine / "notes.txt").read_text() == "keep me"
    export(sentiment_run, "onnx", tmp_path / "again")
    result = runner.invoke(app, ["export", str(sentiment_run.path), "--format", "litert", "--out", str(tmp_path / "again"),
                                 "--overwrite"])
    assert result.exit_code == 0, result.output
    assert sorted(path.name for path in (tmp_path / "again").iterdir()) == ["model.json", "model.tflite"]


def test_a_foreign_folder_with_a_model_json_is_not_replaced(sentiment_run, tmp_path):
    web = tmp_path / "web"
    web.mkdir()
    (web / "model.json").write_text('{"format": "layers-model", "weightsManifest": []}')
    (web / "group1-shard1of1.bin").write_bytes(b"weights")
    result = runner.invoke(app, ["export", str(sentiment_run.path), "--format", "litert", "--out", str(web), "--overwrite"])
    assert result.exit_code == 2 and "not an rnnkit LiteRT or ONNX export" in result.output
    assert sorted(path.name for path in web.iterdir()) == ["group1-shard1of1.bin", "model.json"]


def test_a_converted_model_that_disagrees_is_not_written(sentiment_run, tmp_path, monkeypatch):
    """The check is what stands between a converter's bug and a user's phone: outputs off by more than
    the tolerance, or not finite, and the earlier export stays as it was."""
    import rnnkit.export

    sidecar, _ = export(sentiment_run, "onnx", tmp_path / "out")
    before = {path.name: path.read_bytes() for path in (tmp_path / "out").iterdir()}
    real = rnnkit.export._onnx_runner
    for damage in (lambda value: value + 1e-3, lambda value: value * np.nan):
        def damaged(path, damage=damage):
            run_model = real(path)
            return lambda inputs: {name: damage(value) for name, value in run_model(inputs).items()}

        monkeypatch.setattr(rnnkit.export, "_onnx_runner", damaged)
        with pytest.raises(RuntimeError, match="differ from TensorFlow's"):
            sentiment_run.export(tmp_path / "out", format="onnx", overwrite=True)
        assert {path.name: path.read_bytes() for path in (tmp_path / "out").iterdir()} == before
    assert not [path for path in tmp_path.iterdir() if path.name.startswith(".out.")]  # no staging left behind


def test_the_export_folder_is_readable_by_others_as_the_umask_allows(sentiment_run, tmp_path):
    import os
    import stat

    export(sentiment_run, "onnx", tmp_path / "shared")
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE((tmp_path / "shared").stat().st_mode) == 0o777 & ~umask


def test_head_tail_truncation_is_described_as_it_is_done(reviews, tmp_path):
    """A classifier that keeps a text's head and tail: the client from model.json keeps the same ids."""
    import rnnkit
    from tests.helpers import TINY_SENTIMENT

    run = rnnkit.train(str(reviews), task="sentiment", out=tmp_path / "run",
                       **{**TINY_SENTIMENT, "max_len": 8, "truncate": "head_tail", "epochs": 1})
    sidecar, path = export(run, "onnx", tmp_path / "onnx")
    assert sidecar["truncate"] == {"keep_first": 2, "keep_last": 6}
    texts = ["wonderful film " + "the plot was dull " * 5 + "and a superb ending", "dull", ""]
    rows = sentiment_token_ids(sidecar, texts)
    probabilities = runtime("onnx", path)({"token_ids": padded(sidecar, rows)})["probabilities"]
    expected = [[p["probabilities"][label] for label in sidecar["labels"]] for p in run.predict(texts)]
    np.testing.assert_allclose(probabilities, expected, atol=1e-5)


def test_two_targets_and_a_simple_forecaster_export(series, tmp_path):
    """Several targets (forecasts [batch, horizon, targets]) through the network, then the same run's
    simple forecast (what --model auto keeps when it wins on validation), both against `forecast`."""
    import rnnkit
    from tests.helpers import TINY_FORECAST, make_series

    data = make_series(tmp_path / "two.csv", extra=True)
    run = rnnkit.train(str(data), task="forecast", target="value,other", features="signal", out=tmp_path / "run",
                       **{**TINY_FORECAST, "epochs": 1})
    for forecaster in ("network", "seasonal_trend", "seasonal_naive"):
        run = rnnkit.load(run.path)
        run.task_object.preprocessor(run).forecaster = forecaster  # as after_fit records it
        path = run.export(tmp_path / forecaster, format="litert") / "model.tflite"  # this Run, as changed
        sidecar = json.loads((path.parent / "model.json").read_text(encoding="utf-8"))
        assert sidecar["columns"] == ["value", "other", "signal"] and sidecar["targets"] == ["value", "other"]
        with data.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
        history = np.array([[float(row[c]) for c in sidecar["columns"]] for row in rows[-sidecar["window"]:]],
                           np.float32)[None]
        outputs = runtime("litert", path)({"history": history})
        assert outputs["forecast"].shape == (1, sidecar["horizon"], 2)
        expected = run.forecast(str(data))["forecast"]  # one item per target and step
        for index, target in enumerate(sidecar["targets"]):
            for name, key in (("forecast", "value"), ("lower", "lower"), ("upper", "upper")):
                np.testing.assert_allclose(outputs[name][0, :, index],
                                           [step[key] for step in expected if step["target"] == target], rtol=1e-5)


def test_export_without_the_converter_names_the_extra_to_install(sentiment_run, tmp_path, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "tf2onnx" else real(name, *a))
    result = runner.invoke(app, ["export", str(sentiment_run.path), "--format", "onnx", "--out", str(tmp_path / "o")])
    assert result.exit_code == 2, result.output
    assert "pip install 'rnnkit[onnx]'" in result.output and not (tmp_path / "o").exists()


def test_a_word_level_two_layer_lstm_exports_to_both(corpus, tmp_path):
    """Two LSTM layers (two states each) at word level: both exports match TensorFlow (the check
    inside the export) and say how words are split."""
    import rnnkit
    from tests.helpers import TINY

    run = rnnkit.train(str(corpus), out=tmp_path / "run", **{**TINY, "level": "word", "cell": "lstm", "layers": 2})
    for format in FORMATS:
        sidecar, _ = export(run, format, tmp_path / format)
        assert [s["input"] for s in sidecar["states"]] == ["state_0", "state_1", "state_2", "state_3"]
        assert sidecar["level"] == "word" and sidecar["word_pattern"]
