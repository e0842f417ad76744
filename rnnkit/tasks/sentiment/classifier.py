"""The classification postprocessor: the in-graph classifier that serves raw strings, and its metrics.

`TextClassifier.classify` is the one function behind `Run.predict`, `rnnkit evaluate`
and the SavedModel's `serving_default`, so the three agree. The metrics are plain NumPy
over its probabilities.
"""

from __future__ import annotations

import numpy as np

from rnnkit.tasks.sentiment.preprocessor import TextClassificationPreprocessor

PREDICT_BATCH = 256


def build_classifier_module(model, preprocessor: TextClassificationPreprocessor):
    """A `tf.Module` whose `classify(text: string[None])` returns `probabilities` and `label`."""
    import tensorflow as tf

    class TextClassifier(tf.Module):
        def __init__(self):
            super().__init__(name="text_classifier")
            self.model = model
            self.vectorizer = preprocessor.vectorizer()
            self.labels = tf.constant(preprocessor.labels)

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")])
        def classify(self, text):
            ids = preprocessor.encode(text)
            scores = self.model(preprocessor.pad(ids), training=False)
            if preprocessor.num_classes == 2:
                probabilities = tf.concat([1.0 - scores, scores], axis=1)
            else:
                probabilities = scores
            return {"probabilities": probabilities, "label": tf.gather(self.labels, tf.argmax(probabilities, axis=1))}

        def endpoints(self) -> dict:
            """The SavedModel's signatures (DESIGN §7)."""
            return {"serving_default": self.classify}

        def resources(self) -> list:
            return [self.vectorizer]

    return TextClassifier()


def build_edge_core(model, preprocessor: TextClassificationPreprocessor):
    """The classifier's numeric core for LiteRT and ONNX (`rnnkit.task.EdgeCore`): token ids
    `int64[batch, length]` (at most `sequence_length`; rows of a batch padded on the right with 0)
    -> `probabilities[batch, classes]`. The length is free, so a short text costs few steps, as in
    the SavedModel. The client standardizes, splits and looks up the words as `description` says."""
    import tensorflow as tf

    from rnnkit.task import EdgeCore
    from rnnkit.tasks.sentiment.preprocessor import PAD, STANDARDIZE_STEPS, UNK, UNK_ID

    length = preprocessor.sequence_length

    def classify(token_ids):
        scores = model(token_ids, training=False)
        probabilities = tf.concat([1.0 - scores, scores], axis=1) if preprocessor.num_classes == 2 else scores
        return {"probabilities": tf.cast(probabilities, tf.float32)}

    def sample(rng: np.random.Generator, rows: int) -> dict:
        used = rng.integers(1, length + 1, rows)
        ids = np.zeros((rows, int(used.max())), np.int64)  # padded to the batch's longest, as the SavedModel does
        for row, count in enumerate(used):
            ids[row, :count] = rng.integers(1, preprocessor.vocabulary_size, count)
        return {"token_ids": ids}

    head = length // 4 if preprocessor.truncate == "head_tail" else 0
    description = {
        "labels": preprocessor.labels,
        "vocabulary": [PAD, UNK, *preprocessor.tokens],
        "pad_id": 0,
        "unknown_id": UNK_ID,
        "sequence_length": length,
        "standardize": STANDARDIZE_STEPS,
        "split": "whitespace",
        "truncate": {"keep_first": head, "keep_last": length - head},
        "steps": [
            "standardize the text: each step of 'standardize' in order (the patterns are RE2 syntax)",
            "split it on whitespace; each word's id is its index in 'vocabulary', 'unknown_id' for a word not there",
            "keep the first 'truncate.keep_first' ids and the last 'truncate.keep_last' of the rest",
            "a text with no words at all is the one id 'unknown_id'",
            "the ids are the input 'token_ids'; texts in one batch are padded on the right with 'pad_id' to the "
            "longest (padding is ignored, so padding to 'sequence_length' gives the same result, more slowly)",
            "the output 'probabilities' has one probability per label, in the order of 'labels'",
        ],
    }
    return EdgeCore(model=model, function=classify, inputs=[("token_ids", "int64", (None,))], sample=sample,
                    description=description)


