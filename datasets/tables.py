"""Tables of text shared by the labelled-text and series readers: CSV/TSV/JSONL (optionally
gzipped), strict decoding, and the cell helpers both read values with. No TensorFlow here.

A table is read as a stream: the bytes are decoded block by block and the rows parsed as
they come, so a reader can keep only the columns it needs (a series' time and value
columns, a classifier's text and label) and a sniffer can stop after the first rows. A
decoding error is raised where it occurs, after the rows before it.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import json
import math
import sys
import zlib
from collections import Counter
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass, field
from itertools import chain, islice
from operator import itemgetter
from pathlib import Path

from rnnkit.errors import DataError

TABLE_SUFFIXES = {".csv": ",", ".tsv": "\t", ".tab": "\t"}
JSONL_SUFFIXES = (".jsonl", ".ndjson")
CHUNK_ROWS = 1 << 13  # rows a batch; larger batches are no faster and leave more memory behind
# The first reads are small, so a sniffer that needs a few rows decodes a few kB; a long
# read grows to 1 MiB blocks.
FIRST_BLOCK_BYTES, BLOCK_BYTES = 1 << 16, 1 << 20
_NUL_CHECKED_BYTES = 8192
_FIELD_SIZE_LIMIT = 1 << 30  # reviews can be long


@dataclass
class Table:
    """The rows of a table as dicts of strings (JSONL: of JSON values).

    `complete` is `False` when only the first rows were read (`read_table(head=...)`).
    """

    columns: list[str]
    rows: list[dict] = field(default_factory=list)
    first_line: int = 2  # the file line of rows[0]: after a CSV header, 1 in JSONL
    complete: bool = True


def read_table(path: Path, encoding: str | None, purpose: str = "train on", head: int | None = None) -> Table:
    """The rows of a CSV/TSV/JSONL file as dicts of strings (JSONL: of JSON values); `head`
    reads only the first rows (to sniff a file), decoding no more of the file than they take."""
    wanted = math.inf if head is None else head + 1  # one row more tells whether the file goes on
    rows: list = []
    with closing(TableReader(path, encoding, purpose)) as reader:
        for batch in reader.batches(int(min(wanted, CHUNK_ROWS))):
            rows.extend(batch)
            if len(rows) >= wanted:
                break
    complete = len(rows) < wanted
    if not complete:
        del rows[head:]
    if reader.jsonl:
        return Table(list(dict.fromkeys(key for row in rows for key in row)), rows, 1, complete)
    return Table(reader.columns, [dict(zip(reader.columns, row)) for row in rows], 2, complete)


class TableReader:
    """The rows of a CSV/TSV/JSONL file (`.gz` too), read as a stream.

    Args:
        path: the file.
        encoding: its encoding; `None` reads strict UTF-8 (a BOM is dropped).
        purpose: what the data is for, in the message about an empty file. Defaults to `"train on"`.

    A CSV's header is read on construction (`columns`); a JSONL's columns are the keys of the
    rows read so far. `batches()` yields lists of rows (CSV: lists of strings as long as the
    header or shorter, blank rows skipped; JSONL: dicts), `column_batches()` lists of cells per
    wanted column (`None` where a row lacks the field).

    Raises:
        DataError: the file cannot be read, is empty or binary, is not valid in its encoding,
            or is not a valid table (the line is named).
    """

    def __init__(self, path: Path, encoding: str | None, purpose: str = "train on"):
        self.path, self.name = path, path.name
        self.jsonl = inner_suffix(path) in JSONL_SUFFIXES
        self.delimiter = "" if self.jsonl else TABLE_SUFFIXES[inner_suffix(path)]
        self.first_line = 1 if self.jsonl else 2
        self._encoding, self._purpose = encoding, purpose
        self._blocks = text_blocks(path, encoding, purpose)
        self._rows_read = 0  # CSV rows after the header, blank ones too
        self._pending: list[str] = []  # JSONL lines read but not parsed yet
        self._line = 0  # JSONL: the number of the last line parsed
        self._done = False
        self._short = False  # the last CSV batch has a row with fewer fields than the header
        if self.jsonl:
            self._columns: dict[str, None] = {}
            self.columns: list[str] = []
        else:
            self._lines = chain.from_iterable(io.StringIO(block, newline="") for block in self._blocks)
            # strict: an unbalanced quote is an error, never a silent merge of the rows after it.
            self._reader = csv.reader(self._lines, delimiter=self.delimiter, strict=True)
            header = self._read_csv(lambda: next(self._reader, None))
            self.columns = [name.strip() for name in header or []]
            if len(set(self.columns)) != len(self.columns):
                duplicate = next(name for name, count in Counter(self.columns).items() if count > 1)
                raise DataError(f"{self.name} has the column '{duplicate}' twice in its header. Rename one of them.")

    def batches(self, size: int | None = None) -> Iterator[list]:
        """Yield the rows in lists of up to `size` (the last may be shorter). Defaults to `CHUNK_ROWS`."""
        size = size or CHUNK_ROWS
        while not self._done:
            if self.jsonl:
                batch = self._jsonl_batch(size)
                self._done = len(batch) < size
            else:
                batch = self._read_csv(lambda: self._csv_batch(size))
            if batch:
                yield batch

    def column_batches(self, wanted: list[str], size: int | None = None) -> Iterator[list[list]]:
        """Yield, for each batch of rows, one list of cells per column of `wanted` (`None` where
        a row lacks that field, or the file that column)."""
        indices = None if self.jsonl else [self.columns.index(name) if name in self.columns else None
                                           for name in wanted]
        for batch in self.batches(size):
            if indices is None:
                yield [[row.get(name) for row in batch] for name in wanted]
            elif not self._short:
                yield [list(map(itemgetter(i), batch)) if i is not None else [None] * len(batch) for i in indices]
            else:
                yield [[row[i] if i < len(row) else None for row in batch] if i is not None else [None] * len(batch)
                       for i in indices]

    def close(self) -> None:
        self._blocks.close()

    # -- CSV ------------------------------------------------------------------------------------

    def _csv_batch(self, size: int) -> list[list[str]]:
        rows = list(islice(self._reader, size))  # the loop in C: a Python loop per row doubles the time
        self._done = len(rows) < size
        self._short = False
        width = len(self.columns)
        if width != 1 and set(map(len, rows)) <= {width}:
            self._rows_read += len(rows)
            return rows
        kept = []
        for index, row in enumerate(rows):
            if len(row) != width or width == 1:
                if not row or (len(row) == 1 and not row[0].strip()):
                    continue
                if len(row) > width:
                    self._too_many_fields(self._rows_read + index)
                self._short = self._short or len(row) < width
            kept.append(row)
        self._rows_read += len(rows)
        return kept

    def _too_many_fields(self, index: int) -> None:
        """Raise the error for the `index`-th row after the header, naming its line: the rows
        were read in a batch, so the file is read again to that row, one row at a time."""
        with closing(text_blocks(self.path, self._encoding, self._purpose)) as blocks:
            reader = csv.reader(chain.from_iterable(io.StringIO(block, newline="") for block in blocks),
                                delimiter=self.delimiter, strict=True)
            row = next(islice(reader, index + 1, None))
            raise DataError(f"{self.name} line {reader.line_num} has {len(row)} fields but the header "
                            f"has {len(self.columns)}. Quote fields that contain '{_show(self.delimiter)}'.")

    def _read_csv(self, read):
        # The module-wide field size limit is raised only while rows are read, never across a
        # yield, so readers that take turns never see each other's limit.
        previous = csv.field_size_limit(_FIELD_SIZE_LIMIT)
        try:
            return read()
        except csv.Error as error:
            kind = "TSV" if self.delimiter == "\t" else "CSV"
            line = getattr(self._reader, "line_num", 0)
            if "unexpected end of data" in str(error):
                raise DataError(f"{self.name} is not valid {kind}: a quote (\") opened before line {line} is "
                                "never closed. Fix the quoting of that field.") from None
            raise DataError(f"{self.name} line {line} is not valid {kind}: {error}. "
                            "Fix the quoting on that line.") from None
        finally:
            csv.field_size_limit(previous)

    # -- JSONL ----------------------------------------------------------------------------------

    def _jsonl_batch(self, size: int) -> list[dict]:
        batch = []
        while len(batch) < size:
            if not self._pending:
                block = next(self._blocks, None)
                if block is None:
                    break
                self._pending = block.split("\n")
                if block.endswith("\n"):
                    self._pending.pop()  # the empty text after the last line break
                self._pending.reverse()
            line = self._pending.pop()
            self._line += 1
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as error:
                raise DataError(f"{self.name} line {self._line} is not valid JSON ({error.msg}). "
                                "Fix or remove that line.") from None
            if not isinstance(row, dict):
                raise DataError(f"{self.name} line {self._line} is not a JSON object with text and label fields. "
                                "Fix or remove that line.")
            if not self._columns.keys() >= row.keys():
                self._columns.update(dict.fromkeys(row))
                self.columns = list(self._columns)
            batch.append(row)
        return batch


# -- decoding -----------------------------------------------------------------------------------


def text_blocks(path: Path, encoding: str | None, purpose: str = "train on") -> Iterator[str]:
    """The text of a file (gunzipped when it ends in `.gz`) in blocks that end at a line break
    (except the last), decoded strictly, without a byte-order mark, `\\r\\n` read as `\\n`.

    Raises:
        DataError: the file cannot be read, looks binary, holds only whitespace, or is not
            valid in its encoding (after the blocks before the offending byte).
    """
    blocks = _split_at_lines(_decoded_pieces(path, encoding))
    held: list[str] | None = []
    try:
        for block in blocks:
            if held is None:
                yield block
                continue
            held.append(block)
            if not block.isspace():  # an empty file is an error; blank lines before the text are not
                yield from held
                held = None
    finally:
        blocks.close()
    if held is not None:
        raise DataError(f"{path.name} is empty: there is nothing to {purpose}.")


def _decoded_pieces(path: Path, encoding: str | None) -> Iterator[str]:
    codec = codecs.lookup(encoding or "utf-8-sig").name
    sig = codec == "utf-8-sig"
    decoder = None
    fed, size, leading = 0, FIRST_BLOCK_BYTES, True
    with _open_bytes(path) as handle:
        while True:
            block = _read(handle, path, size)
            size = min(2 * size, BLOCK_BYTES)
            if decoder is None:
                if encoding is None and b"\x00" in block[:_NUL_CHECKED_BYTES]:
                    raise DataError(f"{path.name} looks binary (it contains NUL bytes). Pass a text file, "
                                    "or --encoding if it is UTF-16.")
                decoder = codecs.getincrementaldecoder(_byte_order(codec, block))("strict")
            final = not block
            state = decoder.getstate()
            try:
                text = decoder.decode(block, final=final)
            except UnicodeDecodeError as error:
                offset = fed - len(state[0]) + error.start
                if sig and state[1] and (state[0] + block).startswith(codecs.BOM_UTF8):
                    offset += 3  # the codec counts from after the byte-order mark
                decoder.setstate(state)
                valid = decoder.decode(block[: max(offset - fed, 0)], final=False)
                if leading:
                    valid = valid.lstrip("\ufeff")
                if valid:
                    yield valid
                raise DataError(f"{path.name} is not valid {encoding or 'UTF-8'} (byte {offset}). "
                                "Pass --encoding with its encoding (e.g. latin-1, cp1252).") from None
            fed += len(block)
            if leading and text:
                text = text.lstrip("\ufeff")
                leading = not text
            if text:
                yield text
            if final:
                return


def _byte_order(codec: str, head: bytes) -> str:
    """UTF-16/32 without a byte-order mark in the machine's order, as `bytes.decode` reads it
    (the incremental decoder would refuse it)."""
    if codec in ("utf-16", "utf-32"):
        marks = {"utf-16": (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE), "utf-32": (codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)}
        if not head.startswith(marks[codec]):
            return f"{codec}-{'le' if sys.byteorder == 'little' else 'be'}"
    return codec


def _open_bytes(path: Path):
    try:
        return gzip.open(path, "rb") if path.suffix.lower() == ".gz" else path.open("rb")
    except OSError as error:
        raise DataError(f"Cannot read {path}: {error.strerror}.") from None


def _read(handle, path: Path, size: int) -> bytes:
    try:
        return handle.read(size)
    except (OSError, EOFError, zlib.error) as error:
        if isinstance(handle, gzip.GzipFile):
            raise DataError(f"{path.name} is not a readable gzip file ({error}).") from None
        raise DataError(f"Cannot read {path}: {error.strerror}.") from None


def _split_at_lines(pieces: Iterator[str]) -> Iterator[str]:
    """Re-chunk text so every chunk but the last ends with a line break; `\r\n` becomes `\n`."""
    held: list[str] = []  # the text since the last line break (a list: a long line is not copied again and again)
    carriage_return = False  # the last piece ended in "\r", which may be half of "\r\n"
    try:
        for piece in pieces:
            if carriage_return:
                piece = "\r" + piece
            carriage_return = piece.endswith("\r")
            piece = (piece[:-1] if carriage_return else piece).replace("\r\n", "\n")
            cut = piece.rfind("\n") + 1
            if cut == 0:
                held.append(piece)
                continue
            yield "".join(held) + piece[:cut]
            held = [piece[cut:]]
        if carriage_return:
            held.append("\r")
        if any(held):
            yield "".join(held)
    finally:
        pieces.close()


def cell(value) -> str:
    """A cell as stripped text: `None` is empty, JSON booleans `true`/`false`, `5.0` is `5`."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return value.strip() if isinstance(value, str) else str(value)


