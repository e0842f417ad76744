"""`rnnkit serve`: TensorFlow Serving's REST API over exported models, with FastAPI and uvicorn.

Routes (as tensorflow_serving/model_servers/http_rest_api_util.cc matches them, case-insensitive):
`POST /v1/models/NAME[/versions/N]:predict`, `GET /v1/models/NAME[/versions/N]` (status) and
`GET /v1/models/NAME[/versions/N]/metadata`. Concurrent predict requests for one batched
signature are merged (`rnnkit.serving.Batcher`). Limits: the request body (413), the examples
per request (413), a scalar `length` input (400), and a time per request (504). One log line per
request; SIGINT or SIGTERM stops the server after the requests in flight.
"""

# No `from __future__ import annotations`: FastAPI reads the handlers' annotations (Request) at run time.

import asyncio
import contextlib
import json
import re
import signal
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from importlib import resources
from typing import Any

from rnnkit.errors import ConfigError
from rnnkit.serving import (
    Batcher,
    ModelRepository,
    RequestError,
    metadata_json,
    parse_predict,
    predictions_json,
    status_json,
)

_PREDICT = re.compile(r"/v1/models/([^/:]+)(?:/versions/(\d+))?:predict", re.IGNORECASE)
_MODEL = re.compile(r"/v1/models/([^/:]+)(?:/versions/(\d+))?(/metadata)?", re.IGNORECASE)


@dataclass
class Limits:
    """What one request may ask of the server."""

    max_body_bytes: int = 8 * 2**20
    max_instances: int = 1024
    timeout_s: float = 30.0
    max_length: int = 10000  # textgen: the most tokens one `generate`/`sample` request may ask for
    max_batch: int = 32  # server-side batching: the most examples merged into one call
    batch_wait_s: float = 0.002  # how long a batch waits for more requests after its first


def create_app(repository: ModelRepository, limits: Limits, log=print):
    """The FastAPI application answering for `repository`'s models."""
    from fastapi import FastAPI, Request
    from fastapi.responses import Response

    executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="rnnkit-serve")
    batcher = Batcher(executor, max_batch=limits.max_batch, wait_s=limits.batch_wait_s)
    scalar_limits = {"length": limits.max_length}

    @contextlib.asynccontextmanager
    async def lifespan(app):
        yield
        await batcher.close()
        executor.shutdown(wait=False, cancel_futures=True)

    app = FastAPI(title="rnnkit serve", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)

    def answer(content: Any, status: int = 200) -> Response:
        return Response(json.dumps(content), status_code=status, media_type="application/json")

    page = (resources.files("rnnkit") / "serve_page.html").read_text(encoding="utf-8")

    @app.get("/")
    async def try_page() -> Response:
        return Response(page, media_type="text/html; charset=utf-8")

    @app.get("/rnnkit/models")
    async def described() -> Response:
        return answer([model.describe() for model in repository.models.values()])

    @app.api_route("/{rest:path}", methods=["GET", "POST"])
    async def rest_api(request: Request) -> Response:
        path = request.scope["path"]
        try:
            if request.method == "POST" and (match := _PREDICT.fullmatch(path)):
                model = repository.get(match[1], int(match[2]) if match[2] else None)
                body = await _read_body(request, limits.max_body_bytes)
                calls = (_parse(body, model, limits.max_instances, scalar_limits) if len(body) < _INLINE else
                         await asyncio.to_thread(_parse, body, model, limits.max_instances, scalar_limits))
                try:
                    results = await asyncio.wait_for(
                        asyncio.gather(*(batcher.run(model, call) for call in calls)), limits.timeout_s)
                except asyncio.TimeoutError:
                    raise RequestError(f"The request took longer than {limits.timeout_s:g} s (--timeout).",
                                       status=504) from None
                rows = sum(call.rows or 1 for call in calls)
                return answer(predictions_json(calls, results) if rows <= 64 else
                              await asyncio.to_thread(predictions_json, calls, results))
            if request.method == "GET" and (match := _MODEL.fullmatch(path)):
                model = repository.get(match[1], int(match[2]) if match[2] else None)
                return answer(metadata_json(model) if match[3] else status_json(model))
            if path.lower().startswith("/v1/"):
                raise RequestError(f"Malformed request: {request.method} {path}")
            raise RequestError(f"Not Found: {request.method} {path}", status=404)
        except RequestError as error:
            return answer({"error": str(error)}, error.status)
        except Exception as error:  # a bug of ours: the client gets a 500, the server goes on
            import traceback

            log(traceback.format_exc().rstrip())
            return answer({"error": f"Internal error: {type(error).__name__}: {error}"}, 500)

    return _AccessLog(app, log)