def predict_probabilities(classifier, texts: list[str]) -> np.ndarray:
    """Class probabilities `[len(texts), C]`, in the order of `texts`.

    Texts are batched by length (so a batch pads little), then put back in order.
    """
    import tensorflow as tf

    order = np.argsort([len(text) for text in texts], kind="stable")
    results = [None] * len(texts)
    for start in range(0, len(texts), PREDICT_BATCH):
        chunk = order[start:start + PREDICT_BATCH]
        probabilities = classifier.classify(tf.constant([texts[i] for i in chunk], tf.string))["probabilities"].numpy()
        for row, index in zip(probabilities, chunk):
            results[index] = row
    return np.stack(results) if results else np.zeros((0, 0), np.float32)


def classification_metrics(targets: np.ndarray, probabilities: np.ndarray) -> dict:
    """Accuracy, precision, recall, F1 (binary: of class 1; else macro), ROC-AUC (binary),
    cross-entropy loss, and the confusion matrix (rows: true class, columns: predicted)."""
    targets = np.asarray(targets, dtype=np.int64)
    num_classes = probabilities.shape[1]
    predictions = probabilities.argmax(axis=1)
    confusion = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(confusion, (targets, predictions), 1)
    true_positive = np.diag(confusion).astype(np.float64)
    precision = _divide(true_positive, confusion.sum(axis=0))
    recall = _divide(true_positive, confusion.sum(axis=1))
    f1 = _divide(2 * precision * recall, precision + recall)
    picked = np.clip(probabilities[np.arange(len(targets)), targets], 1e-7, 1.0)
    metrics = {"accuracy": float(np.mean(predictions == targets)), "loss": float(-np.mean(np.log(picked)))}
    if num_classes == 2:
        metrics.update(precision=float(precision[1]), recall=float(recall[1]), f1=float(f1[1]),
                       roc_auc=roc_auc(targets, probabilities[:, 1]))
    else:
        metrics.update(precision=float(precision.mean()), recall=float(recall.mean()), f1=float(f1.mean()))
    metrics["confusion_matrix"] = confusion.tolist()
    return metrics


def majority_baseline(targets: np.ndarray, label_counts: list[int]) -> dict:
    """The metrics of always predicting the commonest training class, with the training
    class frequencies as its probabilities."""
    priors = np.asarray(label_counts, dtype=np.float64) / sum(label_counts)
    probabilities = np.tile(priors, (len(targets), 1))
    # Ties go to the first class, like argmax; make the majority class win them outright.
    probabilities[:, int(np.argmax(priors))] += 1e-9
    return classification_metrics(targets, probabilities)


def roc_auc(targets: np.ndarray, scores: np.ndarray) -> float | None:
    """Area under the ROC curve (the Mann-Whitney U statistic, ties counted half); `None`
    when the data holds only one class."""
    positives = int(np.sum(targets == 1))
    negatives = len(targets) - positives
    if positives == 0 or negatives == 0:
        return None
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores), dtype=np.float64)
    sorted_scores = scores[order]
    # Average ranks over runs of equal scores.
    boundaries = np.flatnonzero(np.diff(sorted_scores)) + 1
    starts = np.concatenate([[0], boundaries])
    ends = np.concatenate([boundaries, [len(scores)]])
    for start, end in zip(starts, ends):
        ranks[order[start:end]] = (start + end + 1) / 2.0
    return float((ranks[targets == 1].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def class_weights(label_counts: list[int]) -> list[float]:
    """Balanced weights `n / (classes * n_c)`: every class weighs the same in the loss."""
    total = sum(label_counts)
    return [total / (len(label_counts) * count) for count in label_counts]


def _divide(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    return np.divide(numerator, denominator, out=np.zeros_like(numerator, dtype=np.float64),
                     where=np.asarray(denominator) > 0)
