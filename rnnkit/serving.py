"""Exported models behind TensorFlow Serving's REST API (DESIGN §7), without TensorFlow Serving.

This module holds what does not depend on HTTP: finding and loading the SavedModels to serve
(`load_models`), reading a predict request's JSON into arrays and writing the answer back
(`parse_predict`, `predictions_json`), the status and metadata answers, and the server-side
batcher that merges concurrent requests for one signature into one call (`Batcher`).
`rnnkit.server` puts them behind FastAPI.

The JSON follows tensorflow_serving/util/json_tensor.h: `{"signature_name"?, "instances": [...]}`
(row format: one item per example, an object of named inputs when the signature has several;
answered with `{"predictions": [...]}`) or `{"inputs": ...}` (columnar: a value, or an object of
named inputs, each a whole tensor; answered with `{"outputs": ...}`); strings are UTF-8, bytes are
`{"b64": "..."}`. Errors are `{"error": "..."}` with TF Serving's HTTP status for the error.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from rnnkit.errors import ConfigError

DEFAULT_SIGNATURE = "serving_default"
MAX_GROUPS = 16  # row format: the most different values of scalar inputs (each a call) in one request
_SAVED_MODEL = "saved_model.pb"


class RequestError(Exception):
    """A request the server refuses: `status` is the HTTP code, the message goes to the client."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


@dataclasses.dataclass
class Signature:
    """One signature of a loaded SavedModel: its function and its named inputs and outputs."""

    name: str
    function: Any  # a ConcreteFunction taking the inputs as keywords
    inputs: dict[str, Any]  # name -> tf.TensorSpec
    outputs: list[str]

    @property
    def batched(self) -> bool:
        """Whether every input has an open first (batch) dimension, so requests can be merged."""
        return all(spec.shape.rank and spec.shape[0] is None for spec in self.inputs.values())


@dataclasses.dataclass
class ServedModel:
    """A model the server answers for: its name, version, folder and signatures."""

    name: str
    version: int
    path: Path
    signatures: dict[str, Signature]
    signature_defs: dict[str, Any]  # the JSON of the MetaGraphDef's signature_def, as TF Serving shows it
    loaded: Any = None  # the object `tf.saved_model.load` returned, kept alive with its functions
    labels: list[str] | None = None  # a classifier's labels in the order of its probabilities, when known

    @property
    def kind(self) -> str:
        """Which task's signatures this model has: textgen, sentiment, forecast, or other."""
        default = self.signatures.get(DEFAULT_SIGNATURE)
        if {"generate", "sample"} <= set(self.signatures):
            return "textgen"
        if default is not None and set(default.inputs) == {"text"} and "label" in default.outputs:
            return "sentiment"
        if default is not None and set(default.inputs) == {"history"} and "forecast" in default.outputs:
            return "forecast"
        return "other"

    def describe(self) -> dict[str, Any]:
        """What the page shows of this model: its kind, signatures and inputs (and labels or window)."""
        signatures = {name: {input_name: {"dtype": spec.dtype.name, "shape": spec.shape.as_list()}
                             for input_name, spec in signature.inputs.items()}
                      for name, signature in self.signatures.items()}
        found = {"name": self.name, "version": self.version, "kind": self.kind, "signatures": signatures}
        if self.kind == "sentiment" and self.labels:
            found["labels"] = self.labels
        shape = self.signatures[DEFAULT_SIGNATURE].inputs["history"].shape if self.kind == "forecast" else None
        if shape is not None and shape.rank == 3 and shape[1] is not None:
            found["window"], found["features"] = shape[1], shape[2] or 1
        return found

    def signature(self, name: str | None) -> Signature:
        name = name or DEFAULT_SIGNATURE
        if name not in self.signatures:
            raise RequestError(f'Serving signature name: "{name}" not found in signature def. This model has: '
                               f"{', '.join(sorted(self.signatures))}.")
        return self.signatures[name]


# -- finding and loading models -----------------------------------------------------------------


@dataclasses.dataclass
class ModelSource:
    """What one `rnnkit serve` argument names: a model name, a version, and a SavedModel folder or a run."""

    name: str
    version: int
    saved_model: Path | None
    run: Path | None


