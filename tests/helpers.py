"""Shared test harness: tiny configs and small text files the tests write themselves."""

from __future__ import annotations

import random
from pathlib import Path

# A model small enough to fit, sample, save and export in seconds on 2 CPU cores.
TINY = dict(units=16, layers=1, embedding_dim=8, max_len=16, batch_size=16, epochs=1, seed=1, early_stopping=False)

_WORDS = (
    "the river runs past a quiet town where people walk and talk about the weather "
    "rain falls on roofs and children laugh while the baker sells warm bread"
).split()


def make_corpus(path: Path, characters: int = 6000, seed: int = 0, extra: str = "") -> Path:
    """Write synthetic English-like text (our own, generated) of about `characters` chars."""
    rng = random.Random(seed)
    lines, size = [], 0
    while size < characters:
        words = [rng.choice(_WORDS) for _ in range(rng.randint(4, 10))]
        line = " ".join(words).capitalize() + rng.choice([".", "!", "?", ","])
        lines.append(line)
        size += len(line) + 1
    path.write_text(extra + "\n".join(lines) + "\n", encoding="utf-8")
    return path


MULTILINGUAL = "汉字很好看。مرحبا بالعالم 👋🏽 café naïve — 😀👩‍👩‍👧 ok\n"


# Synthetic labelled reviews (our own words): each class has its own cue words among
# shared filler, so even a tiny model learns them in a couple of epochs.
CUES = {
    "pos": "wonderful brilliant moving superb delightful great".split(),
    "neg": "boring dull awful tedious dreadful waste".split(),
    "mixed": "uneven average okay patchy passable middling".split(),
    "ham": "meeting lunch tomorrow thanks family weekend".split(),
    "spam": "free winner prize click offer cash".split(),
}
_FILLER = "the film story actors scenes director plot music camera ending was and a very with its".split()
TINY_SENTIMENT = dict(units=8, layers=1, embedding_dim=8, max_len=24, batch_size=16, epochs=3, seed=1,
                      learning_rate=0.02, early_stopping=False)


def review(label: str, rng: random.Random) -> str:
    words = [rng.choice(_FILLER) for _ in range(rng.randint(4, 14))]
    for _ in range(2):
        words.insert(rng.randrange(len(words) + 1), rng.choice(CUES[label]))
    return " ".join(words).capitalize() + rng.choice([".", "!", "<br /><br />It ends."])


def make_reviews(path: Path, rows: int = 240, labels: tuple[str, ...] = ("neg", "pos"), seed: int = 0,
                 weights: tuple[int, ...] | None = None, delimiter: str = ",",
                 columns: tuple[str, str] = ("text", "label")) -> Path:
    """Write a CSV/TSV (or JSONL, for a `.jsonl` path) of synthetic labelled reviews."""
    import csv
    import json

    rng = random.Random(seed)
    chosen = rng.choices(labels, weights=weights, k=rows) if weights else [labels[i % len(labels)] for i in range(rows)]
    records = [(review(label, rng), label) for label in chosen]
    if path.suffix == ".jsonl":
        path.write_text("".join(json.dumps({columns[0]: t, columns[1]: y}) + "\n" for t, y in records), encoding="utf-8")
        return path
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, delimiter=delimiter)
        writer.writerow(columns)
        writer.writerows(records)
    return path


# A forecaster small enough to train, forecast and export in seconds.
TINY_FORECAST = dict(units=8, layers=1, epochs=3, batch_size=16, seed=1, horizon=6, window=12, early_stopping=False)


def make_series(path: Path, rows: int = 96, start: str = "2000-01-01", freq: str = "MS", seed: int = 0,
                missing: tuple[int, ...] = (), extra: bool = False, shuffle: bool = False) -> Path:
    """Write a CSV of a synthetic monthly-like series (trend + season 12 + noise): `date,value`
    (and `a,b,c` columns when `extra`); rows listed in `missing` are left empty."""
    import csv

    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    steps = np.arange(rows)
    value = 100 + 0.5 * steps + 10 * np.sin(2 * np.pi * steps / 12) + rng.normal(0, 1, rows)
    times = pd.date_range(start, periods=rows, freq=freq)
    records = []
    for index in range(rows):
        cells = [times[index].strftime("%Y-%m-%d %H:%M" if freq.endswith(("h", "min")) else "%Y-%m-%d"),
                 "" if index in missing else f"{value[index]:.3f}"]
        if extra:
            cells += [f"{value[index] * 0.5 + 3:.3f}", f"{np.cos(2 * np.pi * index / 12):.3f}"]
        records.append(cells)
    if shuffle:
        rng.shuffle(records)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["date", "value"] + (["other", "signal"] if extra else []))
        writer.writerows(records)
    return path
