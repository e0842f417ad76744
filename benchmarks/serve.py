"""`rnnkit serve` under load on 127.0.0.1: requests/s and latency at several concurrencies, next to
calling the SavedModel directly in one process.

A sentiment run (the default architecture, one epoch on 5,000 IMDB reviews) and a forecast run
(the airline series, horizon 12) are trained, exported, and served by one `rnnkit serve`
process. Clients send `--requests` requests (one review of about 200 words, or one window) from
`concurrency` threads, each on its own keep-alive connection. The baseline is the SavedModel's
`serving_default` called in this process on batches of 32 of the same reviews.

The same two runs are exported to LiteRT and ONNX (`rnnkit export --format litert|onnx`): their file
sizes next to the SavedModel's, and the latency of one example (median of `--calls` calls) in each
runtime. The SavedModel takes the raw review and tokenizes it inside; LiteRT and ONNX take token
ids, which their client makes (here TensorFlow makes them, outside the timing).

    python benchmarks/serve.py                      # about 5 minutes
    python benchmarks/serve.py --requests 200       # a smoke test
    python benchmarks/serve.py --only edge          # sizes and latencies of the exports only

Targets (issue #13): at concurrency 32, sentiment requests/s >= 5x concurrency 1 and >= 0.8x the
direct reviews/s; p99 at concurrency 1 < 50 ms for a 200-word review; no errors.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import IMDB, SHARED_DATA, imdb_reviews, machine, require, write_reviews  # noqa: E402

AIRLINE = SHARED_DATA / "timeseries" / "airline_passengers_monthly.csv"


def train_runs(work: Path) -> tuple[Path, Path, list[str], list, dict]:
    import numpy as np
    import pandas as pd
    import tensorflow as tf

    import rnnkit

    rows = imdb_reviews(IMDB, seed=0)
    reviews = [text for text, _ in rows if 180 <= len(text.split()) <= 220][:500]
    sentiment = rnnkit.train(str(write_reviews(work / "train.csv", rows[:5000])), task="sentiment",
                             out=work / "sentiment", epochs=1, seed=0, quiet=True)
    forecast = rnnkit.train(str(AIRLINE), task="forecast", target="passengers", horizon=12, out=work / "forecast",
                            seed=0, quiet=True)
    exported_sentiment = sentiment.export(work / "models" / "sentiment" / "1")
    exported_forecast = forecast.export(work / "models" / "airline" / "1")
    series = pd.read_csv(AIRLINE)["passengers"].to_numpy(np.float32)
    spec = tf.saved_model.load(str(exported_forecast)).signatures["serving_default"].structured_input_signature[1]
    window = spec["history"].shape[1]
    windows = [series[start:start + window].reshape(window, 1).tolist() for start in range(len(series) - window)]
    return exported_sentiment, exported_forecast, reviews, windows, {"sentiment": sentiment, "forecast": forecast}


def direct_reviews_per_second(path: Path, reviews: list[str], rounds: int = 3) -> float:
    import tensorflow as tf

    function = tf.saved_model.load(str(path)).signatures["serving_default"]
    batches = [tf.constant(reviews[start:start + 32]) for start in range(0, len(reviews) - 31, 32)]
    function(text=batches[0])  # warm-up
    rates = []
    for _ in range(rounds):
        start = time.perf_counter()
        for batch in batches:
            function(text=batch)
        rates.append(32 * len(batches) / (time.perf_counter() - start))
    return statistics.median(rates)


def edge_rows(runs: dict, savedmodels: dict, reviews: list[str], windows: list, work: Path, calls: int) -> list:
    """Per task and format: the model's size in bytes and the median latency of one example in ms."""
    import numpy as np
    import tensorflow as tf
    from ai_edge_litert.interpreter import Interpreter
    import onnxruntime

    preprocessor = runs["sentiment"].task_object.preprocessor(runs["sentiment"])
    ids = [preprocessor.encode(tf.constant([text])).to_tensor(0).numpy() for text in reviews[:calls]]  # unpadded
    inputs = {"sentiment": [{"token_ids": row.astype(np.int64)} for row in ids],
              "forecast": [{"history": np.asarray(window, np.float32)[None]} for window in windows[:calls]]}
    raw = {"sentiment": [{"text": tf.constant([text])} for text in reviews[:calls]],
           "forecast": [{"history": tf.constant(example["history"])} for example in inputs["forecast"]]}

    def median_ms(call, examples) -> float:
        for example in examples[:5]:
            call(example)  # warm-up
        times = []
        for example in examples:
            start = time.perf_counter()
            call(example)
            times.append(time.perf_counter() - start)
        return 1000 * statistics.median(times)

    rows = []
    for task, run in runs.items():
        savedmodel = savedmodels[task]
        function = tf.saved_model.load(str(savedmodel)).signatures["serving_default"]
        rows.append((task, "SavedModel", sum(f.stat().st_size for f in savedmodel.rglob("*") if f.is_file()),
                     median_ms(lambda example: function(**example), raw[task]), len(raw[task])))
        for format in ("litert", "onnx"):
            folder = run.export(work / "edge" / f"{task}-{format}", format=format)
            if format == "litert":
                path = folder / "model.tflite"
                signature = Interpreter(model_path=str(path)).get_signature_runner("serving_default")
                call = lambda example, signature=signature: signature(**example)  # noqa: E731
            else:
                path = folder / "model.onnx"
                session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
                call = lambda example, session=session: session.run(None, example)  # noqa: E731
            rows.append((task, format, path.stat().st_size, median_ms(call, inputs[task]), len(inputs[task])))
    return rows


