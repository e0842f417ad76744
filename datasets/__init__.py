"""TensorFlow-free dataset readers: the user's own files and the built-in data names (`rnnkit datasets`).

Nothing here imports a task or the CLI (import-linter checks it).
"""

from rnnkit.datasets.builtin import BUILTIN_DATASETS, BuiltinDataset, resolve_builtin
from rnnkit.datasets.text_files import TextCorpus, open_text_corpus

__all__ = ["BUILTIN_DATASETS", "BuiltinDataset", "TextCorpus", "open_text_corpus", "resolve_builtin"]
