"""Text classification ("sentiment"): binary or multi-class, on IMDB or the user's labelled texts.

Preprocessor: `TextClassificationPreprocessor` (standardize, `TextVectorization`, the last
`--max-len` tokens, right padding). Model: Embedding (`mask_zero`) -> recurrent stack
returning sequences -> max over the unmasked steps -> Dense (sigmoid for two classes,
softmax for more). Postprocessor: the in-graph classifier (`classifier.py`), the same graph
`Run.predict`, `evaluate` and the SavedModel run.
"""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path
from typing import Any


from rnnkit.config import Config
from rnnkit.errors import ConfigError, DataError
from rnnkit.options import DATA, MODEL, TRAINING, Option, Tuned, integer, non_empty, number
from rnnkit.task import PreparedData, Task
from rnnkit.tasks.sentiment.preprocessor import TextClassificationPreprocessor
from rnnkit.tf_import import import_tensorflow

MIN_TEXTS = 10
IMBALANCE_RATIO = 3.0
ENCODE_BATCH = 4096
BUCKET_BOUNDARIES = (16, 32, 48, 64, 96, 128, 160, 192, 256, 320, 384, 448, 512, 768, 1024)
CLASS_WEIGHTS = ("auto", "balanced", "none")
POOLINGS = ("max", "max_mean_last")


def _vocabulary_size(name: str, value: Any) -> str | None:
    if integer(0)(name, value) is None and value not in (1, 2):
        return None
    return (f"{name} must be 0 (keep every word) or at least 3 (padding, [UNK] and one word). "
            f"Received: {name}={value!r}")


