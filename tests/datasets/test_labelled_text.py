"""Reading labelled texts: formats, column detection, labels, dropped rows; IMDB decoding."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pytest

from rnnkit.tasks.sentiment.classifier import classification_metrics, majority_baseline, roc_auc
from rnnkit.datasets.labelled_text import open_labelled, read_texts, stratified_split
from rnnkit.errors import DataError


def test_columns_found_by_content_in_a_gzipped_csv(tmp_path):
    path = tmp_path / "data.csv.gz"
    rows = "id,body_text,score,stars\n" + "".join(
        f'{i},"review number {i}, quite long, with a comma",{i * 0.5},{"spam" if i % 2 else "ham"}\n' for i in range(20))
    path.write_bytes(gzip.compress(rows.encode()))
    data = open_labelled(path)
    assert data.columns == ("body_text", "stars") and data.classes == ["ham", "spam"]
    assert data.texts[1] == "review number 1, quite long, with a comma"


def test_jsonl_labels_of_any_json_type_and_dropped_rows(tmp_path):
    path = tmp_path / "data.jsonl"
    rows = [{"text": "good one here", "label": 1}, {"text": "bad one here", "label": 0.0},
            {"text": "   ", "label": 1}, {"text": "no label at all", "label": None}] * 3
    path.write_text("\n".join(json.dumps(row) for row in rows) + "\n\n")
    data = open_labelled(path)
    assert data.labels[:2] == ["1", "0"] and data.dropped == 6 and len(data.texts) == 6


def test_named_columns_win_over_detection(tmp_path):
    path = tmp_path / "data.tsv"
    path.write_text("text\ttitle\tlabel\tsentiment\n" + "".join(f"t{i} a b\ttitle {i}\tx\t{'ab'[i % 2]}\n" for i in range(10)))
    data = open_labelled(path, text_col="title", label_col="sentiment")
    assert data.texts[0] == "title 0" and data.classes == ["a", "b"]


def test_read_texts_from_lines_and_table(tmp_path):
    (tmp_path / "lines.txt").write_text("first review\n\n  \nsecond, with a comma\n")
    assert read_texts(tmp_path / "lines.txt") == ["first review", "second, with a comma"]
    (tmp_path / "table.csv").write_text('id,review\n1,"one, two"\n2,three four\n')
    assert read_texts(tmp_path / "table.csv") == ["one, two", "three four"]


def test_stratified_split_keeps_class_shares():
    labels = ["a"] * 90 + ["b"] * 10
    train, validation = stratified_split(labels, 0.2, seed=1)
    assert sorted(train + validation) == list(range(100))
    assert [labels[i] for i in validation].count("b") == 2 and len(validation) == 20
    assert stratified_split(labels, 0.2, seed=1) == (train, validation)


def test_metrics_against_hand_computed_values():
    targets = np.array([0, 0, 1, 1])
    scores = np.array([0.1, 0.4, 0.35, 0.8])
    assert roc_auc(targets, scores) == 0.75
    assert roc_auc(targets, np.array([0.5, 0.5, 0.5, 0.5])) == 0.5
    metrics = classification_metrics(targets, np.stack([1 - scores, scores], axis=1))
    assert metrics["confusion_matrix"] == [[2, 0], [1, 1]]
    assert metrics["precision"] == 1.0 and metrics["recall"] == 0.5 and metrics["f1"] == pytest.approx(2 / 3)
    baseline = majority_baseline(np.array([0, 1, 2, 2]), [1, 1, 5])
    assert baseline["accuracy"] == 0.5 and baseline["confusion_matrix"][2] == [0, 0, 2]
    assert baseline["f1"] == pytest.approx((0 + 0 + 2 / 3) / 3)


def test_imdb_offline_names_the_url_and_a_local_copy(monkeypatch):
    import keras

    from rnnkit.datasets.imdb import IMDB_URL, decode_reviews, load_imdb

    def offline(**kwargs):
        raise Exception("URL fetch failure on https://...: None -- [Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(keras.datasets.imdb, "load_data", offline)
    with pytest.raises(DataError, match="aclImdb") as error:
        load_imdb()
    assert IMDB_URL in str(error.value)
    assert decode_reviews([[3, 1, 99, 2]], {1: "the", 2: "film", 3: "loved"}) == ["loved the film"]


def test_labels_have_one_spelling(tmp_path):
    (tmp_path / "a.csv").write_text("text,label\n" + "".join(f"words {i} here,{v}\n" for i, v in enumerate(["1", "1.0", "0", "0.0"] * 3)))
    assert open_labelled(tmp_path / "a.csv").classes == ["0", "1"]
    (tmp_path / "b.csv").write_text("text,label\n" + "".join(f"words {i} here,{v}\n" for i, v in enumerate(["True", "false"] * 3)))
    assert open_labelled(tmp_path / "b.csv").classes == ["false", "true"]


def test_unbalanced_quote_is_an_error_not_a_merge(tmp_path):
    (tmp_path / "q.csv").write_text('text,label\n"Oops I forgot to close,neg\ngood one,pos\nbad one,neg\n')
    with pytest.raises(DataError, match="never closed"):
        open_labelled(tmp_path / "q.csv")


def test_byte_order_mark_is_dropped_with_an_explicit_encoding(tmp_path):
    (tmp_path / "bom.csv").write_bytes(b"\xef\xbb\xbftext,label\n" + b"".join(b"some words %d,%s\n" % (i, b"ab"[i % 2:i % 2 + 1]) for i in range(10)))
    assert open_labelled(tmp_path / "bom.csv", text_col="text", encoding="utf-8").columns == ("text", "label")


def test_ambiguous_label_columns_are_an_error_and_guesses_are_reported(tmp_path):
    rows = "".join(f"{i},a review with several words {i},{'yes' if i % 2 else 'no'},{i % 5}\n" for i in range(40))
    (tmp_path / "two.csv").write_text("id,review,helpful,stars\n" + rows)
    with pytest.raises(DataError, match="Several columns could be the label: helpful, stars"):
        open_labelled(tmp_path / "two.csv")
    data = open_labelled(tmp_path / "two.csv", label_col="stars")
    assert data.columns == ("review", "stars") and data.notes == []
    (tmp_path / "one.csv").write_text("id,body_text,verdict\n" + "".join(f"{i},some words {i},{'ab'[i % 2]}\n" for i in range(20)))
    assert "label column 'verdict'" in open_labelled(tmp_path / "one.csv").notes[0]
