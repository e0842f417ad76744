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


@pytest.fixture(scope="session")
def reviews(tmp_path_factory):
    from tests.helpers import make_reviews

    return make_reviews(tmp_path_factory.mktemp("data") / "reviews.csv")


@pytest.fixture(scope="session")
def sentiment_run(tmp_path_factory, reviews):
    """One tiny binary classifier shared by the tests that only read it."""
    import rnnkit
    from tests.helpers import TINY_SENTIMENT

    out = tmp_path_factory.mktemp("runs") / "sentiment"
    return rnnkit.train(str(reviews), task="sentiment", out=out, **TINY_SENTIMENT)


@pytest.fixture(scope="session")
def series(tmp_path_factory):
    from tests.helpers import make_series

    return make_series(tmp_path_factory.mktemp("data") / "series.csv")


@pytest.fixture(scope="session")
def forecast_run(tmp_path_factory, series):
    """One tiny forecaster shared by the tests that only read it."""
    import rnnkit
    from tests.helpers import TINY_FORECAST

    out = tmp_path_factory.mktemp("runs") / "forecast"
    return rnnkit.train(str(series), task="forecast", target="value", out=out, **TINY_FORECAST)


SHARED_RUNS = ("trained_run", "sentiment_run", "forecast_run")


def pytest_collection_modifyitems(items):
    # With `--dist loadgroup`, the tests that read one shared run go to one worker, so each run
    # is trained once per test session instead of once per worker.
    for item in items:
        shared = [name for name in SHARED_RUNS if name in getattr(item, "fixturenames", ())]
        if shared:
            item.add_marker(pytest.mark.xdist_group(shared[0]))