class SentimentTask(Task):
    """Train a recurrent text classifier and query it with raw strings."""

    name = "sentiment"
    data_description = "labelled texts (a CSV/TSV/JSONL, an aclImdb-style folder or `imdb`)"
    options = (
        Option("max_len", "data", key="sequence_length", default=400, type=int, check=integer(2), panel=DATA,
               help="Tokens kept per text (see --truncate)."),
        Option("truncate", "data", default="keep_last", choices=("keep_last", "head_tail"), panel=DATA,
               help="A longer text keeps its last --max-len tokens (keep_last), or its first quarter of them and "
                    "the rest from its end (head_tail)."),
        Option("vocab_size", "data", key="vocabulary_size", default=20000, type=int, check=_vocabulary_size,
               panel=DATA, help="Keep the N most frequent words, the rest become [UNK]; 0 keeps all."),
        Option("text_col", "data", key="text_column", nullable=True, check=non_empty, panel=DATA,
               help="The text column of a CSV/TSV/JSONL; found by name or content when not given."),
        Option("label_col", "data", key="label_column", nullable=True, check=non_empty, panel=DATA,
               help="The label column; found by name or content when not given."),
        Option("embedding_dim", "model", default=128, type=int, check=integer(1), panel=MODEL,
               help="Token embedding size."),
        Option("bidirectional", "model", default=True, type=bool, negative="--unidirectional", panel=MODEL,
               help="Bidirectional recurrent layers."),
        Option("bigrams", "model", key="bigram_buckets", default=0, type=int, check=integer(0), panel=MODEL,
               help="Hashed word-pair buckets of a fastText branch (mean word and word-pair embeddings) beside "
                    "the recurrent one; 0 for none."),
        Option("pooling", "model", default="max", absent="max", choices=POOLINGS, panel=MODEL,
               help="What the recurrent outputs become: their max over the text (max), or that next to their "
                    "mean and the last step of each direction (max_mean_last)."),
        Option("embedding_dropout", "model", default=0.0, absent=0.0, type=float, check=number(0, 1, closed="low"),
               panel=MODEL, help="Drop whole embedding channels with this probability in training (spatial "
                                 "dropout); 0 for none."),
        Option("class_weight", "training", default="auto", choices=CLASS_WEIGHTS, panel=TRAINING,
               help="Weigh classes inversely to their frequency (auto: when the largest is over 3x the smallest)."),
    )
    # Chosen on IMDB (22,500 reviews, 2,500 held out): BiGRU(64) with max pooling over
    # time reached 0.90-0.91 accuracy in 3-4 epochs, where the last state reached 0.89
    # and the keras-io 2 x BiLSTM(64) recipe 0.87; max pooling also learns faster on
    # small data (0.83-0.85 after 2 epochs on 2,700 reviews). GRU for CPU speed.
    # `rnnkit tune`: around the defaults.
    search_space = (
        Tuned("cell", choices=("gru", "lstm")),
        Tuned("layers", 1, 2),
        Tuned("units", 32, 256, log=True),
        Tuned("embedding_dim", 32, 256, log=True),
        Tuned("dropout", 0.0, 0.5),
        Tuned("learning_rate", 5e-4, 1e-2, log=True),
        Tuned("batch_size", choices=(32, 64, 128)),
        Tuned("max_len", 100, 600, log=True),
    )
    defaults = {"cell": "gru", "layers": 1, "units": 64, "dropout": 0.3, "epochs": 4, "batch_size": 64,
                "learning_rate": 0.003, "patience": 2}
    evaluate_options = (
        Option("text_col", "data", nullable=True, check=non_empty,
               help="The text column of DATA; the training column if DATA has it, else found."),
        Option("label_col", "data", nullable=True, check=non_empty,
               help="The label column of DATA; as for --text-col."),
    )

    @classmethod
    def recognizes(cls, path: Path, encoding: str | None = None) -> float:
        from rnnkit.datasets.labelled_text import (is_class_folder, is_labelled_file, labelled_columns,
                                                   looks_like_class_folders)

        if path.is_dir():
            return 1.0 if is_class_folder(path) else 0.5 if looks_like_class_folders(path) else 0.0
        if not is_labelled_file(path):
            return 0.0
        columns = labelled_columns(path, encoding)
        if columns is None:  # unreadable: the reader says why
            return 0.5
        text, label = columns
        return 0.75 if text and label else 0.5 if text else 0.25

    @classmethod
    def detected(cls, path: Path, encoding: str | None = None) -> str:
        from rnnkit.datasets.labelled_text import labelled_columns

        if path.is_dir():
            classes = sorted(child.name for child in path.iterdir() if child.is_dir() and any(child.glob("*.txt")))
            return f"one class per folder: {', '.join(classes)}" if classes else ""
        columns = labelled_columns(path, encoding)
        if columns is None:
            return ""
        text, label = columns
        if text is None:
            return "no column of text"
        return f"a text column '{text}' and " + (f"a label column '{label}'" if label else "no label column found")

    # -- data -------------------------------------------------------------------------------

    def prepare(self, config: Config, preprocessor_dir: Path | None = None) -> PreparedData:
        import numpy as np

        from rnnkit.datasets.labelled_text import stratified_split
        from rnnkit.tasks.sentiment.preprocessor import fit_preprocessor

        data = self.load_labelled(config.data.path, config.data.encoding, config.data.text_column,
                                  config.data.label_column)
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
        import_tensorflow()
        if preprocessor_dir is not None:
            preprocessor = self.load_preprocessor(preprocessor_dir)
            if preprocessor.labels != classes:
                raise DataError(f"{data.name} has the classes {', '.join(classes)}, but the run being resumed was "
                                f"trained on {', '.join(preprocessor.labels)}. Resume with the same data.")
        else:
            preprocessor = fit_preprocessor(train_texts, classes, counts, config.data.vocabulary_size,
                                            config.data.sequence_length, config.data.truncate)
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

    def load_preprocessor(self, directory: Path) -> TextClassificationPreprocessor:
        return TextClassificationPreprocessor.load(directory)

    def load_labelled(self, data: str, encoding: str | None, text_col: str | None = None,
                      label_col: str | None = None, require_two: bool = True, preferred: tuple | None = None):
        """The labelled texts `data` names: `imdb`, a file or a folder."""
        from rnnkit.datasets.imdb import load_imdb
        from rnnkit.datasets.labelled_text import check_labels, open_labelled

        self.check_builtin(data)
        if data == "imdb":
            labelled = load_imdb()
            check_labels(labelled, require_two)
            return labelled
        return open_labelled(data, text_col=text_col, label_col=label_col, encoding=encoding,
                             require_labels=require_two, preferred=preferred)

    def datasets(self, config: Config, prepared: PreparedData):
        import numpy as np

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
        tf = import_tensorflow()
        train = train.apply(tf.data.experimental.assert_cardinality(steps))  # Keras warns on unknown sizes
        validation_texts, validation_targets = prepared.validation
        validation = _sorted_batches(preprocessor, validation_texts, validation_targets, batch)
        return train.prefetch(tf.data.AUTOTUNE), validation.prefetch(tf.data.AUTOTUNE), steps

    # -- model ------------------------------------------------------------------------------

    def build_model(self, config: Config, prepared: PreparedData):
        from rnnkit.tasks.sentiment.model import build_classifier_model

        preprocessor = prepared.preprocessor
        return build_classifier_model(config, preprocessor.vocabulary_size, preprocessor.num_classes)

    def compile(self, model, config: Config, optimizer) -> None:
        from rnnkit.tasks.sentiment.model import compile_classifier

        compile_classifier(model, optimizer)

    def build_inference(self, model, preprocessor: TextClassificationPreprocessor):
        from rnnkit.tasks.sentiment.classifier import build_classifier_module

        return build_classifier_module(model, preprocessor)

    def edge_core(self, run, model):
        from rnnkit.tasks.sentiment.classifier import build_edge_core

        return build_edge_core(model, self.preprocessor(run))

    def custom_objects(self) -> dict[str, Any]:
        from rnnkit.tasks.sentiment.layers import HashedBigrams, MaskedEnds, MaskedGlobalMaxPooling1D, MaskedMean

        return {"MaskedGlobalMaxPooling1D": MaskedGlobalMaxPooling1D, "HashedBigrams": HashedBigrams,
                "MaskedMean": MaskedMean, "MaskedEnds": MaskedEnds}

    # -- metrics ----------------------------------------------------------------------------

    def final_metrics(self, inference, config: Config, prepared: PreparedData, portion: float = 1.0) -> dict[str, Any]:
        import numpy as np

        split, (texts, targets) = ("test", prepared.test) if prepared.test else ("validation", prepared.validation)
        total = len(texts)
        if portion < 1.0:  # spread over the split: files are often sorted by label
            keep = np.unique(np.linspace(0, total - 1, max(1, int(total * portion))).round().astype(int))
            texts, targets = [texts[i] for i in keep], targets[keep]
        scored = _metrics(inference, prepared.preprocessor, texts, targets, split)
        if len(texts) < total:
            scored["portion"] = round(len(texts) / total, 4)
        return scored

    def plots(self, directory: Path, history: list[dict[str, float]], metrics: dict[str, Any], inference,
              prepared: PreparedData) -> None:
        from rnnkit.tasks.sentiment.plots import confusion_matrix

        super().plots(directory, history, metrics, inference, prepared)
        confusion_matrix(directory, metrics["model"]["confusion_matrix"], metrics["labels"], metrics["split"])

    def next_steps(self, run) -> list[str]:
        return [f'Query it:   rnnkit predict {run.path} "a wonderful film"']

    # -- a trained run ------------------------------------------------------------------------

    def predict(self, run, texts: str | list[str]) -> list[dict[str, Any]]:
        import numpy as np

        from rnnkit.tasks.sentiment.classifier import predict_probabilities

        texts = [texts] if isinstance(texts, str) else list(texts)
        if not all(isinstance(text, str) for text in texts):
            raise ConfigError("predict takes strings: pass a string or a list of strings.")
        if not texts:
            return []
        labels = self.preprocessor(run).labels
        probabilities = predict_probabilities(self.inference(run), texts)
        results = []
        for text, row in zip(texts, probabilities):
            best = int(np.argmax(row))
            results.append({"text": text, "label": labels[best], "probability": float(row[best]),
                            "probabilities": {label: float(p) for label, p in zip(labels, row)}})
        return results

    def evaluate(self, run, data, text_col: str | None = None, label_col: str | None = None) -> dict[str, Any]:
        preprocessor = self.preprocessor(run)
        summary = run.config.data_summary
        # The training columns are used when the file has them; otherwise columns are found again.
        labelled = self.load_labelled(str(data), run.config.data.encoding, text_col, label_col, require_two=False,
                                      preferred=(summary.get("text_column"), summary.get("label_column")))
        if labelled.test is not None:
            labelled = labelled.test
        return _metrics(self.inference(run), preprocessor, labelled.texts, _label_ids(labelled, preprocessor.labels), "test")


