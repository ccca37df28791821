"""Every error dds raises on purpose is a :class:`DDSError` (alias ``dds.structures.DDSException``).

Messages name the store path, the function and the fix, because the person reading them is usually
in the middle of a pipeline run and needs to know which step to look at and what to do. Where dds_py
defined a code for the same problem, the error carries it as ``code`` (and ``error_code``, dds_py's name).

An exception raised by the user's own function is not one of these: it reaches the caller as itself, with
a note naming the path (see :mod:`dds.failures`).
"""

from __future__ import annotations

import enum


class DDSErrorCode(enum.IntEnum):
    """Machine-readable error codes, with dds_py's names and numbers so code that tests them keeps working.

    dds raises ``PATH_NOT_ABSOLUTE``, ``STORE_PATH_NOT_FOUND``, ``TYPE_NOT_SUPPORTED``, ``EVAL_IN_EVAL``
    and ``OVERLAPPING_PATH``; the other members exist for compatibility only (docs/migrating.md says why
    dds does not raise them).
    """

    EVAL_IN_EVAL = 1  #: dds.eval called while another dds.eval runs
    CIRCULAR_CALL = 2  #: dds_py refuses recursion; dds supports it
    UNKNOWN_AST_NODE = 3
    MODULE_NOT_FOUND = 4
    FUNCTION_NO_MODULE = 5
    PROTOCOL_NOT_FOUND = 6
    TYPE_NOT_SUPPORTED = 7  #: a value dds cannot hash
    STORE_PATH_NOT_FOUND = 8  #: dds.load of a path that holds nothing
    PATH_NOT_ABSOLUTE = 9  #: a store path that does not start with '/'
    UNSUPPORTED_CALLABLE_TYPE = 10
    AUTHORIZED_TYPE_NOT_UNDERSTOOD = 11
    OBJECT_PATH_NOT_FOUND = 12
    CONSTRUCT_NOT_SUPPORTED = 13
    STORE_PATH_NOT_SUPPORTED = 14
    ARG_IN_DATA_FUNCTION = 15  #: dds_py refuses arguments to a data function; dds passes them on
    OVERLAPPING_PATH = 16  #: '/f' and '/f/g' both kept


class DDSError(Exception):
    """Base class of all errors raised by dds.

    ``code`` is a :class:`DDSErrorCode` where one applies, else None. ``DDSError("message", code)`` (the
    code as second argument, dds_py's ``DDSException(message, error_code)``) works too.
    """

    code: DDSErrorCode | None = None

    def __init__(self, *args: object, code: DDSErrorCode | None = None) -> None:
        if code is None and len(args) == 2 and isinstance(args[1], DDSErrorCode):
            args, code = args[:1], args[1]
        super().__init__(*args)
        if code is not None:
            self.code = code

    @property
    def error_code(self) -> DDSErrorCode | None:
        """dds_py's name for :attr:`code`."""
        return self.code


class PathError(DDSError, ValueError):
    """A store path is malformed (relative, empty part, ``..``, control characters ...)."""


class OverlappingPathError(PathError):
    """Two store paths overlap (``/f`` and ``/f/g``): a path is either a value or a group, never both.

    Raised before any function runs (by ``keep`` and by ``eval``'s plan); ``paths`` holds both paths.
    """

    code = DDSErrorCode.OVERLAPPING_PATH

    def __init__(self, message: str, paths: tuple[str, str] = ("", "")) -> None:
        super().__init__(message)
        self.paths = paths


class NotFoundError(DDSError, KeyError):
    """Nothing is stored at the requested path."""

    code = DDSErrorCode.STORE_PATH_NOT_FOUND

    def __str__(self) -> str:  # KeyError would otherwise wrap the message in quotes
        return str(self.args[0]) if self.args else ""


class SignatureError(DDSError):
    """The signature of a function or value could not be computed."""


class UnhashableValueError(SignatureError, TypeError):
    """dds met a value it does not know how to hash (register a hasher for its type)."""

    code = DDSErrorCode.TYPE_NOT_SUPPORTED


class SourceUnavailableError(SignatureError):
    """The source code of a user function could not be read or no longer matches the running code."""


class CodecError(DDSError):
    """A value could not be written to or read from the store by its codec."""


class StoreError(DDSError):
    """The store is misconfigured, or its content is damaged."""


class DamagedDataError(StoreError):
    """A stored blob or its metadata failed verification (checksum, size, missing file)."""


class DataFunctionError(DDSError):
    """Not raised any more; kept so that code importing it still imports.

    dds used to wrap an exception raised by a kept function in this class. Now the function's own
    exception propagates with its own type (``except KeyError:`` around a ``keep`` catches it) and carries
    a note naming the path; catch that type, or ``Exception``, instead.
    """

    def __init__(self, message: str, path: str | None = None):
        super().__init__(message)
        self.path = path


class ArgumentError(DDSError, TypeError):
    """A dds API function was called with arguments it cannot accept."""


class MissingInputError(SignatureError, FileNotFoundError):
    """A ``dds.File`` input does not exist: nothing was run or stored."""
