"""Time series for forecasting: a CSV/TSV/JSONL table (optionally gzipped) or a built-in series.

The time column is found by name (`date`, `time`, `timestamp`, ...) or by content, or named
with `--time-col`. Rows are sorted by time (and the user told), gaps in a regular grid are
inserted, missing values are interpolated by time with a warning that counts them (or are an
error with `--missing error`), and a value that is not a number is an error naming its line.
The season (the number of steps in one cycle) is read from the frequency of the timestamps.
No TensorFlow here; pandas for dates.

A file is read twice, neither time whole: its first rows choose the columns, then only those
are streamed into arrays (timestamps parsed and numbers converted batch by batch), so a
series of millions of rows takes 8 bytes a timestamp and a value, never a table of strings.
Where a batch holds something the fast conversion does not read, the cells are read one by
one as ever, so the messages (the line, the value) stay the same.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass, field
from itertools import product
from pathlib import Path

import numpy as np

from rnnkit.datasets.tables import (JSONL_SUFFIXES, TABLE_SUFFIXES, Table, TableReader, cell, inner_suffix, is_number,
                                    read_table)
from rnnkit.errors import DataError

TIME_NAMES = ("date", "time", "timestamp", "datetime", "ds", "dt", "period", "month", "week", "day", "year",
              "date_time", "datetime_utc", "time_stamp")
FLOAT32_MAX = float(np.finfo(np.float32).max)
MISSING = {"", "na", "n/a", "nan", "null", "none", "#n/a", "nat"}
# The cells that are missing as they stand (no spaces around them), in every case: most missing
# values in a large file are one of these, and are then found without a look at each cell.
_MISSING_CELLS = [None, *("".join(letters) for word in MISSING
                          for letters in product(*({c, c.upper()} for c in word)))]
# The columns to read are chosen from the first rows (time column, numeric columns, targets);
# then only those columns are read from the whole file, without keeping its text.
DECISION_ROWS = 10_000
# Built-in series that statsmodels ships inside its package (offline): name -> where it comes from.
STATSMODELS_SERIES = {
    "co2": "Mauna Loa CO2 (ppmv), weekly 1958-2001 (statsmodels.datasets.co2), missing weeks included.",
    "sunspots": "Yearly sunspot activity 1700-2008 (statsmodels.datasets.sunspots).",
    "nile": "Yearly Nile river flow at Aswan 1871-1970 (statsmodels.datasets.nile).",
}


@dataclass
class Series:
    """A cleaned, regular, time-sorted table of numbers: targets first, then features.

    Args:
        name: what the data is called in messages.
        columns: the value columns, the targets first, then the extra input features.
        num_targets: how many of `columns` are forecast.
        values: `float64[steps, len(columns)]`, no missing values left.
        times: the timestamps (`pandas.DatetimeIndex`), or `None` when the data has no time column.
        time_column: the name of the time column, or `None`.
        step: the time step as `{"freq": alias}`, `{"months": n}` or `{"seconds": s}`; `None`
            without timestamps.
        season: steps per seasonal cycle (12 for monthly data); 1 when there is none.
        seasons: every cycle the time step suggests, shortest first (half-hourly data: a day
            of 48 steps and a week of 336; see `seasons_for`), with `season` among them.
        notes: what was done to the data (sorted, gaps inserted, values interpolated).
        filled: how many missing values were interpolated.
    """

    name: str
    columns: list[str]
    num_targets: int
    values: np.ndarray
    times: object = None
    time_column: str | None = None
    step: dict | None = None
    season: int = 1
    seasons: tuple[int, ...] = (1,)
    notes: list[str] = field(default_factory=list)
    filled: int = 0

    @property
    def targets(self) -> list[str]:
        return self.columns[: self.num_targets]

    @property
    def features(self) -> list[str]:
        return self.columns[self.num_targets:]

    def __len__(self) -> int:
        return len(self.values)

    def future_times(self, horizon: int) -> list[str]:
        """The `horizon` timestamps after the last one, as ISO strings (step numbers without times)."""
        if self.times is None or self.step is None:
            return [str(len(self) + k) for k in range(1, horizon + 1)]
        import pandas as pd

        last = self.times[-1]
        if "freq" in self.step:
            future = pd.date_range(last, periods=horizon + 1, freq=self.step["freq"])[1:]
        elif "months" in self.step:
            future = [last + pd.DateOffset(months=self.step["months"] * k) for k in range(1, horizon + 1)]
        else:
            future = [last + pd.Timedelta(seconds=self.step["seconds"] * k) for k in range(1, horizon + 1)]
        return format_times(pd.DatetimeIndex(future))

    def time_labels(self, rows: slice = slice(None)) -> list[str]:
        """The timestamps as `format_times` writes them (step numbers `1, 2, ...` without
        times); `rows` picks some, as a list slice would, written as they are among all
        (a long series' first and last without writing millions)."""
        if self.times is None:
            return [str(k) for k in range(1, len(self) + 1)[rows]]
        return format_times(self.times[rows], dates=_all_dates(self.times))


def format_times(times, dates: bool | None = None) -> list[str]:
    """ISO dates, or date-times when any timestamp has a time of day (`dates` tells, when
    the timestamps are part of a longer run)."""
    import pandas as pd

    if dates is None:
        dates = _all_dates(times)
    stamps = pd.DatetimeIndex(times)
    plain = len(stamps) and stamps.tz is None and not stamps.hasnans
    if plain and 1000 <= stamps.min().year and stamps.max().year <= 9999:
        # The same strings as the loops below, for a long series in a fraction of the time.
        values = stamps.values
        if dates:
            return np.datetime_as_string(values, unit="D").tolist()
        if (values.astype("datetime64[s]") == values).all():
            return np.datetime_as_string(values, unit="s").tolist()
    if dates:
        return [t.strftime("%Y-%m-%d") for t in times]
    return [t.isoformat() for t in times]


def _all_dates(times) -> bool:
    """Whether no timestamp has a time of day (in whole seconds)."""
    import pandas as pd

    stamps = pd.DatetimeIndex(times)
    if stamps.tz is None and not stamps.hasnans:
        seconds = stamps.values.astype("datetime64[s]")
        return bool((seconds == seconds.astype("datetime64[D]")).all())
    return all(t.hour == 0 and t.minute == 0 and t.second == 0 for t in times)


@dataclass
class SeriesLayout:
    """How a table's first rows look as a series, for task inference: never an error.

    Args:
        time_column: the column of dates, found by content or by a time-like name; `None` when none.
        dates_parse: the time column's dates read in one format (a time-like name whose dates
            do not is still the time column: its bad line is reported when the series is read).
        numeric: the other columns of numbers.
        empty: the other columns with no value in those rows.
        other: the remaining columns (text, categories).
    """

    time_column: str | None
    dates_parse: bool
    numeric: list[str]
    empty: list[str]
    other: list[str]

    @property
    def is_series(self) -> bool:
        """A time column whose dates parse and only numbers beside it."""
        return self.time_column is not None and self.dates_parse and bool(self.numeric) and not (self.empty or self.other)

    def describe(self) -> str:
        parts = [f"time column '{self.time_column}'" + ("" if self.dates_parse else " (dates in mixed formats)")]
        for label, columns in (("numeric", self.numeric), ("empty", self.empty), ("other", self.other)):
            if columns:
                parts.append(f"{label} column{'s' if len(columns) > 1 else ''} {', '.join(columns)}")
        return "a " + ", ".join(parts)


def series_layout(path: Path, encoding: str | None = None) -> SeriesLayout | None:
    """The layout of a CSV/TSV/JSONL file's first 50 rows; `None` for another file, one that
    cannot be read, or a table with no time column."""
    if not path.is_file():
        return None
    suffix = inner_suffix(path)
    if suffix not in TABLE_SUFFIXES and suffix not in JSONL_SUFFIXES:
        return None
    try:
        table = read_table(path, encoding, head=50)
    except DataError:
        return None
    if not table.rows:
        return None
    time_column, dates_parse = _find_time_column(table, None, strict=False), True
    if time_column is None:
        named = [c for c in table.columns if c.strip().lower() in TIME_NAMES and not _is_numeric_column(table, c)
                 and any(cell(row.get(c)).lower() not in MISSING for row in table.rows)]
        if not named:
            return None
        time_column, dates_parse = named[0], False
    others = [column for column in table.columns if column != time_column]
    empty = [c for c in others if all(cell(row.get(c)).lower() in MISSING for row in table.rows)]
    numeric = [c for c in _numeric_columns(table, exclude={time_column}) if c not in empty]
    other = [c for c in others if c not in numeric and c not in empty]
    return SeriesLayout(time_column, dates_parse, numeric, empty, other)


def is_series_file(path: Path, encoding: str | None = None) -> bool:
    """Whether a table has a time column and only numeric columns beside it (so it is for
    forecasting). Looks at the first 50 rows; never raises for content it cannot read."""
    layout = series_layout(path, encoding)
    return layout is not None and layout.is_series


def open_series(path: str | Path, target: list[str] | None = None, time_col: str | None = None,
                features: list[str] | None = None, encoding: str | None = None, missing: str = "interpolate",
                season: int | None = None, purpose: str = "train on") -> Series:
    """Read a series from a file or a built-in name (`co2`, `sunspots`, `nile`)."""
    if str(path) in STATSMODELS_SERIES:
        table, name = _statsmodels_table(str(path)), str(path)
        if not table.rows:
            raise DataError(f"{name} has a header but no rows: there is nothing to {purpose}.")
        return series_from_table(name, table, target, time_col, features, missing, season)
    path = Path(path).expanduser()
    if not path.exists():
        raise DataError(f"No such file: {path}. Pass a CSV/TSV/JSONL with a time column and numeric columns.")
    if path.is_dir():
        raise DataError(f"{path} is a folder. Forecasting reads one CSV/TSV/JSONL file with a time column.")
    suffix = inner_suffix(path)
    if suffix not in TABLE_SUFFIXES and suffix not in JSONL_SUFFIXES:
        raise DataError(f"{path.name} is not a .csv, .tsv or .jsonl file. Forecasting reads a table with a time "
                        "column and numeric columns.")
    head = read_table(path, encoding, purpose=purpose, head=DECISION_ROWS)
    named = [*(target or []), *(features or []), *([time_col] if time_col else [])]
    if not head.complete and any(column not in head.columns for column in named):
        head = read_table(path, encoding, purpose=purpose)  # JSONL keys first met after the first rows
    if not head.rows:
        raise DataError(f"{path.name} has a header but no rows: there is nothing to {purpose}.")
    source = _table_source(head) if head.complete else _file_source(path, encoding, purpose)
    try:
        return _series(path.name, head, source, target, time_col, features, missing, season)
    except _HeadTooShort:
        head = read_table(path, encoding, purpose=purpose)
        return _series(path.name, head, _table_source(head), target, time_col, features, missing, season)


class _HeadTooShort(Exception):
    """The first rows cannot choose the columns: the whole file is read to choose them."""


def series_from_table(name: str, table: Table, target: list[str] | None, time_col: str | None,
                      features: list[str] | None, missing: str = "interpolate", season: int | None = None) -> Series:
    """A series from a table held in memory (a DataFrame's, a built-in series')."""
    return _series(name, table, _table_source(table), target, time_col, features, missing, season)


# Where the columns' cells come from: `source(columns)` yields batches of rows, each one list
# of cells per column asked for; it can be read again (the slow paths re-read one column).
ColumnSource = Callable[[list[str]], Iterator[list[list]]]


def _table_source(table: Table) -> ColumnSource:
    return lambda columns: iter([[[row.get(column) for row in table.rows] for column in columns]])


def _file_source(path: Path, encoding: str | None, purpose: str) -> ColumnSource:
    def read(columns: list[str]) -> Iterator[list[list]]:
        with closing(TableReader(path, encoding, purpose)) as reader:
            yield from reader.column_batches(columns)

    return read


def _series(name: str, head: Table, source: ColumnSource, target: list[str] | None, time_col: str | None,
            features: list[str] | None, missing: str, season: int | None) -> Series:
    """The series: its columns chosen on `head` (the first rows, or all of them), its values
    read from `source`."""
    import pandas as pd

    time_column = _find_time_column(head, time_col, strict=True, name=name, source=source)
    notes: list[str] = []
    unread = [c for c in head.columns if time_column is None and c.strip().lower() in TIME_NAMES]
    if unread:
        notes.append(f"{name}: '{unread[0]}' holds numbers that are not dates (years or YYYYMMDD); the rows are used "
                     "as equally spaced steps in file order. Convert them to dates to have them read.")
    numeric = _numeric_columns(head, exclude={time_column, *unread})
    if not numeric and not target:
        others = [c for c in head.columns if c != time_column]
        empty = [c for c in others if all(cell(row.get(c)).lower() in MISSING for row in head.rows)]
        if empty and not head.complete:
            raise _HeadTooShort  # a column empty in the first rows may hold numbers after them
        raise DataError(f"{name} has no numeric column to forecast (columns: {', '.join(others) or 'none'}"
                        f"{'; empty: ' + ', '.join(empty) if empty else ''}). Add a column of numbers, or check "
                        "the delimiter.")
    targets = _choose_targets(name, head, target, numeric, time_column)
    features = list(features or [])
    for column in features:
        _require_column(name, head, column, "--features")
        if column == time_column or column in targets:
            raise DataError(f"--features {column} is also the {'time column' if column == time_column else 'target'}. "
                            "Pass each column once.")
    columns = targets + [c for c in dict.fromkeys(features)]
    values, times = _read_columns(name, source, time_column, columns, head.first_line)
    if time_column is not None:
        if times is None:  # the batches did not read as one format: the whole column, as it always was read
            times = _parse_times(name, _column_cells(source, time_column), time_column, head.first_line)
        stamps, order = times.values, None
        if len(stamps) > 1 and not (stamps[1:] >= stamps[:-1]).all():
            order = np.argsort(stamps, kind="stable")
            notes.append(f"{name}: rows were not in time order; sorted them by '{time_column}'.")
            times, values = times[order], values[order]
        _reject_duplicates(name, times, order, time_column, head.first_line)
    for index, column in enumerate(columns):
        if np.all(np.isnan(values[:, index])):
            role = "target" if index < len(targets) else "feature"
            raise DataError(f"{name}: the {role} column '{column}' has no values (every row is empty or NA). "
                            f"Pick another {'--target' if role == 'target' else '--features'}.")
    step = None
    if times is not None and len(times) >= 2:
        step, grid = _regular_step(times)
        if grid is None:
            notes.append(f"{name}: the timestamps are irregular (steps of {_describe_gaps(times)}); the rows are used "
                         "as equally spaced steps.")
        elif len(grid) > len(times):
            absent = grid[~grid.isin(times)]
            if missing == "error":
                raise DataError(f"{name} has no row for {len(absent)} timestamp(s) of its regular "
                                f"{_describe_step(step)} grid (the first: {format_times(absent[:1])[0]}). Add those "
                                "rows, or drop --missing error to have them interpolated.")
            frame = pd.DataFrame(values, index=times).reindex(grid)
            times, values = grid, frame.to_numpy(dtype=np.float64)
            notes.append(f"{name}: {len(absent)} timestamp(s) missing from the regular {_describe_step(step)} grid "
                         f"(the first: {format_times(absent[:1])[0]}) were inserted as missing values.")
    if missing == "error" and np.isnan(values).any():
        row, column = (int(i) for i in np.argwhere(np.isnan(values))[0])
        at = format_times(times[row:row + 1])[0] if times is not None else f"row {row + 1}"
        raise DataError(f"{name} has {int(np.isnan(values).sum())} missing value(s) (the first: column "
                        f"'{columns[column]}' at {at}). Fill them in, or drop --missing error to interpolate them.")
    values, times, trimmed = _trim_missing_ends(values, times)
    if trimmed:
        notes.append(f"{name}: dropped {trimmed} row(s) at the start or end with missing values (nothing to "
                     "interpolate them from).")
    values, counts = _fill_missing(values, times, columns)
    filled = sum(counts)
    if filled:
        shown = ", ".join(f"{n} in '{c}'" for c, n in zip(columns, counts) if n)
        how = "by time" if times is not None else "linearly"
        notes.append(f"{name}: interpolated {filled} missing value(s) {how} ({shown}). "
                     "Pass --missing error to stop instead.")
    candidates = seasons_for(step, times) if season is None else (season,)  # --season replaces them
    series = Series(name=name, columns=columns, num_targets=len(targets), values=values, times=times,
                    time_column=time_column, step=step, season=candidates[0], seasons=candidates, notes=notes,
                    filled=filled)
    return series


# -- reading the columns ---------------------------------------------------------------------


def _read_columns(name: str, source: ColumnSource, time_column: str | None, columns: list[str], first_line: int):
    """`float64[rows, len(columns)]` and the timestamps (`None` when they must be read whole),
    batch by batch. A cell that is not a number is an error at the first such line (then the
    first such column), as when every row was read first."""
    wanted = ([time_column] if time_column is not None else []) + columns
    parts: list[list[np.ndarray]] = [[] for _ in columns]
    times = _BatchedTimes() if time_column is not None else None
    line = first_line
    for batch in source(wanted):
        if times is not None:
            times.add(batch[0])
            batch = batch[1:]
        converted = [_numbers(name, cells, column, line) for cells, column in zip(batch, columns)]
        bad = [(index, k) for k, (_, index) in enumerate(converted) if index is not None]
        if bad:
            index, k = min(bad)
            _number(name, batch[k][index], columns[k], line + index)  # raises, naming the line and value
        for part, (numbers, _) in zip(parts, converted):
            part.append(numbers)
        line += len(batch[0])
    values = np.empty((sum(map(len, parts[0])), len(columns)))
    for index, part in enumerate(parts):
        if part:
            np.concatenate(part, out=values[:, index])
        part.clear()  # one column's batches at a time beside the result, not all of them
    return values, (times.result() if times is not None else None)


def _numbers(name: str, cells: list, column: str, line: int) -> tuple[np.ndarray, int | None]:
    """The cells as float64 (missing ones NaN) and the index of the first that is not a number
    (`None` when all are): the batch at once where it can be, each cell by `_number` where not."""
    import pandas as pd

    objects = np.fromiter(cells, dtype=object, count=len(cells))
    try:
        numbers = objects.astype(np.float64)  # float() of each cell, as `_number` reads it
        if _in_range(numbers):
            return numbers, None
    except (ValueError, TypeError, OverflowError):
        pass
    try:
        missing = pd.Series(objects, dtype=object).isin(_MISSING_CELLS).to_numpy()
        present = objects[~missing].astype(np.float64)
        if _in_range(present):
            numbers = np.full(len(cells), np.nan)
            numbers[~missing] = present
            return numbers, None
    except (ValueError, TypeError, OverflowError):
        pass
    numbers = np.empty(len(cells))
    for index, value in enumerate(cells):
        try:
            numbers[index] = _number(name, value, column, line + index)
        except DataError:
            return numbers, index
    return numbers, None


def _in_range(numbers: np.ndarray) -> bool:
    # False for NaN and infinities too: those cells need `_number`'s look (missing, or an error).
    return bool((np.abs(numbers) <= FLOAT32_MAX).all())


class _BatchedTimes:
    """Timestamps parsed batch by batch, exactly as `_parse_times` parses a whole column, or
    `None` from `result()` when it cannot tell (the whole column is then read at once).

    `_parse_times` reads a column with the first of four readings (month or day first, local
    or UTC time) under which every value parses, the date format guessed from the first value.
    The first batch picks the reading; a later batch that it cannot read sends the column to
    `_parse_times` (an error, or a reading that only the whole column shows), and one with
    another UTC offset turns the reading into UTC, as it would have been for the whole column.
    """

    def __init__(self):
        self.parts: list = []
        self.options: dict | None = None  # to_datetime's format and dayfirst, chosen on the first batch
        self.utc = False
        self.failed = False

    def add(self, cells: list) -> None:
        if self.failed:
            return
        try:
            values = list(map(str.strip, cells))
        except TypeError:  # JSONL values, or missing fields
            values = [cell(value) for value in cells]
        if self.options is None:
            self.options, parsed = self._choose(values)
        else:
            parsed = self._parse(values, **self.options)
        if parsed is None:
            self.failed, self.parts = True, []
            return
        index, utc = parsed
        self.parts.append(index)
        self.utc = self.utc or utc

    def result(self):
        import pandas as pd

        if self.failed or not self.parts:
            return None
        parts = self.parts
        if self.utc or any(part.tz != parts[0].tz for part in parts):
            parts = [part.tz_convert("UTC") if part.tz is not None else part.tz_localize("UTC") for part in parts]
        values = np.concatenate([(part.tz_localize(None) if part.tz is not None else part).values for part in parts])
        self.parts = parts = []
        return pd.DatetimeIndex(values)

    def _choose(self, values: list[str]):
        """The options that read the first batch, and what they read; `(None, None)` when none do."""
        import warnings

        from pandas.tseries.api import guess_datetime_format

        first = values[0] if values else ""
        # A missing first time and numbers (years, YYYYMMDD) are read the one way that names
        # the line or reads them all; pandas guesses no format from "now" but from the next.
        if first.lower() in MISSING or first.lower() in ("now", "today") or is_number(first):
            return None, None
        for dayfirst in (False, True):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                guessed = guess_datetime_format(first, dayfirst=dayfirst)
            # No format guessed: pandas reads each value its own way, which "mixed" asks for.
            options = {"format": guessed or "mixed", "dayfirst": dayfirst}
            parsed = self._parse(values, **options)
            if parsed is not None:
                return options, parsed
        return None, None

    @staticmethod
    def _parse(values: list[str], format: str, dayfirst: bool):
        """`(DatetimeIndex, whether read in UTC)`, or `None` when a value does not parse."""
        import warnings

        import pandas as pd

        series = pd.Series(values, dtype=object)
        utc = False
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                parsed = pd.to_datetime(series, errors="coerce", format=format, dayfirst=dayfirst)
            except (ValueError, TypeError, OverflowError):
                try:  # several UTC offsets: the whole column is read in UTC
                    parsed = pd.to_datetime(series, errors="coerce", format=format, dayfirst=dayfirst, utc=True)
                    utc = True
                except (ValueError, TypeError, OverflowError):
                    return None
        if parsed.isna().any():
            return None
        return pd.DatetimeIndex(parsed), utc


def _column_cells(source: ColumnSource, column: str) -> list[str]:
    return [cell(value) for batch in source([column]) for value in batch[0]]


# -- columns --------------------------------------------------------------------------------


def _find_time_column(table: Table, named: str | None, strict: bool, name: str = "",
                      source: ColumnSource | None = None) -> str | None:
    if named is not None:
        _require_column(name, table, named, "--time-col")
        return named
    by_name = [c for c in table.columns if c.strip().lower() in TIME_NAMES]
    for column in by_name:
        if _parses_as_time(table, column):
            return column
    for column in table.columns:
        if column in by_name or _is_numeric_column(table, column):
            continue
        if _parses_as_time(table, column):
            return column
    if by_name and strict:
        column = by_name[0]
        if not _is_numeric_column(table, column):
            cells = _column_cells(source or _table_source(table), column)
            _parse_times(name, cells, column, table.first_line)  # raises, naming the line that does not parse
            return column
    return None


def _parses_as_time(table: Table, column: str) -> bool:
    import pandas as pd

    sample = [cell(row.get(column)) for row in table.rows[:200]]
    sample = [value for value in sample if value.lower() not in MISSING]
    if not sample:
        return False
    if all(is_number(value) for value in sample):
        # Whole years (1949) or YYYYMMDD (20200131) are a time column only under a time-like name.
        return column.strip().lower() in TIME_NAMES and _numeric_times(sample) is not None
    return _to_datetime(pd, sample) is not None


def _numeric_times(values: list[str]) -> list[str] | None:
    """Whole years or YYYYMMDD numbers as date strings; `None` for other numbers."""
    if not all(float(value).is_integer() for value in values):
        return None
    numbers = [int(float(value)) for value in values]
    if all(1000 <= n <= 3000 for n in numbers):
        return [str(n) for n in numbers]
    if all(10000101 <= n <= 30001231 for n in numbers):
        return [f"{n // 10000:04d}-{n // 100 % 100:02d}-{n % 100:02d}" for n in numbers]
    return None


def _to_datetime(pd, values: list[str], **options):
    """Parse with one inferred format (then day-first); `None` when some value does not parse.
    Times with UTC offsets are converted to UTC (an offset that changes at daylight saving
    time would otherwise leave them unparsed)."""
    import warnings

    for dayfirst in (False, True):
        for utc in (False, True):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                try:
                    parsed = pd.to_datetime(pd.Series(values, dtype=object), errors="coerce", dayfirst=dayfirst,
                                            utc=utc, **options)
                except (ValueError, TypeError, OverflowError):
                    continue
            if not parsed.isna().any():
                return parsed
    return None


def _parse_times(name: str, raw: list[str], column: str, first_line: int):
    """The time column's cells (`raw`, stripped) as a `DatetimeIndex`, or the error that names
    the first line that does not read."""
    import pandas as pd

    for index, value in enumerate(raw):
        if value.lower() in MISSING:
            raise DataError(f"{name} line {index + first_line}: the time column '{column}' is empty. Fill it in or "
                            "remove the row.")
    values = raw
    if all(is_number(value) for value in raw):
        values = _numeric_times(raw)
        if values is None:
            raise DataError(f"{name} line {first_line}: '{raw[0]}' in the time column '{column}' is a number, neither "
                        "years nor YYYYMMDD dates (Unix seconds are not read). Convert them to dates (e.g. "
                        "2020-01-31), or drop --time-col to use the rows as equally spaced steps.")
    parsed = _to_datetime(pd, values)
    if parsed is None:
        for index, value in enumerate(values):
            if _to_datetime(pd, [value], format="mixed") is None:
                raise DataError(f"{name} line {index + first_line}: '{raw[index]}' in the time column '{column}' is not "
                                "a date or time. Fix that value, or name the right column with --time-col.")
        # Every value is a date, but not in one format: reading them each its own way would take
        # 01/06/1952 as January after 1952-03-01 rows, and re-sort the series in silence.
        index = _first_mismatch(pd, values)
        raise DataError(f"{name} line {index + first_line}: '{raw[index]}' in the time column '{column}' is not "
                        f"written like the dates before it (e.g. '{raw[0]}'). Write every date the same way "
                        "(e.g. 2020-01-31).")
    index = pd.DatetimeIndex(parsed)
    if index.tz is not None:
        index = index.tz_localize(None)  # the wall-clock time the file shows (UTC for mixed offsets)
    return index


def _first_mismatch(pd, values: list[str]) -> int:
    """The first value that the best single-format reading of `values` cannot read."""
    import warnings

    best = None
    for dayfirst in (False, True):
        for utc in (False, True):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                try:
                    parsed = pd.to_datetime(pd.Series(values, dtype=object), errors="coerce", dayfirst=dayfirst, utc=utc)
                except (ValueError, TypeError, OverflowError):
                    continue
            misses = parsed.isna().to_numpy()
            if best is None or misses.sum() < best.sum():
                best = misses
    return int(np.flatnonzero(best)[0]) if best is not None and best.any() else 0


def _reject_duplicates(name: str, times, order: np.ndarray | None, column: str, first_line: int) -> None:
    """An error naming the lines of the first time that repeats; `order` is the file's row of
    each (sorted) time, `None` when the file was in order."""
    stamps = times.values  # sorted: a time that repeats repeats in the next row
    if not (stamps[1:] == stamps[:-1]).any():
        return
    if order is None:
        order = np.arange(len(stamps))
    duplicated = times.duplicated()
    if duplicated.any():
        at = int(np.flatnonzero(duplicated)[0])
        lines = sorted(int(order[i]) + first_line for i in np.flatnonzero(times == times[at]))
        shown = format_times(times[at:at + 1])[0]
        raise DataError(f"{name}: the time '{shown}' appears {len(lines)} times in '{column}' (lines "
                        f"{', '.join(map(str, lines[:5]))}). Keep one row per timestamp (aggregate them first).")


def _numeric_columns(table: Table, exclude: set) -> list[str]:
    return [c for c in table.columns if c not in exclude and _is_numeric_column(table, c)]


def _is_numeric_column(table: Table, column: str) -> bool:
    values = [cell(row.get(column)) for row in table.rows]
    present = [value for value in values if value.lower() not in MISSING]
    # Mostly numbers is a numeric column with a typo, which is then reported by its line.
    return bool(present) and sum(is_number(value) for value in present) >= 0.8 * len(present)


def _choose_targets(name: str, table: Table, target: list[str] | None, numeric: list[str],
                    time_column: str | None) -> list[str]:
    if target:
        for column in target:
            _require_column(name, table, column, "--target")
            if column == time_column:
                raise DataError(f"--target {column} is the time column of {name}. Pass a column of values; "
                                f"numeric columns: {', '.join(numeric)}.")
        if len(set(target)) != len(target):
            raise DataError(f"--target names a column twice: {','.join(target)}.")
        return list(target)
    if len(numeric) == 1:
        return numeric
    raise DataError(f"{name} has several numeric columns ({', '.join(numeric)}). Pass --target COL "
                    "(or --target a,b to forecast several).")


def _require_column(name: str, table: Table, column: str, option: str) -> None:
    if column not in table.columns:
        raise DataError(f"{option} '{column}' is not a column of {name}. Its columns: {', '.join(table.columns)}.")


def _number(name: str, value, column: str, line: int) -> float:
    if isinstance(value, bool):  # a JSONL true/false, e.g. a holiday flag
        return float(value)
    text = cell(value)
    if text.lower() in MISSING:
        return np.nan
    try:
        number = float(text)
    except ValueError:
        raise DataError(f"{name} line {line}: '{text[:40]}' in column '{column}' is not a number. Fix it, "
                        "or leave it empty to have it interpolated.") from None
    if not np.isfinite(number):
        raise DataError(f"{name} line {line}: '{text}' in column '{column}' is not a finite number.")
    if abs(number) > FLOAT32_MAX:
        raise DataError(f"{name} line {line}: '{text}' in column '{column}' is beyond float32's range (±3.4e38), "
                        "which the model computes in. Rescale the column (e.g. to thousands) or fix the value.")
    return number


# -- regularity, gaps and season -------------------------------------------------------------


def _regular_step(times):
    """The time step, and the regular grid from the first to the last timestamp (`None` if the
    timestamps do not lie on one)."""
    import pandas as pd

    if len(times) >= 3:
        freq = pd.infer_freq(times)
        if freq is not None:
            return {"freq": freq}, times
    median = float(np.median(_steps_in_seconds(times), overwrite_input=True))
    days = median / 86400
    candidates = []
    if 0.9 <= days <= 1.1 and not (times.dayofweek >= 5).any():
        candidates.append({"freq": "B"})  # business days with holidays
    if 27 <= days <= 32 or 88 <= days <= 93 or 360 <= days <= 367:
        months = 1 if days <= 32 else 3 if days <= 93 else 12
        if (times.day == 1).all():
            candidates.append({"freq": {1: "MS", 3: "QS", 12: "YS"}[months] + ("" if months == 1 else f"-{_month_code(times[0])}")})
        if times.is_month_end.all():
            candidates.append({"freq": {1: "ME", 3: "QE", 12: "YE"}[months] + ("" if months == 1 else f"-{_month_code(times[0])}")})
        candidates.append({"months": months})
    candidates.append({"seconds": int(round(median))})
    for step in candidates:
        grid = _grid(times, step)
        if grid is not None and len(grid) <= 2 * len(times) and times.isin(grid).all():
            return step, grid
    return candidates[-1], None


def _steps_in_seconds(times) -> np.ndarray:
    """The steps between sorted timestamps in whole seconds (`int64`), in one array the size
    of the series (not three)."""
    steps = np.diff(times.asi8)
    unit, count = np.datetime_data(times.values.dtype)
    steps //= int(np.timedelta64(1, "s") // np.timedelta64(count, unit))  # >= 0: as astype's truncation
    return steps


def _month_code(timestamp) -> str:
    return timestamp.strftime("%b").upper()


def _grid(times, step: dict):
    import pandas as pd

    try:
        if "freq" in step:
            return pd.date_range(times[0], times[-1], freq=step["freq"])
        if "months" in step:
            count = (times[-1].year - times[0].year) * 12 + times[-1].month - times[0].month
            return pd.DatetimeIndex([times[0] + pd.DateOffset(months=k) for k in range(0, count + 1, step["months"])])
        seconds = step["seconds"]
        if seconds <= 0:
            return None
        span = (times[-1] - times[0]).total_seconds()
        if span / seconds > 10 * len(times):
            return None
        return pd.date_range(times[0], times[-1], freq=pd.Timedelta(seconds=seconds))
    except (ValueError, OverflowError):
        return None


def seasons_for(step: dict | None, times) -> tuple[int, ...]:
    """The cycles a time step suggests, shortest first: `season_for`'s, and for data finer
    than a day the week too (hourly: 24 and 168; half-hourly: 48 and 336), for daily data the
    year (7 and 365). Which of them the data shows is for the forecaster to check."""
    season = season_for(step, times)
    if season <= 1 or step is None or times is None:
        return (season,)
    days = float(np.median(_steps_in_seconds(times), overwrite_input=True)) / 86400
    if season == 7 and 0.9 <= days <= 1.1:
        return (7, 365)
    if days < 1 and abs(season * days - 1) < 0.05:
        return (season, season * 7)  # the day's steps, and the week's
    return (season,)


def season_for(step: dict | None, times) -> int:
    """Steps per cycle: monthly 12, quarterly 4, weekly 52, daily 7 (5 on business days),
    hourly 24, half-hourly 48, ...; yearly and unknown 1."""
    if step is None or times is None or len(times) < 2:
        return 1
    seconds = float(np.median(_steps_in_seconds(times), overwrite_input=True))
    days = seconds / 86400
    if days >= 360:
        return 1
    if 88 <= days <= 93:
        return 4
    if 27 <= days <= 32:
        return 12
    if 6.5 <= days <= 7.5:
        return 52
    if 0.9 <= days <= 1.1:
        weekends = any(t.dayofweek >= 5 for t in times[:100])
        return 7 if weekends else 5
    if seconds <= 0 or days > 1:
        return 1
    per_day = round(86400 / seconds)
    if per_day <= 1000:
        return max(per_day, 1)
    per_hour = round(3600 / seconds)
    return per_hour if per_hour <= 1000 else 60


def _describe_step(step: dict) -> str:
    if "freq" in step:
        return f"'{step['freq']}'"
    if "months" in step:
        return f"{step['months']}-month"
    return _seconds(step["seconds"]).replace("1 days", "daily").replace("1 hours", "hourly")


def _describe_gaps(times) -> str:
    deltas = _steps_in_seconds(times)
    low, high = int(deltas.min()), int(deltas.max())
    return f"{_seconds(low)} to {_seconds(high)}"


def _seconds(value: int) -> str:
    for unit, size in (("days", 86400), ("hours", 3600), ("minutes", 60)):
        if value >= size:
            return f"{value / size:g} {unit}"
    return f"{value} s"


# -- missing values --------------------------------------------------------------------------


def _trim_missing_ends(values: np.ndarray, times):
    """Drop the leading and trailing rows with a missing value: interpolation would only copy
    the nearest value into them (and a forecast must start after the last real row)."""
    complete = ~np.isnan(values).any(axis=1)
    if not complete.any():
        return values, times, 0
    first, last = int(complete.argmax()), len(complete) - int(complete[::-1].argmax())
    trimmed = len(values) - (last - first)
    if not trimmed:
        return values, times, 0
    return values[first:last], (times[first:last] if times is not None else None), trimmed


def _fill_missing(values: np.ndarray, times, columns: list[str]):
    holes = np.isnan(values)
    if not holes.any():
        return values, [0] * len(columns)
    import pandas as pd

    frame = pd.DataFrame(values, index=times if times is not None else None)
    method = "time" if times is not None else "linear"
    filled = frame.interpolate(method=method, limit_area="inside").to_numpy(dtype=np.float64)
    return filled, [int(n) for n in holes.sum(axis=0)]


# -- built-in series --------------------------------------------------------------------------


def _statsmodels_table(name: str) -> Table:
    try:
        import statsmodels.api as sm
    except ImportError:
        raise DataError(f"The built-in series '{name}' comes with statsmodels, which is not installed. "
                        "Run `pip install statsmodels`, or pass a CSV file.") from None
    if name == "co2":
        frame = sm.datasets.co2.load_pandas().data
        rows = [{"date": t.strftime("%Y-%m-%d"), "co2": "" if np.isnan(v) else repr(float(v))}
                for t, v in zip(frame.index, frame["co2"])]
        return Table(["date", "co2"], rows)
    if name == "sunspots":
        frame = sm.datasets.sunspots.load_pandas().data
        return Table(["year", "sunspots"], [{"year": str(int(y)), "sunspots": repr(float(v))}
                                             for y, v in zip(frame["YEAR"], frame["SUNACTIVITY"])])
    frame = sm.datasets.nile.load_pandas().data
    return Table(["year", "volume"], [{"year": str(int(y)), "volume": repr(float(v))}
                                       for y, v in zip(frame["year"], frame["volume"])])


def read_columns(path, encoding: str | None) -> tuple[list[str], str]:
    """The column names of a file (or built-in series) and its name for messages."""
    if str(path) in STATSMODELS_SERIES:
        return _statsmodels_table(str(path)).columns, str(path)
    path = Path(path).expanduser()
    if not path.is_file():
        raise DataError(f"No such file: {path}. Pass a CSV/TSV/JSONL with the columns the run was trained on.")
    return read_table(path, encoding, purpose="forecast from", head=2).columns, path.name


def table_from_dataframe(frame, time_column: str | None = None) -> Table:
    """A pandas DataFrame as a table of strings; a DatetimeIndex becomes the time column
    (named `time_column`, its own name, or `date`)."""
    import pandas as pd

    if isinstance(frame.index, pd.DatetimeIndex) and not (time_column and time_column in frame.columns):
        name = time_column or frame.index.name or "date"
        if name in frame.columns:
            raise DataError(f"The DataFrame has a DatetimeIndex and a column '{name}'. Keep one of them "
                            "(frame.reset_index(drop=True) drops the index).")
        frame = frame.reset_index(names=name)
    columns = [str(column) for column in frame.columns]
    rows = []
    for record in frame.itertuples(index=False, name=None):
        rows.append({column: "" if _is_missing(value) else (value.isoformat() if hasattr(value, "isoformat") else str(value))
                     for column, value in zip(columns, record)})
    return Table(columns, rows)


def _is_missing(value) -> bool:
    try:
        import pandas as pd

        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False
