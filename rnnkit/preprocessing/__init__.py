"""Preprocessors: raw input -> token ids, fitted on training data and saved with the run."""

from rnnkit.preprocessing.text import TextVocabulary, fit_vocabulary

__all__ = ["TextVocabulary", "fit_vocabulary"]
