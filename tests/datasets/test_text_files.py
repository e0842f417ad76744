"""Reading text corpora: chunking at line breaks, CRLF, BOM, built-in python-docs."""

from __future__ import annotations

from rnnkit.datasets import open_text_corpus, resolve_builtin
from rnnkit.datasets import text_files


def test_chunks_end_at_line_breaks_and_rejoin_exactly(tmp_path, monkeypatch):
    monkeypatch.setattr(text_files, "CHUNK_BYTES", 5)
    text = "first line\r\nsecond — ünïcode line\nno newline at end"
    path = tmp_path / "a.txt"
    path.write_bytes(b"\xef\xbb\xbf" + text.encode())
    chunks = list(open_text_corpus(path).chunks())
    assert "".join(chunks) == text.replace("\r\n", "\n")
    assert all(chunk.endswith("\n") for chunk in chunks[:-1])


def test_folder_of_txt_files_in_order(tmp_path):
    (tmp_path / "b.txt").write_text("bbb\n")
    (tmp_path / "a.txt").write_text("aaa\n")
    (tmp_path / "skip.csv").write_text("x,y\n")
    assert "".join(open_text_corpus(tmp_path).chunks()) == "aaa\nbbb\n"


def test_python_docs_is_offline_and_large():
    corpus = resolve_builtin("python-docs")
    text = "".join(corpus.chunks())
    assert len(text) > 200_000 and "Python" in text


def test_download_failure_names_the_url_and_the_fix(tmp_path, monkeypatch):
    import pytest

    from rnnkit.datasets import builtin
    from rnnkit.errors import DataError

    monkeypatch.setenv("RNNKIT_HOME", str(tmp_path))
    monkeypatch.setattr(builtin, "SHAKESPEARE_URL", "http://127.0.0.1:9/input.txt")
    with pytest.raises(DataError) as error:
        builtin.download(builtin.SHAKESPEARE_URL, "tinyshakespeare.txt", "shakespeare")
    assert "http://127.0.0.1:9/input.txt" in str(error.value) and "local file" in str(error.value)
    assert not list(tmp_path.rglob("*.part"))


def test_files_without_final_newline_do_not_run_together(tmp_path):
    (tmp_path / "a.txt").write_text("end of a")
    (tmp_path / "b.txt").write_text("start of b")
    assert "".join(open_text_corpus(tmp_path).chunks()) == "end of a\nstart of b"
