"""Labelled texts for classification: CSV, TSV, JSONL (optionally gzipped) or class folders.

Columns are found by name (`text`, `review`, ...; `label`, `sentiment`, ...) or by their
content, and `--text-col`/`--label-col` name them outright. Labels are kept as the
strings the file holds ("pos", "spam", "1"), so they can be shown everywhere. Texts that
are empty or only whitespace are dropped and counted. No TensorFlow here.

A table's first rows choose the columns (by name, else by content); the file is then streamed
and only the texts and labels are kept, never a table of every column or the file's text.
"""

from __future__ import annotations

from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

from rnnkit.datasets.tables import (JSONL_SUFFIXES, TABLE_SUFFIXES, Table, TableReader, cell, decode_bytes,
                                    decode_file, inner_suffix, is_number, read_table)
from rnnkit.errors import DataError

TEXT_NAMES = ("text", "review", "sentence", "content", "body", "comment", "message", "document", "tweet")
LABEL_NAMES = ("label", "labels", "sentiment", "class", "category", "target", "polarity", "y")
SKIPPED_FOLDERS = ("unsup",)  # aclImdb's unlabelled reviews
MAX_CLASSES = 1000
# The text and label columns are chosen from the first rows; then only those two columns are
# read from the whole file, as it streams by.
DECISION_ROWS = 10_000


@dataclass
class LabelledTexts:
    """Texts with one label each, as read from a file or folder.

    Args:
        name: what the data is called in messages.
        texts: the texts, in file order.
        labels: one label string per text.
        dropped: rows left out because their text was empty or their label missing.
        test: a held-out split that came with the data (aclImdb's `test/`, IMDB's test
            split), or `None`.
    """

    name: str
    texts: list[str]
    labels: list[str]
    dropped: int = 0
    test: LabelledTexts | None = None
    columns: tuple[str, str] | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def classes(self) -> list[str]:
        """The distinct labels, sorted (so "neg" < "pos", "0" < "1", "ham" < "spam")."""
        return sorted(set(self.labels), key=_label_order)


def is_labelled_file(path: Path) -> bool:
    """Whether `path` has a suffix this module reads (before an optional `.gz`)."""
    suffix = inner_suffix(path)
    return suffix in TABLE_SUFFIXES or suffix in JSONL_SUFFIXES


def labelled_columns(path: Path, encoding: str | None = None) -> tuple[str | None, str | None] | None:
    """The `(text, label)` columns found in a table's first 50 rows, either `None` when not
    found; `None` for another file or one that cannot be read. For task inference: never an error."""
    if not (path.is_file() and is_labelled_file(path)):
        return None
    try:
        table = read_table(path, encoding, head=50)
    except DataError:
        return None

    def find(role: str, exclude: str | None = None) -> str | None:
        try:
            return _choose_column(path, table, None, role, exclude=exclude)
        except DataError:
            return None

    text = find("text")
    return text, find("label", exclude=text)


def is_class_folder(path: Path) -> bool:
    """Whether `path` looks like an aclImdb folder: `pos/` and `neg/`, directly or under `train/`."""
    return any((base / "pos").is_dir() and (base / "neg").is_dir() for base in (path, path / "train"))


def looks_like_class_folders(path: Path) -> bool:
    """Two or more subfolders of .txt files and no .txt file beside them: maybe one folder per label."""
    if any(path.glob("*.txt")):
        return False
    return sum(1 for child in path.iterdir() if child.is_dir() and any(child.glob("*.txt"))) >= 2


def open_labelled(path: str | Path, text_col: str | None = None, label_col: str | None = None,
                  encoding: str | None = None, require_labels: bool = True,
                  preferred: tuple[str, str] | None = None) -> LabelledTexts:
    """Read labelled texts from a CSV/TSV/JSONL file (`.gz` too) or a folder of class folders.

    Args:
        path: the file or folder.
        text_col: the text column; found by name or content when `None`. Defaults to `None`.
        label_col: the label column; found by name or content when `None`. Defaults to `None`.
        encoding: the file encoding; `None` reads strict UTF-8 (a BOM is dropped).
            Defaults to `None`.
        require_labels: at least two classes are needed (training). Defaults to `True`.
        preferred: `(text, label)` column names to use when the file has them (the
            columns a model was trained on), before looking by name or content.
            Defaults to `None`.

    Raises:
        DataError: the path is missing or unreadable, a column is missing, no text is left,
            or the labels cannot train a classifier.
    """
    path = Path(path).expanduser()
    if not path.exists():
        raise DataError(f"No such file or folder: {path}. Pass a CSV/TSV/JSONL file with text and label "
                        "columns, an aclImdb-style folder (pos/, neg/), or `imdb`.")
    if path.is_dir():
        data = _read_class_folders(path, encoding)
    elif is_labelled_file(path):
        head = _head(path, encoding, [text_col, label_col, *(preferred or ())], "train on")
        if preferred is not None:
            text_col = text_col or (preferred[0] if preferred[0] in head.columns else None)
            label_col = label_col or (preferred[1] if preferred[1] in head.columns else None)
        try:
            chosen = _choose_columns(path, head, text_col, label_col)
        except DataError:
            if head.complete:
                raise
            head = read_table(path, encoding)  # no column in the first rows: perhaps in all of them
            chosen = _choose_columns(path, head, text_col, label_col)
        data = _from_table(path, head, *chosen, encoding)
    else:
        raise DataError(f"{path.name}: unknown file type. Text classification reads .csv, .tsv, .jsonl "
                        "(optionally .gz) or a folder of class folders (pos/, neg/).")
    check_labels(data, require_labels)
    return data


