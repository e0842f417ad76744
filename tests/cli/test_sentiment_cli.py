"""`rnnkit train/predict/evaluate/export` for text classification, and its bad inputs
(issue #3's list): exit 2, one line on stderr, no traceback, nothing written."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from rnnkit.cli.main import app
from tests.cli.test_bad_input import assert_user_error
from tests.helpers import make_reviews

runner = CliRunner()
TINY_FLAGS = ["--units", "8", "--embedding-dim", "8", "--max-len", "24", "--batch-size", "16", "--epochs", "1",
              "--seed", "1", "--quiet"]


def test_train_json_then_predict_evaluate_and_export(tmp_path):
    data = make_reviews(tmp_path / "reviews.tsv", rows=120, delimiter="\t")
    result = runner.invoke(app, ["train", str(data), "--out", str(tmp_path / "run"), "--json", *TINY_FLAGS])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["run"] == str(tmp_path / "run") and payload["metrics"]["split"] == "validation"

    (tmp_path / "texts.txt").write_text("a wonderful film\n\nboring and dull\n", encoding="utf-8")
    result = runner.invoke(app, ["predict", str(tmp_path / "run"), "superb", "--file", str(tmp_path / "texts.txt"), "--json"])
    assert result.exit_code == 0, result.output
    predictions = json.loads(result.stdout)["predictions"]
    assert [p["text"] for p in predictions] == ["superb", "a wonderful film", "boring and dull"]
    assert set(predictions[0]) == {"text", "label", "probability", "probabilities"}

    result = runner.invoke(app, ["predict", str(tmp_path / "run"), "a wonderful film"])
    assert result.exit_code == 0 and "a wonderful film" in result.stdout

    result = runner.invoke(app, ["evaluate", str(tmp_path / "run"), str(data)])
    assert result.exit_code == 0 and "majority" in result.stdout and "confusion matrix" in result.stdout

    result = runner.invoke(app, ["export", str(tmp_path / "run"), "--out", str(tmp_path / "sm")])
    assert result.exit_code == 0 and (tmp_path / "sm" / "saved_model.pb").exists()


def _train(tmp_path, *args):
    return runner.invoke(app, ["train", *args, "--out", str(tmp_path / "run"), *TINY_FLAGS])


def _expect(tmp_path, result, *fragments):
    assert_user_error(result, *fragments)
    assert not (tmp_path / "run").exists()


def test_csv_without_a_text_column(tmp_path):
    (tmp_path / "numbers.csv").write_text("a,b\n1,2\n3,4\n")
    _expect(tmp_path, _train(tmp_path, str(tmp_path / "numbers.csv"), "--task", "sentiment"),
            "Cannot find a text column", "Columns found: a, b", "--text-col")


def test_csv_without_a_label_column(tmp_path):
    (tmp_path / "texts.csv").write_text("".join(["text\n"] + [f"some words number {i}\n" for i in range(20)]))
    _expect(tmp_path, _train(tmp_path, str(tmp_path / "texts.csv")), "Cannot find a label column", "--label-col")


def test_named_column_that_does_not_exist(reviews, tmp_path):
    _expect(tmp_path, _train(tmp_path, str(reviews), "--label-col", "nope"),
            "Column 'nope' is not in reviews.csv", "Columns found: text, label")


def test_label_column_with_a_single_class(tmp_path):
    data = make_reviews(tmp_path / "one.csv", rows=30, labels=("pos",))
    _expect(tmp_path, _train(tmp_path, str(data)), "single class", "'pos'")


def test_empty_texts_are_dropped_and_counted(tmp_path):
    data = make_reviews(tmp_path / "gaps.csv", rows=60)
    with data.open("a", encoding="utf-8") as handle:
        handle.write('"   ",pos\n,neg\n')
    result = _train(tmp_path, str(data))
    assert result.exit_code == 0, result.output
    assert "Dropped 2 row(s)" in result.stderr
    assert json.loads((tmp_path / "run" / "config.json").read_text())["data_summary"]["dropped_texts"] == 2


def test_only_empty_texts_is_an_error(tmp_path):
    (tmp_path / "blank.csv").write_text('text,label\n" ",pos\n"",neg\n')
    _expect(tmp_path, _train(tmp_path, str(tmp_path / "blank.csv"), "--text-col", "text"), "no labelled texts")


def test_unreadable_jsonl_line_is_named(tmp_path):
    data = make_reviews(tmp_path / "bad.jsonl", rows=20)
    lines = data.read_text().splitlines()
    lines[6] = '{"text": "cut off", "label": '
    data.write_text("\n".join(lines) + "\n")
    _expect(tmp_path, _train(tmp_path, str(data)), "bad.jsonl line 7 is not valid JSON")


def test_folder_without_class_folders(tmp_path):
    (tmp_path / "reviews" / "misc").mkdir(parents=True)
    (tmp_path / "reviews" / "misc" / "a.txt").write_text("one review")
    _expect(tmp_path, _train(tmp_path, str(tmp_path / "reviews"), "--task", "sentiment"), "no class folders", "pos/")


def test_invalid_utf8_in_a_csv(tmp_path):
    (tmp_path / "latin.csv").write_bytes("text,label\ncaf\xe9 was great,pos\n".encode("latin-1"))
    _expect(tmp_path, _train(tmp_path, str(tmp_path / "latin.csv")), "not valid UTF-8", "--encoding")


def test_char_level_is_refused_for_classification(reviews, tmp_path):
    _expect(tmp_path, _train(tmp_path, str(reviews), "--level", "char"), "--level is a textgen option; this is a sentiment run")


def test_vocab_size_too_small(reviews, tmp_path):
    _expect(tmp_path, _train(tmp_path, str(reviews), "--vocab-size", "2"), "vocab_size must be 0")


def test_folder_of_unnamed_class_folders_asks_for_the_task(tmp_path):
    for label in ("ham", "spam"):
        (tmp_path / "mail" / label).mkdir(parents=True)
        (tmp_path / "mail" / label / "1.txt").write_text(f"a {label} message")
    _expect(tmp_path, _train(tmp_path, str(tmp_path / "mail")), "Pass --task sentiment or --task textgen")


def test_predict_shows_markup_and_reads_another_column(sentiment_run, tmp_path):
    result = runner.invoke(app, ["predict", str(sentiment_run.path), "loved it [/b] really [bold]x[/bold]"])
    assert result.exit_code == 0, result.output
    assert "[/b] really [bold]x[/bold]" in result.stdout
    (tmp_path / "in.csv").write_text("id,comment,note\n1,a wonderful film,x\n2,,y\n")
    result = runner.invoke(app, ["predict", str(sentiment_run.path), "--file", str(tmp_path / "in.csv"),
                                 "--text-col", "comment", "--json"])
    assert result.exit_code == 0, result.output
    assert [p["text"] for p in json.loads(result.stdout)["predictions"]] == ["a wonderful film", ""]


def test_predict_without_text(sentiment_run):
    result = runner.invoke(app, ["predict", str(sentiment_run.path)])
    assert_user_error(result, "No text to classify", "--file")


def test_predict_with_a_missing_file(sentiment_run, tmp_path):
    result = runner.invoke(app, ["predict", str(sentiment_run.path), "--file", str(tmp_path / "nope.txt")])
    assert_user_error(result, "No such file")


def test_predict_on_a_textgen_run(trained_run):
    result = runner.invoke(app, ["predict", str(trained_run.path), "a wonderful film"])
    assert_user_error(result, "needs a sentiment run", "textgen run")


def test_generate_on_a_sentiment_run(sentiment_run):
    result = runner.invoke(app, ["generate", str(sentiment_run.path)])
    assert_user_error(result, "needs a textgen run", "sentiment run")


def test_evaluate_with_labels_the_model_never_saw(sentiment_run, tmp_path):
    data = make_reviews(tmp_path / "other.csv", rows=20, labels=("pos", "mixed"))
    result = runner.invoke(app, ["evaluate", str(sentiment_run.path), str(data)])
    assert_user_error(result, "labels the model was not trained on: 'mixed'", "neg, pos")
