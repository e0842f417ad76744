"""`rnnkit serve` end to end: a real server process on a free port, real HTTP requests, one tiny
run of each task; TensorFlow Serving's REST API (row and columnar predict, status, metadata,
errors), server-side batching under concurrency, and a clean stop on a signal."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")


class Server:
    def __init__(self, process: subprocess.Popen, url: str, lines: list[str], scratch):
        self.process, self.url, self.lines, self.scratch = process, url, lines, scratch

    def request(self, path: str, body=None, method: str | None = None, raw: bytes | None = None):
        data = raw if raw is not None else None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method or ("POST" if data is not None else "GET"),
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    def predict(self, name: str, body, raw: bytes | None = None):
        return self.request(f"/v1/models/{name}:predict", body, raw=raw)


def start_server(arguments: list[str], scratch) -> Server:
    scratch.mkdir(exist_ok=True)
    process = subprocess.Popen([sys.executable, "-m", "rnnkit.cli.main", "serve", *arguments, "--port", "0",
                                "--max-length", "500", "--max-body-mb", "1"],
                               stderr=subprocess.PIPE, text=True, env={**os.environ, "TMPDIR": str(scratch)})
    lines: list[str] = []
    found = threading.Event()
    url = []

    def read():
        for line in process.stderr:
            lines.append(line.rstrip("\n"))
            if match := re.search(r"Serving on (http://\S+)", line):
                url.append(match[1])
                found.set()
        found.set()

    threading.Thread(target=read, daemon=True).start()
    found.wait(300)
    if not url:
        process.kill()
        raise AssertionError("the server did not start:\n" + "\n".join(lines))
    return Server(process, url[0], lines, scratch)


@pytest.fixture(scope="module")
def exported_forecast(forecast_run, tmp_path_factory):
    """The forecast run exported in TF Serving's layout (base/NAME/1), as a Docker user has it."""
    base = tmp_path_factory.mktemp("serving") / "airline"
    forecast_run.export(base / "1")
    return base


@pytest.fixture(scope="module")
def server(trained_run, sentiment_run, forecast_run, exported_forecast, tmp_path_factory):
    scratch = tmp_path_factory.mktemp("scratch")
    running = start_server([f"textgen={trained_run.path}", str(sentiment_run.path), str(exported_forecast)], scratch)
    yield running
    if running.process.poll() is None:
        running.process.kill()


def test_status_and_metadata_as_tf_serving_gives_them(server, sentiment_run):
    status, answer = server.request("/v1/models/sentiment")
    assert status == 200
    assert answer == {"model_version_status": [{"version": "1", "state": "AVAILABLE",
                                                "status": {"error_code": "OK", "error_message": ""}}]}
    assert server.request("/v1/models/airline/versions/1")[0] == 200  # named after the base folder
    status, answer = server.request("/v1/models/sentiment/metadata")
    assert status == 200 and answer["model_spec"] == {"name": "sentiment", "signature_name": "", "version": "1"}
    signature = answer["metadata"]["signature_def"]["signature_def"]["serving_default"]
    assert signature["inputs"]["text"]["dtype"] == "DT_STRING"
    assert signature["inputs"]["text"]["tensor_shape"]["dim"] == [{"size": "-1", "name": ""}]
    assert set(signature["outputs"]) == {"label", "probabilities"}
    assert signature["method_name"] == "tensorflow/serving/predict"
    textgen = server.request("/v1/models/textgen/metadata")[1]["metadata"]["signature_def"]["signature_def"]
    assert {"serving_default", "generate", "sample"} <= set(textgen)


def test_sentiment_row_and_columnar_match_predict(server, sentiment_run):
    texts = ["A wonderful, brilliant film", "boring and dull", "caf\u00e9 \U0001F600 <br />ok"]
    expected = sentiment_run.predict(texts)
    status, rows = server.predict("sentiment", {"instances": texts})
    assert status == 200 and len(rows["predictions"]) == 3
    status, columns = server.predict("sentiment", {"signature_name": "serving_default", "inputs": {"text": texts}})
    assert status == 200 and set(columns["outputs"]) == {"label", "probabilities"}
    labels = sorted(expected[0]["probabilities"])
    for index, (row, want) in enumerate(zip(rows["predictions"], expected)):
        assert row["label"] == want["label"] == columns["outputs"]["label"][index]
        probabilities = row["probabilities"]
        got = dict(zip(labels, probabilities)) if len(probabilities) == len(labels) else {labels[1]: probabilities[0]}
        for label, value in got.items():
            assert value == pytest.approx(want["probabilities"][label], abs=1e-5)
        assert columns["outputs"]["probabilities"][index] == pytest.approx(probabilities, abs=1e-6)
    # Bytes as TF Serving takes them, and one instance as an object naming its input.
    b64 = {"b64": "Ym9yaW5nIGFuZCBkdWxs"}  # "boring and dull"
    status, answer = server.predict("sentiment", {"instances": [b64, {"text": "boring and dull"}]})
    assert status == 200 and answer["predictions"][0] == answer["predictions"][1]
    assert answer["predictions"][0]["probabilities"] == pytest.approx(rows["predictions"][1]["probabilities"], abs=1e-6)