def resolve_source(argument: str) -> ModelSource:
    """Read `[NAME=]PATH`: a SavedModel folder, a TF Serving base folder of numbered versions (the
    highest is served, as TF Serving's default policy does), or an rnnkit run folder (exported when
    loaded). NAME defaults to the folder's name (its parent's for a numbered version folder)."""
    from rnnkit.runs import is_run_dir

    name, separator, location = argument.partition("=")
    if not separator or Path(argument).exists():  # a path may hold "=" itself
        name, location = "", argument
    path = Path(location)
    if not path.exists():
        raise ConfigError(f"{location} does not exist. Pass a run folder, a SavedModel folder, or NAME=PATH.")
    resolved = path.resolve()
    version = 1
    if (path / _SAVED_MODEL).is_file():
        saved_model, run = path, None
        if resolved.name.isdigit():
            version, resolved = int(resolved.name), resolved.parent
    elif versions := sorted(int(child.name) for child in path.iterdir()
                            if child.name.isdigit() and (child / _SAVED_MODEL).is_file()) if path.is_dir() else []:
        version = versions[-1]
        saved_model, run = path / str(version), None
    elif path.is_dir() and is_run_dir(path):
        saved_model, run = None, path
    else:
        raise ConfigError(f"{location} is neither an rnnkit run nor a SavedModel folder (no {_SAVED_MODEL}).")
    name = name or resolved.name
    if not name or "/" in name or ":" in name:
        raise ConfigError(f"'{name}' cannot be a model name in a URL (no '/' or ':'). Name it: NAME={location}")
    return ModelSource(name=name, version=version, saved_model=saved_model, run=run)


class ModelRepository:
    """The models a server answers for, loaded once; exports of runs live in a temporary folder
    that `close()` removes."""

    def __init__(self, arguments: list[str], log=print):
        sources = [resolve_source(argument) for argument in arguments]
        names = [source.name for source in sources]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ConfigError(f"Two models are named '{repeated[0]}'. Name them apart: NAME=PATH.")
        self._scratch: Path | None = None
        self.models: dict[str, ServedModel] = {}
        try:
            for source in sources:
                path = source.saved_model or self._export(source, log)
                self.models[source.name] = load_saved_model(source.name, source.version, path)
                if source.run is not None:
                    self.models[source.name].labels = _run_labels(source.run)
        except BaseException:
            self.close()
            raise

    def _export(self, source: ModelSource, log) -> Path:
        from rnnkit.runs import load

        if self._scratch is None:
            self._scratch = Path(tempfile.mkdtemp(prefix="rnnkit-serve-"))
        log(f"Exporting {source.run} to serve it as '{source.name}'...")
        return load(source.run).export(self._scratch / source.name, format="savedmodel")

    def get(self, name: str, version: int | None) -> ServedModel:
        model = self.models.get(name)
        if model is None or (version is not None and version != model.version):
            wanted = f"Specific({name}, {version})" if version is not None else f"Latest({name})"
            raise RequestError(f"Servable not found for request: {wanted}", status=404)
        return model

    def close(self) -> None:
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)
            self._scratch = None


