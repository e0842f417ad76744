"""Text generation: a character- or word-level recurrent language model.

Preprocessor: `TextVocabulary` (chars or NLTK word tokens, `[UNK]` for the rest).
Model: Embedding -> recurrent stack -> Dense over the vocabulary, trained on every
position of non-overlapping windows. Postprocessor: `TextGenerator`, which samples inside
one graph (`rnnkit generate` and the SavedModel's `generate` signature).
"""

from __future__ import annotations

import logging
import math
import random
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rnnkit.config import Config
from rnnkit.errors import ConfigError, DataError
from rnnkit.options import DATA, MODEL, Option, Tuned, integer, number
from rnnkit.task import PreparedData, Task
from rnnkit.tasks.textgen.sampling import check_sampling
from rnnkit.tf_import import import_tensorflow

if TYPE_CHECKING:
    import numpy as np

    from rnnkit.tasks.textgen.vocabulary import TextVocabulary

log = logging.getLogger("rnnkit")
LEVELS = ("char", "word")


class TextGenTask(Task):
    """Train a language model on text and sample from it."""

    name = "textgen"
    data_description = "a text corpus (.txt files)"
    options = (
        Option("level", "data", default="char", choices=LEVELS, panel=DATA, help="Tokens: characters or words."),
        Option("max_len", "data", key="sequence_length", default=100, type=int, check=integer(2), panel=DATA,
               help="Tokens per training window."),
        Option("vocab_size", "data", key="vocabulary_size", default=20000, type=int,
               check=integer(0, note=" (0 keeps every token)"), panel=DATA,
               help="Word level: keep the N most frequent tokens, the rest become [UNK]; 0 keeps all."),
        Option("stateful", "data", default=False, type=bool, negative="--no-stateful", panel=DATA,
               help="Train on contiguous streams, one per batch row, carrying the recurrent state from batch to "
                    "batch (truncated backpropagation through time); --no-stateful: random windows from a zero "
                    "state."),
        Option("state_reset", "data", default=0.0, type=float, check=number(0, 1, closed="low"), panel=DATA,
               help="--stateful: probability that a stream's state is reset before a batch (besides each pass's "
                    "start)."),
        Option("embedding_dim", "model", default=64, type=int, check=integer(1), panel=MODEL,
               help="Token embedding size."),
        Option("layer_norm", "model", default=None, nullable=True, absent=False, type=bool,
               negative="--no-layer-norm", panel=MODEL,
               help="GRU cells with layer normalization of each gate (better in a CPU budget, no cuDNN kernel); "
                    "--no-layer-norm: Keras' GRU. Default: normalized when training without a GPU."),
    )
    # Measured on Tiny Shakespeare with a fixed CPU budget (benchmarks/textgen_quality.py):
    # GRU runs ~1.5x the tokens/s of LSTM on a CPU and reached 1.65 nats/char in 5 minutes
    # where LSTM reached 1.95; smaller batches and a higher, cosine-decayed peak rate learn
    # more per second. Both cells are cuDNN-eligible on a GPU.
    defaults = {"cell": "gru", "batch_size": 32, "learning_rate": 0.005}
    # `rnnkit tune`: around the defaults, wide enough to find a bigger model for a longer budget.
    search_space = (
        Tuned("cell", choices=("gru", "lstm")),
        Tuned("layers", 1, 3),
        Tuned("units", 128, 768, log=True),
        Tuned("embedding_dim", 32, 256, log=True),
        Tuned("dropout", 0.0, 0.4),
        Tuned("learning_rate", 1e-3, 1e-2, log=True),
        Tuned("batch_size", choices=(16, 32, 64, 128)),
        Tuned("max_len", 50, 200, log=True),
    )

    def resolve_for_hardware(self, config: Config, gpu: bool) -> None:
        # The normalized GRU learned more per CPU-second on Tiny Shakespeare (README, Benchmarks);
        # on a GPU, Keras' GRU runs on cuDNN, several times faster: each where it wins.
        if config.model.layer_norm is None:
            config.model.layer_norm = config.model.cell == "gru" and not gpu

    def check_config(self, config: Config) -> None:
        if config.model.layer_norm and config.model.cell != "gru":
            raise ConfigError(f"--layer-norm normalizes a GRU cell; this run's cell is {config.model.cell}. Use "
                              "--cell gru or drop --layer-norm.")

    @classmethod
    def recognizes(cls, path: Path, encoding: str | None = None) -> float:
        from rnnkit.datasets.labelled_text import is_class_folder, looks_like_class_folders

        if path.is_dir():
            # A folder of folders of .txt files could be one class per folder.
            return 0.5 if is_class_folder(path) or looks_like_class_folders(path) else 1.0
        return 1.0 if path.suffix.lower() == ".txt" else 0.0

    @classmethod
    def detected(cls, path: Path, encoding: str | None = None) -> str:
        return "one corpus of all the .txt files" if path.is_dir() else ""

    # -- data -------------------------------------------------------------------------------

    def prepare(self, config: Config, preprocessor_dir: Path | None = None,
                cache_dir: Path | None = None) -> TextGenData:
        """Fit (or load) the vocabulary and encode the corpus.

        With `cache_dir` (training), the corpus is encoded once, chunk by chunk, into a file of compact
        ids there (`tokens.bin`, described by `tokens.json`) that the training and validation splits
        map read-only: a corpus larger than memory trains in bounded memory, and `--resume` reuses
        the file while it matches the data and the vocabulary. Without it, the ids are held in memory.
        """
        import numpy as np

        from rnnkit.tasks.textgen.metrics import bincount
        from rnnkit.tasks.textgen.tokens import EncodedText, token_file
        from rnnkit.tasks.textgen.vocabulary import fit_vocabulary

        corpus = self.open_corpus(config.data.path, config.data.encoding)
        length = None
        if preprocessor_dir is not None:
            vocabulary = self.load_preprocessor(preprocessor_dir)
        else:
            vocabulary = fit_vocabulary(corpus.chunks(), config.data.level, config.data.vocabulary_size)
            length = sum(vocabulary.counts) + vocabulary.unknown_count  # every token of the text, counted
        if cache_dir is None:
            ids = vocabulary.encode(corpus.chunks())
            split = self._split(config, corpus.name, len(ids))
            tokens = EncodedText(ids, split, bincount(ids[:split], vocabulary.size), int(np.count_nonzero(ids == 1)))
        else:
            tokens = token_file(cache_dir, corpus, vocabulary, config, length,
                                lambda count: self._split(config, corpus.name, count))
        warnings = []
        unknown = tokens.unknown / len(tokens.ids)
        if config.data.level == "word" and unknown > 0.05:
            warnings.append(f"{unknown:.0%} of the words are [UNK] with --vocab-size {config.data.vocabulary_size}; "
                            "raise it to cover more of the text.")
        return TextGenData(preprocessor=vocabulary, train=tokens.ids[: tokens.split],
                           validation=tokens.ids[tokens.split :], warnings=warnings, train_counts=tokens.train_counts)

    @staticmethod
    def _split(config: Config, name: str, length: int) -> int:
        """Where the validation text starts in a text of `length` tokens; too short a text is a `DataError`."""
        window = config.data.sequence_length + 1
        split = length - int(length * config.data.val_split)
        needed = math.ceil(window / config.data.val_split)
        unit = "characters" if config.data.level == "char" else "words"
        if split < window or length - split < window:
            raise DataError(
                f"{name} has {length} {unit}, too short for one training window and one "
                f"validation window of {window} (needs at least {needed}). Use a longer text or a smaller --max-len."
            )
        return split

    def load_preprocessor(self, directory: Path) -> TextVocabulary:
        from rnnkit.tasks.textgen.vocabulary import TextVocabulary

        return TextVocabulary.load(directory)

    def open_corpus(self, data: str, encoding: str | None):
        from rnnkit.datasets.builtin import resolve_builtin
        from rnnkit.datasets.text_files import open_text_corpus

        self.check_builtin(data)
        return resolve_builtin(data) or open_text_corpus(data, encoding)

    def datasets(self, config: Config, prepared: PreparedData):
        batch = config.training.batch_size
        if self._stateful(config, prepared, warn=True):
            from rnnkit.tasks.textgen.streaming import stream_dataset

            train, steps = stream_dataset(prepared.train, config.data.sequence_length, batch, config.training.seed,
                                          config.data.state_reset)
            return train, windows_dataset(prepared.validation, config.data.sequence_length, batch), steps
        train = windows_dataset(prepared.train, config.data.sequence_length, batch, shuffle=True,
                                seed=config.training.seed)
        validation = windows_dataset(prepared.validation, config.data.sequence_length, batch, shuffle=False)
        steps = math.ceil(((len(prepared.train) - 1) // config.data.sequence_length) / batch)
        return train, validation, steps

    # -- model ------------------------------------------------------------------------------

    def build_model(self, config: Config, prepared: PreparedData):
        from rnnkit.tasks.textgen.model import build_language_model

        model = build_language_model(config, prepared.preprocessor.size)
        if self._stateful(config, prepared):
            replicas = import_tensorflow().distribute.get_strategy().num_replicas_in_sync
            if config.training.batch_size % replicas:
                raise ConfigError(
                    f"--stateful needs --batch-size divisible by the {replicas} replicas training it (one stream per "
                    f"row of each replica's part). Received: batch_size={config.training.batch_size}. Use a multiple "
                    f"of {replicas}, or --no-stateful.")
            model.carry_states(config.training.batch_size // replicas)
        return model

    @staticmethod
    def _stateful(config: Config, prepared: PreparedData, warn: bool = False) -> bool:
        """Whether this run trains statefully: asked for, and the training text holds two batches per stream."""
        from rnnkit.tasks.textgen.streaming import stream_layout

        if not config.data.stateful:
            if warn and config.data.state_reset:
                log.warning("--state-reset applies to --stateful training only; it has no effect here.")
            return False
        if stream_layout(len(prepared.train), config.data.sequence_length, config.training.batch_size) is None:
            if warn:
                log.warning(f"The training text is too short for {config.training.batch_size} streams of two "
                            f"{config.data.sequence_length}-token batches: training on random windows instead. "
                            "Use a smaller --batch-size or --max-len to train statefully.")
            return False
        return True

    def custom_objects(self) -> dict[str, Any]:
        from rnnkit.cells import LayerNormGRUCell
        from rnnkit.tasks.textgen.model import LanguageModel

        return {"LanguageModel": LanguageModel, "LayerNormGRUCell": LayerNormGRUCell}

    def compile(self, model, config: Config, optimizer) -> None:
        from rnnkit.tasks.textgen.model import compile_language_model

        compile_language_model(model, optimizer)

    def build_inference(self, model, preprocessor: TextVocabulary, xla: bool = False):
        from rnnkit.tasks.textgen.generation import TextGenerator

        return TextGenerator(model, preprocessor, xla=xla)

    def edge_core(self, run, model):
        from rnnkit.tasks.textgen.generation import build_edge_core

        return build_edge_core(model, self.preprocessor(run))

    def generator(self, run, xla: bool = False):
        """The run's `TextGenerator`, with the XLA-compiled loop or the plain one, built once each."""
        if not xla:
            return self.inference(run)
        return run.cached("inference-xla", lambda: self.build_inference(run.model, self.preprocessor(run), xla=True))

    def export_archive(self, run, inference=None, xla: bool = False):
        return super().export_archive(run, inference or self.generator(run, xla))

    # -- metrics ----------------------------------------------------------------------------

    def epoch_metrics(self, config: Config, logs: dict[str, float]) -> dict[str, float]:
        from rnnkit.tasks.textgen import metrics

        metric = metrics.unit_metric(config.data.level)
        return {f"{prefix}{metric}": metrics.convert(float(logs[f"{prefix}loss"]), metric)
                for prefix in ("", "val_") if f"{prefix}loss" in logs}

    def final_metrics(self, inference, config: Config, prepared: PreparedData, portion: float = 1.0) -> dict[str, Any]:
        from rnnkit.tasks.textgen import metrics

        vocabulary: TextVocabulary = prepared.preprocessor
        held_out = prepared.validation
        if portion < 1.0:  # the start of the held-out text, the model and the baseline alike
            held_out = held_out[: max(config.data.sequence_length + 1, int(len(held_out) * portion))]
        validation = windows_dataset(held_out, config.data.sequence_length, config.training.batch_size)
        counts = getattr(prepared, "train_counts", None)
        if counts is None:
            counts = metrics.bincount(prepared.train, vocabulary.size)
        scored = {
            "split": "validation",
            "model": _model_metrics(inference.model, validation, vocabulary.level),
            "baselines": {"unigram": metrics.unigram_metrics(counts, held_out, vocabulary.level)},
        }
        if len(held_out) < len(prepared.validation):
            scored["portion"] = round(len(held_out) / len(prepared.validation), 4)
        scored["model"].update(_streaming_metrics(inference.model, held_out, config.data.sequence_length,
                                                  vocabulary.level))
        return scored

    def next_steps(self, run) -> list[str]:
        return [f"Sample it:  rnnkit generate {run.path} --prompt 'The '"]

    # -- a trained run ------------------------------------------------------------------------

    def generate(self, run, prompt="", length=300, temperature=0.8, top_k=0, top_p=1.0, num_samples=1,
                 seed=None, xla: bool = False) -> list[str]:
        check_sampling(length=length, temperature=temperature, top_k=top_k, top_p=top_p,
                       num_samples=num_samples, seed=seed)
        prompts = [prompt] * num_samples if isinstance(prompt, str) else list(prompt)
        if not prompts or not all(isinstance(text, str) for text in prompts):
            raise ConfigError("prompt must be a string or a non-empty list of strings.")
        self._warn_unknown(run, prompts)
        tf = import_tensorflow()
        seed = random.randrange(2**31) if seed is None else seed
        outputs = self.generator(run, xla).sample(
            tf.constant(prompts), tf.constant(length, tf.int32), tf.constant(temperature, tf.float32),
            tf.constant(seed, tf.int32), tf.constant(top_k, tf.int32), tf.constant(top_p, tf.float32),
        )
        return [text.decode("utf-8") for text in outputs["text"].numpy()]

    def evaluate(self, run, data) -> dict[str, Any]:
        import numpy as np

        from rnnkit.tasks.textgen import metrics

        vocabulary = self.preprocessor(run)
        corpus = self.open_corpus(str(data), run.config.data.encoding)
        ids = vocabulary.encode(corpus.chunks())
        window = run.config.data.sequence_length + 1
        if len(ids) < window:
            raise DataError(f"{corpus.name} has {len(ids)} tokens, fewer than one window of {window}. Use a longer text.")
        import_tensorflow()
        dataset = windows_dataset(ids, run.config.data.sequence_length, run.config.training.batch_size)
        counts = np.array([0, vocabulary.unknown_count, *vocabulary.counts])
        return {
            "split": "test",
            "model": _model_metrics(run.model, dataset, vocabulary.level)
            | _streaming_metrics(run.model, ids, run.config.data.sequence_length, vocabulary.level),
            "baselines": {"unigram": metrics.unigram_metrics(counts, ids, vocabulary.level)},
        }

    def _warn_unknown(self, run, prompts: list[str]) -> None:
        vocabulary = self.preprocessor(run)
        known = set(vocabulary.tokens)
        unknown = sorted({token for text in prompts for token in vocabulary.split(text.replace("\r\n", "\n"))} - known)
        if not unknown:
            return
        shown = ", ".join(repr(token) for token in unknown[:10])
        if vocabulary.level == "char":
            log.warning(f"{len(unknown)} prompt character(s) not in the training text were skipped: {shown}")
        else:
            log.warning(f"{len(unknown)} prompt word(s) not in the vocabulary were read as [UNK]: {shown}")


def windows_dataset(ids: np.ndarray, sequence_length: int, batch_size: int, shuffle: bool = False,
                    seed: int | None = None):
    """Non-overlapping (input, next-token) windows over `ids`, batched and prefetched.

    Window k is `ids[kL : kL + L]` -> `ids[kL + 1 : kL + L + 1]` (L = `sequence_length`). The pipeline
    holds window numbers, not text: each batch gathers its windows from `ids` (an array or a
    memory-mapped token file), so a corpus of any size costs no memory here.

    Args:
        ids: token ids, any integer type.
        sequence_length: tokens per window.
        batch_size: windows per batch (the last batch may hold fewer).
        shuffle: take the windows in a random order, a new one on each pass over the dataset
            (as `Dataset.shuffle(..., reshuffle_each_iteration=True)` would, with no buffer).
            Defaults to `False`.
        seed: with `shuffle`, the seed of the orders: the same seed gives a new dataset object the
            same sequence of orders, pass after pass. Defaults to `None`.
    """
    import numpy as np

    from rnnkit.tasks.textgen.streaming import page_releaser

    tf = import_tensorflow()
    count = (len(ids) - 1) // sequence_length
    offsets = np.arange(sequence_length + 1)
    release = page_releaser(ids)

    def gather(numbers: np.ndarray) -> np.ndarray:
        rows = ids[numbers[:, None] * sequence_length + offsets].astype(np.int32)
        release()
        return rows

    def windows(numbers):
        rows = tf.ensure_shape(tf.numpy_function(gather, [numbers], tf.int32, stateful=False),
                               [None, sequence_length + 1])
        return rows[:, :-1], rows[:, 1:]

    numbers = tf.data.Dataset.range(count).batch(batch_size)
    if shuffle:
        numbers = _permuted(numbers, count, seed)
    return numbers.map(windows).prefetch(tf.data.AUTOTUNE)


def _permuted(numbers, count: int, seed: int | None):
    """`numbers` (batches of 0..count-1) mapped through a random permutation of them, a new one per pass.

    `tf.random.experimental.index_shuffle` permutes without a buffer. Its key comes from
    `Dataset.random(rerandomize_each_iteration=True)`, which, like `shuffle`'s reshuffling, draws
    anew each time the dataset is iterated (each pass of a `.repeat()`), from a generator seeded
    with `seed`: a fresh pipeline replays the same passes, which exact `--resume` relies on.
    """
    tf = import_tensorflow()

    def one_pass(key):
        return numbers.map(lambda batch: tf.random.experimental.index_shuffle(batch, key, count - 1))

    keys = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2, drop_remainder=True).take(1)
    return keys.flat_map(one_pass)


def _streaming_metrics(model, ids, chunk: int, level: str) -> dict[str, float]:
    """The loss over the held-out text read as long streams with carried state (see
    `rnnkit.tasks.textgen.streaming`), as `streaming_loss` and `streaming_bits_per_char` (or
    `streaming_perplexity`), with `streaming_tokens` when only the start was read."""
    from rnnkit.tasks.textgen import metrics
    from rnnkit.tasks.textgen.streaming import MAX_TOKENS, streaming_loss

    loss, tokens = streaming_loss(model, ids, chunk)
    metric = metrics.unit_metric(level)
    found = {"streaming_loss": loss, f"streaming_{metric}": metrics.convert(loss, metric)}
    return found | ({"streaming_tokens": tokens} if len(ids) - 1 > MAX_TOKENS else {})


def _model_metrics(model, dataset, level: str) -> dict[str, float]:
    from rnnkit.tasks.textgen import metrics

    from rnnkit.tasks.textgen.model import compile_language_model

    compile_language_model(model)
    values = model.evaluate(dataset, verbose=0, return_dict=True)
    return metrics.from_loss(float(values["loss"]), float(values["accuracy"]), level)


@dataclass
class TextGenData(PreparedData):
    """`PreparedData` with how often each id occurs in the training split (the unigram baseline's counts)."""

    train_counts: np.ndarray | None = None
