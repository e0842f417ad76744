"""Every user error of `rnnkit train/generate/export` ends in exit 2, one line, no traceback,
and nothing written or overwritten (issue #2's list)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rnnkit.cli.main import app
from rnnkit.errors import DataError
from tests.helpers import make_corpus

runner = CliRunner()
TINY_FLAGS = ["--units", "16", "--layers", "1", "--embedding-dim", "8", "--max-len", "16",
              "--batch-size", "16", "--epochs", "1", "--seed", "1", "--quiet"]


def assert_user_error(result, *fragments: str) -> None:
    assert result.exit_code == 2, (result.exit_code, result.output)
    assert "Traceback" not in result.output
    message = result.stderr.strip()
    assert message, "nothing on stderr"
    for fragment in fragments:
        assert fragment in message, message


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_missing_file(tmp_path):
    result = runner.invoke(app, ["train", str(tmp_path / "nope.txt"), "--out", str(tmp_path / "r")])
    assert_user_error(result, "No such file")
    assert not (tmp_path / "r").exists()


def test_folder_without_txt_files(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "notes.md").write_text("hello")
    result = runner.invoke(app, ["train", str(tmp_path / "data"), "--out", str(tmp_path / "r")])
    assert_user_error(result, "no .txt files")
    assert not (tmp_path / "r").exists()


def test_empty_file(tmp_path):
    (tmp_path / "empty.txt").write_text("")
    result = runner.invoke(app, ["train", str(tmp_path / "empty.txt"), "--out", str(tmp_path / "r")])
    assert_user_error(result, "empty")
    assert not (tmp_path / "r").exists()


def test_file_shorter_than_one_window(tmp_path):
    (tmp_path / "short.txt").write_text("Too short to learn from.\n")
    result = runner.invoke(app, ["train", str(tmp_path / "short.txt"), "--out", str(tmp_path / "r")])
    assert_user_error(result, "too short", "--max-len")
    assert not (tmp_path / "r").exists()


def test_binary_file(tmp_path):
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4
    (tmp_path / "image.txt").write_bytes(png)
    result = runner.invoke(app, ["train", str(tmp_path / "image.txt"), "--out", str(tmp_path / "r")])
    assert_user_error(result, "binary")


def test_invalid_utf8_names_the_byte_offset(tmp_path):
    path = make_corpus(tmp_path / "bad.txt", 3000)
    data = path.read_bytes()
    path.write_bytes(data[:1234] + b"\xff" + data[1234:])
    result = runner.invoke(app, ["train", str(path), "--out", str(tmp_path / "r")])
    assert_user_error(result, "not valid UTF-8", "offset 1234", "--encoding")


def test_invalid_utf8_offset_across_chunks(tmp_path, monkeypatch):
    from rnnkit.datasets import text_files

    monkeypatch.setattr(text_files, "CHUNK_BYTES", 7)
    path = tmp_path / "bad.txt"
    path.write_bytes("héllo wörld ".encode() * 3 + b"\xc3(" + b" tail")
    with pytest.raises(DataError) as error:
        list(text_files.open_text_corpus(path).chunks())
    assert f"offset {len('héllo wörld '.encode()) * 3}" in str(error.value)


def test_encoding_option_reads_latin1(tmp_path):
    path = make_corpus(tmp_path / "latin.txt", 3000, extra="Café crème, naïve façade.\n")
    path.write_bytes(path.read_text(encoding="utf-8").encode("latin-1"))
    result = runner.invoke(app, ["train", str(path), "--out", str(tmp_path / "r"), *TINY_FLAGS])
    assert_user_error(result, "not valid UTF-8")
    result = runner.invoke(app, ["train", str(path), "--encoding", "latin-1", "--out", str(tmp_path / "r"), *TINY_FLAGS])
    assert result.exit_code == 0, result.output
    vocabulary = json.loads((tmp_path / "r" / "preprocessor" / "vocabulary.json").read_text(encoding="utf-8"))
    assert "ç" in vocabulary["tokens"]


@pytest.mark.parametrize(
    ("flags", "fragment"),
    [
        (["--units", "0"], "units"),
        (["--layers", "-1"], "layers"),
        (["--dropout", "1.5"], "dropout"),
        (["--epochs", "0"], "epochs"),
        (["--learning-rate", "-1"], "learning_rate"),
        (["--val-split", "0.9"], "val_split"),
        (["--encoding", "klingon"], "encoding"),
    ],
)
def test_bad_training_option(corpus, tmp_path, flags, fragment):
    result = runner.invoke(app, ["train", str(corpus), "--out", str(tmp_path / "r"), *flags])
    assert_user_error(result, fragment)
    assert not (tmp_path / "r").exists()


def test_unknown_cell_is_a_usage_error(corpus, tmp_path):
    result = runner.invoke(app, ["train", str(corpus), "--cell", "lstn", "--out", str(tmp_path / "r")])
    assert result.exit_code == 2
    assert "lstn" in result.output


@pytest.mark.parametrize(
    ("flags", "fragment"),
    [
        (["--temperature", "0"], "temperature"),
        (["--temperature", "-1"], "temperature"),
        (["--top-p", "1.5"], "top_p"),
        (["--top-k", "-3"], "top_k"),
        (["--length", "-5"], "length"),
        (["--num-samples", "0"], "num_samples"),
    ],
)
def test_bad_sampling_option(trained_run, flags, fragment):
    result = runner.invoke(app, ["generate", str(trained_run.path), *flags])
    assert_user_error(result, fragment)


def test_existing_out_is_never_overwritten(corpus, trained_run, tmp_path):
    copy = tmp_path / "run"
    shutil.copytree(trained_run.path, copy)
    before = snapshot(copy)
    result = runner.invoke(app, ["train", str(corpus), "--out", str(copy), *TINY_FLAGS])
    assert_user_error(result, "already exists", "--overwrite", "--resume")
    assert snapshot(copy) == before


def test_generate_on_a_folder_that_is_not_a_run(tmp_path):
    (tmp_path / "notes.txt").write_text("hi")
    result = runner.invoke(app, ["generate", str(tmp_path)])
    assert_user_error(result, "not an rnnkit run")
    result = runner.invoke(app, ["generate", str(tmp_path / "missing")])
    assert_user_error(result, "not a folder")


def test_resume_without_checkpoint(corpus, tmp_path):
    (tmp_path / "r").mkdir()
    result = runner.invoke(app, ["train", str(corpus), "--resume", "--out", str(tmp_path / "r")])
    assert_user_error(result, "Nothing to resume")


def test_resume_without_out(corpus):
    result = runner.invoke(app, ["train", str(corpus), "--resume"])
    assert_user_error(result, "--resume needs --out")


def test_export_to_non_empty_folder(trained_run, tmp_path):
    (tmp_path / "sm").mkdir()
    (tmp_path / "sm" / "keep.txt").write_text("mine")
    result = runner.invoke(app, ["export", str(trained_run.path), "--out", str(tmp_path / "sm")])
    assert_user_error(result, "already exists")
    assert (tmp_path / "sm" / "keep.txt").read_text() == "mine"


def test_errors_in_a_real_process_are_one_line_without_traceback(tmp_path):
    """The console script itself: exit 2, a single stderr line, fast (no TensorFlow import)."""
    result = subprocess.run(
        [sys.executable, "-m", "rnnkit.cli.main", "train", str(tmp_path / "nope.txt")],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_invalid_utf8_offset_counts_a_byte_order_mark(tmp_path):
    path = tmp_path / "bom.txt"
    path.write_bytes(b"\xef\xbb\xbf" + b"abc\n" * 10 + b"\xff" + b"abc\n" * 10)
    result = runner.invoke(app, ["train", str(path), "--out", str(tmp_path / "r")])
    assert_user_error(result, "offset 43")


def test_utf16_with_encoding_option_is_not_called_binary(tmp_path):
    path = make_corpus(tmp_path / "utf16.txt", 3000)
    path.write_bytes(path.read_text(encoding="utf-8").encode("utf-16"))
    result = runner.invoke(app, ["train", str(path), "--encoding", "utf-16", "--out", str(tmp_path / "r"), *TINY_FLAGS])
    assert result.exit_code == 0, result.output


def test_non_text_codec_is_rejected(corpus, tmp_path):
    result = runner.invoke(app, ["train", str(corpus), "--encoding", "rot13", "--out", str(tmp_path / "r")])
    assert_user_error(result, "Unknown encoding 'rot13'")


def test_overwrite_never_replaces_a_folder_that_is_not_a_run(corpus, tmp_path):
    mine = tmp_path / "documents"
    mine.mkdir()
    (mine / "thesis.txt").write_text("years of work")
    result = runner.invoke(app, ["train", str(corpus), "--out", str(mine), "--overwrite", *TINY_FLAGS])
    assert_user_error(result, "not an rnnkit run")
    assert (mine / "thesis.txt").read_text() == "years of work"


def test_out_holding_the_training_data_is_refused(tmp_path):
    data = tmp_path / "texts"
    data.mkdir()
    make_corpus(data / "a.txt")
    result = runner.invoke(app, ["train", str(data), "--out", str(tmp_path), "--overwrite", *TINY_FLAGS])
    assert_user_error(result, "holds the training data")
    assert (data / "a.txt").exists()


def test_export_onto_the_run_itself_is_refused(trained_run):
    result = runner.invoke(app, ["export", str(trained_run.path), "--out", str(trained_run.path), "--overwrite"])
    assert_user_error(result, "holds the run")
    assert (trained_run.path / "model.keras").exists()


def test_config_that_is_not_json(corpus, tmp_path):
    (tmp_path / "config.json").write_text("{not json")
    result = runner.invoke(app, ["train", str(corpus), "--config", str(tmp_path / "config.json")])
    assert_user_error(result, "not valid JSON")
