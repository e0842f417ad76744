"""Text classification ("sentiment"): train a recurrent classifier on labelled texts and query it."""

from rnnkit.tasks.sentiment.task import SentimentTask

__all__ = ["SentimentTask"]
