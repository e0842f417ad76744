"""Forecast accuracy of rnnkit's default forecaster vs its baselines and statsmodels' Holt-Winters.

One forecast per case, from one origin: the last `horizon` steps of the series are the test
part, the `horizon` steps before them rnnkit's validation part (early stopping and the best
epoch only), the rest its training part. rnnkit trains with its defaults: only
`task="forecast"`, `target`, `horizon`, a `val_split` small enough that the held-out parts are
exactly one horizon each (the script checks that the run's metrics.json has one test window),
`seed`, `out` and `quiet` are passed (`--epochs` overrides the epochs when given). The model's
metrics and those of the naive, seasonal naive and mean baselines are read from the run's
metrics.json. Holt-Winters (`statsmodels` `ExponentialSmoothing`, additive trend, additive or
multiplicative season of the detected length, `initialization_method="estimated"`; with
`--hw-seasonal auto` both seasons are fitted and the lower AIC wins) is fitted on every row
before the test part (training + validation, missing values interpolated exactly as rnnkit
does, through `rnnkit.datasets.csv_series.open_series`) and forecasts the same `horizon` steps.
All metrics come from `rnnkit.tasks.forecast.forecaster.forecast_metrics` with the run's MASE scale (the
in-sample seasonal naive MAE of the training part, from RUN/preprocessor/series.json, checked
against a recomputation). "fit s" is the wall-clock time of the whole `rnnkit.train` call
(preparing the data, fitting, test metrics, plots; TensorFlow is imported beforehand) and of
the Holt-Winters fit(s); "epochs" counts the rows of RUN/history.csv. With several seeds the
model's numbers are mean ± sample standard deviation; the other methods do not depend on the
seed. Cases run one after the other in this process.

    python benchmarks/forecast_accuracy.py
    python benchmarks/forecast_accuracy.py --cases airline-12 --seeds 1,2,3
    python benchmarks/forecast_accuracy.py --cases airline-12 --epochs 5   # smoke test
    python benchmarks/forecast_accuracy.py --seeds 1,2,3 --baseline-set ensemble=1   # and one network, side by side

`--set KEY=VALUE` passes an option to rnnkit's run; `--baseline-set KEY=VALUE` trains a second rnnkit
run per seed with that option, printed as its own row ("rnnkit with KEY=VALUE").

`--calendar` measures calendar covariates: each series gets sine/cosine columns of the calendar
cycles its step implies (month of the year for monthly data; day of the year for weekly; hour of
the day and day of the week for sub-daily), computed from its timestamps, and rnnkit trains with
them as `features` next to the target; a second run per seed without them is the baseline row.
The columns give the network the calendar position of every step of the window, so (at a fixed
step) of every step it forecasts: the information future-known calendar covariates carry.

    python benchmarks/forecast_accuracy.py --seeds 1,2,3 --calendar
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import shlex
import shutil
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from _common import SHARED_DATA, machine, parse_sets, require

TIMESERIES = SHARED_DATA / "timeseries"
VAL_SPLIT = 0.01
METRICS = ("mae", "smape", "mase")


@dataclass(frozen=True)
class Case:
    file: str  # in --data, or "generated:NAME" for a series this script makes
    target: str
    horizon: int


CASES = {
    "airline-12": Case("airline_passengers_monthly.csv", "passengers", 12),
    "airline-24": Case("airline_passengers_monthly.csv", "passengers", 24),
    "co2-52": Case("co2_mauna_loa_weekly.csv", "co2", 52),
    "demand-336": Case("generated:demand", "load", 336),
}
# Holt-Winters with a season of hundreds of steps fits for minutes: the generated half-hourly
# series is fitted with its daily season.
HW_SEASON = {"demand-336": 48}


def make_demand(path: Path) -> Path:
    """A half-hourly "electricity demand" series of 12 weeks made here (seed 0): a daily profile
    (a morning and an evening peak), lower weekends, a slow trend and AR(1) noise, so the daily
    (48 steps) and the weekly (336 steps) cycles both matter and the weekly seasonal naive
    forecast is the better one."""
    rng = np.random.default_rng(0)
    steps = 12 * 7 * 48
    t = np.arange(steps)
    hour = (t % 48) / 2
    day = (t // 48) % 7  # 0 = Monday (the series starts on one)
    profile = 1.0 + 0.6 * np.exp(-((hour - 8.5) ** 2) / 4) + 0.9 * np.exp(-((hour - 19) ** 2) / 6) - 0.4 * (hour < 5)
    weekend = np.where(day >= 5, 0.7 + 0.1 * np.exp(-((hour - 13) ** 2) / 8), 1.0)
    noise = np.zeros(steps)
    shocks = rng.normal(0, 0.04, steps)
    for k in range(1, steps):
        noise[k] = 0.9 * noise[k - 1] + shocks[k]
    load = 1000 * (profile * weekend * (1 + 0.0002 * t / 48) + noise)
    times = np.datetime64("2024-01-01T00:00") + t * np.timedelta64(30, "m")
    with path.open("w", encoding="utf-8") as handle:
        handle.write("time,load\n")
        handle.writelines(f"{moment},{value:.1f}\n" for moment, value in zip(times.astype(str), load))
    return path
BASELINES = {"naive": "naive", "seasonal_naive": "seasonal naive", "mean": "mean"}


def add_calendar(path: Path, out: Path) -> tuple[Path, list[str]]:
    """A copy of the CSV `path` in `out` with sine/cosine columns of the calendar cycles of its step
    (see the module's docstring); the copy and the new columns' names."""
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    header, body = rows[0], rows[1:]
    times = np.array([row[0] for row in body], dtype="datetime64[m]")
    step = (times[1] - times[0]) / np.timedelta64(1, "D")
    minutes = (times - times.astype("datetime64[D]")).astype(np.int64)
    day_of_year = (times.astype("datetime64[D]") - times.astype("datetime64[Y]")).astype(np.int64)
    weekday = (times.astype("datetime64[D]").astype(np.int64) + 3) % 7  # 1970-01-01 was a Thursday
    month = times.astype("datetime64[M]").astype(np.int64) % 12
    if step >= 28:
        cycles = {"month": month / 12}
    elif step >= 7:
        cycles = {"year": day_of_year / 365.25}
    elif step >= 1:
        cycles = {"weekday": weekday / 7, "year": day_of_year / 365.25}
    else:
        cycles = {"hour": minutes / 1440, "weekday": (weekday + minutes / 1440) / 7}
    columns = {}
    for name, phase in cycles.items():
        columns[f"{name}_sin"] = np.sin(2 * np.pi * phase)
        columns[f"{name}_cos"] = np.cos(2 * np.pi * phase)
    copy = out / f"calendar-{path.name}"
    with copy.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header + list(columns))
        for index, row in enumerate(body):
            writer.writerow(row + [f"{values[index]:.6f}" for values in columns.values()])
    return copy, list(columns)


def rnnkit_run(path: Path, case: Case, seed: int, val_split: float, epochs: int | None, work: Path,
               options: dict | None = None) -> dict:
    """Train rnnkit's default forecaster (with `options`); its test metrics, MASE scale, seconds and epochs."""
    import rnnkit

    options = {**(options or {}), **({} if epochs is None else {"epochs": epochs})}
    start = time.perf_counter()
    run = rnnkit.train(str(path), task="forecast", target=case.target, horizon=case.horizon, val_split=val_split,
                       seed=seed, out=work / f"run-{seed}", overwrite=True, quiet=True, **options)
    seconds = time.perf_counter() - start
    metrics = run.metrics
    if metrics.get("split") != "test" or metrics.get("windows") != 1 or metrics.get("horizon") != case.horizon:
        raise SystemExit(f"{run.path}/metrics.json is not one test window of {case.horizon} steps: split "
                         f"{metrics.get('split')!r}, windows {metrics.get('windows')!r}, horizon {metrics.get('horizon')!r}")
    preprocessor = json.loads((run.path / "preprocessor" / "series.json").read_text(encoding="utf-8"))
    with (run.path / "history.csv").open(newline="", encoding="utf-8") as handle:
        history = list(csv.DictReader(handle))
    losses = [float(row["val_loss"]) for row in history if row.get("val_loss")]
    return {"model": metrics["model"], "baselines": metrics["baselines"], "seconds": seconds,
            "epochs": len(history), "best_epoch": int(np.argmin(losses)) + 1 if losses else None,
            "mase_scale": preprocessor["mase_scale"], "window": preprocessor["window"],
            "season": preprocessor["season"], "transform": preprocessor.get("transform"),
            "validation": run.config.data_summary.get("validation", {})}


def holt_winters(history: np.ndarray, season: int, horizon: int, seasonal: str) -> dict:
    """Additive-trend Holt-Winters fitted on `history` (1-D); the forecast of the best fit by AIC."""
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    kinds = ("add", "mul") if seasonal == "auto" else (seasonal,)
    fits = {}
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for kind in kinds:
            model = ExponentialSmoothing(history, trend="add", seasonal=kind, seasonal_periods=season,
                                         initialization_method="estimated")
            fits[kind] = model.fit()
    seconds = time.perf_counter() - start
    best = min(fits, key=lambda kind: fits[kind].aic)
    return {"forecast": np.asarray(fits[best].forecast(horizon), dtype=np.float64), "seasonal": best,
            "aic": {kind: float(fit.aic) for kind, fit in fits.items()}, "seconds": seconds,
            "warnings": sorted({f"{w.category.__name__}: {w.message}" for w in caught})}


def run_case(name: str, case: Case, path: Path, args: argparse.Namespace, seeds: list[int],
             calendar: list[str] | None = None) -> dict:
    from rnnkit.datasets.csv_series import open_series
    from rnnkit.tasks.forecast.forecaster import baseline_forecasts, forecast_metrics
    from rnnkit.tasks.forecast.preprocessor import seasonal_naive_scale

    series = open_series(path, target=[case.target])
    length, horizon = len(series), case.horizon
    held_out = max(horizon, round(args.val_split * length))
    if held_out != horizon:
        raise SystemExit(f"--val-split {args.val_split} holds out {held_out} rows of {name} ({length} rows), more than "
                         f"its horizon {horizon}; pass a --val-split below {(horizon + 0.5) / length:.4f}.")
    origin, train_end = length - horizon, length - 2 * horizon
    labels = series.time_labels()
    print(f"\n== {name}: {path.name} '{case.target}', {length} rows, seasons {series.seasons}, horizon {horizon}; "
          f"train {train_end} / validation {horizon} / test {horizon} rows ({labels[origin]} to {labels[-1]})"
          + (f"; {series.filled} missing value(s) interpolated" if series.filled else "") + " ==", flush=True)

    values = series.values[:, 0]
    actual = values[origin:][None, :, None]
    runs = []
    with tempfile.TemporaryDirectory() as folder:
        baseline_runs = []
        for seed in seeds:
            variants = [(runs, parse_sets(args.set), "")]
            if calendar:
                variants = [(runs, {**parse_sets(args.set), "features": calendar}, " (calendar)"),
                            (baseline_runs, parse_sets(args.set), " (no calendar)")]
            elif args.baseline_set:
                variants.append((baseline_runs, parse_sets(args.baseline_set), f" ({' '.join(args.baseline_set)})"))
            for collected, options, label in variants:
                result = rnnkit_run(path, case, seed, args.val_split, args.epochs, Path(folder), options)
                checked = result["validation"]
                errors = ", ".join(f"{key} {value:.3f}" for key, value in checked.get("errors", {}).items())
                print(f"seed {seed}{label}: rnnkit MASE {result['model']['mase']:.3f}, {result['epochs']} epochs "
                      f"(best {result['best_epoch']}), {result['seconds']:.1f} s; season {result['season']}, "
                      f"transform {result['transform']}; validation errors: {errors}; kept "
                      f"{checked.get('forecaster')}", flush=True)
                collected.append(result)
    season = runs[0]["season"]
    recomputed = seasonal_naive_scale(series.values[:train_end, :1], season)
    scale = np.asarray(runs[0]["mase_scale"], dtype=np.float64)
    if not np.allclose(scale, recomputed, rtol=1e-9):
        raise SystemExit(f"{name}: the run's MASE scale {scale.tolist()} is not the seasonal naive MAE of the first "
                         f"{train_end} rows ({recomputed.tolist()}): the split is not the one this script assumes.")
    naive_mae = float(np.abs(values[origin:] - values[origin - 1]).mean())
    if not math.isclose(naive_mae, runs[0]["baselines"]["naive"]["mae"], rel_tol=1e-9):
        raise SystemExit(f"{name}: the run's naive MAE {runs[0]['baselines']['naive']['mae']} is not that of the last "
                         f"{horizon} rows ({naive_mae}): its test window is not the one this script assumes.")
    for other in runs[1:]:
        if other["baselines"] != runs[0]["baselines"]:
            raise SystemExit(f"{name}: the baselines differ between seeds")

    # The seasonal naive forecast of every cycle the data's step suggests (rnnkit's baseline uses one).
    seasonal = {}
    for cycle in series.seasons:
        if 1 < cycle <= origin:
            forecast = baseline_forecasts(series.values[:, :1], [origin], horizon, cycle)["seasonal_naive"]
            seasonal[cycle] = forecast_metrics(actual, forecast, scale)
    hw = holt_winters(values[:origin], HW_SEASON.get(name, season), horizon, args.hw_seasonal)
    hw_metrics = forecast_metrics(actual, hw["forecast"][None, :, None], scale)
    aic = ", ".join(f"{kind} {value:.1f}" for kind, value in hw["aic"].items())
    print(f"Holt-Winters on the {origin} rows before the test part: seasonal '{hw['seasonal']}' "
          f"(AIC {aic}), {hw['seconds']:.1f} s", flush=True)
    for message in hw["warnings"]:
        print(f"  statsmodels warned: {message}")
    return {"runs": runs, "baseline_runs": baseline_runs, "baselines": runs[0]["baselines"], "hw": hw, "hw_metrics": hw_metrics, "season": season,
            "seasonal": seasonal, "hw_season": HW_SEASON.get(name, season)}


def summary(values: list[float], digits: int) -> str:
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return f"{np.mean(values):.{digits}f} ± {np.std(values, ddof=1):.{digits}f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", default=",".join(CASES), help=f"comma-separated, of: {', '.join(CASES)}")
    parser.add_argument("--seeds", default="1", help="comma-separated rnnkit seeds, e.g. 1,2,3")
    parser.add_argument("--epochs", type=int, help="override rnnkit's default epochs (smoke tests)")
    parser.add_argument("--val-split", type=float, default=VAL_SPLIT,
                        help="rnnkit's val_split; small enough that validation and test are one horizon each")
    parser.add_argument("--hw-seasonal", choices=["auto", "add", "mul"], default="auto",
                        help="Holt-Winters season; auto: the lower AIC of add and mul")
    parser.add_argument("--data", type=Path, default=TIMESERIES, help="the folder of the series CSVs")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="an rnnkit option")
    parser.add_argument("--baseline-set", action="append", default=[], metavar="KEY=VALUE",
                        help="also train rnnkit with this option, side by side")
    parser.add_argument("--calendar", action="store_true",
                        help="train with calendar columns as features, and without them side by side")
    args = parser.parse_args()
    if args.calendar and args.baseline_set:
        parser.error("--calendar trains its own baseline row (without the calendar): drop --baseline-set")
    try:
        import statsmodels  # noqa: F401
    except ImportError:
        sys.exit("Holt-Winters needs statsmodels: pip install -e '.[forecast]'")
    names = [name.strip() for name in args.cases.split(",") if name.strip()]
    unknown = [name for name in names if name not in CASES]
    if unknown or not names:
        parser.error(f"--cases: unknown {', '.join(unknown) or '(none given)'}; choose from {', '.join(CASES)}")
    try:
        seeds = [int(seed) for seed in args.seeds.split(",") if seed.strip()]
    except ValueError:
        parser.error(f"--seeds must be comma-separated integers. Received: {args.seeds!r}")
    if not seeds:
        parser.error("--seeds: give at least one seed")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    paths, calendars = {}, {}
    generated = Path(tempfile.mkdtemp(prefix="rnnkit-forecast-bench-"))
    for name in names:
        file = CASES[name].file
        if file.startswith("generated:"):
            paths[name] = make_demand(generated / f"{file.split(':', 1)[1]}.csv")
            continue
        path = require(args.data / file)
        if path is None:
            return
        paths[name] = path
    if args.calendar:
        for name in names:
            paths[name], calendars[name] = add_calendar(paths[name], generated)

    from rnnkit.tf_import import import_tensorflow

    import_tensorflow()  # not timed
    try:
        results = {name: run_case(name, CASES[name], paths[name], args, seeds, calendars.get(name)) for name in names}
    finally:
        shutil.rmtree(generated, ignore_errors=True)

    print(f"\nForecast accuracy on the last horizon of each series (one origin), rnnkit seed(s) "
          f"{', '.join(map(str, seeds))}" + (f", epochs {args.epochs}" if args.epochs else ", default epochs") + "\n")
    print("| case | method | MAE | sMAPE % | MASE | fit s | epochs |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for name, result in results.items():
        other = "rnnkit without the calendar" if args.calendar else f"rnnkit with {' '.join(args.baseline_set)}"
        labels = [("runs", "rnnkit default GRU" + (f" with {' '.join(args.set)}" if args.set else "")
                   + (" with calendar features" if args.calendar else "")),
                  ("baseline_runs", other)]
        for key, label in labels:
            runs = result[key]
            if not runs:
                continue
            row = [summary([run["model"][metric] for run in runs], 3 if metric == "mase" else 2) for metric in METRICS]
            print(f"| {name} | {label} | {' | '.join(row)} | {summary([run['seconds'] for run in runs], 1)} "
                  f"| {summary([run['epochs'] for run in runs], 0 if len(runs) == 1 else 1)} |")
        for key, label in BASELINES.items():
            metrics = result["baselines"][key]
            label += f" (season {result['season']})" if key == "seasonal_naive" else ""
            print(f"| {name} | {label} | {metrics['mae']:.2f} | {metrics['smape']:.2f} | {metrics['mase']:.3f} | | |")
        for cycle, metrics in result["seasonal"].items():
            if cycle != result["season"]:
                print(f"| {name} | seasonal naive (season {cycle}) | {metrics['mae']:.2f} | {metrics['smape']:.2f} "
                      f"| {metrics['mase']:.3f} | | |")
        hw, metrics = result["hw"], result["hw_metrics"]
        how = "by AIC" if args.hw_seasonal == "auto" else "as asked"
        print(f"| {name} | Holt-Winters (add trend, {hw['seasonal']} season {result['hw_season']}, {how}) "
              f"| {metrics['mae']:.2f} | {metrics['smape']:.2f} | {metrics['mase']:.3f} | {hw['seconds']:.1f} | |")
    print()
    for name, result in results.items():
        model_mase = float(np.mean([run["model"]["mase"] for run in result["runs"]]))
        coverage = float(np.mean([run["model"]["coverage"] for run in result["runs"]]))
        best_naive = min(metrics["mase"] for metrics in result["seasonal"].values()) if result["seasonal"] else math.nan
        if result["baseline_runs"]:
            other = float(np.mean([run["model"]["mase"] for run in result["baseline_runs"]]))
            label = "without the calendar" if args.calendar else f"with {' '.join(args.baseline_set)}"
            print(f"{name}: rnnkit MASE / rnnkit {label} MASE = {model_mase / other:.2f}")
        print(f"{name}: rnnkit MASE / Holt-Winters MASE = {model_mase / result['hw_metrics']['mase']:.2f}, "
              f"/ best seasonal naive MASE = {model_mase / best_naive:.2f} (rnnkit 80% interval coverage "
              f"{coverage:.2f}; window {result['runs'][0]['window']}; MASE scaled by season {result['season']})")
    coverages = [run["model"]["coverage"] for result in results.values() for run in result["runs"]]
    print(f"80% interval coverage over all cases and seeds: {np.mean(coverages):.2f} (target 0.80 +/- 0.07)")
    print(f"\nmachine: {machine()}")
    print(f"command: python benchmarks/forecast_accuracy.py {shlex.join(sys.argv[1:])}".rstrip())


if __name__ == "__main__":
    main()
