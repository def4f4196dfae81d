"""One exception tree for the whole service.

Definition-time errors (bad files, bad config) are raised early, at load time, and name the
file and the field. Run-time errors are split by whether the service can carry on.
"""

from os import PathLike


class TscError(Exception):
    """Base of every error this project raises on purpose."""


class DefinitionError(TscError):
    """Something loaded from disk is wrong; raised at load time, before anything runs."""

    def __init__(self, path: str | PathLike[str], field: str, problem: str) -> None:
        self.path = str(path)
        self.field = field
        self.problem = problem
        super().__init__(f"{self.path}: {field}: {problem}")


class ConfigError(DefinitionError):
    """config.toml is malformed or a value is out of range."""


class JunctionError(DefinitionError):
    """An intersection TOML is malformed or inconsistent (conflicting greens, min > max, ...)."""


class NetworkError(DefinitionError):
    """A SUMO network could not be read or has nothing to control."""


class FeedError(TscError):
    """A detector/status message failed validation. Recoverable: the message is dropped."""

    def __init__(self, reason: str, detail: str = "") -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail}" if detail else reason)


class AdapterError(TscError):
    """An external system (SUMO, broker, metrics) failed. `fatal` says the connection is lost."""

    def __init__(self, message: str, *, fatal: bool = False) -> None:
        self.fatal = fatal
        super().__init__(message)