def decode_file(path: Path, encoding: str | None) -> str:
    """The whole text of a file (gunzipped when it ends in `.gz`), decoded strictly."""
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise DataError(f"Cannot read {path}: {error.strerror}.") from None
    if path.suffix.lower() == ".gz":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as error:
            raise DataError(f"{path.name} is not a readable gzip file ({error}).") from None
    return decode_bytes(raw, path.name, encoding)


def decode_bytes(raw: bytes, name: str, encoding: str | None) -> str:
    if encoding is None and b"\x00" in raw[:_NUL_CHECKED_BYTES]:
        raise DataError(f"{name} looks binary (it contains NUL bytes). Pass a text file, "
                        "or --encoding if it is UTF-16.")
    codec = encoding or "utf-8-sig"
    try:
        text = raw.decode(codec, errors="strict")
    except UnicodeDecodeError as error:
        # utf-8-sig counts from after the byte-order mark; the offset is the file's.
        bom = codecs.lookup(codec).name == "utf-8-sig" and raw.startswith(codecs.BOM_UTF8)
        offset = error.start + (3 if bom else 0)
        raise DataError(f"{name} is not valid {encoding or 'UTF-8'} (byte {offset}). "
                        "Pass --encoding with its encoding (e.g. latin-1, cp1252).") from None
    return text.lstrip("\ufeff").replace("\r\n", "\n")


def inner_suffix(path: Path) -> str:
    suffixes = [suffix.lower() for suffix in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    return suffixes[-1] if suffixes else ""


def is_number(value: str) -> bool:
    """Whether a cell's text is a finite number (`nan` and `inf` are not)."""
    try:
        return math.isfinite(float(value))
    except ValueError:
        return False


def _show(delimiter: str) -> str:
    return "\\t" if delimiter == "\t" else delimiter
