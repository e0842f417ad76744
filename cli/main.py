"""The root `rnnkit` application. Commands import TensorFlow only when they run."""

from __future__ import annotations

import typer

from rnnkit.cli import datasets, evaluate, export, forecast, generate, info, predict, serve, train, tune
from rnnkit.cli._errors import EXIT_INTERRUPTED, install_warning_handler, render_usage_error, stderr

app = typer.Typer(
    name="rnnkit",
    help="Train, sample, classify, forecast, evaluate and export recurrent networks (SimpleRNN, LSTM, GRU) on your own data.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_show_locals=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.command("train", no_args_is_help=True)(train.build_train())
app.command("generate", no_args_is_help=True)(generate.generate)
app.command("predict", no_args_is_help=True)(predict.predict)
app.command("forecast", no_args_is_help=True)(forecast.forecast)
app.command("evaluate", no_args_is_help=True)(evaluate.build_evaluate())
app.command("export", no_args_is_help=True)(export.export)
app.command("serve", no_args_is_help=True)(serve.serve)
app.command("tune", no_args_is_help=True)(tune.build_tune())
app.command("info")(info.info)
app.command("datasets")(datasets.datasets)


def _print_version(value: bool) -> None:
    if value:
        from rnnkit.version import __version__

        typer.echo(__version__)
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", help="Print rnnkit's version and exit.", is_eager=True,
                                 callback=_print_version),
) -> None:
    install_warning_handler()


def main() -> None:
    """The console script: usage errors (a bad flag or value) end in one line, like rnnkit's own errors."""
    import sys

    from rnnkit.tf_import import filter_native_logs

    filter_native_logs()
    usage_error = typer.BadParameter.__base__  # Click's UsageError, as the Click that Typer uses defines it
    try:
        code = app(prog_name="rnnkit", standalone_mode=False)
    except usage_error as error:
        if type(error).__name__ == "NoArgsIsHelpError":
            error.show()  # the command's help, as `no_args_is_help` promises
            code = error.exit_code
        else:
            code = render_usage_error(error)
    except typer.TyperException as error:  # Abort: Ctrl-C outside a command
        if not isinstance(error, typer.Abort) and type(error).__name__ != "Abort":
            raise
        stderr.print("[yellow]Interrupted.[/]")
        code = EXIT_INTERRUPTED
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
