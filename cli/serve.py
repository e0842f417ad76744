"""`rnnkit serve`: TensorFlow Serving's REST API over runs or SavedModels (needs the [serve] extra)."""

from __future__ import annotations

from typing import Annotated

import typer

from rnnkit.cli._errors import handle_errors


@handle_errors
def serve(
    models: Annotated[list[str], typer.Argument(
        help="Run folders or SavedModel folders to serve, each as PATH or NAME=PATH (NAME: the folder's name). "
             "A run is exported when the server starts.", show_default=False, metavar="RUN...")],
    host: Annotated[str, typer.Option(help="The address to listen on (0.0.0.0: every interface).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="The port (TF Serving's REST port by default; 0: a free one).")] = 8501,
    max_batch_size: Annotated[int, typer.Option(min=1, help="Server-side batching: the most examples of concurrent "
                                                "requests merged into one call.")] = 32,
    batch_timeout_ms: Annotated[float, typer.Option(min=0, help="How long a batch waits for more requests after its first.")] = 2.0,
    max_body_mb: Annotated[float, typer.Option(min=0.001, help="The largest request body (413 above).")] = 8.0,
    max_instances: Annotated[int, typer.Option(min=1, help="The most examples in one request (413 above).")] = 1024,
    max_length: Annotated[int, typer.Option(min=1, help="Text generation: the longest text one request may ask for, in tokens.")] = 10000,
    timeout: Annotated[float, typer.Option(min=0.001, help="Seconds a request may take (504 after).")] = 30.0,
) -> None:
    """Serve runs or SavedModels over TensorFlow Serving's REST API (POST /v1/models/NAME:predict; GET /v1/models/NAME and its /metadata)."""
    from rnnkit.server import Limits
    from rnnkit.server import serve as run_server

    limits = Limits(max_body_bytes=int(max_body_mb * 2**20), max_instances=max_instances, timeout_s=timeout,
                    max_length=max_length, max_batch=max_batch_size, batch_wait_s=batch_timeout_ms / 1000)
    run_server(models, host=host, port=port, limits=limits, log=lambda line: typer.echo(line, err=True))
