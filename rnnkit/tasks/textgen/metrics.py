"""Language-model metrics: bits per character (perplexity at word level), and the unigram baseline."""

from __future__ import annotations

import math

import numpy as np


def unit_metric(level: str) -> str:
    return "bits_per_char" if level == "char" else "perplexity"


def convert(loss: float, metric: str) -> float:
    """Cross-entropy in nats -> bits per character or perplexity."""
    return loss / math.log(2) if metric == "bits_per_char" else float(math.exp(min(loss, 700)))


def from_loss(loss: float, accuracy: float, level: str) -> dict[str, float]:
    metric = unit_metric(level)
    return {"loss": loss, metric: convert(loss, metric), "accuracy": accuracy}


def unigram_metrics(counts_by_id: np.ndarray, ids: np.ndarray, level: str) -> dict[str, float]:
    """Cross-entropy of an add-one-smoothed unigram model over every id but padding.

    The targets (`ids[1:]`) are scored by how often each id occurs among them, so a held-out text
    of any length (a memory-mapped file) costs one pass and arrays the size of the vocabulary.
    """
    counts = np.asarray(counts_by_id, dtype=np.float64) + 1.0
    counts[0] = 0.0
    probabilities = counts / counts.sum()
    occurrences = bincount(ids[1:], len(probabilities))
    seen = occurrences > 0  # padding has probability 0 and never occurs
    total = occurrences.sum()
    loss = float(-np.sum(occurrences[seen] * np.log(probabilities[seen])) / total)
    return from_loss(loss, float(occurrences[int(np.argmax(probabilities))] / total), level)


def bincount(ids: np.ndarray, minlength: int = 0, block: int = 1 << 24) -> np.ndarray:
    """`np.bincount(ids, minlength)` a block at a time: numpy widens its input to int64 first, which for
    a memory-mapped corpus of compact ids would be an array eight times the size of the file."""
    counts = np.zeros(minlength, dtype=np.int64)
    for start in range(0, len(ids), block):
        found = np.bincount(ids[start : start + block], minlength=minlength)
        if len(found) > len(counts):
            found[: len(counts)] += counts
            counts = found
        else:
            counts += found
    return counts
