"""Dataset loaders: the user's own files and the built-in data names (`rnnkit datasets`)."""

from rnnkit.datasets.builtin import BUILTIN_DATASETS, BuiltinDataset, resolve_builtin
from rnnkit.datasets.text_files import TextCorpus, open_text_corpus

__all__ = ["BUILTIN_DATASETS", "BuiltinDataset", "TextCorpus", "open_text_corpus", "resolve_builtin"]
