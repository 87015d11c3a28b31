"""Typed errors. The CLI turns each into one line on stderr and a non-zero exit code."""

from __future__ import annotations

__all__ = [
    "GenzooError",
    "ConfigError",
    "DataError",
    "ChecksumError",
    "CheckpointError",
    "NonFiniteLossError",
    "RunLockedError",
    "Terminated",
    "GenzooWarning",
]


class GenzooError(Exception):
    """Base class of every error genzoo reports to a user (exit code 1)."""

    exit_code = 1


class ConfigError(GenzooError, ValueError):
    """A configuration value or command-line flag is invalid (exit code 2)."""

    exit_code = 2


class DataError(GenzooError):
    """A data set could not be found, read or verified."""


class ChecksumError(DataError):
    """A data file does not have the published size or sha256."""


class CheckpointError(GenzooError):
    """A checkpoint or run folder is missing, corrupt or not a genzoo checkpoint."""


class NonFiniteLossError(GenzooError):
    """Training produced a NaN or Inf loss."""


class RunLockedError(GenzooError):
    """Another process is writing the run folder (it holds the folder's lock)."""


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived (a job scheduler, ``docker stop``, ``kill``): raised in the main thread
    by the CLI's handler so that it unwinds exactly like Ctrl-C (exit code 128 + signal)."""

    def __init__(self, signum: int = 15) -> None:
        super().__init__(signum)
        self.signum = signum
        self.exit_code = 128 + signum


class GenzooWarning(UserWarning):
    """A notice for the user; the CLI prints it as one line (``genzoo: note: ...``)."""
