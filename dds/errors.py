"""Every error dds raises on purpose is a :class:`DDSError`.

Messages name the store path, the function and the fix, because the person reading them is usually
in the middle of a pipeline run and needs to know which step to look at and what to do.
"""


class DDSError(Exception):
    """Base class of all errors raised by dds."""


class PathError(DDSError, ValueError):
    """A store path is malformed (relative, empty part, ``..``, control characters ...)."""


class NotFoundError(DDSError, KeyError):
    """Nothing is stored at the requested path."""

    def __str__(self) -> str:  # KeyError would otherwise wrap the message in quotes
        return str(self.args[0]) if self.args else ""


class SignatureError(DDSError):
    """The signature of a function or value could not be computed."""


class UnhashableValueError(SignatureError, TypeError):
    """dds met a value it does not know how to hash (register a hasher for its type)."""


class SourceUnavailableError(SignatureError):
    """The source code of a user function could not be read or no longer matches the running code."""


class CodecError(DDSError):
    """A value could not be written to or read from the store by its codec."""


class StoreError(DDSError):
    """The store is misconfigured, or its content is damaged."""


class DamagedDataError(StoreError):
    """A stored blob or its metadata failed verification (checksum, size, missing file)."""


class DataFunctionError(DDSError):
    """The user function raised; nothing was stored and the previous value was kept.

    ``path`` is the store path whose function raised (the user's exception is ``__cause__``).
    """

    def __init__(self, message: str, path: str | None = None):
        super().__init__(message)
        self.path = path


class ArgumentError(DDSError, TypeError):
    """A dds API function was called with arguments it cannot accept."""


class MissingInputError(SignatureError, FileNotFoundError):
    """A ``dds.File`` input does not exist: nothing was run or stored."""
