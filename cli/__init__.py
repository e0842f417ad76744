"""The `rnnkit` command line: a thin Typer shell over rnnkit's Python API."""
