"""The token file: a corpus encoded once into compact ids in the run's cache folder.

`RUN/cache/tokens.bin` holds every id of the corpus in the vocabulary's smallest id type (uint8 for
characters), and `tokens.json` describes it (length, where validation starts, how often each id
occurs in the training split, and what it was encoded from). Training maps it read-only, so a
corpus larger than memory trains in bounded memory, and `--resume` reuses it while it matches the
data and the vocabulary.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from rnnkit.atomic import temporary_path, write_json_atomic
from rnnkit.config import Config
from rnnkit.errors import DataError

if TYPE_CHECKING:
    import numpy as np

    from rnnkit.tasks.textgen.vocabulary import TextVocabulary

log = logging.getLogger("rnnkit")

TOKENS_FILE = "tokens.bin"
TOKENS_INFO = "tokens.json"
_FORMAT = 1


@dataclass
class EncodedText:
    ids: np.ndarray
    split: int
    train_counts: np.ndarray
    unknown: int  # occurrences of [UNK] in the whole text


def token_file(cache_dir: Path, corpus, vocabulary: TextVocabulary, config: Config, length: int | None,
               split_at: Callable[[int], int]) -> EncodedText:
    """The corpus encoded into `cache_dir/tokens.bin` (or the file already there, when it is the same
    data encoded with the same vocabulary), mapped read-only.

    `length` is the corpus length in tokens when known (a vocabulary just fitted on it); otherwise one
    pass counts it. `split_at(length)` checks the length (a `DataError` leaves no cache behind) and says
    where validation starts.
    """
    import numpy as np

    identity = {"format": _FORMAT, "level": vocabulary.level, "dtype": vocabulary.dtype.name,
                "vocabulary": _digest(vocabulary), "data": config.data.fingerprint}
    info = _read_info(cache_dir, identity, vocabulary.size)
    if info is not None and length is None:
        length = info["length"]
    if length is None:
        # A loaded vocabulary (--resume) and no file to reuse: count the tokens before anything is written.
        count = len if vocabulary.level == "char" else lambda chunk: len(vocabulary.split(chunk))
        length = sum(count(chunk) for chunk in corpus.chunks())
    split = split_at(length)
    if info is None or info["length"] != length or info["split"] != split:
        log.info(f"Encoding {corpus.name} into {cache_dir / TOKENS_FILE}.")
        info = _write(cache_dir, corpus, vocabulary, identity, length, split)
    ids = np.memmap(cache_dir / TOKENS_FILE, dtype=vocabulary.dtype, mode="r", shape=(length,))
    return EncodedText(ids, split, np.array(info["train_counts"], dtype=np.int64), info["unknown"])


def _write(cache_dir: Path, corpus, vocabulary: TextVocabulary, identity: dict, length: int, split: int) -> dict:
    import numpy as np

    cache_dir.mkdir(parents=True, exist_ok=True)
    (cache_dir / TOKENS_INFO).unlink(missing_ok=True)  # the old description must not vouch for the new file
    for leftover in cache_dir.glob(f".{Path(TOKENS_FILE).stem}-*"):  # of a process killed while writing
        leftover.unlink(missing_ok=True)
    path = cache_dir / TOKENS_FILE
    temporary = temporary_path(path)
    train_counts = np.zeros(vocabulary.size, dtype=np.int64)
    unknown = written = 0
    try:
        # One thread writes a chunk while the next is read and encoded: on a slow disk the writes
        # take as long as the rest together.
        with temporary.open("wb") as file, ThreadPoolExecutor(1, thread_name_prefix="rnnkit-tokens") as writer:
            pending: Future | None = None
            for ids in vocabulary.encode_chunks(corpus.chunks()):
                train = ids[: max(split - written, 0)]
                train_counts += np.bincount(train, minlength=vocabulary.size)
                unknown += int(np.count_nonzero(ids == 1))
                if pending is not None:
                    pending.result()
                pending = writer.submit(ids.tofile, file)
                written += len(ids)
            if pending is not None:
                pending.result()
        if written != length:
            raise DataError(f"{corpus.name} changed while it was read ({length} tokens counted, then {written} "
                            "encoded). Train again once it is written.")
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    info = {**identity, "length": length, "split": split, "unknown": unknown,
            "train_counts": train_counts.tolist()}
    write_json_atomic(cache_dir / TOKENS_INFO, info)
    return info


def _read_info(cache_dir: Path, identity: dict, vocabulary_size: int) -> dict | None:
    """The description of a token file in `cache_dir` encoded from the same data with the same
    vocabulary, or `None` (no file, another data or vocabulary, a file cut short)."""
    import numpy as np

    if identity["data"] is None:  # nothing to tell one data from another by
        return None
    try:
        info = json.loads((cache_dir / TOKENS_INFO).read_text(encoding="utf-8"))
        size = (cache_dir / TOKENS_FILE).stat().st_size
    except (OSError, ValueError):
        return None
    identity = json.loads(json.dumps(identity))  # compared as read back from JSON
    if not isinstance(info, dict) or any(info.get(key) != value for key, value in identity.items()):
        return None
    try:
        complete = (size == info["length"] * np.dtype(info["dtype"]).itemsize
                    and len(info["train_counts"]) == vocabulary_size and info["split"] >= 0 and info["unknown"] >= 0)
    except (KeyError, TypeError):
        return None
    return info if complete else None


def _digest(vocabulary: TextVocabulary) -> str:
    tokens = json.dumps([vocabulary.level, vocabulary.tokens], ensure_ascii=False)
    return hashlib.sha256(tokens.encode("utf-8", "surrogatepass")).hexdigest()