def encode_texts(preprocessor: TextClassificationPreprocessor, texts: list[str]):
    """All `texts` as one ragged tensor of ids, encoded in large batches in-graph."""
    tf = import_tensorflow()
    encode = tf.function(preprocessor.encode, input_signature=[tf.TensorSpec([None], tf.string)])
    parts = [encode(tf.constant(texts[start:start + ENCODE_BATCH], tf.string))
             for start in range(0, len(texts), ENCODE_BATCH)]
    return tf.concat(parts, axis=0)


def _dataset(preprocessor, ids, targets: np.ndarray, weights: np.ndarray | None):
    import numpy as np

    tf = import_tensorflow()
    y = _targets(preprocessor, targets)
    columns = (ids, y) if weights is None else (ids, y, weights.astype(np.float32))
    # Slices of a ragged tensor come out as 1-D ragged values; an identity map makes them
    # plain tensors, which bucketing and padding need.
    return tf.data.Dataset.from_tensor_slices(columns).map(_identity)


def _identity(*columns):
    return columns


def _length(ids, *_):
    return import_tensorflow().shape(ids)[0]


def _sorted_batches(preprocessor, texts: list[str], targets: np.ndarray, batch: int):
    """Evaluation batches in order of length (each padded to its own longest text)."""
    import numpy as np

    tf = import_tensorflow()
    ids = encode_texts(preprocessor, texts)
    order = np.argsort(ids.row_lengths().numpy(), kind="stable")
    dataset = tf.data.Dataset.from_tensor_slices((tf.gather(ids, order), _targets(preprocessor, targets[order])))
    return dataset.map(_identity).padded_batch(batch)


