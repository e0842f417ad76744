"""Does `rnnkit tune` find a better model than the defaults in a fixed budget, on data the search never saw?

Two cases, one after the other in this process:

- airline: the monthly airline series without its last 12 months is the search data (each trial
  splits it into training, validation and test as `rnnkit train` does); the last 12 months are the
  held-out part. Metric: MASE of `run.evaluate(full series)`, i.e. the forecast of those 12 months
  from the rows before them.
- imdb-5k: 5,000 reviews of the IMDB training file (shuffled with seed 0) are the search data;
  2,500 other reviews of the same file are the held-out part. Metric: accuracy of
  `run.evaluate(held-out CSV)`.

For each case: `rnnkit.tune` with `--time-budget BUDGET` (the task's search space, TPE, median
pruning, seed 0 for every trial), and `rnnkit.train` with the defaults and the same seed on the
same search data. Both models are scored on the held-out part. Printed: the two scores side by
side, their ratio, the trials (complete / pruned / failed), the best options and the seconds.

    python benchmarks/tune.py                      # 20 minutes per case
    python benchmarks/tune.py --budget 120 --cases airline   # a smoke test
    python benchmarks/tune.py --keep /tmp/tune-bench          # keep the searches (plots in */plots)
"""

from __future__ import annotations

import argparse
import csv
import os
import shlex
import sys
import tempfile
import time
from pathlib import Path

from _common import IMDB, SHARED_DATA, imdb_reviews, machine, require, write_reviews

AIRLINE = SHARED_DATA / "timeseries" / "airline_passengers_monthly.csv"
HORIZON = 12
SEARCH_REVIEWS, HELD_OUT_REVIEWS = 5000, 2500
SEED = 0


def airline_case(work: Path) -> dict | None:
    path = require(AIRLINE)
    if path is None:
        return None
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    search = work / "airline-search.csv"
    with search.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(rows[:-HORIZON])
    return {"data": search, "held_out": path, "options": {"task": "forecast", "target": "passengers",
                                                          "horizon": HORIZON},
            "metric": "mase", "better": "lower",
            "held_out_text": f"the last {HORIZON} months ({rows[-HORIZON][0]} to {rows[-1][0]})",
            "evaluate": {}}


def imdb_case(work: Path) -> dict | None:
    path = require(IMDB)
    if path is None:
        return None
    reviews = imdb_reviews(path, seed=0)
    search = write_reviews(work / "imdb-search.csv", reviews[:SEARCH_REVIEWS])
    held_out = write_reviews(work / "imdb-held-out.csv", reviews[SEARCH_REVIEWS:SEARCH_REVIEWS + HELD_OUT_REVIEWS])
    return {"data": search, "held_out": held_out, "options": {"task": "sentiment"}, "metric": "accuracy",
            "better": "higher", "held_out_text": f"{HELD_OUT_REVIEWS} other reviews", "evaluate": {}}


CASES = {"airline": airline_case, "imdb-5k": imdb_case}


def run_case(name: str, case: dict, work: Path, budget: float, trial_budget: float | None) -> dict:
    import rnnkit

    print(f"\n== {name}: search data {case['data'].name}, held out: {case['held_out_text']}; budget {budget:.0f} s ==",
          flush=True)
    started = time.perf_counter()

    def progress(trial: dict) -> None:
        value = "-" if trial["value"] is None else f"{trial['value']:.4f}"
        print(f"  trial {trial['number']}: {trial['state']} {value} ({trial['seconds'] or 0:.0f} s) "
              f"{trial['params']}", flush=True)

    search = rnnkit.tune(str(case["data"]), out=work / f"{name}-search", time_budget=budget,
                         trial_budget=trial_budget, seed=SEED, progress=progress, **case["options"])
    search_seconds = time.perf_counter() - started
    started = time.perf_counter()
    default = rnnkit.train(str(case["data"]), out=work / f"{name}-default", seed=SEED, **case["options"])
    default_seconds = time.perf_counter() - started
    tuned = rnnkit.load(search.path / search.best["run"])
    scores = {}
    for label, run in (("defaults", default), ("tuned", tuned)):
        metrics = run.evaluate(str(case["held_out"]), **case["evaluate"])
        scores[label] = metrics["model"][case["metric"]]
    summary = search.to_dict()
    print(f"defaults: held-out {case['metric']} {scores['defaults']:.4f} (validation loss "
          f"{_best_val(default.path):.4f}, {default_seconds:.0f} s); tuned (trial {search.best['number']}): "
          f"{scores['tuned']:.4f} (validation loss {search.best['value']:.4f})", flush=True)
    return {"scores": scores, "summary": summary, "best": search.best, "search_seconds": search_seconds,
            "default_seconds": default_seconds, "metric": case["metric"], "better": case["better"]}


def _best_val(path: Path) -> float:
    with (path / "history.csv").open(newline="") as handle:
        return min(float(row["val_loss"]) for row in csv.DictReader(handle))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", default=",".join(CASES), help=f"comma-separated, of: {', '.join(CASES)}")
    parser.add_argument("--budget", type=float, default=1200.0, help="seconds of search per case")
    parser.add_argument("--trial-budget", type=float, default=None, help="seconds per trial (default: none)")
    parser.add_argument("--keep", type=Path, default=None,
                        help="write the searches and runs into this (new) folder and keep them, to look at the plots")
    args = parser.parse_args()
    names = [name.strip() for name in args.cases.split(",") if name.strip()]
    unknown = [name for name in names if name not in CASES]
    if unknown or not names:
        parser.error(f"--cases: unknown {', '.join(unknown) or '(none given)'}; choose from {', '.join(CASES)}")
    try:
        import optuna  # noqa: F401
    except ImportError:
        sys.exit("rnnkit tune needs Optuna: pip install -e '.[tune]'")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from rnnkit.tf_import import import_tensorflow

    import_tensorflow()  # not timed
    results = {}
    if args.keep is not None and args.keep.exists() and any(args.keep.iterdir()):
        parser.error(f"--keep {args.keep} is not empty")
    with tempfile.TemporaryDirectory(prefix="rnnkit-tune-bench-") as temporary:
        folder = args.keep or temporary
        Path(folder).mkdir(parents=True, exist_ok=True)
        for name in names:
            case = CASES[name](Path(folder))
            if case is not None:
                results[name] = run_case(name, case, Path(folder), args.budget, args.trial_budget)

    print(f"\nrnnkit tune ({args.budget:.0f} s per case, TPE, seed {SEED}) vs the defaults, scored on a held-out part "
          "the search never saw\n")
    print("| case | held-out metric | defaults | tuned | tuned / defaults | trials (complete / pruned / cut / failed) "
          "| search s | best options |")
    print("|---|---|---:|---:|---:|---|---:|---|")
    for name, result in results.items():
        scores, summary = result["scores"], result["summary"]
        ratio = scores["tuned"] / scores["defaults"]
        options = ", ".join(f"{key}={value:.3g}" if isinstance(value, float) else f"{key}={value}"
                            for key, value in result["best"]["params"].items())
        print(f"| {name} | {result['metric']} ({result['better']} is better) | {scores['defaults']:.4f} "
              f"| {scores['tuned']:.4f} | {ratio:.3f} | {len(summary['trials'])} ({summary['complete']} / "
              f"{summary['pruned']} / {summary['cut']} / {summary['failed']}) | {result['search_seconds']:.0f} | {options} |")
    print(f"\nmachine: {machine()}")
    print(f"command: python benchmarks/tune.py {shlex.join(sys.argv[1:])}".rstrip())


if __name__ == "__main__":
    main()
