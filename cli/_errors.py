"""Map rnnkit's exceptions to one line on stderr and an exit code (DESIGN §5)."""

from __future__ import annotations

import functools
import logging
import os

import typer
from rich.console import Console
from rich.markup import escape

from rnnkit.errors import RnnkitError

stderr = Console(stderr=True, soft_wrap=True, highlight=False)
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


def debug_enabled() -> bool:
    return bool(os.environ.get("RNNKIT_DEBUG"))


def handle_errors(command):
    """Run `command`; a user error becomes one red line and exit 2, Ctrl-C exit 130."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        from rnnkit.training import TrainingInterrupted

        try:
            return command(*args, **kwargs)
        except TrainingInterrupted as error:
            stderr.print(f"[yellow]Interrupted:[/] {escape(str(error))}")
            raise typer.Exit(EXIT_INTERRUPTED) from None
        except KeyboardInterrupt:
            stderr.print("[yellow]Interrupted.[/]")
            raise typer.Exit(EXIT_INTERRUPTED) from None
        except RnnkitError as error:
            if debug_enabled():
                raise
            stderr.print(f"[bold red]Error:[/] {escape(_one_line(str(error)))}")
            raise typer.Exit(EXIT_USAGE) from None

    return wrapper


def render_usage_error(error) -> int:
    """A Click usage error (unknown flag, bad value, missing argument) as one red line; returns exit 2."""
    context = error.ctx
    flag = max(context.help_option_names, key=len) if context else ""
    hint = f" Try '{context.command_path} {flag}' for help." if context else ""
    stderr.print(f"[bold red]Error:[/] {escape(_one_line(error.format_message()))}{escape(hint)}")
    return EXIT_USAGE


def _one_line(message: str) -> str:
    return " ".join(message.split())


class _WarningHandler(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno >= logging.WARNING:
            stderr.print(f"[yellow]Warning:[/] {escape(record.getMessage())}")
        else:
            stderr.print(escape(record.getMessage()))


def install_warning_handler() -> None:
    """Show the library's warnings (logger `rnnkit`) as yellow lines on stderr, and its few notes
    (which multi-worker process this is) as plain ones."""
    logger = logging.getLogger("rnnkit")
    if not any(isinstance(handler, _WarningHandler) for handler in logger.handlers):
        logger.addHandler(_WarningHandler(level=logging.INFO))
        logger.setLevel(logging.INFO)
        logger.propagate = False
