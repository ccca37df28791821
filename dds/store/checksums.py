"""File checksums: how a load tells an intact stored file from a damaged one.

New files get XXH3-128 (``xxhash``): it detects accidental damage (truncation, flipped bytes, a file
replaced by another) as reliably as a cryptographic hash at ~20 GB/s instead of ~0.9 GB/s for blake2b, so
verifying a value on every load costs little next to decoding it. It is not a defence against deliberate
tampering, and neither was blake2b here: whoever can rewrite a blob can rewrite its metadata too.

The algorithm is recorded next to each checksum; entries without one were written by earlier versions
with blake2b and are still verified with it.
"""

from __future__ import annotations

import hashlib
from typing import Any, BinaryIO, Callable

import xxhash

DEFAULT = "xxh3_128"
_LEGACY = "blake2b"  # entries with no "algorithm" field
_ALGORITHMS: dict[str, Callable[[], Any]] = {"xxh3_128": xxhash.xxh3_128, "blake2b": hashlib.blake2b}
_CHUNK = 1 << 20


def algorithm_of(entry: Any) -> str:
    """The algorithm a stored ``{"size", "checksum", ...}`` entry was made with."""
    return entry.get("algorithm", _LEGACY) if isinstance(entry, dict) else DEFAULT


def checksum_of(f: BinaryIO, algorithm: str = DEFAULT) -> dict:
    """``{"size", "checksum"[, "algorithm"]}`` of what ``f`` reads, in the format stored in metadata."""
    digest = _ALGORITHMS.get(algorithm, _ALGORITHMS[DEFAULT])()
    size = 0
    readinto = getattr(f, "readinto", None)
    if readinto is not None:  # plain files: one reused buffer, no allocation per chunk
        buffer = bytearray(_CHUNK)
        view = memoryview(buffer)
        while n := readinto(buffer):
            digest.update(view[:n])
            size += n
    else:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return _entry(digest, size, algorithm)


def checksum_of_bytes(data: bytes, algorithm: str = DEFAULT) -> dict:
    """``checksum_of`` of a file whose bytes were read whole (small files: no chunk buffer)."""
    digest = _ALGORITHMS.get(algorithm, _ALGORITHMS[DEFAULT])()
    digest.update(data)
    return _entry(digest, len(data), algorithm)


class Growing:
    """The checksum of a file that is only ever appended to, taken piece by piece while it is written.

    ``feed(f, end)`` hashes the bytes of ``f`` (an unbuffered binary file) from where the last call stopped up
    to ``end``; bytes once fed must never change afterwards (the writer appends, never seeks back), which
    the caller guarantees.
    """

    def __init__(self, algorithm: str = DEFAULT) -> None:
        self.algorithm = algorithm
        self.size = 0
        self._digest = _ALGORITHMS.get(algorithm, _ALGORITHMS[DEFAULT])()
        self._buffer = bytearray(_CHUNK)

    def feed(self, f: BinaryIO, end: int) -> None:
        view = memoryview(self._buffer)
        f.seek(self.size)
        while self.size < end:
            n = f.readinto(view[: min(_CHUNK, end - self.size)])
            if not n:  # the file got shorter: not append-only after all; the entry will not match it
                return
            self._digest.update(view[:n])
            self.size += n

    def entry(self) -> dict:
        return _entry(self._digest, self.size, self.algorithm)


def _entry(digest: Any, size: int, algorithm: str) -> dict:
    entry = {"size": size, "checksum": digest.hexdigest()}
    if algorithm != _LEGACY:
        entry["algorithm"] = algorithm
    return entry


def checksum_keeping(f: BinaryIO, algorithm: str = DEFAULT, keep: int = 0) -> tuple[dict, bytes | None]:
    """``checksum_of(f)``, plus the file's bytes when it has at most ``keep`` of them (else None): one read
    serves both the metadata's checksum and a small value's inline copy (see ``inline.py``)."""
    head = b""
    while len(head) <= keep:
        chunk = f.read(keep + 1 - len(head))
        if not chunk:
            return checksum_of_bytes(head, algorithm), head
        head += chunk
    digest = _ALGORITHMS.get(algorithm, _ALGORITHMS[DEFAULT])()
    digest.update(head)
    size = len(head)
    while chunk := f.read(_CHUNK):
        digest.update(chunk)
        size += len(chunk)
    return _entry(digest, size, algorithm), None
