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
