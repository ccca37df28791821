"""The identity of a File on an fsspec file system (S3, GCS, HTTP, memory ...).

Object stores that give every written object a new identifier are trusted for it: S3's ETag changes
whenever an object is written with other bytes (for multipart uploads it is not the MD5 of the content,
but still a stable identifier of that version), and a version id, where the bucket keeps versions, names
one version exactly. Everything else is read and hashed (XXH3-128), since sizes and modification times
there are not guaranteed to change with the content.
"""

from __future__ import annotations

import re
from typing import Any

import xxhash

from .missing import missing

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]+://")
_BLOCK = 4 << 20
#: protocols whose objects carry an identifier that changes with every write: (info key, version id key)
_VERSIONED = {"s3": ("ETag", "VersionId"), "s3a": ("ETag", "VersionId")}


def is_url(path: str) -> bool:
    return bool(_URL.match(path)) and not path.startswith("file://")


def identity(url: str, hidden: bool, storage_options: dict[str, Any]) -> tuple[tuple, tuple]:
    """(payload the signature hashes, summary for ``why``) of the object or prefix at ``url``."""
    import fsspec

    fs, path = fsspec.core.url_to_fs(url, **storage_options)
    fs.invalidate_cache()  # listings cached by the file system instance may predate a write
    try:
        info = fs.info(path)
    except FileNotFoundError:
        raise missing(url, url, remote=True) from None
    protocol = fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]
    if info.get("type") == "directory":
        entries: list = []
        total = 0
        base = path.rstrip("/") + "/"
        for name, entry in sorted(fs.find(path, detail=True, withdirs=False).items()):
            rel = name[len(base):] if name.startswith(base) else name
            if not hidden and any(part.startswith(".") for part in rel.split("/")):
                continue
            size = int(entry.get("size") or 0)
            entries += [rel, size, _version(fs, protocol, name, entry)]
            total += size
        return ("directory", url, tuple(entries)), ("directory", len(entries) // 3, total, entries)
    size = int(info.get("size") or 0)
    version = _version(fs, protocol, path, info)
    return ("object", url, size, version), ("file", size, version)


def _version(fs: Any, protocol: str, path: str, info: dict) -> str:
    keys = _VERSIONED.get(protocol)
    if keys is not None and info.get(keys[0]):
        etag = str(info[keys[0]]).strip('"')
        version = info.get(keys[1])
        return f"etag:{etag}" + (f":{version}" if version else "")
    h = xxhash.xxh3_128()
    with fs.open(path, "rb") as fh:
        while True:
            block = fh.read(_BLOCK)
            if not block:
                break
            h.update(block)
    return "xxh3:" + h.hexdigest()