def test_forecast_with_the_keras_io_tf_serving_client_payload(server, exported_forecast):
    import tensorflow as tf

    loaded = tf.saved_model.load(str(exported_forecast / "1"))
    function = loaded.signatures["serving_default"]
    _, window, features = function.structured_input_signature[1]["history"].shape
    history = np.linspace(100, 140, 3 * window * features).reshape(3, window, features).astype("float32")
    expected = {name: tensor.numpy() for name, tensor in function(history=tf.constant(history)).items()}
    # keras-io's tf_serving example, unchanged: signature_name + instances, answer["predictions"].
    data = json.dumps({"signature_name": "serving_default", "instances": history.tolist()})
    status, answer = server.predict("airline", None, raw=data.encode())
    assert status == 200
    predictions = answer["predictions"]
    assert len(predictions) == 3 and set(predictions[0]) == {"forecast", "lower", "upper"}
    for name in ("forecast", "lower", "upper"):
        np.testing.assert_allclose([p[name] for p in predictions], expected[name], rtol=1e-5)
    status, columns = server.predict("airline/versions/1", {"inputs": history.tolist()})
    assert status == 200
    np.testing.assert_allclose(columns["outputs"]["forecast"], expected["forecast"], rtol=1e-5)


def test_textgen_signatures_give_the_cli_text(server, trained_run):
    # Instances that agree on length, temperature and seed are one batch, as `rnnkit generate` with
    # several prompts runs them; the others run apart. Answers come in the request's order.
    together = trained_run.generate(["The ", "Rain "], length=30, temperature=1.0, seed=7)
    apart = trained_run.generate("A ", length=10, temperature=1.0, seed=7)
    status, answer = server.predict("textgen", {"signature_name": "generate", "instances": [
        {"prompt": "The ", "length": 30, "temperature": 1.0, "seed": 7},
        {"prompt": "A ", "length": 10, "temperature": 1.0, "seed": 7},
        {"prompt": "Rain ", "length": 30, "temperature": 1.0, "seed": 7}]})
    assert status == 200
    assert answer["predictions"] == [together[0], apart[0], together[1]]
    status, columns = server.predict("textgen", {"signature_name": "sample", "inputs": {
        "prompt": ["The ", "Rain"], "length": 12, "temperature": 0.8, "seed": 3, "top_k": 5, "top_p": 0.9}})
    assert status == 200
    assert columns["outputs"] == trained_run.generate(["The ", "Rain"], length=12, temperature=0.8, seed=3, top_k=5,
                                                      top_p=0.9)
    status, step = server.request("/v1/models/textgen/metadata")
    inputs = step["metadata"]["signature_def"]["signature_def"]["serving_default"]["inputs"]
    size = int(inputs["state_0"]["tensor_shape"]["dim"][1]["size"])
    status, answer = server.predict("textgen", {"instances": [{"token_ids": 3, "state_0": [0.0] * size}]})
    assert status == 200 and len(answer["predictions"][0]["state_0"]) == size
    assert len(answer["predictions"][0]["logits"]) > 2  # one logit per token of the vocabulary


