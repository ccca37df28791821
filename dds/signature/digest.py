"""The one hash primitive every signature is built from.

A digest is ``blake2b(tag, part, part, ...)`` over a canonical, length-prefixed encoding, so two different
sequences of parts can never produce the same byte stream. Every node of a signature tree is such a
``(tag, parts)`` value, which is what lets ``why`` compare two trees without special cases.
"""

from __future__ import annotations

from hashlib import blake2b

DIGEST_SIZE = 20  # 160 bits: collision-safe for any realistic store, short enough to read in a path


def digest(tag: str, *parts: str | bytes) -> str:
    """Hex digest of ``tag`` and ``parts`` (each a ``str`` or ``bytes``)."""
    h = blake2b(digest_size=DIGEST_SIZE)
    _feed(h, b"t", tag.encode("utf-8"))
    for part in parts:
        if isinstance(part, str):
            _feed(h, b"s", part.encode("utf-8", "surrogatepass"))
        elif isinstance(part, (bytes, bytearray, memoryview)):
            _feed(h, b"b", part)
        else:
            raise TypeError(f"digest parts must be str or bytes, not {type(part).__name__}")
    return h.hexdigest()


def _feed(h, kind: bytes, data) -> None:
    h.update(kind)
    h.update(len(data).to_bytes(8, "little"))
    h.update(data)
