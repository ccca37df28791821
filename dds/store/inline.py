"""Small values inlined in their metadata: a remote ``keep`` hit reads two objects (ref, metadata), not three.

S3 has no request that reads several objects, so a hit that reads the ref, then the metadata, then the blob
costs three round trips. When a value is one file of at most ``MAX_BYTES`` and its codec decodes from
``fs.open`` alone (``reads_through_open``), the fsspec store also writes that file's bytes into the metadata,
base64-encoded, keyed by the same relative name as in ``files``::

    "inline": {"w-<random>/data.pkl": "<base64>"}

The blob's files are written exactly as before (layout, ``data_dir`` copies, ``gc``, ``verify`` and ``promote``
do not change), so the field is purely additive: readers that do not know it read the blob. A reader that
finds it checks each file's bytes against the size and checksum listed for that file in ``files`` (the same
check a blob read does; a mismatch is a ``DamagedDataError``) and decodes from them. With a signing key the
HMAC covers the field like every other (``signing.sign`` covers the whole metadata), so inline bytes cannot
be swapped by someone without the key even where the checksum (XXH3, not cryptographic) could be forged.

Why 16 KiB: a metadata file is 1.5-3 KB (signature tree, run info); 16 KiB of value adds ~21 KiB of base64,
which on S3 costs the same request and a fraction of a millisecond of transfer, while the blob it saves is a
whole round trip (10-30 ms). Above that, the bytes are paid twice on every hit (plan and run hold metadata in
memory, and a metadata file is re-parsed more often than a blob is read), for less and less gain.

The local store does not inline: its blob read is one ``open`` of a file the OS caches, cheaper than decoding
base64 from a larger JSON document above ~2 KiB (measured: 16 KiB costs ~100 us decoded vs ~20 us read).
"""

from __future__ import annotations

import base64
import binascii
import io
from typing import Any

from . import checksums

FIELD = "inline"
MAX_BYTES = 16 * 2**10


def field_for(files: dict, contents: dict[str, bytes], limit: int) -> dict | None:
    """The ``inline`` entry for a blob whose ``files`` (``{rel: {"size", "checksum"}}``) are one file whose bytes
    are in ``contents`` (as read while checksumming), of at most ``limit`` bytes; None otherwise. Bytes that do
    not match their checksum entry are never inlined (a reader would refuse them as damaged)."""
    if len(files) != 1:
        return None
    ((rel, want),) = files.items()
    data = contents.get(rel)
    if data is None or len(data) > limit or not isinstance(want, dict):
        return None
    if checksums.checksum_of_bytes(data, checksums.algorithm_of(want)) != want:
        return None
    return {rel: base64.b64encode(data).decode("ascii")}


class InlineError(ValueError):
    """The inline field is present but not decodable (not base64): the caller reports the value as damaged."""


def contents_of(meta: dict) -> dict[str, bytes] | None:
    """``{rel: bytes}`` of the blob's files from ``meta``'s inline field, when it inlines every file listed in
    ``files``; None when there is no such field, or it does not cover exactly the listed files (written by
    another version, or copied along with metadata by a ``promote`` that renamed the files): the blob is read
    then. The bytes are NOT checked here: the caller checks them against ``files`` like a blob's."""
    inline = meta.get(FIELD)
    files = meta.get("files")
    if not isinstance(inline, dict) or not inline or not isinstance(files, dict) or set(inline) != set(files):
        return None
    out = {}
    for rel, text in inline.items():
        if not isinstance(text, str):
            raise InlineError(f"the inline copy of {rel} is not a base64 string")
        try:
            out[rel] = base64.b64decode(text.encode("ascii"), validate=True)
        except (binascii.Error, UnicodeEncodeError) as exc:
            raise InlineError(f"the inline copy of {rel} is not valid base64 ({exc})") from None
    return out


class MemoryFiles:
    """A blob's files held in memory and already verified, as the read-only file system a codec decodes from
    (codecs that declare ``reads_through_open`` only call ``open(path, "rb")``)."""

    protocol = ("dds-verified-memory",)  # not a real file system: codecs must not bypass ``open``

    def __init__(self, contents: dict[str, bytes]) -> None:
        self._contents = contents

    def open(self, path: str, mode: str = "rb", **_: Any) -> io.BytesIO:
        if mode != "rb":
            raise PermissionError(f"{path}: a verified in-memory blob is read-only")
        try:
            return io.BytesIO(self._contents[path])
        except KeyError:
            raise FileNotFoundError(path) from None
