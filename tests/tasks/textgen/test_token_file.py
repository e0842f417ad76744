"""Issue #11: a corpus larger than memory. Training encodes it once into a compact token file in the
run's cache folder, maps it read-only, and draws shuffled windows without holding them."""

from __future__ import annotations

import json
import os
from collections import Counter

import numpy as np
import pytest

import rnnkit
from tests.helpers import MULTILINGUAL, TINY, make_corpus


def _prepare(data, cache_dir=None, **options):
    from rnnkit.datasets.fingerprint import data_fingerprint
    from rnnkit.training import resolve_config

    task_object, config = resolve_config(str(data), **{**TINY, **options})
    config.data.fingerprint = data_fingerprint(str(data))  # as training records it
    return task_object.prepare(config, cache_dir=cache_dir)


def _old_char_ids(vocabulary, text: str) -> np.ndarray:
    """The encoder before issue #11 (searchsorted over the sorted code points), for comparison."""
    codepoints = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype="<u4")
    known = np.array([ord(token) for token in vocabulary.tokens], dtype=np.uint32)
    order = np.argsort(known)
    position = np.minimum(np.searchsorted(known[order], codepoints), len(known) - 1)
    found = known[order][position] == codepoints
    return np.where(found, order[position] + 2, 1).astype(np.int32)


@pytest.fixture
def folder(tmp_path):
    """Two files, the first without a final line break: the corpus puts one between them."""
    data = tmp_path / "texts"
    data.mkdir()
    make_corpus(data / "a.txt", 3000, seed=1, extra=MULTILINGUAL)
    (data / "a.txt").write_text((data / "a.txt").read_text(encoding="utf-8").rstrip("\n"), encoding="utf-8")
    make_corpus(data / "b.txt", 3000, seed=2)
    return data


def test_char_corpus_is_stored_as_uint8_and_round_trips_to_the_old_ids(folder, tmp_path):
    cache = tmp_path / "cache"
    prepared = _prepare(folder, cache)
    vocabulary = prepared.preprocessor
    info = json.loads((cache / "tokens.json").read_text())
    text = (folder / "a.txt").read_text(encoding="utf-8") + "\n" + (folder / "b.txt").read_text(encoding="utf-8")
    assert info["dtype"] == "uint8" and prepared.train.dtype == np.uint8
    assert (cache / "tokens.bin").stat().st_size == len(text) == info["length"]
    stored = np.fromfile(cache / "tokens.bin", dtype=np.uint8)
    assert stored.tolist() == _old_char_ids(vocabulary, text).tolist()
    assert np.concatenate([prepared.train, prepared.validation]).tolist() == stored.tolist()
    assert info["split"] == len(prepared.train)
    # The vocabulary counted every character, the "\n" between the files included, in the order a Counter gives.
    ranked = sorted(Counter(text).items(), key=lambda item: (-item[1], item[0]))
    assert list(zip(vocabulary.tokens, vocabulary.counts)) == ranked
    assert prepared.train_counts.tolist() == np.bincount(stored[: info["split"]], minlength=vocabulary.size).tolist()
    # Without a cache folder (evaluate, tests): the same ids, in memory.
    in_memory = _prepare(folder)
    assert in_memory.train.dtype == np.uint8 and not isinstance(in_memory.train, np.memmap)
    assert np.concatenate([in_memory.train, in_memory.validation]).tolist() == stored.tolist()


def test_word_corpus_length_is_the_vocabulary_counts(folder, tmp_path):
    from rnnkit.tasks.textgen.vocabulary import word_tokenize

    prepared = _prepare(folder, tmp_path / "cache", level="word", vocab_size=12)
    vocabulary = prepared.preprocessor
    text = (folder / "a.txt").read_text(encoding="utf-8") + "\n" + (folder / "b.txt").read_text(encoding="utf-8")
    index = {token: i + 2 for i, token in enumerate(vocabulary.tokens)}
    expected = [index.get(token, 1) for token in word_tokenize(text)]
    assert np.concatenate([prepared.train, prepared.validation]).tolist() == expected
    assert sum(vocabulary.counts) + vocabulary.unknown_count == len(expected)


