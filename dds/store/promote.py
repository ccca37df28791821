"""Copy a path's value from one store to another (a laptop's local store to the team's S3, and back).

The blob's files are copied byte for byte (never decoded: promoting a pickle runs nothing), checked against
the source's checksums while they stream, and committed in the target by its own write protocol (metadata
last), before the path's ref moves. Promoting again is a no-op: a target that already holds the signature
intact is not written, and a ref already pointing at it is left alone.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, NamedTuple

from ..codecs import codec_named
from ..errors import CodecError, DamagedDataError, NotFoundError, StoreError
from ..paths import validate_path
from . import checksums, signing
from .base import Store
from .cache import _Tee
from .fs_store import FsStore

# Fields a store adds to the metadata it commits; the rest is the record of the run, copied unchanged.
_STORE_FIELDS = ("codec", "file_name", "files", "stored_at", "inline")  # inline: names the source's files


class Promoted(NamedTuple):
    path: str
    signature: str
    copied: bool  # False: the target already held this value (and the ref)


def promote(path: str, source: Store, target: Store) -> Promoted:
    """Make ``target`` hold ``path`` exactly as ``source`` does: the value, its metadata and the ref."""
    path = validate_path(path)
    if target is source:
        raise StoreError(f"Cannot promote {path}: the source and the target are the same {source.describe()}.")
    sig = source.get_ref(path)
    meta = source.read_meta(sig) if sig is not None else None
    if sig is None or meta is None:
        raise NotFoundError(
            f"Cannot promote {path}: nothing is stored at {path} in the {source.describe()}. Fix: run the step "
            f"that keeps {path} first, or choose the store that holds it (dds.set_store / dds --store)."
        )
    signing.check(sig, meta, source)  # promoting re-signs: never launder a value this key does not trust
    _verify(source, sig, meta, path)
    copied = not _holds_intact(target, sig)
    if copied:
        _copy_blob(source, target, sig, meta)
    if target.get_ref(path) != sig:
        target.set_ref(path, sig)
        copied = True
    return Promoted(path, sig, copied)


def _verify(store: Store, sig: str, meta: dict, path: str) -> None:
    verify = getattr(store, "verify", None)
    if verify is None:
        return
    try:
        verify(sig, meta)
    except DamagedDataError as exc:
        raise DamagedDataError(f"Cannot promote {path}: {exc}") from None


def _holds_intact(store: Store, sig: str) -> bool:
    try:
        meta = store.read_meta(sig)
        if meta is None or not signing.trusted(sig, meta):
            return False
        verify = getattr(store, "verify", None)
        if verify is not None:
            verify(sig, meta)
        return True
    except DamagedDataError:
        return False  # rewrite it: the copy's metadata replaces the damaged one


def _copy_blob(source: Store, target: Store, sig: str, meta: dict) -> None:
    record = {k: v for k, v in meta.items() if k not in _STORE_FIELDS}
    record["promoted"] = {"from": source.describe(), "stored_at": meta.get("stored_at"),
                          "at": datetime.now(timezone.utc).isoformat()}
    if not (isinstance(source, FsStore) and isinstance(target, FsStore)):
        target.write(sig, source.read(sig, meta), record)  # a store of another kind: through the codec
        return
    copier = _FileCopier(source, sig, meta)
    committed = target._write_with(copier, sig, None, record)
    theirs = committed["file_name"][: -len(copier.file_name)]
    if not _same_files(_without_prefix(committed, theirs), _without_prefix(meta, copier.prefix)):
        target.delete_blob(sig)
        raise DamagedDataError(
            f"Promoting {meta.get('path') or sig} to the {target.describe()}: the copy read back differs from the "
            f"source, so it was removed again. Fix: run the promote again (a transient fault), or check the target."
        )


class _FileCopier:
    """A stand-in codec for ``FsStore._write_with``: its "write" copies the source blob's files into the
    target's staging folder, checking each against the source's checksum as it streams."""

    appends_only = False

    def __init__(self, source: FsStore, sig: str, meta: dict) -> None:
        self.source, self.sig, self.meta = source, sig, meta
        self.name = meta["codec"]
        try:
            self.file_name = codec_named(self.name).file_name
        except CodecError:  # a codec this process does not know (a user's): the bytes are copied all the same
            self.file_name = meta["file_name"].rsplit("/", 1)[-1]
        self.prefix = meta["file_name"][: -len(self.file_name)] if meta["file_name"].endswith(self.file_name) else ""

    def write(self, value: Any, fs: Any, path: str) -> None:
        staging = path[: -len(self.file_name)].rstrip("/")
        from fsspec.implementations.local import LocalFileSystem

        for rel, want in sorted(self.meta["files"].items()):
            inner = rel[len(self.prefix):] if rel.startswith(self.prefix) else rel
            dest = f"{staging}/{inner}"
            if isinstance(fs, LocalFileSystem):
                fs.makedirs(dest.rsplit("/", 1)[0], exist_ok=True)
            with self.source.fs.open(f"{self.source.blob_dir(self.sig)}/{rel}", "rb") as src, fs.open(dest, "wb") as out:
                got = checksums.checksum_of(_Tee(src, out), checksums.algorithm_of(want))
            if got != want:
                raise DamagedDataError(
                    f"Cannot promote {self.meta.get('path') or self.sig}: {rel} changed while it was copied "
                    f"(its checksum differs from the metadata's). Nothing was committed; run `dds verify`."
                )


def _without_prefix(meta: dict, prefix: str) -> dict:
    """``{file name without the writer's folder: checksum entry}``, comparable across stores."""
    return {rel[len(prefix):] if rel.startswith(prefix) else rel: e for rel, e in meta["files"].items()}


def _same_files(copy: dict, original: dict) -> bool:
    """The same names and sizes, and the same checksums where both used one algorithm (an old blake2b entry is
    re-checksummed with XXH3 by the target; its bytes were checked against blake2b while they streamed)."""
    if copy.keys() != original.keys():
        return False
    for name, entry in copy.items():
        want = original[name]
        if entry.get("size") != want.get("size"):
            return False
        if checksums.algorithm_of(entry) == checksums.algorithm_of(want) and entry["checksum"] != want["checksum"]:
            return False
    return True