def _run_labels(run: Path) -> list[str] | None:
    """A classifier run's labels, in the order of its probabilities (from metrics.json)."""
    import json

    try:
        metrics = json.loads((run / "metrics.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    labels = metrics.get("labels") if isinstance(metrics, dict) else None
    return [str(label) for label in labels] if isinstance(labels, list) else None


def load_saved_model(name: str, version: int, path: Path) -> ServedModel:
    """Load the SavedModel at `path` with `tf.saved_model.load` and describe its signatures."""
    from rnnkit.tf_import import import_tensorflow

    tf = import_tensorflow()
    try:
        loaded = tf.saved_model.load(str(path))
    except (OSError, ValueError, tf.errors.OpError) as error:
        raise ConfigError(f"Cannot load the SavedModel in {path}: {' '.join(str(error).split())[:300]}") from None
    signatures = {}
    for key, function in loaded.signatures.items():
        _, inputs = function.structured_input_signature
        signatures[key] = Signature(key, function, dict(inputs), sorted(function.structured_outputs))
    if not signatures:
        raise ConfigError(f"The SavedModel in {path} has no signatures to serve.")
    model = ServedModel(name, version, Path(path), signatures, _signature_defs(path), loaded)
    for signature in signatures.values():
        _warm_up(signature)
    return model


def _warm_up(signature: Signature) -> None:
    """Call a batched signature once on one blank example, so that the first request does not pay
    for the graph's first run (TF Serving's warm-up records do the same)."""
    import tensorflow as tf

    if not signature.batched or any(not spec.shape[1:].is_fully_defined() for spec in signature.inputs.values()):
        return
    blank = {name: tf.zeros([1, *spec.shape[1:]], spec.dtype) if spec.dtype != tf.string
             else tf.fill([1, *spec.shape[1:]], "") for name, spec in signature.inputs.items()}
    try:
        signature.function(**blank)
    except (tf.errors.OpError, ValueError, TypeError):
        pass  # a model that refuses blanks answers real requests all the same


def _signature_defs(path: Path) -> dict[str, Any]:
    """The signature_def map of the SavedModel's serving graph, as JSON (TF Serving's metadata)."""
    from google.protobuf import json_format
    from tensorflow.core.protobuf import saved_model_pb2

    saved_model = saved_model_pb2.SavedModel()
    saved_model.ParseFromString((Path(path) / _SAVED_MODEL).read_bytes())
    graph = next((meta for meta in saved_model.meta_graphs if "serve" in meta.meta_info_def.tags),
                 saved_model.meta_graphs[0])
    def as_json(message) -> dict[str, Any]:
        try:
            return json_format.MessageToDict(message, preserving_proto_field_name=True,
                                             always_print_fields_with_no_presence=True)
        except TypeError:  # protobuf < 5.26 (TensorFlow 2.16, 2.17) names it otherwise
            return json_format.MessageToDict(message, preserving_proto_field_name=True,
                                             including_default_value_fields=True)

    return {key: as_json(value) for key, value in graph.signature_def.items() if not key.startswith("__")}


def status_json(model: ServedModel) -> dict[str, Any]:
    """`GET /v1/models/NAME`: TF Serving's GetModelStatusResponse as JSON."""
    return {"model_version_status": [{"version": str(model.version), "state": "AVAILABLE",
                                      "status": {"error_code": "OK", "error_message": ""}}]}


def metadata_json(model: ServedModel) -> dict[str, Any]:
    """`GET /v1/models/NAME/metadata`: TF Serving's GetModelMetadataResponse as JSON."""
    return {"model_spec": {"name": model.name, "signature_name": "", "version": str(model.version)},
            "metadata": {"signature_def": {"signature_def": model.signature_defs}}}


# -- requests and answers -----------------------------------------------------------------------


@dataclasses.dataclass
class Call:
    """One request's inputs for one signature: `rows` examples (row format) or whole tensors."""

    signature: Signature
    inputs: dict[str, np.ndarray]
    row_format: bool
    rows: int | None  # the number of instances (row format), else the first dimension when shared
    order: list[int] | None = None  # row format split by scalar values: where this call's answers go

    def merge_key(self) -> tuple | None:
        """Calls with the same key can run as one batch: a batched signature and the same inner shapes."""
        if not self.signature.batched or self.rows is None:
            return None
        return (self.signature.name, *((name, array.shape[1:]) for name, array in sorted(self.inputs.items())))


def parse_predict(body: Any, model: ServedModel, max_instances: int, limits: dict[str, float]) -> list[Call]:
    """The calls a predict request asks for (several when row-format instances give different values
    for a scalar input, such as textgen's `length`), or a `RequestError`.

    Args:
        body: the decoded JSON.
        max_instances: the most examples one request may hold (413 above).
        limits: the largest value a scalar input of that name may take (400 above), e.g. {"length": 10000}.
    """
    if not isinstance(body, dict):
        raise RequestError("The request must be a JSON object with 'instances' or 'inputs'.")
    name = body.get("signature_name")
    if name is not None and not isinstance(name, str):
        raise RequestError("'signature_name' key must be a string value.")
    signature = model.signature(name)
    if "instances" in body and "inputs" in body:
        raise RequestError("Not both 'instances' and 'inputs' may be given: 'instances' (row format) or 'inputs' "
                           "(columnar).")
    if "instances" in body:
        calls = _row_calls(body["instances"], signature, max_instances)
    elif "inputs" in body:
        calls = [_columnar_call(body["inputs"], signature, max_instances)]
    else:
        raise RequestError("Missing 'inputs' or 'instances' key")
    for call in calls:
        for input_name, array in call.inputs.items():
            if input_name in limits and array.ndim == 0 and array.item() > limits[input_name]:
                raise RequestError(f"{input_name} is at most {limits[input_name]:g} on this server. "
                                   f"Received: {input_name}={array.item()}")
    return calls


def _row_calls(instances: Any, signature: Signature, max_instances: int) -> list[Call]:
    if not isinstance(instances, list) or not instances:
        raise RequestError("'instances' must be a non-empty list, one item per example.")
    if len(instances) > max_instances:
        raise RequestError(f"{len(instances)} instances in one request; this server takes at most {max_instances} "
                           "(--max-instances). Split the request.", status=413)
    names = list(signature.inputs)
    rows: dict[str, list] = {name: [] for name in names}
    for index, instance in enumerate(instances):
        if isinstance(instance, dict) and not _is_b64(instance):
            unknown = sorted(set(instance) - set(names))
            missing = [name for name in names if name not in instance]
            if unknown or missing:
                problem = f"unknown input '{unknown[0]}'" if unknown else f"no input '{missing[0]}'"
                raise RequestError(f"Instance {index} has {problem}; signature '{signature.name}' takes "
                                   f"{', '.join(names)}.")
            for name in names:
                rows[name].append(instance[name])
        elif len(names) == 1:
            rows[names[0]].append(instance)
        else:
            raise RequestError(f"Instance {index} must be an object of the named inputs {', '.join(names)} "
                               f"(signature '{signature.name}' takes several).")
    scalars = [name for name in names if signature.inputs[name].shape.rank == 0]
    # Examples that agree on every scalar input (textgen's length, temperature, seed) run together.
    groups: dict[tuple, list[int]] = {}
    for index in range(len(instances)):
        key = tuple(repr(rows[name][index]) for name in scalars)
        groups.setdefault(key, []).append(index)
    if len(groups) > MAX_GROUPS:
        raise RequestError(f"The instances differ in {', '.join(scalars)} in {len(groups)} ways; one request runs at "
                           f"most {MAX_GROUPS} (each is a call of its own). Send them in several requests, or with "
                           "equal values.")
    calls = []
    for indices in groups.values():
        inputs = {}
        for name, spec in signature.inputs.items():
            if name in scalars:
                inputs[name] = _to_array(rows[name][indices[0]], spec, name)
            else:
                inputs[name] = _to_array([rows[name][i] for i in indices], spec, name)
        calls.append(Call(signature, inputs, row_format=True, rows=len(indices), order=indices))
    return calls


def _columnar_call(given: Any, signature: Signature, max_instances: int) -> Call:
    names = list(signature.inputs)
    if isinstance(given, dict) and not _is_b64(given):
        unknown = sorted(set(given) - set(names))
        if unknown:
            raise RequestError(f"Unknown input '{unknown[0]}'; signature '{signature.name}' takes {', '.join(names)}.")
        missing = [name for name in names if name not in given]
        if missing:
            raise RequestError(f"Missing named input: {missing[0]} in 'inputs' object.")
    elif len(names) == 1:
        given = {names[0]: given}
    else:
        raise RequestError(f"'inputs' must be an object of the named inputs {', '.join(names)} (signature "
                           f"'{signature.name}' takes several).")
    inputs = {name: _to_array(given[name], spec, name) for name, spec in signature.inputs.items()}
    firsts = {array.shape[0] for name, array in inputs.items() if array.ndim}
    rows = firsts.pop() if len(firsts) == 1 else None
    if rows is not None and rows > max_instances:
        raise RequestError(f"{rows} examples in one request; this server takes at most {max_instances} "
                           "(--max-instances). Split the request.", status=413)
    return Call(signature, inputs, row_format=False, rows=rows)


def _is_b64(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {"b64"}


def _to_array(value: Any, spec, name: str) -> np.ndarray:
    """`value` (nested JSON lists) as an array of `spec`'s dtype and a shape `spec` accepts."""
    import tensorflow as tf

    try:
        if spec.dtype == tf.string:
            array = np.array(_bytes_leaves(value, name), dtype=object)
            if array.dtype != object or any(not isinstance(item, bytes) for item in array.ravel()):
                raise ValueError
        else:
            array = np.array(value)
            if array.dtype == object or array.dtype.kind not in "biuf":
                raise ValueError
            if spec.dtype.is_integer:
                if array.dtype.kind == "f" and not np.all(np.mod(array, 1) == 0):
                    raise RequestError(f"Input '{name}' takes integers ({spec.dtype.name}); it got {_brief(value)}.")
                if array.size and (array.min() < spec.dtype.min or array.max() > spec.dtype.max):
                    raise RequestError(f"Input '{name}' is out of the {spec.dtype.name} range.")
            array = array.astype(spec.dtype.as_numpy_dtype)
            if array.dtype.kind == "f" and not np.all(np.isfinite(array)):
                raise RequestError(f"Input '{name}' holds a value that is not a finite {spec.dtype.name}.")
    except ValueError:
        kind = "strings (or {\"b64\": ...})" if spec.dtype == tf.string else f"numbers ({spec.dtype.name})"
        raise RequestError(f"Input '{name}' takes {kind} in a regular (not ragged) nested list; it got "
                           f"{_brief(value)}.") from None
    if not spec.shape.is_compatible_with(array.shape):
        expected = [-1 if size is None else size for size in spec.shape.as_list()] if spec.shape.rank is not None else "any"
        raise RequestError(f"Input '{name}' expects shape {expected} (-1: any size) but got {list(array.shape)}.")
    return array


def _bytes_leaves(value: Any, name: str) -> Any:
    if isinstance(value, str):
        return value.encode("utf-8")
    if _is_b64(value):
        try:
            return base64.b64decode(value["b64"], validate=True)
        except (ValueError, TypeError):
            raise RequestError(f"Input '{name}': the 'b64' value is not base64.") from None
    if isinstance(value, list):
        return [_bytes_leaves(item, name) for item in value]
    raise ValueError


def _brief(value: Any) -> str:
    import json

    text = json.dumps(value)
    return text if len(text) <= 60 else text[:57] + "..."


def run_call(call: Call) -> dict[str, np.ndarray]:
    """Run one call's signature; its outputs as arrays. A failure of the model on these inputs
    (e.g. a shape only the graph checks) is the client's: a `RequestError`."""
    import tensorflow as tf

    try:
        outputs = call.signature.function(**{name: tf.constant(array) for name, array in call.inputs.items()})
    except (tf.errors.InvalidArgumentError, ValueError, TypeError) as error:
        message = " ".join(str(error).split())
        raise RequestError(f"The model refused the inputs: {message[:400]}") from None
    return {name: tensor.numpy() for name, tensor in outputs.items()}


def predictions_json(calls: list[Call], results: list[dict[str, np.ndarray]]) -> dict[str, Any]:
    """The answer to a predict request: `{"predictions": [...]}` for row format, `{"outputs": ...}`
    for columnar (a value when the signature has one output, else an object of them)."""
    first = calls[0]
    if not first.row_format:
        outputs = {name: _json_value(name, array) for name, array in results[0].items()}
        return {"outputs": next(iter(outputs.values())) if len(outputs) == 1 else outputs}
    total = sum(call.rows for call in calls)
    predictions: list[Any] = [None] * total
    start = 0
    for call, result in zip(calls, results):
        order = call.order or list(range(start, start + call.rows))
        start += call.rows
        for name, array in result.items():
            if array.ndim == 0 or array.shape[0] != call.rows:
                raise RequestError(f"Output '{name}' of signature '{call.signature.name}' has no row per instance; "
                                   "ask for it in columnar format ('inputs').")
        for position, index in enumerate(order):
            row = {name: _json_value(name, array[position]) for name, array in result.items()}
            predictions[index] = next(iter(row.values())) if len(row) == 1 else row
    return {"predictions": predictions}


def _json_value(name: str, value: np.ndarray) -> Any:
    """An output as JSON: numbers as numbers, strings as UTF-8 text, bytes (an output named
    `*_bytes`, or not UTF-8) as {"b64": ...}, as TF Serving writes them."""
    value = np.asarray(value)
    if value.dtype == object or value.dtype.kind == "S":
        return _strings(value.tolist(), name.endswith("_bytes"))
    return value.tolist()


def _strings(value: Any, binary: bool) -> Any:
    if isinstance(value, list):
        return [_strings(item, binary) for item in value]
    if not binary:
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            pass
    return {"b64": base64.b64encode(value).decode("ascii")}


# -- merging concurrent requests ----------------------------------------------------------------


@dataclasses.dataclass
class _Pending:
    call: Call
    future: asyncio.Future


class Batcher:
    """Runs calls on a thread pool, merging concurrent calls of one batched signature of one model
    (the same inner shapes) into one batch of at most `max_batch` rows, waiting at most `wait_s`
    after the first for others to join, as TF Serving's batching does. A call of a signature with
    scalar inputs (textgen's `generate`: a seed's text must not depend on what else was asked)
    runs alone."""

    def __init__(self, executor, max_batch: int = 32, wait_s: float = 0.002):
        self.executor = executor
        self.max_batch = max_batch
        self.wait_s = wait_s
        self._queues: dict[tuple, asyncio.Queue] = {}
        self._workers: list[asyncio.Task] = []

    async def run(self, model: ServedModel, call: Call) -> dict[str, np.ndarray]:
        loop = asyncio.get_running_loop()
        key = call.merge_key()
        if key is None or call.rows >= self.max_batch:
            return await loop.run_in_executor(self.executor, run_call, call)
        key = (model.name, model.version, *key)
        queue = self._queues.get(key)
        if queue is None:
            queue = self._queues[key] = asyncio.Queue()
            self._workers.append(asyncio.create_task(self._work(queue)))
        pending = _Pending(call, loop.create_future())
        await queue.put(pending)
        return await pending.future

    async def _work(self, queue: asyncio.Queue) -> None:
        loop = asyncio.get_running_loop()
        waiting = None  # a call that did not fit in the last batch: it starts the next one
        while True:
            batch = [waiting or await queue.get()]
            waiting = None
            rows = batch[0].call.rows
            deadline = loop.time() + self.wait_s
            while rows < self.max_batch:
                try:
                    pending = queue.get_nowait() if queue.qsize() else await asyncio.wait_for(
                        queue.get(), max(deadline - loop.time(), 0))
                except asyncio.TimeoutError:
                    break
                if rows + pending.call.rows > self.max_batch:
                    waiting = pending
                    break
                batch.append(pending)
                rows += pending.call.rows
            await self._run_batch(loop, batch)

    async def _run_batch(self, loop, batch: list[_Pending]) -> None:
        """Run `batch` as one call and give each request its rows; never raises (a request whose
        answer fails gets the exception)."""
        batch = [pending for pending in batch if not pending.future.done()]  # timed out while queued
        try:
            if batch:
                await self._run_merged(loop, batch)
        except Exception as error:  # a bug of ours: the requests concerned fail, the queue goes on
            for pending in batch:
                if not pending.future.done():
                    pending.future.set_exception(error)

    async def _run_merged(self, loop, batch: list[_Pending]) -> None:
        first = batch[0].call
        merged = Call(first.signature, {name: np.concatenate([p.call.inputs[name] for p in batch])
                                        for name in first.inputs}, True, sum(p.call.rows for p in batch))
        try:
            result = await loop.run_in_executor(self.executor, run_call, merged)
            if any(array.ndim == 0 or array.shape[0] != merged.rows for array in result.values()):
                raise RequestError("an output has no row per example")
        except Exception:  # the merged batch failed: each call alone, so each request gets its own answer
            for pending in batch:
                if not pending.future.done():
                    try:
                        pending.future.set_result(await loop.run_in_executor(self.executor, run_call, pending.call))
                    except Exception as error:
                        if not pending.future.done():
                            pending.future.set_exception(error)
            return
        start = 0
        for pending in batch:
            rows = pending.call.rows
            if not pending.future.done():
                pending.future.set_result({name: array[start:start + rows] for name, array in result.items()})
            start += rows

    async def close(self) -> None:
        for worker in self._workers:
            worker.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)