class _AccessLog:
    """One log line per request (an ASGI wrapper: Starlette's `BaseHTTPMiddleware` costs a task
    and a stream per request, which shows at hundreds of requests per second)."""

    def __init__(self, app, log):
        self.app, self.log = app, log

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        start, status = time.perf_counter(), [500]

        async def sending(message):
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            client = scope.get("client")
            self.log(f'{client[0] if client else "-"} "{scope["method"]} {scope["path"]}" {status[0]} '
                     f"{(time.perf_counter() - start) * 1000:.1f} ms")


_INLINE = 64 * 1024  # request bodies up to this size are parsed on the event loop, larger ones in a thread
_DRAINED = 256 * 2**20  # a body over the limit is read and dropped up to this size, so the client gets the 413


def _parse(body: bytes, model, max_instances: int, scalar_limits: dict):
    """The calls of a predict request body (in a worker thread: a large body must not stall the others)."""
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError) as error:
        raise RequestError(f"JSON Parse error: {error}") from None
    except RecursionError:
        raise RequestError("JSON Parse error: the document is nested too deeply.") from None
    try:
        return parse_predict(document, model, max_instances, scalar_limits)
    except RecursionError:
        raise RequestError("An input is nested too deeply for its signature.") from None


async def _read_body(request, limit: int) -> bytes:
    """The request body, or a 413 once it passes `limit` bytes. The rest of a body too large is
    read and dropped (up to `_DRAINED`): closing a connection with unread data would reset it
    before the client reads the answer."""
    chunks, size, too_big = [], 0, False
    async for chunk in request.stream():
        size += len(chunk)
        too_big = too_big or size > limit
        if too_big:
            if size > _DRAINED:
                break
            continue
        chunks.append(chunk)
    if too_big:
        declared = request.headers.get("content-length", "")
        shown = f"{int(declared):,} bytes" if declared.isdigit() else f"over {limit:,} bytes"
        raise RequestError(f"The request body is {shown}; this server takes at most {limit:,} (--max-body-mb).",
                           status=413)
    return b"".join(chunks)


def listen(host: str, port: int) -> socket.socket:
    """A socket bound to `host:port` (port 0: a free one), or a `ConfigError` saying why not."""
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        # IPPROTO_TCP named, so that asyncio turns Nagle's algorithm off on each connection (it checks
        # the protocol): else a response's second write waits for the client's delayed ACK, 40 ms.
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)  # connections wait in the backlog until uvicorn accepts them
    except OSError as error:
        reason = error.strerror or str(error)
        raise ConfigError(f"Cannot listen on {host}:{port}: {reason}. Choose another --host or --port "
                          "(--port 0 picks a free one).") from None
    return sock


def serve(models: list[str], host: str = "127.0.0.1", port: int = 8501, limits: Limits | None = None,
          log=print) -> None:
    """Serve `models` (`[NAME=]PATH` each: a run or a SavedModel folder) until SIGINT or SIGTERM."""
    try:
        import fastapi  # noqa: F401
        import uvicorn
    except ImportError:
        raise ConfigError("rnnkit serve needs FastAPI and uvicorn: pip install 'rnnkit[serve]'") from None
    limits = limits or Limits()
    sock = listen(host, port)
    repository = None

    def interrupted(signum, frame):  # SIGTERM while exporting or loading: stop as Ctrl-C does
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupted) if threading.current_thread() is threading.main_thread() else None
    try:
        repository = ModelRepository(models, log=log)
        app = create_app(repository, limits, log=log)
        server = _make_server_class()(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on",
                                        timeout_graceful_shutdown=5))
        bound_host, bound_port = sock.getsockname()[:2]
        shown = f"[{bound_host}]" if ":" in bound_host else bound_host
        for model in repository.models.values():
            log(f"Model '{model.name}' version {model.version}: signatures "
                f"{', '.join(sorted(model.signatures))}")
        log(f"Serving on http://{shown}:{bound_port} (Ctrl-C to stop)")
        server.run(sockets=[sock])
        log("Stopped.")
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
        sock.close()
        if repository is not None:
            repository.close()


def _make_server_class():
    import uvicorn

    class Server(uvicorn.Server):
        """uvicorn's server, stopping on SIGINT/SIGTERM without raising the signal again afterwards
        (uvicorn does, which would kill the process before it removes its temporary exports)."""

        @contextlib.contextmanager
        def capture_signals(self):
            if threading.current_thread() is not threading.main_thread():
                yield
                return
            originals = {sig: signal.signal(sig, self.handle_exit) for sig in (signal.SIGINT, signal.SIGTERM)}
            try:
                yield
            finally:
                for sig, handler in originals.items():
                    signal.signal(sig, handler)

    return Server
