"""The root `rnnkit` application. Commands import TensorFlow only when they run."""

from __future__ import annotations

import typer

from rnnkit.cli import datasets, evaluate, export, forecast, generate, info, predict, train
from rnnkit.cli._errors import install_warning_handler

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
app.command("info")(info.info)
app.command("datasets")(datasets.datasets)


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", help="Print rnnkit's version and exit.", is_eager=True),
) -> None:
    if version:
        from rnnkit import __version__

        typer.echo(__version__)
        raise typer.Exit()
    install_warning_handler()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
