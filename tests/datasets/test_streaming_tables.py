"""Large tables stream (issue #11): a series keeps only its columns, as arrays; labelled texts
keep only their text and label; sniffing a file reads its head. The results and the messages
are those of reading the whole file as a table."""

from __future__ import annotations

import csv
import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import rnnkit.datasets.csv_series as csv_series
import rnnkit.datasets.tables as tables
from rnnkit.cli.main import app
from rnnkit.datasets.csv_series import open_series, series_from_table, series_layout
from rnnkit.datasets.labelled_text import labelled_columns, open_labelled, read_texts
from rnnkit.datasets.tables import read_table
from rnnkit.errors import DataError
from tests.cli.test_bad_input import assert_user_error

MISSING_SPELLINGS = ["", "NA", "nan", " n/a ", "None"]


def write_series(path, rows: int, start: str = "2000-01-01", seed: int = 0):
    """An hourly series with a time column among others (an id, a note, a second number),
    a few missing values in several spellings and a missing hour (a gap)."""
    rng = np.random.default_rng(seed)
    times = pd.date_range(start, periods=rows + 1, freq="h").delete(rows // 2)  # one hour is absent
    values = 50 + 10 * np.sin(np.arange(rows) * 2 * np.pi / 24) + rng.normal(size=rows)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "note", "time", "load", "temperature"])
        for index, (time, value) in enumerate(zip(times.strftime("%Y-%m-%d %H:%M:%S"), values)):
            load = MISSING_SPELLINGS[index // 7 % len(MISSING_SPELLINGS)] if index % 9973 == 5 else f"{value:.4f}"
            writer.writerow([index, f"reading {index}, checked", time, load, f"{value / 3:.2f}"])
    return path


def assert_same_series(streamed, whole):
    assert streamed.columns == whole.columns and streamed.num_targets == whole.num_targets
    assert streamed.values.dtype == whole.values.dtype == np.float64
    np.testing.assert_array_equal(streamed.values, whole.values)
    assert streamed.times.dtype == whole.times.dtype and streamed.times.equals(whole.times)
    assert (streamed.time_column, streamed.step, streamed.season) == (whole.time_column, whole.step, whole.season)
    assert (streamed.notes, streamed.filled) == (whole.notes, whole.filled)
    assert streamed.time_labels(slice(-3, None)) == whole.time_labels()[-3:]


def test_a_large_series_streams_only_its_columns_into_the_same_series(tmp_path, monkeypatch):
    path = write_series(tmp_path / "big.csv", rows=200_000)
    whole = series_from_table(path.name, read_table(path, None), ["load"], None, ["temperature"])
    assert whole.filled > 0 and any("1 timestamp(s) missing from the regular" in note for note in whole.notes)

    def head_only(path, encoding, purpose="train on", head=None):
        assert head is not None, "the series reader read the whole file as a table"
        return read_table(path, encoding, purpose, head)

    monkeypatch.setattr(csv_series, "read_table", head_only)
    assert_same_series(open_series(path, target=["load"], features=["temperature"]), whole)


@pytest.mark.parametrize("chunk_rows", [1, 7, 4096])
def test_batches_give_the_table_readings_and_messages(tmp_path, monkeypatch, chunk_rows):
    monkeypatch.setattr(tables, "CHUNK_ROWS", chunk_rows)
    monkeypatch.setattr(csv_series, "DECISION_ROWS", 20)
    rows = "".join(f"2020-03-28T{h:02d}:00+01:00,{h}\n" for h in range(24))
    dst = tmp_path / "dst.csv"  # the UTC offset changes after the first batches: read in UTC
    dst.write_text("time,x\n" + rows + "2020-03-29T00:00+01:00,1\n2020-03-29T01:00+01:00,2\n2020-03-29T03:00+02:00,3\n")
    assert_same_series(open_series(dst), series_from_table(dst.name, read_table(dst, None), None, None, None))
    assert open_series(dst).time_labels(slice(-1, None)) == ["2020-03-29T01:00:00"]
    day_first = tmp_path / "dayfirst.csv"  # day-first shows only at the 13th: the whole column decides
    day_first.write_text("date,x\n" + "".join(f"{d:02d}/01/2020,{d}\n" for d in range(1, 29)))
    assert open_series(day_first).time_labels(slice(0, 2)) == ["2020-01-01", "2020-01-02"]
    good = "".join(f"2020-01-{d:02d},{d}\n" for d in range(1, 29))
    cases = {
        good + "2020-01-29,1.5\n2020-01-30,abc\n": "dates.csv line 31: 'abc' in column 'x' is not a number",
        good + "2020-01-29,inf\n": "dates.csv line 30: 'inf' in column 'x' is not a finite number",
        good + "2020-01-29,1e39\n": "line 30: '1e39' in column 'x' is beyond float32's range",
        good + "2020-01-29,1\nsoon,2\n": "dates.csv line 31: 'soon' in the time column 'date' is not a date",
        good + "NA,2\n": "dates.csv line 30: the time column 'date' is empty",
        good + "2020-01-03,2\n": "the time '2020-01-03' appears 2 times in 'date' (lines 4, 30)",
        good + "01/31/2020,2\n": "line 30: '01/31/2020' in the time column 'date' is not written like the dates before it",
        good + "2020-01-29,1,2\n": "dates.csv line 30 has 3 fields but the header has 2",
        good + '2020-01-29,"1\n': "dates.csv is not valid CSV: a quote (\") opened before line 30 is never closed",
    }
    for text, message in cases.items():
        (tmp_path / "dates.csv").write_text("date,x\n" + text)
        with pytest.raises(DataError) as error:
            open_series(tmp_path / "dates.csv")
        assert message in str(error.value)


def test_sniffing_reads_the_head_and_training_names_the_bad_byte(tmp_path):
    series = tmp_path / "series.csv"
    rows = "".join(f"{t:%Y-%m-%d %H:%M},{i % 24}\n" for i, t in enumerate(pd.date_range("2020-01-01", periods=3000, freq="h")))
    series.write_bytes(b"time,load\n" + rows.encode() + b"2020-05-05 00:00,caf\xe9\n")
    offset = series.stat().st_size - 2
    assert series_layout(series).is_series  # the first rows only: the bad byte is far after them
    with pytest.raises(DataError, match=rf"series.csv is not valid UTF-8 \(byte {offset}\)"):
        open_series(series)
    result = CliRunner().invoke(app, ["train", str(series), "--out", str(tmp_path / "run")])  # --task inferred
    assert_user_error(result, f"series.csv is not valid UTF-8 (byte {offset})", "--encoding")
    assert not (tmp_path / "run" / "model.keras").exists()

    reviews = tmp_path / "reviews.csv"
    reviews.write_bytes(b"\xef\xbb\xbfreview,verdict\n" + b"".join(b'"a review, number %d",%s\n' % (i, b"ab"[i % 2:i % 2 + 1])
                                                                    for i in range(5000)) + b"caf\xe9,a\n")
    assert labelled_columns(reviews) == ("review", "verdict")
    offset = reviews.stat().st_size - 4  # the offset in the file, byte-order mark included
    with pytest.raises(DataError, match=rf"reviews.csv is not valid UTF-8 \(byte {offset}\)"):
        open_labelled(reviews)


def test_labelled_tables_stream_their_two_columns(tmp_path, monkeypatch):
    monkeypatch.setattr(tables, "CHUNK_ROWS", 1000)
    rows = [(i, f"line one of {i},\r\nline two" if i % 5 == 0 else f"  review {i} here ", "pos neg".split()[i % 2], i % 7)
            for i in range(30_000)]
    rows[17] = (17, "   ", "pos", 0)  # an empty text is dropped
    path = tmp_path / "reviews.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "text", "sentiment", "stars"])
        writer.writerows(rows)
    data = open_labelled(path)
    expected = [(text.replace("\r\n", "\n").strip(), label) for _, text, label, _ in rows if text.strip()]
    assert data.columns == ("text", "sentiment") and data.dropped == 1
    assert list(zip(data.texts, data.labels)) == expected
    assert read_texts(path)[:2] == [expected[0][0], expected[1][0]] and len(read_texts(path)) == len(rows)
    lines = tmp_path / "reviews.jsonl"
    lines.write_text("".join(json.dumps({"opinion": text, "label": label}) + "\n" for _, text, label, _ in rows))
    data = open_labelled(lines)
    assert data.columns == ("opinion", "label") and len(data.texts) == len(expected)
    assert data.notes and "text column 'opinion'" in data.notes[0]


def test_a_quoted_line_break_does_not_cut_the_head(tmp_path):
    path = tmp_path / "multiline.csv"
    path.write_text("text,label\n" + "".join(f'"first line {i}\nsecond line",{"ab"[i % 2]}\n' for i in range(60)))
    head = read_table(path, None, head=50)
    assert len(head.rows) == 50 and not head.complete and head.rows[49]["text"] == "first line 49\nsecond line"
    assert labelled_columns(path) == ("text", "label")
