"""Text generation: train a character- or word-level language model and sample from it."""

from rnnkit.tasks.textgen.task import TextGenTask

__all__ = ["TextGenTask"]
