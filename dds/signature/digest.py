"""The one hash primitive every signature is built from, and every tag it is used with.

A digest is ``blake2b(tag, part, part, ...)`` over a canonical, length-prefixed encoding, so two different
sequences of parts can never produce the same byte stream. Every node of a signature tree is such a
``(tag, parts)`` value, which is what lets ``why`` compare two trees without special cases.
"""

from __future__ import annotations

from hashlib import blake2b

DIGEST_SIZE = 20  # 160 bits: collision-safe for any realistic store, short enough to read in a path


class Tag:
    """Every tag a signature node is hashed under, in one place. The strings are part of the stored format:
    changing one changes signatures of unchanged code (bump ``tree.SCHEME`` on purpose, never by a rename).
    A few tags are names taken from the value itself (a unit's kind, ``staticmethod``/``classmethod``, a
    scalar type's name in ``values.py``)."""

    # the graph (tree.py, merkle.py)
    UNIT = "unit"
    MEMBER = "member"
    COMPONENT = "component"
    IN_COMPONENT = "in-component"
    CALL = "call"
    # code (build.py, normalize.py)
    FUNCTION = "function"
    CLASS = "class"
    MODULE = "module"
    MODULE_NO_SOURCE = "module-no-source"
    BYTECODE = "bytecode"
    AST = "ast"
    # dds calls and exclusions (build.py)
    LOAD = "load"
    LOAD_CONTENT = "load-content"
    LOAD_KEPT_HERE = "load-kept-here"
    KEEP = "keep"
    DATA_FUNCTION = "data_function"
    IGNORED = "ignored"
    UNRESOLVED = "unresolved"
    UNHASHABLE = "unhashable"
    WRITTEN_ONLY = "written-only"
    WRITTEN_ONLY_METHOD = "written-only-method"
    # callables that are not user code (build.py, resolve.py)
    DDS = "dds"
    LIBRARY = "library"
    LIBRARY_CALLABLE = "library-callable"
    PARTIAL = "partial"
    METHOD = "method"
    PROPERTY = "property"
    BOUND_BUILTIN = "bound-builtin"
    WRAPPER = "wrapper"
    # values (values.py)
    REGISTERED = "registered"
    ENUM = "enum"
    BACK_REFERENCE = "back-reference"
    GLOBAL = "global"
    REDUCED = "reduced"
    OPAQUE = "opaque"
    TYPE = "type"
    INSTANCE = "instance"
    SUBCLASS = "subclass"


def digest(tag: str, *parts: str | bytes) -> str:
    """Hex digest of ``tag`` and ``parts`` (each a ``str`` or ``bytes``)."""
    # One joined buffer and one update: a signature makes thousands of small digests, and three updates per
    # part cost more than the hashing. The bytes fed are the same as ``_digest_streamed``'s, so the digest is.
    raw = tag.encode("utf-8")
    chunks = [b"t", len(raw).to_bytes(8, "little"), raw]
    for part in parts:
        if isinstance(part, str):
            data = part.encode("utf-8", "surrogatepass")
            kind = b"s"
        elif isinstance(part, (bytes, bytearray, memoryview)):
            data, kind = part, b"b"
        else:
            raise TypeError(f"digest parts must be str or bytes, not {type(part).__name__}")
        if len(data) > _JOIN_LIMIT:  # a big value: streamed, never copied into a joined buffer
            return _digest_streamed(tag, parts)
        chunks += (kind, len(data).to_bytes(8, "little"), data)
    return blake2b(b"".join(chunks), digest_size=DIGEST_SIZE).hexdigest()


_JOIN_LIMIT = 1 << 16


def _digest_streamed(tag: str, parts: tuple) -> str:
    h = blake2b(digest_size=DIGEST_SIZE)
    _feed(h, b"t", tag.encode("utf-8"))
    for part in parts:
        if isinstance(part, str):
            _feed(h, b"s", part.encode("utf-8", "surrogatepass"))
        else:
            _feed(h, b"b", part)
    return h.hexdigest()


def _feed(h, kind: bytes, data) -> None:
    h.update(kind)
    h.update(len(data).to_bytes(8, "little"))
    h.update(data)
