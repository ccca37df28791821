"""Exactly ``str`` <-> UTF-8 text, byte for byte.

Written as bytes, so no newline translation; ``surrogatepass`` lets lone surrogates (legal in a Python
str, not in UTF-8) round-trip too. A str subclass is not handled here, so pickle keeps its type.
"""

from __future__ import annotations

from typing import Any

from .base import Codec


class TextCodec(Codec):
    name = "text"
    reads_through_open = True  # read() opens its file with fs.open(path, "rb") only
    file_name = "data.txt"

    def handles(self, value: Any) -> bool:
        return type(value) is str

    def write(self, value: Any, fs: Any, path: str) -> None:
        with fs.open(path, "wb") as f:
            f.write(value.encode("utf-8", "surrogatepass"))

    def read(self, fs: Any, path: str) -> Any:
        with fs.open(path, "rb") as f:
            return f.read().decode("utf-8", "surrogatepass")
