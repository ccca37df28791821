"""Exactly ``bytes`` <-> a binary file (bytearray and subclasses go to pickle, so their type survives)."""

from __future__ import annotations

from typing import Any

from .base import Codec


class BytesCodec(Codec):
    name = "bytes"
    reads_through_open = True  # read() opens its file with fs.open(path, "rb") only
    file_name = "data.bin"

    def handles(self, value: Any) -> bool:
        return type(value) is bytes

    def write(self, value: Any, fs: Any, path: str) -> None:
        with fs.open(path, "wb") as f:
            f.write(value)

    def read(self, fs: Any, path: str) -> Any:
        with fs.open(path, "rb") as f:
            return f.read()
