"""Reading series: time columns, sorting, gaps, missing values, season, and what is an error."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rnnkit.datasets.csv_series import is_series_file, open_series
from rnnkit.errors import DataError
from tests.helpers import make_reviews, make_series


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_unsorted_rows_are_sorted_and_reported(tmp_path):
    series = open_series(make_series(tmp_path / "s.csv", rows=30, shuffle=True))
    assert series.time_labels()[:2] == ["2000-01-01", "2000-02-01"]
    assert any("not in time order" in note for note in series.notes)
    assert series.step == {"freq": "MS"} and series.season == 12


def test_missing_values_are_interpolated_by_time_with_a_count(tmp_path):
    text = "date,x\n2020-01-01,1\n2020-01-02,\n2020-01-04,4\n2020-01-05,NA\n2020-01-06,6\n"
    series = open_series(write(tmp_path / "s.csv", text))
    # 2020-01-03 is missing from the daily grid: inserted, then interpolated with the two empty cells.
    np.testing.assert_allclose(series.values[:, 0], [1, 2, 3, 4, 5, 6])
    assert any("1 timestamp(s) missing" in note for note in series.notes)
    assert any("interpolated 3 missing value(s) by time" in note for note in series.notes)
    with pytest.raises(DataError, match=r"no row for 1 timestamp\(s\) .* \(the first: 2020-01-03\)"):
        open_series(tmp_path / "s.csv", missing="error")
    write(tmp_path / "t.csv", "date,x\n2020-01-01,1\n2020-01-02,\n2020-01-03,3\n2020-01-04,NA\n2020-01-05,5\n")
    with pytest.raises(DataError, match="2 missing value.*column 'x' at 2020-01-02"):
        open_series(tmp_path / "t.csv", missing="error")


def test_missing_values_at_the_ends_are_dropped_not_invented(tmp_path):
    text = "date,x\n2020-01-01,\n2020-01-02,2\n2020-01-03,\n2020-01-04,4\n2020-01-05,\n2020-01-06,\n"
    series = open_series(write(tmp_path / "s.csv", text))
    assert series.time_labels() == ["2020-01-02", "2020-01-03", "2020-01-04"]
    np.testing.assert_allclose(series.values[:, 0], [2, 3, 4])
    assert any("dropped 3 row(s)" in note for note in series.notes)


def test_business_days_with_a_holiday_stay_business_days(tmp_path):
    import pandas as pd

    days = [d for d in pd.bdate_range("2024-01-01", periods=30) if d != pd.Timestamp("2024-01-15")]
    text = "date,x\n" + "".join(f"{d:%Y-%m-%d},{i}\n" for i, d in enumerate(days))
    series = open_series(write(tmp_path / "s.csv", text))
    assert series.season == 5 and series.step == {"freq": "B"} and len(series) == 30
    assert series.future_times(1) == ["2024-02-12"]  # Friday 9 February is the last day


def test_time_zones_whole_years_and_yyyymmdd(tmp_path):
    text = "time,x\n2020-03-29T00:00+01:00,1\n2020-03-29T01:00+01:00,2\n2020-03-29T03:00+02:00,3\n"
    series = open_series(write(tmp_path / "dst.csv", text))  # the offset changes at daylight saving time: UTC
    assert series.time_labels() == ["2020-03-28T23:00:00", "2020-03-29T00:00:00", "2020-03-29T01:00:00"]
    assert series.season == 24
    text = "date,v\n" + "".join(f"202001{d:02d},{d}\n" for d in range(1, 11))
    series = open_series(write(tmp_path / "d.csv", text))
    assert series.time_column == "date" and series.columns == ["v"] and series.season == 7
    text = "date,x\n2020-01-01T00:00:00+01:00,1\n2020-02-01T00:00:00+01:00,2\n2020-03-01T00:00:00+01:00,3\n"
    assert open_series(write(tmp_path / "m.csv", text)).time_labels()[0] == "2020-01-01"


def test_time_interpolation_weighs_uneven_gaps(tmp_path):
    text = "when,x\n2020-01-01 00:00,0\n2020-01-01 01:00,\n2020-01-01 04:00,8\n"
    series = open_series(write(tmp_path / "s.csv", text))
    # 1 h then 3 h: no regular grid, so the rows stay as they are and the gap is filled by time
    # (2.0 at 01:00 on the way from 0 at 00:00 to 8 at 04:00; by position it would be 4.0).
    assert any("irregular (steps of 1 hours to 3 hours)" in note for note in series.notes)
    assert len(series) == 3 and series.values[:, 0].tolist() == pytest.approx([0.0, 2.0, 8.0])


@pytest.mark.parametrize("freq, season", [("MS", 12), ("ME", 12), ("W-SUN", 52), ("D", 7), ("B", 5), ("h", 24),
                                          ("30min", 48), ("QS", 4), ("YS", 1)])
def test_season_from_the_time_step(tmp_path, freq, season):
    series = open_series(make_series(tmp_path / "s.csv", rows=40, freq=freq))
    assert series.season == season
    future = series.future_times(2)
    assert len(future) == 2 and future[0] > series.time_labels()[-1]


def test_month_ends_continue_as_month_ends(tmp_path):
    series = open_series(make_series(tmp_path / "s.csv", rows=14, freq="ME", missing=()))
    assert series.time_labels()[-1] == "2001-02-28"
    assert series.future_times(2) == ["2001-03-31", "2001-04-30"]


def test_day_first_dates_and_whole_years(tmp_path):
    series = open_series(write(tmp_path / "a.csv", "date,x\n31/01/2020,1\n29/02/2020,2\n31/03/2020,3\n"))
    assert series.time_labels() == ["2020-01-31", "2020-02-29", "2020-03-31"]
    series = open_series(write(tmp_path / "b.csv", "year,x\n1990,1\n1991,2\n1992,3\n"))
    assert series.time_column == "year" and series.season == 1 and series.future_times(1) == ["1993-01-01"]


def test_columns_by_name_and_content(tmp_path):
    text = "id,when,x,y\na,2020-01-01,1,5\nb,2020-02-01,2,6\nc,2020-03-01,3,7\n"
    series = open_series(write(tmp_path / "s.csv", text), target=["y"], features=["x"])
    assert series.time_column == "when" and series.columns == ["y", "x"] and series.targets == ["y"]


def test_the_errors_name_what_is_wrong(tmp_path):
    cases = {
        "date,x\n2020-01-01,1\n2020-01-02,1.5\n2020-01-03,abc\n2020-01-04,2\n2020-01-05,3\n": "line 4: 'abc' in column 'x'",
        "date,x\n2020-01-01,1\n2020-01-01,2\n2020-01-02,3\n": "'2020-01-01' appears 2 times",
        "date,x\n2020-01-01,1\nsoon,2\n": "line 3: 'soon' in the time column 'date'",
        "date,x\n2020-01-01,\n2020-01-02,\n": "empty: x",
        "date,name\n2020-01-01,a\n2020-01-02,b\n": "no numeric column",
        "date,x,y\n2020-01-01,1,2\n": "several numeric columns (x, y)",
        "date,x\n": "no rows",
    }
    for index, (text, message) in enumerate(cases.items()):
        with pytest.raises(DataError, match=message.replace("(", r"\(").replace(")", r"\)")):
            open_series(write(tmp_path / f"{index}.csv", text))
    with pytest.raises(DataError, match="the target column 'x' has no values"):
        open_series(write(tmp_path / "e.csv", "date,x,y\n2020-01-01,,1\n2020-01-02,NA,2\n"), target=["x"])
    epochs = write(tmp_path / "epochs.csv", "date,x\n1600000000,1\n1600003600,2\n")
    with pytest.raises(DataError, match="line 2: '1600000000'.*neither years nor YYYYMMDD"):
        open_series(epochs, time_col="date")
    series = open_series(epochs)  # not dates: rows in file order, and the number column is not the target
    assert series.time_column is None and series.columns == ["x"] and any("not dates" in n for n in series.notes)
    with pytest.raises(DataError, match="the feature column 'y' has no values"):
        open_series(write(tmp_path / "f.csv", "date,x,y\n2020-01-01,1,\n2020-01-02,2,\n"), target=["x"], features=["y"])
    with pytest.raises(DataError, match="'z' is not a column of s.csv. Its columns: date, x"):
        open_series(write(tmp_path / "s.csv", "date,x\n2020-01-01,1\n"), target=["z"])


def test_what_counts_as_a_series_file(tmp_path):
    assert is_series_file(make_series(tmp_path / "s.csv", rows=20))
    assert not is_series_file(make_reviews(tmp_path / "r.csv", rows=20))
    assert not is_series_file(write(tmp_path / "notes.csv", "date,text\n2020-01-01,a long comment about it\n"))


def test_builtin_statsmodels_series():
    pytest.importorskip("statsmodels")
    series = open_series("co2")
    assert series.step == {"freq": "W-SAT"} and series.season == 52 and series.filled == 59
