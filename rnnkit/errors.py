"""The one exception hierarchy of rnnkit.

Every error a user can cause (a bad option, a bad file, a folder that is not a run)
is an `RnnkitError`. The library raises them and never prints or exits; the CLI
renders them as one line on stderr with exit code 2. Anything else is a bug.
"""


class RnnkitError(Exception):
    """Root of the errors that users can cause and fix."""


class ConfigError(RnnkitError, ValueError):
    """An option or configuration value is invalid."""


class DataError(RnnkitError, ValueError):
    """Input data is missing, empty, unreadable or unsuitable for the task."""


class RunError(RnnkitError, FileNotFoundError):
    """A run directory is missing, incomplete, of another task, or must not be overwritten."""