def read_texts(path: str | Path, text_col: str | None = None, preferred: str | None = None,
               encoding: str | None = None) -> list[str]:
    """Texts to classify: a CSV/TSV/JSONL's text column, or any other file's non-empty lines.

    Args:
        path: the file; `-` reads standard input (one text per line).
        text_col: the text column of a table. Defaults to `None` (found by name or content).
        preferred: a column name to use when the table has it (the one a model was
            trained on). Defaults to `None`.
        encoding: the file encoding; `None` reads strict UTF-8. Defaults to `None`.
    """
    import sys

    if str(path) == "-":
        return _lines(decode_bytes(sys.stdin.buffer.read(), "standard input", encoding))
    path = Path(path).expanduser()
    if not path.is_file():
        raise DataError(f"No such file: {path}. Pass a text file with one text per line, or a CSV/TSV/JSONL.")
    if not is_labelled_file(path):
        return _lines(decode_file(path, encoding))
    head = _head(path, encoding, [text_col, preferred], "classify")
    if text_col is None and preferred in head.columns:
        text_col = preferred
    try:
        column = _choose_column(path, head, text_col, "text", exclude=None)
    except DataError:
        if head.complete:
            raise
        head = read_table(path, encoding, purpose="classify")
        column = _choose_column(path, head, text_col, "text", exclude=None)
    return [cell(value) for (texts,) in _column_batches(path, head, [column], encoding, "classify") for value in texts]


def _head(path: Path, encoding: str | None, named: list[str | None], purpose: str) -> Table:
    """The first rows, to choose the columns by; the whole file when a JSONL names a column
    only after them."""
    head = read_table(path, encoding, purpose=purpose, head=DECISION_ROWS)
    if not head.complete and any(name is not None and name not in head.columns for name in named):
        head = read_table(path, encoding, purpose=purpose)
    return head


def _column_batches(path: Path, head: Table, columns: list[str], encoding: str | None, purpose: str):
    """The cells of `columns`, batch by batch: from `head` when it holds every row, else
    streamed from the file."""
    if head.complete:
        yield [[row.get(column) for row in head.rows] for column in columns]
        return
    with closing(TableReader(path, encoding, purpose)) as reader:
        yield from reader.column_batches(columns)


def _lines(text: str) -> list[str]:
    """One text per line; blank lines separate nothing and are skipped."""
    return [line for line in text.split("\n") if line.strip()]


