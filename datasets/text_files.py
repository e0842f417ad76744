"""Plain-text corpora: one `.txt` file, a folder of them, or text a built-in dataset supplies.

A corpus is read in chunks that end at line breaks, so vocabulary fitting and encoding
stream over it and never hold a list of samples. Decoding is strict: invalid UTF-8 is an
error that names the file and byte offset, unless the user names another `--encoding`.
"""

from __future__ import annotations

import codecs
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from rnnkit.errors import DataError

CHUNK_BYTES = 1 << 20
TEXT_SUFFIXES = (".txt",)


@dataclass(frozen=True)
class TextCorpus:
    """A text corpus that can be read more than once, chunk by chunk.

    Args:
        name: what the corpus is called in messages and `config.json`.
        files: the text files, in reading order; empty for generated text.
        encoding: the codec for `files`; `None` reads strict UTF-8 (a BOM is dropped).
        generate: for built-in text, a function returning the whole text.
    """

    name: str
    files: tuple[Path, ...] = ()
    encoding: str | None = None
    generate: Callable[[], str] | None = None

    def chunks(self) -> Iterator[str]:
        """Yield the text in chunks that end at a line break (except the last one).

        Files of a folder are read in order, with a line break between two files when the
        first lacks one, so the last line of one never runs into the next.
        """
        if self.generate is not None:
            yield from _split_at_lines(iter([self.generate()]))
            return
        ended = True
        for path in self.files:
            for chunk in _split_at_lines(_decode_file(path, self.encoding)):
                if not ended:
                    yield "\n"
                yield chunk
                ended = chunk.endswith("\n")


def open_text_corpus(path: str | Path, encoding: str | None = None) -> TextCorpus:
    """Check that `path` is readable text and return it as a `TextCorpus`.

    Raises `DataError` for a missing path, a folder without `.txt` files, an empty file
    or one that looks binary. Decoding errors surface while reading the chunks.
    """
    path = Path(path).expanduser()
    if not path.exists():
        raise DataError(f"No such file or folder: {path}. Pass a .txt file, a folder of .txt files, or a built-in name (see `rnnkit datasets`).")
    if path.is_dir():
        files = tuple(sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in TEXT_SUFFIXES))
        if not files:
            raise DataError(f"Folder {path} has no .txt files. Put the training text in .txt files there, or pass one file.")
    else:
        files = (path,)
    for file in files:
        _check_text_file(file, check_nul=encoding is None)
    if all(file.stat().st_size == 0 for file in files):
        raise DataError(f"{path} is empty: there is no text to train on.")
    return TextCorpus(name=str(path), files=files, encoding=encoding)


def _check_text_file(path: Path, check_nul: bool) -> None:
    try:
        with path.open("rb") as handle:
            head = handle.read(8192)
    except OSError as error:
        raise DataError(f"Cannot read {path}: {error.strerror}.") from None
    # UTF-8 text never holds NUL bytes; UTF-16/32 does, so the check needs no --encoding.
    if check_nul and b"\x00" in head:
        raise DataError(f"{path} looks like a binary file (it contains NUL bytes), not text. Pass a UTF-8 text file.")


def _decode_file(path: Path, encoding: str | None) -> Iterator[str]:
    decoder = codecs.getincrementaldecoder(encoding or "utf-8")("strict")
    fed = 0
    first = True
    with path.open("rb") as handle:
        while True:
            block = handle.read(CHUNK_BYTES)
            final = not block
            buffered = len(decoder.getstate()[0])
            try:
                text = decoder.decode(block, final=final)
            except UnicodeError as error:
                raise DataError(_decode_error_message(path, encoding, error, fed - buffered)) from None
            fed += len(block)
            if first and text:
                text = text.removeprefix("\ufeff")  # a byte-order mark is not text
                first = False
            if text:
                yield text
            if final:
                return


def _decode_error_message(path: Path, encoding: str | None, error: UnicodeError, base: int) -> str:
    if encoding is not None:
        return f"{path} cannot be decoded as {encoding} ({error}). Check the --encoding."
    assert isinstance(error, UnicodeDecodeError)
    bad = error.object[error.start : error.start + 1].hex()
    return (
        f"{path} is not valid UTF-8: byte 0x{bad} at offset {base + error.start} ({error.reason}). "
        "Pass --encoding (e.g. --encoding latin-1) if the file uses another encoding."
    )


def _split_at_lines(pieces: Iterator[str]) -> Iterator[str]:
    """Re-chunk text so every chunk but the last ends with a newline; normalise CRLF."""
    carry = ""
    for piece in pieces:
        text = (carry + piece).replace("\r\n", "\n")
        if text.endswith("\r"):
            carry, text = "\r", text[:-1]
        else:
            carry = ""
        cut = text.rfind("\n") + 1
        if cut == 0:
            carry = text + carry
            continue
        carry = text[cut:] + carry
        yield text[:cut]
    if carry:
        yield carry
