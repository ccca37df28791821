"""Signed values: a reader with the team's key loads only what a writer with that key stored.

Checksums catch accidents, not tampering: whoever can write to a shared bucket can write a blob and metadata
that match. With ``dds.set_option("signing_key", key)`` (or ``$DDS_SIGNING_KEY``) every writer adds to the
metadata an HMAC-SHA256, under that key, of the signature and the whole metadata (path, function, run info,
codec, file names, sizes and checksums). A reader with a key recomputes it before it reads a byte of the
value: a value written under another key, or without one (a planted pickle), is refused. Because the
checksums are covered, the files cannot be swapped either; because the signature is covered, a signed
metadata file cannot be copied to another signature.

Not covered: refs (``load(path)`` can be pointed at another value signed with the key; ``keep`` looks
values up by signature and is not affected), deleting values, and anyone who holds the key.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
from typing import Any

from .. import options
from ..errors import StoreError

log = logging.getLogger("dds.store")

FIELD = "hmac"
_ALGORITHM = "hmac-sha256"
MIN_KEY_BYTES = 16


class UntrustedValueError(StoreError):
    """A stored value's HMAC does not verify under this process's signing key: it is not loaded."""


def check_key(value: Any) -> bytes | None:
    """The key as bytes (None: signing off); refuses keys that are not str/bytes or too short to be secret."""
    if value is None:
        return None
    if isinstance(value, str):
        value = value.encode("utf-8")
    if not isinstance(value, bytes) or len(value) < MIN_KEY_BYTES:
        shown = type(value).__name__ if not isinstance(value, bytes) else f"{len(value)} bytes"
        from ..errors import ArgumentError

        raise ArgumentError(
            f"Option 'signing_key' needs a secret str or bytes of at least {MIN_KEY_BYTES} bytes, not {shown}. "
            f"Fix: dds.set_option('signing_key', secrets.token_hex(32)) once, and share that key with the team "
            f"(e.g. DDS_SIGNING_KEY in CI secrets)."
        )
    return value


options.declare("signing_key", check_key)  # dds.set_option("signing_key", ...) is validated here


def current_key() -> bytes | None:
    """The option if set, else ``$DDS_SIGNING_KEY``, else None."""
    key = options.get_option("signing_key")
    if key is None:
        key = check_key(os.environ.get("DDS_SIGNING_KEY") or None)
    return key


def key_id(key: bytes) -> str:
    """A short public name of a key (recorded with each HMAC): tells "another key" from "this key"."""
    return hashlib.sha256(b"dds signing key id\0" + key).hexdigest()[:12]


def sign(sig: str, meta: dict) -> dict:
    """``meta`` with the HMAC of this process's key added (unchanged without a key)."""
    key = current_key()
    if key is None:
        return meta
    body = {k: v for k, v in meta.items() if k != FIELD}
    return {**body, FIELD: {"algorithm": _ALGORITHM, "key_id": key_id(key), "mac": _mac(key, sig, body)}}


def trusted(sig: str, meta: dict) -> bool:
    """Whether a reader may use ``meta``: always without a key, else only if its HMAC verifies."""
    key = current_key()
    return key is None or _problem(key, sig, meta) is None


def check(sig: str, meta: dict, store: Any) -> None:
    """Raise UntrustedValueError unless ``meta`` verifies under the key; a reader without a key warns once per
    store that holds signed values (signing is on for the team, off here)."""
    key = current_key()
    if key is None:
        if FIELD in meta and not getattr(store, "_dds_warned_unverified", False):
            log.warning("dds: the %s holds signed values, but this process has no signing key, so they are loaded "
                        "unverified. Fix: set DDS_SIGNING_KEY (or dds.set_option('signing_key', key)).",
                        store.describe())
            try:
                store._dds_warned_unverified = True
            except AttributeError:
                pass
        return
    problem = _problem(key, sig, meta)
    if problem is None:
        return
    run = meta.get("run") if isinstance(meta.get("run"), dict) else {}
    writer = f"{run.get('user', '?')}@{run.get('host', '?')}" if run else "an unknown writer (no run info)"
    where = meta.get("path") or f"signature {sig}"
    raise UntrustedValueError(
        f"Refusing to load {where} from the {store.describe()}: {problem}. Its metadata says it was written by "
        f"{writer}, function {meta.get('function', '?')}. It was not decoded. Fix: if you do not know this "
        f"writer, delete it ({store.meta_file(sig) if hasattr(store, 'meta_file') else 'its metadata'}) and re-run "
        f"the step, which stores a signed value; if it is yours, written before signing was on or under an old "
        f"key, delete it the same way, or read it with the key it was written with."
    )


def _problem(key: bytes, sig: str, meta: dict) -> str | None:
    stamp = meta.get(FIELD)
    if not isinstance(stamp, dict):
        return "it is not signed (written without a signing key, or planted)"
    if stamp.get("algorithm") != _ALGORITHM or not isinstance(stamp.get("mac"), str):
        return f"its signature is malformed ({str(stamp)[:80]})"
    body = {k: v for k, v in meta.items() if k != FIELD}
    if hmac.compare_digest(stamp["mac"], _mac(key, sig, body)):
        return None
    if stamp.get("key_id") != key_id(key):
        return f"it was signed with another key (key id {stamp.get('key_id')}, this process has {key_id(key)})"
    return "its signature does not match its metadata (the metadata or the signature was altered)"


def _mac(key: bytes, sig: str, body: dict) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hmac.new(key, f"dds-meta-v1\0{sig}\0{canonical}".encode("utf-8"), hashlib.sha256).hexdigest()
