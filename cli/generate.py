"""`rnnkit generate`: sample text from a text-generation run."""

from __future__ import annotations

import json
from contextlib import nullcontext
from typing import Annotated, Optional

import typer
from rich.rule import Rule

from rnnkit.cli._errors import handle_errors, stderr
from rnnkit.cli._options import Json, RunDir
from rnnkit.cli._render import stdout

SAMPLING = "Sampling"


@handle_errors
def generate(
    run: RunDir,
    prompt: Annotated[str, typer.Option(help="Text to continue; empty starts a new line.", rich_help_panel=SAMPLING)] = "",
    length: Annotated[int, typer.Option(help="Tokens (characters or words) to generate.", rich_help_panel=SAMPLING)] = 300,
    temperature: Annotated[float, typer.Option(help="> 0; lower is more conservative.", rich_help_panel=SAMPLING)] = 0.8,
    top_k: Annotated[int, typer.Option(help="Sample among the K likeliest tokens; 0 keeps all.", rich_help_panel=SAMPLING)] = 0,
    top_p: Annotated[float, typer.Option(help="Nucleus sampling: the smallest set of tokens with probability >= P.", rich_help_panel=SAMPLING)] = 1.0,
    num_samples: Annotated[int, typer.Option(help="Samples, generated as one batch.", rich_help_panel=SAMPLING)] = 1,
    seed: Annotated[Optional[int], typer.Option(help="Same seed, same text. \\[default: random, reported]", rich_help_panel=SAMPLING)] = None,
    xla: Annotated[bool, typer.Option("--xla", help="Compile the sampling loop with XLA: faster, its own text for a seed "
                                      "(the same as a SavedModel exported with --xla).", rich_help_panel=SAMPLING)] = False,
    json_output: Json = False,
) -> None:
    """Sample text from a text-generation RUN, continuing --prompt."""
    import random

    import rnnkit

    handle = rnnkit.load(run)
    handle.require("generate")
    seed = random.randrange(2**31) if seed is None else seed
    with stderr.status("Generating...", spinner="dots") if not json_output else nullcontext():
        samples = handle.generate(prompt, length=length, temperature=temperature, top_k=top_k, top_p=top_p,
                                  num_samples=num_samples, seed=seed, xla=xla)
    if json_output:
        typer.echo(json.dumps({"samples": samples, "prompt": prompt, "length": length,
                               "temperature": temperature, "seed": seed, "xla": xla}, ensure_ascii=False))
        return
    for index, sample in enumerate(samples):
        if len(samples) > 1:
            stdout.print(Rule(f"sample {index + 1}/{len(samples)}"))
        typer.echo(sample)  # verbatim: Rich would render ":emoji:" codes and expand tabs
    stderr.print(f"[dim]seed {seed} (pass --seed {seed} to repeat)[/]")
