"""The text-generation preprocessor: character- and word-level vocabularies.

Ids are laid out as Keras' `StringLookup(mask_token="", oov_token="[UNK]")` expects them:
0 is padding, 1 is `[UNK]`, then the tokens by descending frequency. The same layout is
rebuilt in-graph (see `rnnkit.tasks.textgen.generation`) so the exported SavedModel takes raw strings.

Word tokens come from NLTK's `RegexpTokenizer` with `WORD_PATTERN`; `WORD_PATTERN_RE2` is
the same pattern in RE2 syntax for `tf.strings`, and a test checks the two agree.
"""

from __future__ import annotations

import functools
import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rnnkit.atomic import write_text_atomic
from rnnkit.errors import DataError, RunError

PAD = ""
UNK = "[UNK]"
NEWLINE_MARK = "\u2424"  # stands in for "\n" while tf.strings splits on whitespace
WORD_PATTERN = r"\n|\w+(?:['’]\w+)*|[^\w\s]"
FILE = "vocabulary.json"
WORD_PATTERN_RE2 = r"[\pL\pN_]+(?:['’][\pL\pN_]+)*|[^\pL\pN_\s]"


@dataclass
class TextVocabulary:
    """A fitted token vocabulary.

    Args:
        level: `"char"` or `"word"`.
        tokens: the tokens for ids 2, 3, ... (ids 0 and 1 are padding and `[UNK]`).
        counts: how often each token occurred in the training text (for baselines).
        unknown_count: occurrences of the tokens left out of the vocabulary ([UNK]).
    """

    level: str
    tokens: list[str]
    counts: list[int]
    unknown_count: int = 0

    @property
    def size(self) -> int:
        """Number of ids, padding and `[UNK]` included."""
        return len(self.tokens) + 2

    @property
    def id_to_token(self) -> list[str]:
        return [PAD, UNK, *self.tokens]

    @property
    def start_token(self) -> str:
        """What an empty prompt starts from: a line break if known, else the commonest token."""
        return "\n" if "\n" in self.tokens else self.tokens[0]

    def encode(self, chunks: Iterable[str]) -> np.ndarray:
        """Map text chunks to one int32 array of ids; unknown tokens become `[UNK]` (1)."""
        parts = [self._encode_chunk(chunk) for chunk in chunks]
        return np.concatenate(parts) if parts else np.zeros(0, np.int32)

    def split(self, text: str) -> list[str]:
        return list(text) if self.level == "char" else word_tokenize(text)

    def _encode_chunk(self, chunk: str) -> np.ndarray:
        if self.level == "char":
            return self._char_ids(chunk)
        index = self._word_index
        return np.fromiter((index.get(token, 1) for token in word_tokenize(chunk)), np.int32)

    def _char_ids(self, chunk: str) -> np.ndarray:
        codepoints = np.frombuffer(chunk.encode("utf-32-le", "surrogatepass"), dtype="<u4")
        known, ids = self._char_table
        position = np.searchsorted(known, codepoints)
        position = np.minimum(position, len(known) - 1)
        found = known[position] == codepoints
        return np.where(found, ids[position], 1).astype(np.int32)

    @property
    def _char_table(self) -> tuple[np.ndarray, np.ndarray]:
        if not hasattr(self, "_table"):
            codepoints = np.array([ord(token) for token in self.tokens], dtype=np.uint32)
            order = np.argsort(codepoints)
            self._table = (codepoints[order], (order + 2).astype(np.int32))
        return self._table

    @property
    def _word_index(self) -> dict[str, int]:
        if not hasattr(self, "_index"):
            self._index = {token: i + 2 for i, token in enumerate(self.tokens)}
        return self._index

    def save(self, directory: str | Path) -> None:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        payload = {"level": self.level, "pad": PAD, "unk": UNK, "tokens": self.tokens, "counts": self.counts,
                   "unknown_count": self.unknown_count}
        if self.level == "word":
            payload["pattern"] = WORD_PATTERN
        write_text_atomic(directory / FILE, json.dumps(payload, ensure_ascii=False, indent=0) + "\n")

    @classmethod
    def load(cls, directory: str | Path) -> "TextVocabulary":
        path = Path(directory) / FILE
        try:
            payload = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise RunError(f"{path} is missing: the run is incomplete.") from None
        return cls(level=payload["level"], tokens=list(payload["tokens"]), counts=list(payload["counts"]),
                   unknown_count=int(payload.get("unknown_count", 0)))


def fit_vocabulary(chunks: Iterable[str], level: str, vocabulary_size: int = 0) -> TextVocabulary:
    """Count tokens over `chunks` (streamed) and keep the most frequent.

    Args:
        chunks: text pieces; word level expects them to end at line breaks.
        level: `"char"` or `"word"`.
        vocabulary_size: at word level, keep this many tokens (0 keeps all). Characters
            are never capped, so char-level text round-trips exactly.
    """
    counts: Counter[str] = Counter()
    for chunk in chunks:
        counts.update(chunk if level == "char" else word_tokenize(chunk))
    counts.pop(PAD, None)
    counts.pop(UNK, None)
    if not counts:
        raise DataError("The text is empty: there is nothing to train on.")
    # Sort by frequency, then by token, so the same text always gives the same ids.
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    unknown = 0
    if level == "word" and vocabulary_size:
        keep = max(vocabulary_size - 2, 1)
        unknown = sum(count for _, count in ranked[keep:])
        ranked = ranked[:keep]
    return TextVocabulary(level=level, tokens=[token for token, _ in ranked], counts=[count for _, count in ranked],
                          unknown_count=unknown)


def word_tokenize(text: str) -> list[str]:
    """Split text into words, single punctuation marks and line breaks (NLTK, no downloads)."""
    return _word_tokenizer().tokenize(text.replace("\r\n", "\n"))


@functools.cache
def _word_tokenizer():
    from nltk.tokenize import RegexpTokenizer

    return RegexpTokenizer(WORD_PATTERN)
