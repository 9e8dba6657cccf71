"""Errors a user can fix. The CLI prints them as one line and exits with status 2."""


class AlselError(Exception):
    """Bad input or a bad request: the message names the problem and how to fix it."""


class DataError(AlselError):
    """A data file or column is missing, empty or unreadable, or labels cannot be mapped."""


class ConfigError(AlselError):
    """An option is out of range, unknown, or inconsistent with another option."""


class PoolExhaustedError(AlselError):
    """A strategy was asked for more examples than its candidates hold."""


class RunFileError(AlselError):
    """A file of a run directory is damaged (half written, badly copied) or disagrees with the
    checkpoint; the message names the file and what to do."""


class RunInUseError(AlselError):
    """Another alsel process holds the run directory's lock."""


def first_line(exc: BaseException) -> str:
    """An exception as one line: the first line of its message, else its type's name."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
