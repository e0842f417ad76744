"""Sampling options, checked before any model is loaded (no TensorFlow here)."""

from __future__ import annotations

from rnnkit.errors import ConfigError
from rnnkit.options import is_int, is_number

# Below this, logits / temperature overflows float32; the in-graph sampler clamps to it too,
# since a SavedModel client may send any float.
MIN_TEMPERATURE = 0.01


def check_sampling(length: int, temperature: float, top_k: int, top_p: float, num_samples: int,
                   seed: int | None) -> None:
    """Raise `ConfigError` for the first sampling option out of range."""
    checks = [
        (is_int(length) and 1 <= length <= 1_000_000,
         f"length must be an integer from 1 to 1000000. Received: length={length!r}"),
        (is_number(temperature) and temperature >= MIN_TEMPERATURE,
         f"temperature must be >= {MIN_TEMPERATURE} (try 0.5-1.2). Received: temperature={temperature!r}"),
        (is_int(top_k) and top_k >= 0, f"top_k must be an integer >= 0 (0 keeps every token). Received: top_k={top_k!r}"),
        (is_number(top_p) and 0 < top_p <= 1, f"top_p must be in (0, 1]. Received: top_p={top_p!r}"),
        (is_int(num_samples) and 1 <= num_samples <= 10_000,
         f"num_samples must be an integer from 1 to 10000. Received: num_samples={num_samples!r}"),
        (seed is None or (is_int(seed) and 0 <= seed < 2**31),
         f"seed must be an integer from 0 to 2**31-1. Received: seed={seed!r}"),
    ]
    for ok, message in checks:
        if not ok:
            raise ConfigError(message)
