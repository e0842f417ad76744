"""Text classification through the public API: fit, predict, evaluate, export, class weights."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

import rnnkit
from tests.helpers import TINY_SENTIMENT, make_reviews


def test_run_folder_and_metrics_next_to_the_majority_baseline(sentiment_run):
    for name in ("config.json", "model.keras", "history.csv", "metrics.json", "preprocessor/vocabulary.txt",
                 "preprocessor/text_classification.json", "plots/learning_curves.png", "plots/confusion_matrix.png"):
        assert (sentiment_run.path / name).exists(), name
    metrics = sentiment_run.metrics
    assert metrics["split"] == "validation" and metrics["labels"] == ["neg", "pos"]
    expected = {"accuracy", "precision", "recall", "f1", "roc_auc", "loss", "confusion_matrix"}
    assert set(metrics["model"]) == expected == set(metrics["baselines"]["majority"])
    assert metrics["model"]["accuracy"] >= 0.9 > metrics["baselines"]["majority"]["accuracy"]
    assert sum(map(sum, metrics["model"]["confusion_matrix"])) == 24  # 10% of 240, stratified
    summary = json.loads((sentiment_run.path / "config.json").read_text())["data_summary"]
    assert summary["text_column"] == "text" and summary["label_column"] == "label"
    assert summary["classes"] == {"neg": 108, "pos": 108} and summary["class_weights"] is None


def test_predict_gives_the_obvious_labels_in_input_order(sentiment_run):
    texts = ["a wonderful, brilliant and moving film", "boring, dull and a waste", "superb " * 50, ""]
    predictions = sentiment_run.predict(texts)
    assert [p["text"] for p in predictions] == texts
    assert [p["label"] for p in predictions[:3]] == ["pos", "neg", "pos"]
    for prediction in predictions:
        assert sum(prediction["probabilities"].values()) == pytest.approx(1.0, abs=1e-6)
        assert prediction["probability"] == max(prediction["probabilities"].values())
    # Batched by length or one at a time: the same numbers (padding is masked).
    alone = [sentiment_run.predict(text)[0]["probability"] for text in texts]
    assert alone == pytest.approx([p["probability"] for p in predictions], abs=1e-5)


def test_no_text_ever_reaches_the_model_fully_masked(sentiment_run):
    """Keras' cuDNN path rejects fully masked rows and masks that are not right-padded."""
    import tensorflow as tf
    from keras.src.backend.tensorflow.rnn import _has_fully_masked_sequence, _is_sequence_right_padded

    preprocessor = sentiment_run.task_object.preprocessor(sentiment_run)
    texts = ["", "   ", "!!! ???", "<br /><br />", "zzqx unseenword", "a wonderful film " * 40]
    ids = preprocessor.pad(preprocessor.encode(tf.constant(texts)))
    mask = tf.not_equal(ids, 0)
    assert not bool(_has_fully_masked_sequence(mask)) and bool(_is_sequence_right_padded(mask))
    assert ids.shape[1] == preprocessor.sequence_length
    assert ids.numpy()[0].tolist()[:2] == [1, 0]  # an empty text is one [UNK]