def test_the_token_file_is_reused_only_while_it_matches(corpus, tmp_path):
    cache = tmp_path / "cache"
    _prepare(corpus, cache)
    tokens = cache / "tokens.bin"
    first = tokens.stat()
    _prepare(corpus, cache)
    assert tokens.stat().st_ino == first.st_ino and tokens.stat().st_mtime_ns == first.st_mtime_ns
    with tokens.open("r+b") as handle:  # cut short, as by a full disk
        handle.truncate(first.st_size // 2)
    again = _prepare(corpus, cache)
    assert tokens.stat().st_size == first.st_size and len(again.train) + len(again.validation) == first.st_size
    other = make_corpus(tmp_path / "other.txt", 5000, seed=9)
    before = tokens.stat().st_ino
    prepared = _prepare(other, cache)
    assert tokens.stat().st_ino != before
    assert len(prepared.train) + len(prepared.validation) == len(other.read_text(encoding="utf-8"))
    assert sorted(path.name for path in cache.iterdir()) == ["tokens.bin", "tokens.json"]


def test_too_short_a_text_creates_no_cache(tmp_path):
    short = tmp_path / "short.txt"
    short.write_text("Too short.\n", encoding="utf-8")
    with pytest.raises(rnnkit.DataError, match="too short"):
        _prepare(short, tmp_path / "cache")
    assert not (tmp_path / "cache").exists()


def test_cache_is_removed_after_training_and_reused_by_resume(corpus, tmp_path):
    import keras

    class Interrupt(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == 1:
                raise KeyboardInterrupt

    class SeesTheCache(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.seen = os.stat(tokens)

    out = tmp_path / "run"
    tokens = out / "cache" / "tokens.bin"
    with pytest.raises(rnnkit.TrainingInterrupted):
        rnnkit.train(str(corpus), out=out, callbacks=[Interrupt()], **TINY)
    kept = os.stat(tokens)
    assert json.loads((out / "cache" / "tokens.json").read_text())["dtype"] == "uint8"
    seer = SeesTheCache()
    run = rnnkit.train(str(corpus), out=out, resume=True, callbacks=[seer])
    assert (seer.seen.st_ino, seer.seen.st_mtime_ns) == (kept.st_ino, kept.st_mtime_ns)  # not encoded again
    assert not (out / "cache").exists() and run.metrics["split"] == "validation"


def test_shuffled_windows_are_a_new_permutation_of_all_windows_each_pass():
    from rnnkit.tasks.textgen.task import windows_dataset

    length, sequence_length = 1003, 10
    ids = np.arange(length, dtype=np.uint16)
    count = (length - 1) // sequence_length
    dataset = windows_dataset(ids, sequence_length, 8, shuffle=True, seed=4)
    batches = [(inputs.numpy(), targets.numpy()) for inputs, targets in dataset.repeat(2)]
    assert all(inputs.dtype == np.int32 and inputs.shape[1] == sequence_length for inputs, _ in batches)
    assert all((targets == inputs + 1).all() for inputs, targets in batches)  # the next token of each
    starts = np.concatenate([inputs[:, 0] for inputs, _ in batches])
    assert len(starts) == 2 * count
    first, second = starts[:count], starts[count:]
    windows = list(range(0, count * sequence_length, sequence_length))
    assert sorted(first) == windows and sorted(second) == windows
    assert first.tolist() != second.tolist() and first.tolist() != windows
    # A new pipeline with the same seed replays the same passes; after skipping, from the same place.
    again = windows_dataset(ids, sequence_length, 8, shuffle=True, seed=4).repeat().skip(len(batches) // 2)
    replay = np.concatenate([inputs.numpy()[:, 0] for inputs, _ in again.take(len(batches) // 2)])
    assert replay.tolist() == second.tolist()
    # Unshuffled: the windows in order, as validation reads them.
    ordered = np.concatenate([inputs.numpy()[:, 0] for inputs, _ in windows_dataset(ids, sequence_length, 8)])
    assert ordered.tolist() == windows


def test_unigram_metrics_equal_the_per_token_formula():
    from rnnkit.tasks.textgen.metrics import bincount, unigram_metrics

    rng = np.random.default_rng(0)
    counts = rng.integers(0, 50, size=40)
    ids = rng.integers(1, 40, size=5000).astype(np.uint8)
    smoothed = counts.astype(np.float64) + 1.0
    smoothed[0] = 0.0
    probabilities = smoothed / smoothed.sum()
    expected_loss = -np.mean(np.log(probabilities[ids[1:]]))
    expected_accuracy = np.mean(ids[1:] == np.argmax(probabilities))
    metrics = unigram_metrics(counts, ids, "char")
    assert metrics["loss"] == pytest.approx(expected_loss, rel=1e-12)
    assert metrics["accuracy"] == pytest.approx(expected_accuracy, rel=1e-12)
    assert bincount(ids, 40, block=7).tolist() == np.bincount(ids, minlength=40).tolist()


@pytest.mark.parametrize("characters, dtype", [(254, "uint8"), (255, "uint16")])
def test_ids_take_the_smallest_type_that_holds_them(characters, dtype):
    from rnnkit.tasks.textgen.vocabulary import fit_vocabulary

    text = "".join(chr(0x100 + i) * (i + 1) for i in range(characters))  # padding and [UNK] make 2 more ids
    vocabulary = fit_vocabulary([text], "char")
    ids = vocabulary.encode([text])
    assert vocabulary.dtype == dtype and ids.dtype == dtype
    assert ids.max() == vocabulary.size - 1 and ids[-1] == 2  # the commonest character, last, is id 2
