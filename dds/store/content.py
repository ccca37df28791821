"""The content digest of a stored value: what depends on a path depends on this, not on the signature.

A value's metadata lists every file it was written as, with its size and checksum. Two values whose codec
wrote the same bytes have the same content digest, whatever code computed them: so when an upstream step
re-runs (its code changed) and reproduces the same data, the steps that ``dds.load`` it keep their
signatures and load (early cutoff). Blobs never change once written, so a digest is computed once per
process and signature.
"""

from __future__ import annotations

import hashlib
import json
import weakref
from typing import Any

from .. import forks

_known: dict[tuple[int, str], tuple[Any, str | None]] = {}  # (id(store), sig) -> (weakref to store, digest)
_lock = forks.lock()  # free in a child forked while another thread held it
_MAX = 100_000


def content_digest(store: Any, sig: str) -> str | None:
    """Digest of the bytes blob ``sig`` was stored as (codec, file names, sizes, checksums), or None when
    the store has no such committed blob (or its metadata lists no checksums)."""
    key = (id(store), sig)
    known = _known.get(key)
    if known is not None and known[0]() is store:
        return known[1]
    meta = store.read_meta(sig)
    if meta is None:
        return None  # not committed yet: may appear later, so nothing is remembered
    files = meta.get("files")
    if not isinstance(files, dict) or not files:
        found = None
    else:
        listing = [meta.get("codec"), sorted((str(rel), info.get("size"), info.get("checksum"))
                                             for rel, info in files.items())]
        found = hashlib.blake2b(json.dumps(listing).encode(), digest_size=20).hexdigest()
    with _lock:
        if len(_known) >= _MAX:
            _known.clear()
        _known[key] = (weakref.ref(store), found)
    return found
