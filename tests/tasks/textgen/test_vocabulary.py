"""Word tokenization agrees between NLTK (training) and tf.strings (SavedModel prompts)."""

from __future__ import annotations

import pytest

from rnnkit.tasks.textgen.vocabulary import TextVocabulary, fit_vocabulary, word_tokenize

SAMPLES = [
    "Hello, world! It's a test-case (really).",
    "Don't stop: 3.14 is π; naïve café — ok?",
    "line one\nline two\n\nend",
    "Привет, мир! مرحبا بالعالم. 汉字很好看。",
]


@pytest.mark.parametrize("text", SAMPLES)
def test_graph_tokenizer_matches_nltk(text):
    import keras
    import tensorflow as tf

    from rnnkit.tasks.textgen.generation import prompt_token_ids

    vocabulary = fit_vocabulary([text], "word")
    lookup = keras.layers.StringLookup(vocabulary=vocabulary.tokens, mask_token="", oov_token="[UNK]")
    ids = prompt_token_ids(tf.constant([text, ""]), "word", lookup, tf.constant(7))
    assert ids[0].numpy().tolist() == vocabulary.encode([text]).tolist(), word_tokenize(text)
    assert ids[1].numpy().tolist() == [7]


def test_vocabulary_save_load_round_trip(tmp_path):
    vocabulary = fit_vocabulary(["ab\nc 😀 ab"], "char")
    vocabulary.save(tmp_path)
    again = TextVocabulary.load(tmp_path)
    assert again == vocabulary
    assert again.id_to_token[:2] == ["", "[UNK]"]


def test_word_vocabulary_is_capped_with_unk():
    vocabulary = fit_vocabulary(["a a a b b c d"], "word", vocabulary_size=4)
    assert vocabulary.tokens == ["a", "b"]
    assert vocabulary.encode(["a c"]).tolist() == [2, 1]
