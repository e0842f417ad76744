"""Built-in data names (`rnnkit datasets`): offline text, and downloads cached on first use."""

from __future__ import annotations

import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from rnnkit.datasets.csv_series import STATSMODELS_SERIES
from rnnkit.datasets.text_files import TextCorpus, open_text_corpus
from rnnkit.errors import DataError

SHAKESPEARE_URL = "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt"


@dataclass(frozen=True)
class BuiltinDataset:
    """A named dataset rnnkit can train on without the user supplying a file."""

    name: str
    task: str
    source: str
    offline: bool


BUILTIN_DATASETS = {
    "python-docs": BuiltinDataset(
        "python-docs",
        "textgen",
        "English text of the Python documentation topics in CPython's own `pydoc_data` module (~465 KB).",
        offline=True,
    ),
    "shakespeare": BuiltinDataset(
        "shakespeare",
        "textgen",
        f"Tiny Shakespeare (1.1 MB), downloaded once from {SHAKESPEARE_URL} and cached.",
        offline=False,
    ),
    "imdb": BuiltinDataset(
        "imdb",
        "sentiment",
        "IMDB movie reviews (25,000 train + 25,000 test, neg/pos), Keras' `keras.datasets.imdb` download "
        "(~80 MB, cached in ~/.keras/datasets), decoded back to text.",
        offline=False,
    ),
}
for _name, _source in STATSMODELS_SERIES.items():
    BUILTIN_DATASETS[_name] = BuiltinDataset(_name, "forecast", _source + " Offline; needs statsmodels installed.",
                                             offline=True)


def cache_dir() -> Path:
    """Where downloads are cached: `$RNNKIT_HOME/datasets`, default `~/.cache/rnnkit/datasets`."""
    home = os.environ.get("RNNKIT_HOME") or os.path.join(os.path.expanduser("~"), ".cache", "rnnkit")
    return Path(home) / "datasets"


def resolve_builtin(name: str) -> TextCorpus | None:
    """Return the corpus for a built-in text name, or `None` if `name` is not one."""
    if name == "python-docs":
        return TextCorpus(name="python-docs", generate=python_docs_text)
    if name == "shakespeare":
        path = download(SHAKESPEARE_URL, "tinyshakespeare.txt", "shakespeare")
        corpus = open_text_corpus(path)
        return TextCorpus(name="shakespeare", files=corpus.files)
    return None


def python_docs_text() -> str:
    """The Python documentation topics shipped with every CPython, in a fixed order."""
    from pydoc_data.topics import topics

    return "\n".join(topics[key].strip("\n") + "\n" for key in sorted(topics))


def download(url: str, filename: str, name: str) -> Path:
    """Fetch `url` into the cache once; later calls read the cached file."""
    target = cache_dir() / filename
    if target.exists() and target.stat().st_size > 0:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    try:
        with urllib.request.urlopen(url, timeout=30) as response, partial.open("wb") as handle:
            while block := response.read(1 << 16):
                handle.write(block)
    except (urllib.error.URLError, OSError, TimeoutError) as error:
        partial.unlink(missing_ok=True)
        reason = getattr(error, "reason", error)
        raise DataError(
            f"Could not download '{name}' from {url} ({reason}). Download it elsewhere and pass the "
            f"local file instead (rnnkit train path/to/{filename}), or copy it to {target}."
        ) from None
    os.replace(partial, target)
    return target