def check_labels(data: LabelledTexts, require_two: bool = True) -> None:
    if not data.texts:
        reason = f" ({data.dropped} rows had an empty text or label)" if data.dropped else ""
        raise DataError(f"{data.name} has no labelled texts{reason}. Check the file and --text-col/--label-col.")
    classes = data.classes
    column = f"label column '{data.columns[1]}'" if data.columns else "the data"
    if require_two and len(classes) < 2:
        raise DataError(f"{column} of {data.name} has a single class ({classes[0]!r}); a classifier needs at least "
                        "two. Check --label-col or add examples of the other classes.")
    if len(classes) > MAX_CLASSES or (len(classes) > 50 and len(classes) > len(data.texts) // 2):
        raise DataError(f"{column} of {data.name} has {len(classes)} distinct values in {len(data.texts)} rows: it looks "
                        "like free text or an id, not a label. Pass --label-col with the label column.")


def stratified_split(labels: list[str], fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """Indices `(train, validation)`: `fraction` of each class, drawn at random with `seed`.

    Files are often sorted by label, so taking the end would validate on one class only.
    """
    import random

    rng = random.Random(seed)
    by_class: dict[str, list[int]] = {}
    for index, label in enumerate(labels):
        by_class.setdefault(label, []).append(index)
    train, validation = [], []
    for label in sorted(by_class):
        indices = by_class[label]
        rng.shuffle(indices)
        count = round(len(indices) * fraction) if len(indices) > 1 else 0
        validation.extend(indices[:count])
        train.extend(indices[count:])
    return sorted(train), sorted(validation)


def _choose_columns(path: Path, head: Table, text_col: str | None, label_col: str | None) -> tuple[str, str, list[str]]:
    """The text and label columns, chosen on the first rows, and the note that says how."""
    given_text, given_label = text_col is not None, label_col is not None
    text_col = _choose_column(path, head, text_col, "text", exclude=label_col)
    label_col = _choose_column(path, head, label_col, "label", exclude=text_col)
    if text_col == label_col:
        raise DataError(f"--text-col and --label-col both name '{text_col}' in {path.name}. Name two different columns.")
    guessed = [f"{role} column '{name}'" for role, name, given, names in
               (("text", text_col, given_text, TEXT_NAMES), ("label", label_col, given_label, LABEL_NAMES))
               if not given and name.lower() not in names]
    notes = [f"Using the {' and '.join(guessed)} of {path.name} (found by content); pass --text-col/--label-col "
             "to choose others."] if guessed else []
    return text_col, label_col, notes


def _from_table(path: Path, head: Table, text_col: str, label_col: str, notes: list[str],
                encoding: str | None) -> LabelledTexts:
    """The texts and labels of a table whose first rows are `head` (all of them, or the rest
    streamed from `path`)."""
    texts, labels, dropped = [], [], 0
    for text_cells, label_cells in _column_batches(path, head, [text_col, label_col], encoding, "train on"):
        for text, label in zip(text_cells, label_cells):
            text, label = cell(text), cell(label)
            if not text.strip() or not label:
                dropped += 1
                continue
            texts.append(text)
            labels.append(label)
    return LabelledTexts(path.name, texts, normalize_labels(labels), dropped, columns=(text_col, label_col), notes=notes)


def normalize_labels(labels: list[str]) -> list[str]:
    """One spelling per label: `1.0` and `1` are the same class, and so are `True` and `true`."""
    lowered = [label.lower() if label.lower() in ("true", "false") else label for label in labels]
    try:
        numbers = [float(label) for label in lowered]
    except ValueError:
        return lowered
    if all(number.is_integer() for number in numbers):
        return [str(int(number)) for number in numbers]
    return lowered


def _choose_column(path: Path, table: Table, named: str | None, role: str, exclude: str | None) -> str:
    found = ", ".join(table.columns) or "none"
    if named is not None:
        if named not in table.columns:
            raise DataError(f"Column '{named}' is not in {path.name}. Columns found: {found}. "
                            f"Pass --{role}-col with one of them.")
        return named
    candidates = [name for name in table.columns if name != exclude]
    names = TEXT_NAMES if role == "text" else LABEL_NAMES
    for wanted in names:
        for name in candidates:
            if name.lower() == wanted:
                return name
    guess = _guess_text_column(table, candidates) if role == "text" else _guess_label_column(table, candidates)
    if guess is None:
        raise DataError(f"Cannot find a {role} column in {path.name}. Columns found: {found}. "
                        f"Pass --{role}-col NAME.")
    return guess


def _guess_text_column(table: Table, candidates: list[str]) -> str | None:
    """The column of longest values that are mostly not numbers and have several words."""
    sample = table.rows[:1000]
    best, best_length = None, 0.0
    for name in candidates:
        values = [cell(row.get(name)) for row in sample]
        words = [value for value in values if len(value.split()) >= 2 and not is_number(value)]
        if len(words) < max(1, len(values) // 2):
            continue
        length = sum(len(value) for value in words) / len(words)
        if length > best_length:
            best, best_length = name, length
    return best


def _guess_label_column(table: Table, candidates: list[str]) -> str | None:
    """The one column with 2 to 50 distinct values that each repeat; several such columns
    are an error, since picking one would be a guess."""
    found = []
    for name in candidates:
        distinct: set[str] = set()
        for row in table.rows:
            value = cell(row.get(name))
            if value:
                distinct.add(value)
                if len(distinct) > 50:
                    break
        if 2 <= len(distinct) <= 50 and len(distinct) <= len(table.rows) // 2:
            found.append(name)
    if len(found) > 1:
        raise DataError(f"Several columns could be the label: {', '.join(found)}. Pass --label-col with the right one.")
    return found[0] if found else None


# -- folders ----------------------------------------------------------------------------------


def _read_class_folders(path: Path, encoding: str | None) -> LabelledTexts:
    base = path / "train" if _class_dirs(path / "train") else path
    classes = _class_dirs(base)
    if len(classes) < 2:
        raise DataError(f"{path} has no class folders: expected pos/ and neg/ (aclImdb layout, also under "
                        "train/), or one folder of .txt files per label.")
    data = _read_classes(path.name, classes, encoding)
    if base != path and len(_class_dirs(path / "test")) >= 2:
        data.test = _read_classes(f"{path.name}/test", _class_dirs(path / "test"), encoding)
    return data


def _class_dirs(path: Path) -> list[Path]:
    if not path.is_dir():
        return []
    return sorted(child for child in path.iterdir()
                  if child.is_dir() and child.name not in SKIPPED_FOLDERS and any(child.glob("*.txt")))


def _read_classes(name: str, classes: list[Path], encoding: str | None) -> LabelledTexts:
    texts, labels, dropped = [], [], 0
    for folder in classes:
        for file in sorted(folder.glob("*.txt")):
            text = decode_file(file, encoding)
            if not text.strip():
                dropped += 1
                continue
            texts.append(text)
            labels.append(folder.name)
    return LabelledTexts(name, texts, labels, dropped)


def _label_order(label: str):
    return (0, float(label), label) if is_number(label) else (1, 0.0, label.lower())
