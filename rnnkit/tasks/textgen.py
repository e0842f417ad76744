"""Text generation: a character- or word-level recurrent language model.

Preprocessor: `TextVocabulary` (chars or NLTK word tokens, `[UNK]` for the rest).
Model: Embedding -> recurrent stack -> Dense over the vocabulary, trained on every
position of non-overlapping windows. Postprocessor: `rnnkit.generation.TextGenerator`.
"""

from __future__ import annotations

import logging
import math
import random
from pathlib import Path
from typing import Any

import numpy as np

from rnnkit.config import Config, ModelConfig, TrainingConfig
from rnnkit.errors import ConfigError, DataError
from rnnkit.preprocessing.text import TextVocabulary, fit_vocabulary
from rnnkit.tasks.base import PreparedData, Task

log = logging.getLogger("rnnkit")


class TextGenTask(Task):
    """Train a language model on text and sample from it."""

    name = "textgen"

    def default_config(self) -> Config:
        # Measured on Tiny Shakespeare with a fixed CPU budget (benchmarks/textgen_quality.py):
        # GRU runs ~1.5x the tokens/s of LSTM on a CPU and reached 1.65 nats/char in 5 minutes
        # where LSTM reached 1.95; smaller batches and a higher, cosine-decayed peak rate learn
        # more per second. Both cells are cuDNN-eligible on a GPU.
        return Config(task=self.name, model=ModelConfig(cell="gru"),
                      training=TrainingConfig(batch_size=32, learning_rate=0.005))

    def check_config(self, config: Config) -> None:
        if config.model.bidirectional:
            raise ConfigError("--bidirectional does not apply to text generation: a language model reads left to right. Drop it.")
        if config.data.text_column or config.data.label_column:
            raise ConfigError("--text-col/--label-col apply to text classification; text generation reads whole files. "
                              "Drop them or pass --task sentiment.")

    # -- data -------------------------------------------------------------------------------

    def prepare(self, config: Config, preprocessor_dir: Path | None = None) -> PreparedData:
        corpus = open_corpus(config.data.path, config.data.encoding)
        if preprocessor_dir is not None:
            vocabulary = TextVocabulary.load(preprocessor_dir)
        else:
            vocabulary = fit_vocabulary(corpus.chunks(), config.data.level, config.data.vocabulary_size)
        ids = vocabulary.encode(corpus.chunks())
        window = config.data.sequence_length + 1
        split = len(ids) - int(len(ids) * config.data.val_split)
        needed = math.ceil(window / config.data.val_split)
        unit = "characters" if config.data.level == "char" else "words"
        if split < window or len(ids) - split < window:
            raise DataError(
                f"{corpus.name} has {len(ids)} {unit}, too short for one training window and one "
                f"validation window of {window} (needs at least {needed}). Use a longer text or a smaller --max-len."
            )
        warnings = []
        unknown = float(np.mean(ids == 1))
        if config.data.level == "word" and unknown > 0.05:
            warnings.append(f"{unknown:.0%} of the words are [UNK] with --vocab-size {config.data.vocabulary_size}; "
                            "raise it to cover more of the text.")
        return PreparedData(preprocessor=vocabulary, train=ids[:split], validation=ids[split:], warnings=warnings)

    def save_preprocessor(self, prepared: PreparedData, directory: Path) -> None:
        prepared.preprocessor.save(directory)

    def datasets(self, config: Config, prepared: PreparedData):
        batch = config.training.batch_size
        train = windows_dataset(prepared.train, config.data.sequence_length, batch, shuffle=True,
                                seed=config.training.seed)
        validation = windows_dataset(prepared.validation, config.data.sequence_length, batch, shuffle=False)
        steps = math.ceil(((len(prepared.train) - 1) // config.data.sequence_length) / batch)
        return train, validation, steps

    # -- model ------------------------------------------------------------------------------

    def build_model(self, config: Config, prepared: PreparedData):
        return build_language_model(config, prepared.preprocessor.size)

    def compile(self, model, config: Config, optimizer) -> None:
        import keras

        model.compile(
            optimizer=optimizer,
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
            jit_compile=False,  # XLA cannot use the cuDNN RNN kernels
        )

    # -- metrics ----------------------------------------------------------------------------

    def epoch_metrics(self, config: Config, logs: dict[str, float]) -> dict[str, float]:
        metric = _unit_metric(config.data.level)
        return {f"{prefix}{metric}": _convert(float(logs[f"{prefix}loss"]), metric)
                for prefix in ("", "val_") if f"{prefix}loss" in logs}

    def final_metrics(self, model, config: Config, prepared: PreparedData) -> dict[str, Any]:
        vocabulary: TextVocabulary = prepared.preprocessor
        validation = windows_dataset(prepared.validation, config.data.sequence_length, config.training.batch_size)
        return {
            "split": "validation",
            "model": self.evaluate_model(model, validation, vocabulary.level),
            "baselines": {"unigram": unigram_baseline(prepared.train, prepared.validation, vocabulary)},
        }

    def evaluate_model(self, model, dataset, level: str) -> dict[str, float]:
        import keras

        model.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                      metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")], jit_compile=False)
        values = model.evaluate(dataset, verbose=0, return_dict=True)
        loss = float(values["loss"])
        metric = _unit_metric(level)
        return {"loss": loss, metric: _convert(loss, metric), "accuracy": float(values["accuracy"])}

    # -- run methods ------------------------------------------------------------------------

    def generator(self, run):
        if "generator" not in run._cache:
            from rnnkit.generation import TextGenerator

            run._cache["generator"] = TextGenerator(run.model, self.vocabulary(run))
        return run._cache["generator"]

    def vocabulary(self, run) -> TextVocabulary:
        if "vocabulary" not in run._cache:
            run._cache["vocabulary"] = TextVocabulary.load(run.path / "preprocessor")
        return run._cache["vocabulary"]

    def generate(self, run, prompt, length, temperature, top_k, top_p, num_samples, seed) -> list[str]:
        prompts = [prompt] * num_samples if isinstance(prompt, str) else list(prompt)
        if not prompts:
            raise ConfigError("No prompt given: pass a string or a non-empty list of strings.")
        self._warn_unknown(run, prompts)
        tf = _tensorflow()
        seed = random.randrange(2**31) if seed is None else seed
        outputs = self.generator(run).sample(
            tf.constant(prompts), tf.constant(length, tf.int32), tf.constant(temperature, tf.float32),
            tf.constant(seed, tf.int32), tf.constant(top_k, tf.int32), tf.constant(top_p, tf.float32),
        )
        return [text.decode("utf-8") for text in outputs["text"].numpy()]

    def evaluate(self, run, data) -> dict[str, Any]:
        vocabulary = self.vocabulary(run)
        corpus = open_corpus(str(data), run.config.data.encoding)
        ids = vocabulary.encode(corpus.chunks())
        window = run.config.data.sequence_length + 1
        if len(ids) < window:
            raise DataError(f"{corpus.name} has {len(ids)} tokens, fewer than one window of {window}. Use a longer text.")
        _tensorflow()
        dataset = windows_dataset(ids, run.config.data.sequence_length, run.config.training.batch_size)
        counts = np.array([0, vocabulary.unknown_count, *vocabulary.counts])
        return {
            "split": "test",
            "model": self.evaluate_model(run.model, dataset, vocabulary.level),
            "baselines": {"unigram": _unigram_metrics(counts, ids, vocabulary.level)},
        }

    def export_archive(self, run):
        """A Keras `ExportArchive` with `generate`, `sample` and the one-step `serving_default`."""
        import keras

        generator = self.generator(run)
        archive = keras.export.ExportArchive()
        archive.track(run.model)
        archive.track(generator.lookup)
        archive.add_endpoint("serving_default", generator.step)
        archive.add_endpoint("generate", generator.generate)
        archive.add_endpoint("sample", generator.sample)
        return archive

    def _warn_unknown(self, run, prompts: list[str]) -> None:
        vocabulary = self.vocabulary(run)
        known = set(vocabulary.tokens)
        unknown = sorted({token for text in prompts for token in vocabulary.split(text.replace("\r\n", "\n"))} - known)
        if not unknown:
            return
        shown = ", ".join(repr(token) for token in unknown[:10])
        if vocabulary.level == "char":
            log.warning(f"{len(unknown)} prompt character(s) not in the training text were skipped: {shown}")
        else:
            log.warning(f"{len(unknown)} prompt word(s) not in the vocabulary were read as [UNK]: {shown}")


def open_corpus(data: str, encoding: str | None):
    from rnnkit.datasets.builtin import BUILTIN_DATASETS, resolve_builtin
    from rnnkit.datasets.text_files import open_text_corpus

    builtin = BUILTIN_DATASETS.get(data)
    if builtin is not None and builtin.task != "textgen":
        raise DataError(f"'{data}' is {builtin.task} data, not a text corpus. Pass --task {builtin.task}, "
                        "or a .txt file for text generation.")
    return resolve_builtin(data) or open_text_corpus(data, encoding)


MIN_TEMPERATURE = 0.01  # below this, logits / temperature overflows float32


def check_sampling(length: int, temperature: float, top_k: int, top_p: float, num_samples: int, seed: int | None) -> None:
    """Validate sampling options before anything is loaded."""
    checks = [
        (isinstance(length, int) and 1 <= length <= 1_000_000, f"length must be an integer from 1 to 1000000. Received: length={length!r}"),
        (isinstance(temperature, (int, float)) and temperature >= MIN_TEMPERATURE, f"temperature must be >= {MIN_TEMPERATURE} (try 0.5-1.2). Received: temperature={temperature!r}"),
        (isinstance(top_k, int) and top_k >= 0, f"top_k must be an integer >= 0 (0 keeps every token). Received: top_k={top_k!r}"),
        (isinstance(top_p, (int, float)) and 0 < top_p <= 1, f"top_p must be in (0, 1]. Received: top_p={top_p!r}"),
        (isinstance(num_samples, int) and 1 <= num_samples <= 10_000, f"num_samples must be an integer from 1 to 10000. Received: num_samples={num_samples!r}"),
        (seed is None or (isinstance(seed, int) and 0 <= seed < 2**31), f"seed must be an integer from 0 to 2**31-1. Received: seed={seed!r}"),
    ]
    for ok, message in checks:
        if not ok:
            raise ConfigError(message)


def build_language_model(config: Config, vocabulary_size: int):
    """Embedding -> recurrent stack -> Dense logits; layer names are what generation reads."""
    import keras

    from rnnkit.backbone import build_recurrent_stack

    inputs = keras.Input(shape=(None,), dtype="int32", name="token_ids")
    x = keras.layers.Embedding(vocabulary_size, config.model.embedding_dim, name="embedding")(inputs)
    for layer in build_recurrent_stack(config.model, return_sequences=True):
        x = layer(x)
    logits = keras.layers.Dense(vocabulary_size, dtype="float32", name="logits")(x)
    return keras.Model(inputs, logits, name=f"textgen_{config.model.cell}")


def windows_dataset(ids: np.ndarray, sequence_length: int, batch_size: int, shuffle: bool = False, seed: int | None = None):
    """Non-overlapping (input, next-token) windows over `ids`, batched and prefetched."""
    tf = _tensorflow()
    count = (len(ids) - 1) // sequence_length
    inputs = ids[: count * sequence_length].reshape(count, sequence_length)
    targets = ids[1 : count * sequence_length + 1].reshape(count, sequence_length)
    dataset = tf.data.Dataset.from_tensor_slices((inputs, targets))
    if shuffle:
        dataset = dataset.shuffle(count, seed=seed, reshuffle_each_iteration=True)
    return dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def unigram_baseline(train: np.ndarray, validation: np.ndarray, vocabulary: TextVocabulary) -> dict[str, float]:
    return _unigram_metrics(np.bincount(train, minlength=vocabulary.size), validation, vocabulary.level)


def _unigram_metrics(counts_by_id: np.ndarray, ids: np.ndarray, level: str) -> dict[str, float]:
    """Cross-entropy of an add-one-smoothed unigram model over every id but padding."""
    counts = np.asarray(counts_by_id, dtype=np.float64) + 1.0
    counts[0] = 0.0
    probabilities = counts / counts.sum()
    targets = ids[1:]
    loss = float(-np.mean(np.log(probabilities[targets])))
    metric = _unit_metric(level)
    accuracy = float(np.mean(targets == int(np.argmax(probabilities))))
    return {"loss": loss, metric: _convert(loss, metric), "accuracy": accuracy}


def _unit_metric(level: str) -> str:
    return "bits_per_char" if level == "char" else "perplexity"


def _convert(loss: float, metric: str) -> float:
    return loss / math.log(2) if metric == "bits_per_char" else float(math.exp(min(loss, 700)))


def _tensorflow():
    from rnnkit.training import import_tensorflow

    return import_tensorflow()