def start_server(models: list[str]) -> tuple[subprocess.Popen, int]:
    process = subprocess.Popen([sys.executable, "-m", "rnnkit.cli.main", "serve", *models, "--port", "0"],
                               stderr=subprocess.PIPE, text=True)
    for line in process.stderr:
        if match := re.search(r"Serving on http://[^:]+:(\d+)", line):
            threading.Thread(target=lambda: [None for _ in process.stderr], daemon=True).start()  # drain the log
            return process, int(match[1])
    raise RuntimeError("the server did not start")


def load(port: int, path: str, bodies: list[bytes], requests: int, concurrency: int) -> dict:
    """Send `requests` POSTs from `concurrency` threads, each on its own connection."""
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    counter = iter(range(requests))

    def worker(_):
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        mine = []
        while True:
            with lock:
                index = next(counter, None)
            if index is None:
                break
            start = time.perf_counter()
            connection.request("POST", path, body=bodies[index % len(bodies)],
                               headers={"Content-Type": "application/json"})
            response = connection.getresponse()
            payload = response.read()
            mine.append(time.perf_counter() - start)
            if response.status != 200 or b"predictions" not in payload:
                with lock:
                    errors[0] += 1
        connection.close()
        with lock:
            latencies.extend(mine)

    start = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(worker, range(concurrency)))
    seconds = time.perf_counter() - start
    latencies.sort()
    return {"rps": requests / seconds, "p50": 1000 * latencies[len(latencies) // 2],
            "p99": 1000 * latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))], "errors": errors[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=2000, help="requests per measurement")
    parser.add_argument("--concurrency", default="1,8,32")
    parser.add_argument("--calls", type=int, default=300, help="examples per export latency")
    parser.add_argument("--only", choices=("load", "edge"), help="one of the two measurements")
    args = parser.parse_args()
    if require(IMDB) is None or require(AIRLINE) is None:
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    levels = [int(level) for level in args.concurrency.split(",")]
    results, edge = {}, []
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        sentiment, forecast, reviews, windows, runs = train_runs(work)
        if args.only != "edge":
            direct = direct_reviews_per_second(sentiment, reviews)
            results = serve_load(sentiment, forecast, reviews, windows, levels, args.requests)
        if args.only != "load":
            edge = edge_rows(runs, {"sentiment": sentiment, "forecast": forecast}, reviews, windows, work, args.calls)
    if results:
        print(f"\nrnnkit serve on 127.0.0.1, {args.requests} requests per row (one example each); {machine()}")
        print(f"{'model':<10} {'concurrency':>11} {'requests/s':>11} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}")
        for (name, level), result in results.items():
            print(f"{name:<10} {level:>11} {result['rps']:>11.1f} {result['p50']:>8.1f} {result['p99']:>8.1f} "
                  f"{result['errors']:>7}")
        print(f"direct: the sentiment SavedModel in one process, batches of 32: {direct:.1f} reviews/s")
        low, high = min(levels), max(levels)
        if ("sentiment", low) in results and ("sentiment", high) in results:
            top = results["sentiment", high]["rps"]
            print(f"sentiment, concurrency {high} vs {low}: {top / results['sentiment', low]['rps']:.2f}x (target >= 5x); "
                  f"vs direct batches of 32: {top / direct:.2f}x (target >= 0.8x); "
                  f"p99 at concurrency {low}: {results['sentiment', low]['p99']:.1f} ms (target < 50 ms, "
                  "200-word reviews)")
    if edge:
        print(f"\nExports, one example per call (the median ms of `calls` calls); {machine()}")
        print(f"{'model':<10} {'format':<11} {'size':>10} {'size ratio':>11} {'calls':>6} {'ms':>8} {'speed-up':>9}")
        base = {task: (size, ms) for task, format, size, ms, _ in edge if format == "SavedModel"}
        for task, format, size, ms, calls in edge:
            print(f"{task:<10} {format:<11} {size / 1e3:>7.0f} kB {size / base[task][0]:>10.2f}x {calls:>6} {ms:>8.3f} "
                  f"{base[task][1] / ms:>8.1f}x")
        print("size ratio and speed-up: against the SavedModel of the same run (which tokenizes inside; LiteRT "
              "and ONNX take token ids)")


def serve_load(sentiment: Path, forecast: Path, reviews: list[str], windows: list, levels: list[int],
               requests: int) -> dict:
    process, port = start_server([f"sentiment={sentiment.parent}", f"airline={forecast.parent}"])
    try:
        cases = {"sentiment": ("/v1/models/sentiment:predict",
                               [json.dumps({"instances": [text]}).encode() for text in reviews]),
                 "forecast": ("/v1/models/airline:predict",
                              [json.dumps({"instances": [window]}).encode() for window in windows])}
        results = {}
        for name, (path, bodies) in cases.items():
            load(port, path, bodies, 50, 4)  # warm-up
            for level in levels:
                results[name, level] = load(port, path, bodies, requests, level)
        return results
    finally:
        process.terminate()
        process.wait(30)

if __name__ == "__main__":
    main()