@pytest.mark.parametrize("path, body, status, message", [
    ("sentiment", b"{not json", 400, "JSON Parse error"),
    ("sentiment", {"instances": ["a"], "inputs": ["a"]}, 400, "Not both"),
    ("sentiment", {"texts": ["a"]}, 400, "Missing 'inputs' or 'instances'"),
    ("sentiment", {"signature_name": "nope", "instances": ["a"]}, 400, 'signature name: "nope" not found'),
    ("sentiment", {"instances": [{"words": "a"}]}, 400, "unknown input 'words'"),
    ("sentiment", {"instances": [1, 2]}, 400, "takes strings"),
    ("sentiment", {"instances": []}, 400, "non-empty list"),
    ("sentiment", {"inputs": {"text": [["a"], ["b", "c"]]}}, 400, "ragged"),
    ("airline", {"instances": [[[1.0]] * 3]}, 400, "expects shape"),
    ("airline", {"instances": [[["x"]]]}, 400, "takes numbers"),
    ("textgen", {"signature_name": "generate", "inputs": {"prompt": ["a"], "length": 10**6, "temperature": 1.0,
                                                          "seed": 1}}, 400, "length is at most 500"),
    ("textgen", {"signature_name": "generate", "inputs": {"prompt": ["a"], "length": 2.5, "temperature": 1.0,
                                                          "seed": 1}}, 400, "takes integers"),
    ("nope", {"instances": ["a"]}, 404, "Servable not found for request: Latest(nope)"),
    ("sentiment/versions/2", {"instances": ["a"]}, 404, "Specific(sentiment, 2)"),
    ("sentiment", {"instances": ["a"] * 100_000}, 413, "at most 1024"),
    ("sentiment", {"instances": ["x" * 10_000_000]}, 413, "request body"),
    ("sentiment", {"instances": ["x" * (2**20 - 10)]}, 413, "at most 1,048,576"),  # just over the limit
    ("sentiment", {"inputs": {"text": ["a"] * 2000}}, 413, "at most 1024"),
    ("sentiment", {"instances": [True]}, 400, "takes strings"),
    ("sentiment", {"instances": [None]}, 400, "takes strings"),
    ("sentiment", b'{"instances": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", 400, "nested too deeply"),
    ("sentiment", b'{"signature_name": "\\ud800", "instances": ["a"]}', 400, "not found in signature def"),
    ("airline", b'{"instances": [[[NaN]]]}', 400, "not a finite"),
])
def test_bad_requests_get_an_error_and_the_server_goes_on(server, path, body, status, message):
    raw = body if isinstance(body, bytes) else None
    got, answer = server.predict(path, None if raw else body, raw=raw)
    assert got == status and message in answer["error"], answer
    assert server.request("/v1/models/sentiment")[0] == 200


def test_paths_are_case_insensitive_as_in_tf_serving(server):
    assert server.request("/V1/Models/sentiment")[0] == 200
    assert server.predict("sentiment/VERSIONS/1", {"instances": ["a"]})[0] == 200


def test_malformed_paths(server):
    status, answer = server.request("/v1/models/sentiment:classify", {"examples": []})
    assert status == 400 and "Malformed request" in answer["error"]
    assert server.request("/v1/models/sentiment:predict", method="GET")[0] == 400
    assert server.request("/nothing/here") == (404, {"error": "Not Found: GET /nothing/here"})


def test_concurrent_requests_are_batched_and_each_gets_its_own_answer(server):
    texts = [f"{'wonderful ' * (i % 5)}{'boring ' * (i % 3)}film {i}" for i in range(64)]
    alone = [server.predict("sentiment", {"instances": [text]})[1]["predictions"][0] for text in texts[:8]]
    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(lambda text: server.predict("sentiment", {"instances": [text]}), texts))
    assert all(status == 200 for status, _ in answers)
    for (_, answer), expected in zip(answers, alone):
        assert answer["predictions"][0]["label"] == expected["label"]
        assert answer["predictions"][0]["probabilities"] == pytest.approx(expected["probabilities"], abs=1e-5)
    logged = [line for line in server.lines if '"POST /v1/models/sentiment:predict" 200' in line]
    assert len(logged) >= 64 + 8  # one line per request


def test_the_page_and_the_models_it_lists(server):
    request = urllib.request.Request(server.url + "/")
    with urllib.request.urlopen(request, timeout=30) as response:
        page = response.read().decode()
        assert response.status == 200 and response.headers["Content-Type"].startswith("text/html")
    assert "<title>rnnkit serve</title>" in page and "http://" not in page and "https://" not in page  # offline
    status, models = server.request("/rnnkit/models")
    assert status == 200
    kinds = {model["name"]: model for model in models}
    assert {name: model["kind"] for name, model in kinds.items()} == {
        "textgen": "textgen", "sentiment": "sentiment", "airline": "forecast"}
    assert kinds["sentiment"]["labels"] == ["neg", "pos"]
    assert kinds["airline"]["window"] > 0 and kinds["airline"]["features"] >= 1