def test_savedmodel_matches_predict_in_a_process_without_rnnkit(sentiment_run, tmp_path):
    out = sentiment_run.export(tmp_path / "sm")
    texts = ["a wonderful, brilliant and moving film", "boring, dull and a waste", "", "ok"]
    expected = sentiment_run.predict(texts)
    script = (
        "import json, sys, tensorflow as tf\n"
        "m = tf.saved_model.load(sys.argv[1])\n"
        "assert 'rnnkit' not in sys.modules\n"
        "f = m.signatures['serving_default']\n"
        "out = f(text=tf.constant(json.loads(sys.argv[2])))\n"
        "empty = f(text=tf.constant([], tf.string))\n"
        "print(json.dumps({'probabilities': out['probabilities'].numpy().tolist(),"
        " 'labels': [x.decode() for x in out['label'].numpy()], 'empty': empty['probabilities'].shape.as_list(),"
        " 'inputs': sorted(f.structured_input_signature[1])}))\n"
    )
    result = subprocess.run([sys.executable, "-c", script, str(out), json.dumps(texts)], capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    served = json.loads(result.stdout.strip().splitlines()[-1])
    assert served["inputs"] == ["text"] and served["empty"] == [0, 2]
    assert served["labels"] == [p["label"] for p in expected]
    np.testing.assert_allclose(served["probabilities"], [[p["probabilities"][k] for k in ("neg", "pos")] for p in expected],
                               atol=1e-5)


def test_evaluate_on_held_out_file(sentiment_run, tmp_path):
    held_out = make_reviews(tmp_path / "held_out.tsv", rows=60, seed=7, delimiter="\t")
    metrics = sentiment_run.evaluate(held_out)
    assert metrics["split"] == "test" and metrics["model"]["accuracy"] >= 0.9
    assert metrics["baselines"]["majority"]["roc_auc"] == 0.5


def test_three_classes_jsonl_with_label_names(tmp_path):
    data = make_reviews(tmp_path / "three.jsonl", rows=300, labels=("neg", "mixed", "pos"),
                        columns=("review", "sentiment"))
    run = rnnkit.train(str(data), out=tmp_path / "run", **TINY_SENTIMENT)
    assert run.task == "sentiment" and run.model.output_shape[-1] == 3
    assert run.metrics["labels"] == ["mixed", "neg", "pos"]
    assert len(run.metrics["model"]["confusion_matrix"]) == 3 and "roc_auc" not in run.metrics["model"]
    prediction = run.predict("uneven, average and patchy")[0]
    assert prediction["label"] == "mixed" and set(prediction["probabilities"]) == {"neg", "mixed", "pos"}


def test_imbalanced_classes_are_weighted(tmp_path, caplog):
    from rnnkit.tasks.sentiment.task import _class_weights

    data = make_reviews(tmp_path / "spam.csv", rows=150, labels=("ham", "spam"), weights=(5, 1))
    run = rnnkit.train(str(data), task="sentiment", out=tmp_path / "run", **{**TINY_SENTIMENT, "epochs": 1})
    weights = run.config.data_summary["class_weights"]
    assert weights["spam"] > 2 * weights["ham"]
    assert "imbalanced" in caplog.text
    assert _class_weights("none", [100, 10]) is None and _class_weights("auto", [30, 10]) is None
    assert _class_weights("balanced", [30, 10]) == [40 / 60, 40 / 20]


def test_aclimdb_folder_reports_on_its_test_split(tmp_path):
    from tests.helpers import review

    import random

    rng = random.Random(3)
    for split, count in (("train", 40), ("test", 10)):
        for label in ("pos", "neg"):
            folder = tmp_path / "aclImdb" / split / label
            folder.mkdir(parents=True)
            for i in range(count):
                (folder / f"{i}_{8 if label == 'pos' else 2}.txt").write_text(review(label, rng), encoding="utf-8")
    (tmp_path / "aclImdb" / "train" / "unsup").mkdir()
    (tmp_path / "aclImdb" / "train" / "unsup" / "0_0.txt").write_text("unlabelled")
    run = rnnkit.train(str(tmp_path / "aclImdb"), out=tmp_path / "run", **{**TINY_SENTIMENT, "epochs": 1})
    assert run.task == "sentiment" and run.metrics["split"] == "test"
    assert sum(map(sum, run.metrics["model"]["confusion_matrix"])) == 20
    assert run.config.data_summary["classes"] == {"neg": 36, "pos": 36}


def test_a_bigram_branch_inside_the_model_and_its_savedmodel(tmp_path):
    import numpy as np
    import tensorflow as tf

    from rnnkit.tasks.sentiment.layers import HashedBigrams

    from rnnkit.tasks.sentiment.layers import PAIR_PRIME

    pairs = HashedBigrams(vocabulary_size=10, buckets=7)(np.array([[3, 4, 1, 5, 0, 0]]))
    # Pairs with [UNK] (1) or padding (0) are 0.
    assert pairs.numpy().tolist() == [[(3 * PAIR_PRIME + 4) % 7 + 1, 0, 0, 0, 0]]
    # With a vocabulary of 20,000 and 50,000 buckets (a common factor of 10,000), the first
    # word still matters: 100 first words give 100 buckets.
    many = HashedBigrams(vocabulary_size=20000, buckets=50000)(np.array([[w, 7] for w in range(2, 102)]))
    assert len(set(many.numpy().ravel().tolist())) == 100
    data = make_reviews(tmp_path / "reviews.csv", rows=200)
    run = rnnkit.train(str(data), out=tmp_path / "run", bigrams=500, **TINY_SENTIMENT)
    assert run.model.get_layer("bigram_embedding").input_dim == 501
    texts = ["a wonderful, moving film", "dull and far too long"]
    expected = [item["probabilities"] for item in run.predict(texts)]
    served = tf.saved_model.load(str(run.export(tmp_path / "sm"))).signatures["serving_default"](text=tf.constant(texts))
    labels = run.metrics["labels"]
    np.testing.assert_allclose(served["probabilities"].numpy(), [[p[label] for label in labels] for p in expected],
                               rtol=1e-5)
    assert rnnkit.load(run.path).predict(texts) == run.predict(texts)  # model.keras reloads the branch
    lone = run.predict(["wonderful", "qwertyuiop"])  # no word pair at all: still a prediction
    assert all(np.isfinite(list(item["probabilities"].values())).all() for item in lone)


def test_head_tail_truncation_keeps_a_long_texts_start_and_end(tmp_path):
    import tensorflow as tf

    from rnnkit.tasks.sentiment.preprocessor import TextClassificationPreprocessor

    words = [f"w{i}" for i in range(20)]
    texts = tf.constant([" ".join(words), "w3 w4 w5", " ".join(words[:9])])
    kept = {}
    for truncate in ("keep_last", "head_tail"):
        preprocessor = TextClassificationPreprocessor(tokens=words, sequence_length=8, labels=["a", "b"],
                                                      label_counts=[1, 1], truncate=truncate)
        preprocessor.save(tmp_path / truncate)
        loaded = TextClassificationPreprocessor.load(tmp_path / truncate)
        assert loaded.truncate == truncate
        kept[truncate] = [[words[i - 2] for i in row] for row in loaded.encode(texts).to_list()]
    assert kept["keep_last"][0] == words[12:]
    assert kept["head_tail"][0] == words[:2] + words[14:]
    assert kept["head_tail"][1] == kept["keep_last"][1] == ["w3", "w4", "w5"]  # a short text is all kept
    assert kept["head_tail"][2] == words[:2] + words[3:9]


def test_max_mean_last_pooling_and_spatial_dropout(reviews, tmp_path):
    """The pooled variant of the classifier (max, mean and each direction's end) with spatial dropout on
    the embeddings: trained, reloaded and exported, it answers as `predict` does."""
    import tensorflow as tf

    run = rnnkit.train(str(reviews), task="sentiment", out=tmp_path / "run",
                       **{**TINY_SENTIMENT, "pooling": "max_mean_last", "embedding_dropout": 0.2})
    names = [layer.name for layer in run.model.layers]
    assert {"embedding_dropout", "mean_over_time", "ends", "pooled"} <= set(names)
    assert run.model.get_layer("pooled").output.shape[-1] == 3 * 2 * TINY_SENTIMENT["units"]
    texts = ["a wonderful brilliant film", "dull and tedious", ""]
    again = rnnkit.load(run.path)
    expected = [p["probabilities"] for p in again.predict(texts)]
    served = tf.saved_model.load(str(again.export(tmp_path / "sm"))).signatures["serving_default"](text=tf.constant(texts))
    for row, probabilities in zip(served["probabilities"].numpy(), expected):
        np.testing.assert_allclose(row, [probabilities[label] for label in run.metrics["labels"]], atol=1e-5)
