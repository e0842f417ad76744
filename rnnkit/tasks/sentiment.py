"""Text classification ("sentiment"): binary or multi-class, on IMDB or the user's labelled texts.

Preprocessor: `TextClassificationPreprocessor` (standardize, `TextVectorization`, the last
`--max-len` tokens, right padding). Model: Embedding (`mask_zero`) -> recurrent stack
returning sequences -> max over the unmasked steps -> Dense (sigmoid for two classes,
softmax for more). Postprocessor: `rnnkit.classification` (probabilities -> label names),
the same graph `Run.predict`, `evaluate` and the SavedModel run.
"""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from rnnkit.config import Config, DataConfig, ModelConfig, TrainingConfig
from rnnkit.errors import ConfigError, DataError
from rnnkit.preprocessing.text_classification import TextClassificationPreprocessor
from rnnkit.tasks.base import PreparedData, Task

MIN_TEXTS = 10
IMBALANCE_RATIO = 3.0
ENCODE_BATCH = 4096
BUCKET_BOUNDARIES = (16, 32, 48, 64, 96, 128, 160, 192, 256, 320, 384, 448, 512, 768, 1024)


class SentimentTask(Task):
    """Train a recurrent text classifier and query it with raw strings."""

    name = "sentiment"

    def default_config(self) -> Config:
        # Chosen on IMDB (22,500 reviews, 2,500 held out): BiGRU(64) with max pooling over
        # time reached 0.90-0.91 accuracy in 3-4 epochs, where the last state reached 0.89
        # and the keras-io 2 x BiLSTM(64) recipe 0.87; max pooling also learns faster on
        # small data (0.83-0.85 after 2 epochs on 2,700 reviews). GRU for CPU speed.
        return Config(
            task=self.name,
            data=DataConfig(level="word", sequence_length=400, vocabulary_size=20000),
            model=ModelConfig(cell="gru", num_layers=1, units=64, bidirectional=True, dropout=0.3, embedding_dim=128),
            training=TrainingConfig(epochs=4, batch_size=64, learning_rate=0.003, patience=2),
        )

    def check_config(self, config: Config) -> None:
        if config.data.level != "word":
            raise ConfigError("--level char does not apply to text classification, which reads words. Drop --level.")
        if config.data.vocabulary_size in (1, 2):
            raise ConfigError("vocab_size must be 0 (keep every word) or at least 3 (padding, [UNK] and one word). "
                              f"Received: vocab_size={config.data.vocabulary_size}")

    # -- data -------------------------------------------------------------------------------

    def prepare(self, config: Config, preprocessor_dir: Path | None = None) -> PreparedData:
        from rnnkit.datasets.labelled_text import stratified_split
        from rnnkit.preprocessing.text_classification import fit_preprocessor

        data = load_labelled(config.data)
        if len(data.texts) < MIN_TEXTS:
            raise DataError(f"{data.name} has {len(data.texts)} labelled texts; at least {MIN_TEXTS} are needed "
                            "(a validation split is held out from them).")
        train_index, validation_index = stratified_split(data.labels, config.data.val_split, config.training.seed)
        if not validation_index:
            raise DataError(f"{data.name} is too small for a validation split of {config.data.val_split}. "
                            "Add texts or raise --val-split.")
        train_texts = [data.texts[i] for i in train_index]
        train_labels = [data.labels[i] for i in train_index]
        classes = data.classes
        tally = Counter(train_labels)
        counts = [tally[label] for label in classes]
        _tf()
        if preprocessor_dir is not None:
            preprocessor = TextClassificationPreprocessor.load(preprocessor_dir)
            if preprocessor.labels != classes:
                raise DataError(f"{data.name} has the classes {', '.join(classes)}, but the run being resumed was "
                                f"trained on {', '.join(preprocessor.labels)}. Resume with the same data.")
        else:
            preprocessor = fit_preprocessor(train_texts, classes, counts, config.data.vocabulary_size,
                                            config.data.sequence_length)
        weights = _class_weights(config.training.class_weight, counts)
        config.data_summary = {
            "text_column": data.columns[0] if data.columns else None,
            "label_column": data.columns[1] if data.columns else None,
            "classes": dict(zip(classes, counts)),
            "class_weights": dict(zip(classes, weights)) if weights else None,
            "train_texts": len(train_index), "validation_texts": len(validation_index),
            "test_texts": len(data.test.texts) if data.test else 0, "dropped_texts": data.dropped,
        }
        warnings = list(data.notes)
        if data.dropped:
            warnings.append(f"Dropped {data.dropped} row(s) of {data.name} with an empty text or label.")
        if weights:
            shown = ", ".join(f"{label} {weight:.2f}" for label, weight in zip(classes, weights))
            warnings.append(f"Classes are imbalanced ({max(counts)}:{min(counts)}); weighing them in the loss: {shown}. "
                            "Pass --class-weight none to turn this off.")
        label_ids = {label: index for index, label in enumerate(classes)}
        return PreparedData(
            preprocessor=preprocessor,
            train=(train_texts, np.array([label_ids[label] for label in train_labels]), weights),
            validation=([data.texts[i] for i in validation_index], np.array([label_ids[data.labels[i]] for i in validation_index])),
            test=None if data.test is None else (data.test.texts, _label_ids(data.test, preprocessor.labels)),
            warnings=warnings,
        )

    def save_preprocessor(self, prepared: PreparedData, directory: Path) -> None:
        prepared.preprocessor.save(directory)

    def datasets(self, config: Config, prepared: PreparedData):
        preprocessor: TextClassificationPreprocessor = prepared.preprocessor
        texts, targets, weights = prepared.train
        batch = config.training.batch_size
        ids = encode_texts(preprocessor, texts)
        lengths = ids.row_lengths().numpy()
        boundaries = [b for b in BUCKET_BOUNDARIES if b < config.data.sequence_length]
        # Batches of similar lengths pad little: on a CPU the recurrent layers pay for every
        # padded step. Bucket membership depends only on length, so the steps are exact.
        buckets = np.bincount(np.searchsorted(boundaries, lengths, side="right"), minlength=len(boundaries) + 1)
        steps = int(sum(math.ceil(count / batch) for count in buckets))
        train = _dataset(preprocessor, ids, targets, None if weights is None else np.asarray(weights)[targets])
        train = train.shuffle(len(texts), seed=config.training.seed, reshuffle_each_iteration=True)
        train = train.bucket_by_sequence_length(_length, boundaries, [batch] * (len(boundaries) + 1))
        train = train.apply(_tf().data.experimental.assert_cardinality(steps))  # Keras warns on unknown sizes
        validation_texts, validation_targets = prepared.validation
        validation = _sorted_batches(preprocessor, validation_texts, validation_targets, batch)
        tf = _tf()
        return train.prefetch(tf.data.AUTOTUNE), validation.prefetch(tf.data.AUTOTUNE), steps

    # -- model ------------------------------------------------------------------------------

    def build_model(self, config: Config, prepared: PreparedData):
        return build_classifier_model(config, prepared.preprocessor.vocabulary_size, prepared.preprocessor.num_classes)

    def compile(self, model, config: Config, optimizer) -> None:
        import keras

        binary = model.output_shape[-1] == 1
        model.compile(
            optimizer=optimizer,
            loss=keras.losses.BinaryCrossentropy() if binary else keras.losses.SparseCategoricalCrossentropy(),
            metrics=[keras.metrics.BinaryAccuracy(name="accuracy") if binary
                     else keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
            jit_compile=False,  # XLA cannot use the cuDNN RNN kernels
        )

    # -- metrics ----------------------------------------------------------------------------

    def final_metrics(self, model, config: Config, prepared: PreparedData) -> dict[str, Any]:
        from rnnkit.classification import build_classifier_module

        split, (texts, targets) = ("test", prepared.test) if prepared.test else ("validation", prepared.validation)
        return _metrics(build_classifier_module(model, prepared.preprocessor), prepared.preprocessor, texts, targets, split)

    def plots(self, run_dir: Path, history: list[dict[str, float]]) -> None:
        import json

        from rnnkit.plots import confusion_matrix, learning_curves

        learning_curves(run_dir, history)
        metrics = json.loads((Path(run_dir) / "metrics.json").read_text(encoding="utf-8"))
        confusion_matrix(run_dir, metrics["model"]["confusion_matrix"], metrics["labels"], metrics["split"])

    # -- run methods ------------------------------------------------------------------------

    def preprocessor(self, run) -> TextClassificationPreprocessor:
        if "preprocessor" not in run._cache:
            run._cache["preprocessor"] = TextClassificationPreprocessor.load(run.path / "preprocessor")
        return run._cache["preprocessor"]

    def classifier(self, run):
        if "classifier" not in run._cache:
            from rnnkit.classification import build_classifier_module

            run._cache["classifier"] = build_classifier_module(run.model, self.preprocessor(run))
        return run._cache["classifier"]

    def predict(self, run, texts: list[str]) -> list[dict[str, Any]]:
        from rnnkit.classification import predict_probabilities

        labels = self.preprocessor(run).labels
        probabilities = predict_probabilities(self.classifier(run), texts)
        results = []
        for text, row in zip(texts, probabilities):
            best = int(np.argmax(row))
            results.append({"text": text, "label": labels[best], "probability": float(row[best]),
                            "probabilities": {label: float(p) for label, p in zip(labels, row)}})
        return results

    def evaluate(self, run, data, text_col: str | None = None, label_col: str | None = None) -> dict[str, Any]:
        preprocessor = self.preprocessor(run)
        summary = run.config.data_summary
        data_config = DataConfig(path=str(data), encoding=run.config.data.encoding, text_column=text_col,
                                 label_column=label_col)
        # The training columns are used when the file has them; otherwise columns are found again.
        labelled = load_labelled(data_config, require_two=False,
                                 preferred=(summary.get("text_column"), summary.get("label_column")))
        if labelled.test is not None:
            labelled = labelled.test
        return _metrics(self.classifier(run), preprocessor, labelled.texts, _label_ids(labelled, preprocessor.labels), "test")

    def export_archive(self, run):
        """A Keras `ExportArchive` whose `serving_default` takes raw strings (DESIGN §7)."""
        import keras

        classifier = self.classifier(run)
        archive = keras.export.ExportArchive()
        archive.track(run.model)
        archive.track(classifier.vectorizer)
        archive.add_endpoint("serving_default", classifier.classify)
        return archive


def load_labelled(data: DataConfig, require_two: bool = True, preferred: tuple | None = None):
    """The labelled texts `data.path` names: `imdb`, a file or a folder."""
    from rnnkit.datasets.builtin import BUILTIN_DATASETS
    from rnnkit.datasets.imdb import load_imdb
    from rnnkit.datasets.labelled_text import check_labels, open_labelled

    builtin = BUILTIN_DATASETS.get(data.path)
    if builtin is not None and builtin.task != "sentiment":
        raise DataError(f"'{data.path}' is {builtin.task} data, not labelled texts. Pass a CSV/TSV/JSONL, "
                        "an aclImdb-style folder or `imdb`.")
    if data.path == "imdb":
        labelled = load_imdb()
        check_labels(labelled, require_two)
        return labelled
    return open_labelled(data.path, text_col=data.text_column, label_col=data.label_column, encoding=data.encoding,
                         require_labels=require_two, preferred=preferred)


def build_classifier_model(config: Config, vocabulary_size: int, num_classes: int):
    """Embedding -> recurrent stack -> masked max pooling -> Dense probabilities."""
    import keras

    from rnnkit.backbone import build_recurrent_stack
    from rnnkit.layers import MaskedGlobalMaxPooling1D

    inputs = keras.Input(shape=(None,), dtype="int64", name="token_ids")
    x = keras.layers.Embedding(vocabulary_size, config.model.embedding_dim, mask_zero=True, name="embedding")(inputs)
    for layer in build_recurrent_stack(config.model, return_sequences=True):
        x = layer(x)
    x = MaskedGlobalMaxPooling1D(name="max_over_time")(x)
    binary = num_classes == 2
    outputs = keras.layers.Dense(1 if binary else num_classes, activation="sigmoid" if binary else "softmax",
                                 dtype="float32", name="probabilities")(x)
    return keras.Model(inputs, outputs, name=f"classifier_{config.model.cell}")


def encode_texts(preprocessor: TextClassificationPreprocessor, texts: list[str]):
    """All `texts` as one ragged tensor of ids, encoded in large batches in-graph."""
    tf = _tf()
    encode = tf.function(preprocessor.encode, input_signature=[tf.TensorSpec([None], tf.string)])
    parts = [encode(tf.constant(texts[start:start + ENCODE_BATCH], tf.string))
             for start in range(0, len(texts), ENCODE_BATCH)]
    return tf.concat(parts, axis=0)


def _dataset(preprocessor, ids, targets: np.ndarray, weights: np.ndarray | None):
    tf = _tf()
    y = _targets(preprocessor, targets)
    columns = (ids, y) if weights is None else (ids, y, weights.astype(np.float32))
    # Slices of a ragged tensor come out as 1-D ragged values; an identity map makes them
    # plain tensors, which bucketing and padding need.
    return tf.data.Dataset.from_tensor_slices(columns).map(_identity)


def _identity(*columns):
    return columns


def _length(ids, *_):
    return _tf().shape(ids)[0]


def _sorted_batches(preprocessor, texts: list[str], targets: np.ndarray, batch: int):
    """Evaluation batches in order of length (each padded to its own longest text)."""
    tf = _tf()
    ids = encode_texts(preprocessor, texts)
    order = np.argsort(ids.row_lengths().numpy(), kind="stable")
    dataset = tf.data.Dataset.from_tensor_slices((tf.gather(ids, order), _targets(preprocessor, targets[order])))
    return dataset.map(_identity).padded_batch(batch)


def _targets(preprocessor, targets: np.ndarray) -> np.ndarray:
    # Two classes: a float 0/1 per text for the sigmoid head; more: the class index.
    return targets.astype(np.float32)[:, None] if preprocessor.num_classes == 2 else targets.astype(np.int32)


def _metrics(classifier, preprocessor, texts: list[str], targets: np.ndarray, split: str) -> dict[str, Any]:
    from rnnkit.classification import classification_metrics, majority_baseline, predict_probabilities

    probabilities = predict_probabilities(classifier, texts)
    return {
        "split": split,
        "labels": preprocessor.labels,
        "model": classification_metrics(targets, probabilities),
        "baselines": {"majority": majority_baseline(targets, preprocessor.label_counts)},
    }


def _label_ids(data, labels: list[str]) -> np.ndarray:
    known = {label: index for index, label in enumerate(labels)}
    unknown = sorted(set(data.labels) - set(known))
    if unknown:
        shown = ", ".join(repr(label) for label in unknown[:10])
        raise DataError(f"{data.name} has labels the model was not trained on: {shown}. "
                        f"It knows: {', '.join(labels)}.")
    return np.array([known[label] for label in data.labels], dtype=np.int64)


def _class_weights(mode: str, counts: list[int]) -> list[float] | None:
    from rnnkit.classification import class_weights

    imbalanced = max(counts) > IMBALANCE_RATIO * min(counts)
    if mode == "balanced" or (mode == "auto" and imbalanced):
        return class_weights(counts)
    return None


def _tf():
    from rnnkit.training import import_tensorflow

    return import_tensorflow()

