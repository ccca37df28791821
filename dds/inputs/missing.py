"""The error for a ``dds.File`` whose path does not exist, shared by local and remote inputs (a leaf)."""

from __future__ import annotations

import os

from ..errors import MissingInputError


def missing(path: str, where: str, remote: bool = False) -> MissingInputError:
    """The error for a File whose path does not exist (the hasher's caller adds which step reads it)."""
    local = "" if remote else f" (a relative path is read from the working directory {os.getcwd()})"
    return MissingInputError(
        f"dds.File({path!r}) does not exist: there is no file or directory at {where}. Nothing was run or "
        f"stored. Fix: create it, or correct the path in dds.File(...){local}.")
