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
from collections.abc import Iterable, Iterator
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
_CODEPOINTS = 0x110000


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

    @property
    def dtype(self) -> np.dtype:
        """The smallest unsigned integer type that holds every id: how encoded text is stored."""
        for dtype in (np.uint8, np.uint16):
            if self.size <= np.iinfo(dtype).max + 1:
                return np.dtype(dtype)
        return np.dtype(np.uint32)

    def encode(self, chunks: Iterable[str]) -> np.ndarray:
        """Map text chunks to one array of ids (of `dtype`); unknown tokens become `[UNK]` (1)."""
        parts = list(self.encode_chunks(chunks))
        return np.concatenate(parts) if parts else np.zeros(0, self.dtype)

    def encode_chunks(self, chunks: Iterable[str]) -> Iterator[np.ndarray]:
        """The ids of each chunk in turn (arrays of `dtype`), for text too large to hold encoded at once."""
        for chunk in chunks:
            yield self._encode_chunk(chunk)

    def split(self, text: str) -> list[str]:
        return list(text) if self.level == "char" else word_tokenize(text)

    def _encode_chunk(self, chunk: str) -> np.ndarray:
        if self.level == "char":
            return self._char_table[_codepoints(chunk)]
        index = self._word_index
        return np.fromiter((index.get(token, 1) for token in word_tokenize(chunk)), self.dtype)

    @property
    def _char_table(self) -> np.ndarray:
        """Code point -> id for every code point (1.1 M entries of `dtype`): one gather encodes a chunk."""
        if not hasattr(self, "_table"):
            table = np.ones(_CODEPOINTS, dtype=self.dtype)
            table[[ord(token) for token in self.tokens]] = np.arange(2, self.size, dtype=self.dtype)
            self._table = table
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
    if level == "char":
        ranked = _ranked_characters(chunks)
    else:
        counts: Counter[str] = Counter()
        for chunk in chunks:
            counts.update(word_tokenize(chunk))
        counts.pop(PAD, None)
        counts.pop(UNK, None)
        # Sort by frequency, then by token, so the same text always gives the same ids.
        ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    if not ranked:
        raise DataError("The text is empty: there is nothing to train on.")
    unknown = 0
    if level == "word" and vocabulary_size:
        keep = max(vocabulary_size - 2, 1)
        unknown = sum(count for _, count in ranked[keep:])
        ranked = ranked[:keep]
    return TextVocabulary(level=level, tokens=[token for token, _ in ranked], counts=[count for _, count in ranked],
                          unknown_count=unknown)


def _ranked_characters(chunks: Iterable[str]) -> list[tuple[str, int]]:
    """(character, count) by descending count, then code point: what sorting a `Counter` of the
    characters gives, counted with numpy in a few milliseconds per MiB and one fixed-size array."""
    counts = np.zeros(_CODEPOINTS, dtype=np.int64)
    for chunk in chunks:
        found = np.bincount(_codepoints(chunk))
        counts[: len(found)] += found
    present = np.flatnonzero(counts)
    order = present[np.lexsort((present, -counts[present]))]
    return [(chr(codepoint), int(counts[codepoint])) for codepoint in order]


def _codepoints(text: str) -> np.ndarray:
    # "surrogatepass": a lone surrogate (from --encoding utf-16 or a built-in text) is a character too.
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype="<u4")


def word_tokenize(text: str) -> list[str]:
    """Split text into words, single punctuation marks and line breaks (NLTK, no downloads)."""
    return _word_tokenizer().tokenize(text.replace("\r\n", "\n"))


@functools.cache
def _word_tokenizer():
    from nltk.tokenize import RegexpTokenizer

    return RegexpTokenizer(WORD_PATTERN)
