from __future__ import annotations

import os

import pytest

from tests.helpers import TINY, make_corpus

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@pytest.fixture(scope="session")
def corpus(tmp_path_factory):
    return make_corpus(tmp_path_factory.mktemp("data") / "corpus.txt")


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory, corpus):
    """One tiny char-level run shared by the tests that only read it."""
    import rnnkit

    out = tmp_path_factory.mktemp("runs") / "textgen"
    return rnnkit.train(str(corpus), out=out, **TINY)