def _targets(preprocessor, targets: np.ndarray) -> np.ndarray:
    # Two classes: a float 0/1 per text for the sigmoid head; more: the class index.
    import numpy as np

    return targets.astype(np.float32)[:, None] if preprocessor.num_classes == 2 else targets.astype(np.int32)


def _metrics(classifier, preprocessor, texts: list[str], targets: np.ndarray, split: str) -> dict[str, Any]:
    import numpy as np

    from rnnkit.tasks.sentiment.classifier import classification_metrics, majority_baseline, predict_probabilities

    probabilities = predict_probabilities(classifier, texts)
    return {
        "split": split,
        "labels": preprocessor.labels,
        "model": classification_metrics(targets, probabilities),
        "baselines": {"majority": majority_baseline(targets, preprocessor.label_counts)},
    }


def _label_ids(data, labels: list[str]) -> np.ndarray:
    import numpy as np

    known = {label: index for index, label in enumerate(labels)}
    unknown = sorted(set(data.labels) - set(known))
    if unknown:
        shown = ", ".join(repr(label) for label in unknown[:10])
        raise DataError(f"{data.name} has labels the model was not trained on: {shown}. "
                        f"It knows: {', '.join(labels)}.")
    return np.array([known[label] for label in data.labels], dtype=np.int64)


def _class_weights(mode: str, counts: list[int]) -> list[float] | None:
    from rnnkit.tasks.sentiment.classifier import class_weights

    imbalanced = max(counts) > IMBALANCE_RATIO * min(counts)
    if mode == "balanced" or (mode == "auto" and imbalanced):
        return class_weights(counts)
    return None



