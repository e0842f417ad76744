"""The built-in `imdb` dataset: Keras' IMDB reviews, decoded back to text.

`keras.datasets.imdb` downloads the reviews as word ids (and caches them in
`~/.keras/datasets`). They are turned back into text with its word index, so that rnnkit's
own vectorizer is fitted on text and the exported model serves raw review strings.
Labels are named `neg` and `pos`; the 25,000 test reviews come along as the held-out split.
"""

from __future__ import annotations

import contextlib
import sys

from rnnkit.datasets.labelled_text import LabelledTexts
from rnnkit.errors import DataError

IMDB_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/imdb.npz"
ACLIMDB_URL = "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz"
LABEL_NAMES = ("neg", "pos")


def load_imdb() -> LabelledTexts:
    """The IMDB training reviews as text, with the test reviews attached as `.test`.

    Raises:
        DataError: the download cannot be reached (no internet), naming the URL and how to
            pass a local copy instead.
    """
    from rnnkit.tf_import import import_tensorflow

    import_tensorflow()
    import keras

    try:
        # Keras prints its download progress on stdout, which `--json` keeps for the result.
        with contextlib.redirect_stdout(sys.stderr):
            (x_train, y_train), (x_test, y_test) = keras.datasets.imdb.load_data(start_char=None, oov_char=None,
                                                                                 index_from=0)
            word_index = keras.datasets.imdb.get_word_index()
    except Exception as error:  # noqa: BLE001  (get_file wraps every network failure in a bare Exception)
        raise DataError(
            f"Could not download IMDB from {IMDB_URL} ({_reason(error)}). Download the aclImdb archive "
            f"({ACLIMDB_URL}) elsewhere, extract it and pass the folder (rnnkit train aclImdb/), "
            "or pass a CSV with text,label columns. A damaged download is in ~/.keras/datasets: delete it to retry."
        ) from None
    # "br" is what Keras' tokenizer left of the "<br />" tags; rnnkit strips the tags instead.
    words = {index: word for word, index in word_index.items() if word != "br"}
    train = LabelledTexts("imdb", decode_reviews(x_train, words), [LABEL_NAMES[int(y)] for y in y_train])
    train.test = LabelledTexts("imdb/test", decode_reviews(x_test, words), [LABEL_NAMES[int(y)] for y in y_test])
    return train


def decode_reviews(sequences, words: dict[int, str]) -> list[str]:
    """Word-id sequences -> space-joined text; ids missing from `words` are skipped."""
    return [" ".join(words[i] for i in sequence if i in words) for sequence in sequences]


def _reason(error: Exception) -> str:
    text = " ".join(str(error).split())
    return text[:160] or type(error).__name__