def chromium() -> str | None:
    import shutil

    return os.environ.get("RNNKIT_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


def test_the_page_in_a_headless_browser(server, sentiment_run, tmp_path):
    """Debian's chromium driven by Playwright: the page loads with no console error, and each
    model's form makes a round trip. Skipped where either is missing (`apt install chromium`,
    `pip install playwright`); RNNKIT_SCREENSHOT=FILE keeps a screenshot to look at."""
    playwright = pytest.importorskip("playwright.sync_api")
    if chromium() is None:
        pytest.skip("no chromium on this machine (apt install chromium)")
    problems = []
    with playwright.sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=chromium(), args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1000, "height": 1400})
        page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
        page.on("pageerror", lambda error: problems.append(str(error)))
        page.goto(server.url + "/")
        page.wait_for_selector("#model-airline")

        review = page.locator("#model-sentiment")
        review.locator("textarea").fill("A wonderful, brilliant film")
        review.locator("button").click()
        review.locator(".output strong").wait_for()
        expected = sentiment_run.predict("A wonderful, brilliant film")[0]
        assert review.locator(".output strong").inner_text() == expected["label"]
        assert review.locator(".output .name").all_inner_texts() == ["neg", "pos"]

        series = page.locator("#model-airline")
        series.locator("textarea").fill("\n".join(str(100 + 10 * (i % 12) + i) for i in range(40)))
        series.locator("button").click()
        series.locator("svg polyline").first.wait_for()
        assert series.locator("pre").inner_text().startswith("+1: ")

        text = page.locator("#model-textgen")
        text.locator(".prompt").fill("The ")
        text.locator(".length").fill("40")
        text.locator("button").click()
        page.wait_for_function("document.querySelector('#model-textgen .output').textContent.startsWith('The ')")
        shown = text.locator(".output").inner_text()
        assert len(shown) >= 40

        text.locator(".length").fill("100000")  # over --max-length: the server's error, shown
        text.locator("button").click()
        text.locator(".output .error").wait_for()
        assert "at most 500" in text.locator(".output .error").inner_text()
        page.screenshot(path=os.environ.get("RNNKIT_SCREENSHOT") or str(tmp_path / "page.png"), full_page=True)
        browser.close()
    assert problems == [] or all("400" in problem for problem in problems), problems


def test_a_signal_stops_the_server_cleanly(server):
    server.process.send_signal(signal.SIGTERM)
    assert server.process.wait(30) == 0
    time.sleep(0.2)
    assert "Stopped." in server.lines
    assert not list(server.scratch.glob("rnnkit-serve-*"))  # the runs' temporary exports are gone
    # (TensorFlow's autograph leaves its generated modules' bytecode there when bytecode is written)


def run_cli(*arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rnnkit.cli.main", "serve", *arguments], capture_output=True,
                          text=True, timeout=120)


def test_bad_arguments_end_in_one_line(tmp_path, sentiment_run):
    missing = run_cli(str(tmp_path / "nope"))
    assert missing.returncode == 2 and "does not exist" in missing.stderr and "Traceback" not in missing.stderr
    (tmp_path / "empty").mkdir()
    empty = run_cli(str(tmp_path / "empty"))
    assert empty.returncode == 2 and "neither an rnnkit run nor a SavedModel" in empty.stderr
    twice = run_cli(f"a={sentiment_run.path}", f"a={sentiment_run.path}")
    assert twice.returncode == 2 and "Two models are named 'a'" in twice.stderr
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = run_cli(str(sentiment_run.path), "--port", str(taken.getsockname()[1]))
    assert busy.returncode == 2 and "Cannot listen on 127.0.0.1" in busy.stderr and len(busy.stderr.splitlines()) == 1


def test_the_batcher_merges_concurrent_calls_and_splits_the_answers(monkeypatch):
    """A stub model that records each call's batch size: concurrent one-row requests are merged up
    to the largest batch, each gets its own rows back, a request cancelled while queued is skipped,
    and a failing merged batch is answered call by call."""
    import asyncio
    from types import SimpleNamespace

    from rnnkit import serving

    sizes = []

    def stub(call):
        x = call.inputs["x"]
        sizes.append(len(x))
        if (x < 0).any():
            raise serving.RequestError("negative")
        time.sleep(0.01)
        return {"y": x * 2}

    monkeypatch.setattr(serving, "run_call", stub)
    signature = serving.Signature("serving_default", None, {"x": SimpleNamespace(shape=_Shape())}, ["y"])
    model = SimpleNamespace(name="m", version=1)

    async def scenario():
        batcher = serving.Batcher(ThreadPoolExecutor(2), max_batch=8, wait_s=0.005)
        calls = [serving.Call(signature, {"x": np.array([float(i)])}, True, 1) for i in range(20)]
        answers = await asyncio.gather(*(batcher.run(model, call) for call in calls))
        assert [float(answer["y"][0]) for answer in answers] == [2.0 * i for i in range(20)]
        assert max(sizes) == 8 and len(sizes) < 20  # merged, never over the largest batch
        sizes.clear()
        bad = [serving.Call(signature, {"x": np.array([value])}, True, 1) for value in (1.0, -1.0, 3.0)]
        results = await asyncio.gather(*(batcher.run(model, call) for call in bad), return_exceptions=True)
        assert float(results[0]["y"][0]) == 2.0 and isinstance(results[1], serving.RequestError)
        assert float(results[2]["y"][0]) == 6.0
        waiting = asyncio.ensure_future(batcher.run(model, calls[0]))
        waiting.cancel()
        assert float((await batcher.run(model, calls[1]))["y"][0]) == 2.0
        await batcher.close()

    asyncio.run(scenario())


class _Shape:
    """The TensorSpec shape of a `[None]` input, as far as the batcher looks."""

    rank = 1

    def __getitem__(self, index):
        return None
