"""Tables of text shared by the labelled-text and series readers: CSV/TSV/JSONL (optionally
gzipped), strict decoding, and the cell helpers both read values with. No TensorFlow here.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from rnnkit.errors import DataError

TABLE_SUFFIXES = {".csv": ",", ".tsv": "\t", ".tab": "\t"}
JSONL_SUFFIXES = (".jsonl", ".ndjson")


@dataclass
class Table:
    """The rows of a table as dicts of strings (JSONL: of JSON values)."""

    columns: list[str]
    rows: list[dict] = field(default_factory=list)
    first_line: int = 2  # the file line of rows[0]: after a CSV header, 1 in JSONL


def read_table(path: Path, encoding: str | None, purpose: str = "train on", head: int | None = None) -> Table:
    """The rows of a CSV/TSV/JSONL file as dicts of strings (JSONL: of JSON values); `head`
    reads only the first lines (to sniff a file)."""
    text = decode_file(path, encoding)
    if head is not None:
        text = "\n".join(text.split("\n", head + 1)[: head + 1])
    if not text.strip():
        raise DataError(f"{path.name} is empty: there is nothing to {purpose}.")
    if inner_suffix(path) in JSONL_SUFFIXES:
        return _parse_jsonl(path, text)
    return _parse_table(path, text, TABLE_SUFFIXES[inner_suffix(path)])


def _parse_table(path: Path, text: str, delimiter: str) -> Table:
    # Reviews can be long; the module-wide limit is restored afterwards.
    previous = csv.field_size_limit(1 << 30)
    # strict: an unbalanced quote is an error, never a silent merge of the rows after it.
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        header = next(reader)
        columns = [name.strip() for name in header]
        if len(set(columns)) != len(columns):
            duplicate = next(name for name, count in Counter(columns).items() if count > 1)
            raise DataError(f"{path.name} has the column '{duplicate}' twice in its header. Rename one of them.")
        table = Table(columns)
        for row in reader:
            if not row or (len(row) == 1 and not row[0].strip()):
                continue
            if len(row) > len(columns):
                raise DataError(f"{path.name} line {reader.line_num} has {len(row)} fields but the header has "
                                f"{len(columns)}. Quote fields that contain '{_show(delimiter)}'.")
            table.rows.append(dict(zip(columns, row)))
    except csv.Error as error:
        kind = "TSV" if delimiter == "\t" else "CSV"
        if "unexpected end of data" in str(error):
            raise DataError(f"{path.name} is not valid {kind}: a quote (\") opened before line {reader.line_num} is "
                            "never closed. Fix the quoting of that field.") from None
        raise DataError(f"{path.name} line {reader.line_num} is not valid {kind}: {error}. "
                        "Fix the quoting on that line.") from None
    finally:
        csv.field_size_limit(previous)
    return table


def _parse_jsonl(path: Path, text: str) -> Table:
    rows, columns = [], {}
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as error:
            raise DataError(f"{path.name} line {number} is not valid JSON ({error.msg}). Fix or remove that line.") from None
        if not isinstance(row, dict):
            raise DataError(f"{path.name} line {number} is not a JSON object with text and label fields. Fix or remove that line.")
        columns.update(dict.fromkeys(row))
        rows.append(row)
    return Table(list(columns), rows, first_line=1)


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
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise DataError(f"Cannot read {path}: {error.strerror}.") from None
    if path.suffix.lower() == ".gz":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as error:
            raise DataError(f"{path.name} is not a readable gzip file ({error}).") from None
    return decode_bytes(raw, path.name, encoding)


def decode_bytes(raw: bytes, name: str, encoding: str | None) -> str:
    if encoding is None and b"\x00" in raw[:8192]:
        raise DataError(f"{name} looks binary (it contains NUL bytes). Pass a text file, "
                        "or --encoding if it is UTF-16.")
    try:
        text = raw.decode(encoding or "utf-8-sig", errors="strict")
    except UnicodeDecodeError as error:
        raise DataError(f"{name} is not valid {encoding or 'UTF-8'} (byte {error.start}). "
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
