"""`infer_task` (which task a file or folder is for) and run-folder preparation (`prepare_run_dir`)."""

from __future__ import annotations

import pytest

from rnnkit.errors import ConfigError, DataError, RunError
from rnnkit.registry import infer_task
from rnnkit.runs import check_resumable, prepare_run_dir
from tests.helpers import make_corpus, make_reviews, make_series


def test_infer_task_from_the_data(tmp_path):
    assert infer_task(str(make_corpus(tmp_path / "notes.txt"))) == "textgen"
    assert infer_task(str(make_series(tmp_path / "sales.csv"))) == "forecast"
    assert infer_task(str(make_reviews(tmp_path / "reviews.csv"))) == "sentiment"
    assert infer_task(str(make_reviews(tmp_path / "reviews.jsonl"))) == "sentiment"
    (tmp_path / "books").mkdir()
    make_corpus(tmp_path / "books" / "a.txt")
    assert infer_task(str(tmp_path / "books")) == "textgen"
    for label in ("pos", "neg"):
        (tmp_path / "acl" / "train" / label).mkdir(parents=True)
        (tmp_path / "acl" / "train" / label / "1.txt").write_text(f"a {label} review")
    assert infer_task(str(tmp_path / "acl")) == "sentiment"
    assert [infer_task(name) for name in ("python-docs", "imdb", "co2")] == ["textgen", "sentiment", "forecast"]
    # Dated reviews: a text and a label column beside the dates outweigh the numeric label.
    rows = [f"2020-01-{day:02d},a {'good' if day % 2 else 'dull'} film to see,{day % 2}" for day in range(1, 29)]
    (tmp_path / "dated.csv").write_text("date,review,label\n" + "\n".join(rows) + "\n")
    assert infer_task(str(tmp_path / "dated.csv")) == "sentiment"


def test_infer_task_says_what_to_pass_when_unsure(tmp_path):
    for label in ("ham", "spam"):
        (tmp_path / "mail" / label).mkdir(parents=True)
        (tmp_path / "mail" / label / "1.txt").write_text("a message")
    with pytest.raises(ConfigError, match=r"mail could be data for sentiment \(one class per folder: ham, spam\) or textgen \(one corpus "
                                         r"of all the .txt files\). Pass --task sentiment or --task textgen"):
        infer_task(str(tmp_path / "mail"))
    (tmp_path / "data.parquet").write_bytes(b"PAR1")
    with pytest.raises(ConfigError, match=r"Cannot tell which task data.parquet is for. Pass --task \(textgen, "):
        infer_task(str(tmp_path / "data.parquet"))
    with pytest.raises(DataError, match="No such file or folder"):
        infer_task(str(tmp_path / "missing.csv"))


def test_prepare_run_dir_protects_what_is_there(tmp_path):
    assert prepare_run_dir(tmp_path / "new") == tmp_path / "new" and not (tmp_path / "new").exists()
    (tmp_path / "empty").mkdir()
    assert prepare_run_dir(tmp_path / "empty") == tmp_path / "empty"
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.txt").write_text("years of work")
    with pytest.raises(RunError, match="already exists and is not empty. Pass --overwrite"):
        prepare_run_dir(mine)
    with pytest.raises(RunError, match="is not an rnnkit run, so --overwrite will not replace it"):
        prepare_run_dir(mine, overwrite=True)
    with pytest.raises(RunError, match="Nothing to resume in .*: it is not an rnnkit run"):
        check_resumable(mine)
    with pytest.raises(RunError, match="is a file, not a folder"):
        prepare_run_dir(mine / "thesis.txt")
    with pytest.raises(RunError, match="holds the training data"):
        prepare_run_dir(tmp_path, overwrite=True, data=str(mine / "thesis.txt"))
    assert (mine / "thesis.txt").read_text() == "years of work" and sorted(mine.iterdir()) == [mine / "thesis.txt"]


def test_prepare_run_dir_accepts_a_run_to_overwrite_or_resume(tmp_path):
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "config.json").write_text("{}")
    assert prepare_run_dir(run, overwrite=True) == run
    assert check_resumable(run) == run
