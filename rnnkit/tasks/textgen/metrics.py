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
    """Cross-entropy of an add-one-smoothed unigram model over every id but padding."""
    counts = np.asarray(counts_by_id, dtype=np.float64) + 1.0
    counts[0] = 0.0
    probabilities = counts / counts.sum()
    targets = ids[1:]
    loss = float(-np.mean(np.log(probabilities[targets])))
    return from_loss(loss, float(np.mean(targets == int(np.argmax(probabilities)))), level)
