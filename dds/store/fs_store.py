"""The store logic, written once over an fsspec file system.

``FsStore`` holds everything a store does (layout, codec choice, checksums, commit order, refs and their
conflicts); subclasses only swap the few primitives that differ per file system: how a temporary directory
is made, how it is moved into place, how a small file is replaced atomically, and how the view for people
(``data_dir``) is refreshed. Layout under ``root``::

    blobs/<sig>/<file_name>   the value, written once
    meta/<sig>.json           its metadata; written last, so it is the commit point
    refs/<path>.ref           the signature a store path points to
    history/<path>.log        the signatures it pointed to before, most recent first (for ``why``)
    pins/<path>.pin           signatures pinned at the path, one a line: ``gc`` never deletes them
    tmp/                      temporary names
"""

from __future__ import annotations

import json
import logging
import uuid
from datetime import datetime, timezone
from typing import Any, Iterable, Iterator
from urllib.parse import unquote

from ..codecs import PICKLE, Codec, NotSuitable, capability, codec_for, codec_named
from ..errors import CodecError, DamagedDataError, NotFoundError, StoreError
from ..paths import path_parts, validate_path
from . import checksums, inline, signing
from .layout import check_sig, is_sig, safe_relative
from .maintainable import MaintainableStore
from .sigset import SigSet

log = logging.getLogger("dds.store")

_HISTORY = 20  # previous refs kept per path


class FsStore(MaintainableStore):
    """A store rooted at ``root`` on the fsspec file system ``fs`` (no view for people by default)."""

    kind = "fsspec"
    #: A value of one file of at most this many bytes is also written into its metadata (``inline.py``); 0: never.
    #: Every store reads such metadata; only stores whose blob reads cost a request write it (FsspecStore).
    inline_max = 0

    def __init__(self, fs: Any, root: str) -> None:
        self.fs = fs
        self.root = root.rstrip("/")

    def describe(self) -> str:
        return f"{self.kind} store at {self.root}"

    def uri_for_spark(self, path: str) -> str | None:
        """The URI Spark uses for ``path`` (a file or folder of this store, e.g. a blob's file), or None if
        Spark cannot reach this store (memory). Spark names file systems differently from fsspec."""
        from ..filesystems import spark_uri

        return spark_uri(self.fs, path)

    # ----------------------------------------------------------------- layout
    def _at(self, *parts: str) -> str:
        return "/".join((self.root, *parts))

    def blob_dir(self, sig: str) -> str:
        return self._at("blobs", check_sig(sig))

    def meta_file(self, sig: str) -> str:
        return self._at("meta", check_sig(sig) + ".json")

    def ref_file(self, path: str) -> str:
        parts = path_parts(path)
        return self._at("refs", *map(_group_name, parts[:-1]), parts[-1] + ".ref")

    def _group_dir(self, path: str) -> str:
        return self._at("refs", *map(_group_name, path_parts(path)))

    # ------------------------------------------------------------ blobs + meta
    def read_meta(self, sig: str) -> dict | None:
        where = self.meta_file(sig)
        data = self._read_small(where)
        if data is None:
            return None
        return self._parse_meta(sig, where, data)

    def _parse_meta(self, sig: str, where: str, data: bytes) -> dict:
        """The metadata ``data`` (the bytes of ``where``) holds, or DamagedDataError."""
        try:
            meta = json.loads(data)
        except ValueError as exc:
            raise DamagedDataError(self._damaged(None, sig, f"its metadata {where} is not valid JSON ({exc})"))
        if not (
            isinstance(meta, dict)
            and isinstance(meta.get("codec"), str)
            and isinstance(meta.get("file_name"), str)
            and isinstance(meta.get("files"), dict)
        ):
            raise DamagedDataError(self._damaged(None, sig, f"its metadata {where} lacks codec/file_name/files"))
        return meta

    def write(self, sig: str, value: Any, meta: dict) -> dict:
        codec = codec_for(value)
        try:
            return self._write_with(codec, sig, value, meta)
        except NotSuitable as exc:
            log.warning("dds: storing %s with pickle: %s", meta.get("path") or sig, exc)
            return self._write_with(PICKLE, sig, value, meta)

    def _write_with(self, codec: Codec, sig: str, value: Any, meta: dict) -> dict:
        staging, prefix = self._stage(sig)
        committed = False
        try:
            with self._write_watcher(staging, capability(codec, "appends_only")) as follower:
                try:
                    codec.write(value, self.fs, f"{staging}/{codec.file_name}")
                except NotSuitable:
                    raise
                except Exception as exc:
                    where = meta.get("path") or f"signature {sig}"
                    raise CodecError(
                        f"Cannot store {where}: codec {codec.name!r} failed to write a "
                        f"{type(value).__module__}.{type(value).__qualname__}: {exc}"
                    ) from exc
            small: dict[str, bytes] | None = {} if self.inline_max and _reads_through_open(codec.name) else None
            files = {prefix + rel: info for rel, info in self._file_info(staging, follower.checksums, small).items()}
            if not files:
                raise CodecError(f"Codec {codec.name!r} wrote no file for {meta.get('path') or sig}.")
            full = {
                **meta,
                "codec": codec.name,
                "file_name": prefix + codec.file_name,
                "files": files,
                "stored_at": datetime.now(timezone.utc).isoformat(),
            }
            full.pop(inline.FIELD, None)  # never a field of the caller's record (a promoted copy's is the source's)
            if small:
                copy = inline.field_for(files, {prefix + rel: data for rel, data in small.items()}, self.inline_max)
                if copy is not None:
                    full[inline.FIELD] = copy
            full = signing.sign(sig, full)  # with a signing key: an HMAC of all of the above
            # one line, no indent: json's C encoder (with indent it encodes in Python, ~10x slower for the
            # signature tree); read with json.loads as before, `dds show` prints it indented
            encoded = json.dumps(full, sort_keys=True, separators=(",", ":")).encode("utf-8")
            settled = self._place(sig, staging, files)
            if settled is not None:
                return settled
            self._write_small(self.meta_file(sig), encoded)
            committed = True
            return full
        finally:
            self._unstage(staging, committed)

    def _settle_existing(self, sig: str, blob: str, tmp: str, files: dict) -> dict | None:
        """``blobs/<sig>`` already exists: keep a good one, replace an unfinished or damaged one.

        Returns the committed metadata when another writer already finished the same blob.
        """
        theirs = self._file_info(blob)
        try:
            old = self.read_meta(sig)
        except DamagedDataError:
            old = None
        if old is not None and old["files"] == theirs and signing.trusted(sig, old):
            return old
        if theirs != files:
            self._swap_dir(tmp, blob)
        return None

    def read(self, sig: str, meta: dict | None = None) -> Any:
        if meta is None:
            meta = self.read_meta(sig)
            if meta is None:
                raise NotFoundError(f"No value with signature {sig} is in the {self.describe()}.")
        signing.check(sig, meta, self)  # with a signing key: refuse an unsigned or foreign value, unread
        fs, blob = self._inline_blob(sig, meta) or self._readable_blob(sig, meta)
        where = meta.get("path") or f"signature {sig}"
        try:
            codec = codec_named(meta["codec"])
        except CodecError as exc:
            raise CodecError(f"Cannot load {where}: {exc}") from None
        try:
            return codec.read(fs, f"{blob}/{meta['file_name']}")
        except Exception as exc:
            raise CodecError(
                f"Cannot load {where}: codec {codec.name!r} failed to decode it ({type(exc).__name__}: {exc}). "
                f"Re-run the function to recompute it."
            ) from exc

    def _inline_blob(self, sig: str, meta: dict) -> tuple[Any, str] | None:
        """``(in-memory files, folder)`` of a value whose metadata carries its bytes (``inline.py``), checked
        against the sizes and checksums in ``meta`` exactly as the blob's files would be; None when ``meta`` has
        no usable inline copy (the blob is read). Damaged inline bytes are a DamagedDataError, never decoded."""
        if inline.FIELD not in meta or not _reads_through_open(meta.get("codec")):
            return None
        self.check_listed_files(sig, meta)
        try:
            contents = inline.contents_of(meta)
        except inline.InlineError as exc:
            raise DamagedDataError(self._damaged(meta.get("path"), sig, f"{exc} (in its metadata)")) from None
        if contents is None:
            return None
        blob = self.blob_dir(sig)
        for rel, data in contents.items():
            self.check_file(sig, meta, rel, checksums.checksum_of_bytes(data, checksums.algorithm_of(meta["files"][rel])))
        return inline.MemoryFiles({f"{blob}/{rel}": data for rel, data in contents.items()}), blob

    def _readable_blob(self, sig: str, meta: dict) -> tuple[Any, str]:
        """``(file system, folder)`` holding blob ``sig``'s files, verified against ``meta``: what ``read``
        decodes (a store with a local cache answers with its verified copy)."""
        self.verify(sig, meta)
        return self.fs, self.blob_dir(sig)

    def verify(self, sig: str, meta: dict) -> None:
        """Check every file of blob ``sig`` against the sizes and checksums in ``meta``, and so the inline copy
        ``meta`` may carry (a writer keeping an existing value, and ``dds verify``, must not trust a bad one)."""
        blob = self.blob_dir(sig)
        self.check_listed_files(sig, meta)
        for rel, want in sorted(meta["files"].items()):
            try:
                got = self._checksum(f"{blob}/{rel}", checksums.algorithm_of(want))
            except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
                raise DamagedDataError(self._damaged(meta.get("path"), sig, f"the file {rel} is missing")) from None
            self.check_file(sig, meta, rel, got)
        if inline.FIELD in meta:
            self._inline_blob(sig, meta)

    def check_listed_files(self, sig: str, meta: dict) -> None:
        """DamagedDataError unless ``meta`` lists at least one file, every name staying inside the blob."""
        names = [meta.get("file_name"), *meta.get("files", {})]
        if not meta.get("files") or not all(isinstance(n, str) and safe_relative(n) for n in names):
            raise DamagedDataError(self._damaged(meta.get("path"), sig, "its metadata lists no files or unsafe file names"))

    def check_file(self, sig: str, meta: dict, rel: str, got: dict) -> None:
        """DamagedDataError unless ``got`` (size and checksum of the file ``rel``) is what ``meta`` lists."""
        want = meta["files"][rel]
        if got != want:
            raise DamagedDataError(self._damaged(meta.get("path"), sig, _mismatch(rel, got, want)))

    def iter_blob_sigs(self) -> Iterator[str]:
        """Every committed signature (those with metadata), sorted (held as a ``SigSet``: ~28 bytes each)."""
        names = (p.rsplit("/", 1)[-1] for p in self._find(self._at("meta")))
        yield from SigSet(n[: -len(".json")] for n in names if n.endswith(".json") and is_sig(n[:-5]))

    # -------------------------------------------------------------------- refs
    def get_ref(self, path: str) -> str | None:
        return self._ref_at(path, self.ref_file(path))

    def _ref_at(self, path: str, where: str) -> str | None:
        """The signature in ``where``, the ref file of ``path`` (None if there is none); DamagedDataError if
        it holds something else. Listings read refs with it (``get_ref`` of a subclass may cache)."""
        data = self._read_small(where)
        if data is None:
            return None
        return self._parse_ref(path, where, data)

    def _parse_ref(self, path: str, where: str, data: bytes) -> str:
        """The signature a ref file holds (``data``: its bytes), or DamagedDataError."""
        sig = data.decode("ascii", "replace").strip()
        if not is_sig(sig):
            raise DamagedDataError(
                f"The ref of {path} at {where} is damaged (it holds {sig[:60]!r}, not a signature). "
                f"Delete it and re-run the function that stores {path}."
            )
        return sig

    def set_ref(self, path: str, sig: str) -> None:
        self._set_ref(path, sig, None)

    def _set_ref(self, path: str, sig: str, meta: dict | None) -> None:
        """``set_ref``; ``meta``: the metadata of ``sig`` when the caller just committed it (else it is read)."""
        validate_path(path)
        if meta is None:
            meta = self.read_meta(sig)
        if meta is None:
            raise StoreError(f"Cannot point {path} at signature {sig}: the {self.describe()} holds no such value.")
        self._check_conflicts(path)
        self._publish(path, sig, meta)
        self._remember_previous_ref(path, sig)
        self._write_small(self.ref_file(path), f"{sig}\n".encode("ascii"))

    def history_file(self, path: str) -> str:
        parts = path_parts(path)
        return self._at("history", *map(_group_name, parts[:-1]), parts[-1] + ".log")

    def ref_history(self, path: str) -> list[str]:
        data = self._read_small(self.history_file(path))
        lines = data.decode("ascii", "replace").split() if data else []
        current = self.get_ref(path)
        return [s for s in dict.fromkeys(lines) if is_sig(s) and s != current]

    def _remember_previous_ref(self, path: str, sig: str) -> None:
        """Before ``path`` moves to ``sig``, put its current ref first in its history (written before the ref,
        so a crash between the two leaves an entry equal to the ref, which ``ref_history`` skips). Only
        explanations read it: a lost entry (two writers at once) costs a less precise ``why``, never a value."""
        try:
            current = self.get_ref(path)
        except DamagedDataError:
            current = None
        if current is None or current == sig:
            return
        entries = [current] + [s for s in self.ref_history(path) if s not in (current, sig)]
        self._write_small(self.history_file(path), ("\n".join(entries[:_HISTORY]) + "\n").encode("ascii"))

    def iter_refs(self) -> Iterator[tuple[str, str]]:
        for path, where in self._ref_files():
            sig = self._ref_at(path, where)
            if sig is not None:
                yield path, sig

    def iter_ref_entries(self) -> Iterator[tuple[str, str, str | None, str | None]]:
        for path, where in self._ref_files():
            try:
                sig = self._ref_at(path, where)
            except DamagedDataError as exc:
                yield path, where, None, str(exc)
            else:
                if sig is not None:
                    yield path, where, sig, None

    # ------------------------------------------------------------- pins
    def pin_file(self, path: str) -> str:
        parts = path_parts(path)
        return self._at("pins", *map(_group_name, parts[:-1]), parts[-1] + ".pin")

    def pins(self, path: str) -> list[str]:
        data = self._read_small(self.pin_file(path))
        if data is None:
            return []
        return [line for line in data.decode("ascii", "replace").split() if is_sig(line)]

    def pin(self, path: str, sig: str) -> bool:
        check_sig(sig)
        pinned = self.pins(path)
        if sig in pinned:
            return False
        self._write_small(self.pin_file(path), ("\n".join([sig] + pinned) + "\n").encode("ascii"))
        return True

    def unpin(self, path: str) -> list[str]:
        pinned = self.pins(path)
        if pinned:
            self._remove(self.pin_file(path))
        return pinned

    def iter_pins(self) -> Iterator[tuple[str, str]]:
        root = self._at("pins")
        for full in sorted(self._find(root)):
            if not full.endswith(".pin"):
                continue
            parts = full[len(root) + 1 : -len(".pin")].split("/")
            path = "/" + "/".join([unquote(p) for p in parts[:-1]] + [parts[-1]])
            try:
                if self.pin_file(path) != full:
                    continue
            except Exception:  # noqa: BLE001 - not a name dds writes
                continue
            for sig in self.pins(path):
                yield path, sig

    def paths_below(self, path: str) -> Iterator[str]:
        """Lists ``path``'s group folder only, so its cost does not grow with the store (see base.Store)."""
        group = self._group_dir(path)
        for full in self._find(group):
            if full.endswith(".ref"):  # what _check_conflicts refuses; named as the store path it stands for
                *groups, name = full[len(group) + 1 : -len(".ref")].split("/")
                yield "/".join([path, *map(unquote, groups), name])

    def _ref_files(self) -> Iterable[tuple[str, str]]:
        """``(store path, ref file)`` of every ref file dds could have written, in path order."""
        refs = self._at("refs")
        found = []
        for full in self._find(refs):
            if not full.endswith(".ref"):
                continue
            parts = full[len(refs) + 1 : -len(".ref")].split("/")
            path = "/" + "/".join([unquote(p) for p in parts[:-1]] + [parts[-1]])
            try:
                if self.ref_file(path) != full:  # not a name dds writes: ignore it
                    continue
            except Exception:  # noqa: BLE001 - an invalid path: not ours either
                continue
            found.append((path, full))
        return sorted(found)

    # ------------------------------------------------------------- maintenance
    def iter_blob_dirs(self) -> Iterator[str]:
        try:
            names = self.fs.ls(self._at("blobs"), detail=False)
        except FileNotFoundError:
            return
        yield from SigSet(n for n in (p.rstrip("/").rsplit("/", 1)[-1] for p in names) if is_sig(n))

    def iter_temp(self) -> Iterator[str]:
        try:
            names = self.fs.ls(self._at("tmp"), detail=False)
        except FileNotFoundError:
            return
        yield from sorted(self._at("tmp", p.rstrip("/").rsplit("/", 1)[-1]) for p in names)

    def entry_usage(self, where: str) -> tuple[int, float | None]:
        try:
            info = self.fs.info(where)
        except FileNotFoundError:
            return 0, None
        infos = [info]
        if info.get("type") == "directory":
            try:
                infos += list(self.fs.find(where, withdirs=True, detail=True).values())
            except FileNotFoundError:  # renamed or removed while listed (a keep publishing it): in use
                return 0, None
        size = sum(int(i.get("size") or 0) for i in infos if i.get("type") != "directory")
        stamps = [t for t in map(_stamp, infos) if t is not None]
        return size, max(stamps) if stamps else None

    def remove_entry(self, where: str) -> None:
        if not where.startswith(self.root + "/"):
            raise StoreError(f"Refusing to delete {where}: it is not inside the {self.describe()}.")
        self._remove(where)

    def delete_blob(self, sig: str) -> None:
        self._remove(self.meta_file(sig))
        self._remove(self.blob_dir(sig))

    def _check_conflicts(self, path: str) -> None:
        """A path is either a value or a group (it has values below it), never both."""
        parts = path_parts(path)
        for i in range(1, len(parts)):
            prefix = "/" + "/".join(parts[:i])
            if self.get_ref(prefix) is not None:
                raise StoreError(
                    f"Cannot store {path}: {prefix} already holds a value, and a path cannot be both a value "
                    f"and a group. Store {path} under another name, or move {prefix} elsewhere."
                )
        for full in self._find(self._group_dir(path)):
            if full.endswith(".ref"):
                raise StoreError(
                    f"Cannot store {path}: it is a group holding other values (such as the one in {full}), and a "
                    f"path cannot be both a value and a group. Store {path} under another name."
                )

    # ---------------------------------------------- primitives (per file system)
    def _stage(self, sig: str) -> tuple[str, str]:
        """Where a codec writes a new blob ``sig``, and the prefix of its file names inside ``blobs/<sig>/``.

        By default a fresh temporary directory, which ``_place`` then moves into place whole (prefix "").
        """
        return self._make_temp_dir(), ""

    def _place(self, sig: str, staging: str, files: dict) -> dict | None:
        """Make the staged files the blob's files; return another writer's committed metadata to keep it."""
        blob = self.blob_dir(sig)
        self._sync_tree(staging)
        if not self._move_dir(staging, blob):
            return self._settle_existing(sig, blob, staging, files)
        return None

    def _unstage(self, staging: str, committed: bool) -> None:
        """After a write: drop what is left of the staging directory (all of it if nothing was committed)."""
        self._remove(staging)

    def _write_watcher(self, staging: str, appends_only: bool) -> Any:
        """A context manager around a codec's write into ``staging`` (e.g. flushing to disk meanwhile); its
        ``checksums`` afterwards: ``{relative name: entry}`` of files it checksummed as they were written, which
        it may do when the codec says its files are only ever appended to (``appends_only``)."""
        return _NotFollowed()

    def _make_temp_dir(self) -> str:
        tmp = self._at("tmp", uuid.uuid4().hex)
        self.fs.makedirs(tmp, exist_ok=True)
        return tmp

    def _remove(self, path: str) -> None:
        if self.fs.exists(path):
            self.fs.rm(path, recursive=True)

    def _sync_tree(self, path: str) -> None:
        """Make ``path`` durable before it is moved into place (nothing to do off disk)."""

    def _move_dir(self, src: str, dst: str) -> bool:
        """Move ``src`` to ``dst``; False (and nothing moved) if ``dst`` exists."""
        if self.fs.exists(dst):
            return False
        self.fs.mv(src, dst, recursive=True)
        return True

    def _swap_dir(self, src: str, dst: str) -> None:
        """Replace the directory ``dst`` with ``src``."""
        self._remove(dst)
        self.fs.mv(src, dst, recursive=True)

    def _write_small(self, path: str, data: bytes) -> None:
        try:
            self.fs.pipe_file(path, data)
        except FileNotFoundError:  # a file system with real folders (local): the first file of its folder
            self.fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
            self.fs.pipe_file(path, data)

    def _read_small(self, path: str) -> bytes | None:
        try:
            return self.fs.cat_file(path)
        except (FileNotFoundError, NotADirectoryError):
            return None

    def _publish(self, path: str, sig: str, meta: dict) -> None:
        """Refresh the view for people of ``path``; stores without one do nothing."""

    def _find(self, directory: str) -> list[str]:
        try:
            return self.fs.find(directory, withdirs=False)
        except FileNotFoundError:
            return []

    def _delete_hint(self, sig: str) -> str:
        return f"delete {self.blob_dir(sig)} and {self.meta_file(sig)}"

    # ----------------------------------------------------------------- helpers
    def _file_info(self, directory: str, known: dict | None = None, small: dict | None = None) -> dict:
        """``{relative posix name: {"size", "checksum"}}`` for every file below ``directory``; the entries in
        ``known`` (taken while the files were written) are not read again. With ``small`` (a dict), the bytes of
        each file of at most ``inline_max`` bytes are put there too, from the same read (an inline copy)."""
        known = known or {}
        info = {}
        for full in sorted(self._find(directory)):
            rel = full[len(directory) + 1 :]
            if known.get(rel) or small is None:
                info[rel] = known.get(rel) or self._checksum(full)
                continue
            with self.fs.open(full, "rb") as f:
                info[rel], data = checksums.checksum_keeping(f, keep=self.inline_max)
            if data is not None:
                small[rel] = data
        return info

    def _checksum(self, path: str, algorithm: str = checksums.DEFAULT) -> dict:
        with self.fs.open(path, "rb") as f:
            return checksums.checksum_of(f, algorithm)

    def _damaged(self, path: str | None, sig: str, problem: str) -> str:
        what = f"The stored value of {path}" if path else f"The stored value with signature {sig}"
        return (
            f"{what} is damaged: {problem}. Blob: {self.blob_dir(sig)} in the {self.describe()}. "
            f"Fix: {self._delete_hint(sig)}, or re-run the function to recompute it."
        )


class _NotFollowed:
    """No following: every file is checksummed by reading it back."""

    def __init__(self) -> None:
        self.checksums: dict[str, dict] = {}

    def __enter__(self) -> _NotFollowed:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


def _reads_through_open(codec_name: Any) -> bool:
    """Whether the codec of a stored value decodes from ``fs.open`` alone (its ``reads_through_open``), so it
    can be handed bytes held in memory (an inline copy, a blob fetched whole)."""
    try:
        return capability(codec_named(codec_name), "reads_through_open")
    except CodecError:  # unknown, or refused in safe mode: the blob path reports it with its own message
        return False


def _stamp(info: dict) -> float | None:
    """Modification (or creation) time of an fsspec ``info`` entry as a POSIX timestamp, if it has one."""
    # local/memory: mtime or created; s3fs: LastModified; gcsfs: updated; adlfs: last_modified
    keys = ("mtime", "created", "LastModified", "updated", "last_modified")
    value = next((info[k] for k in keys if info.get(k) is not None), None)
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    if isinstance(value, datetime):
        return value.timestamp()
    return float(value) if isinstance(value, (int, float)) else None


def _mismatch(rel: str, got: dict, want: Any) -> str:
    """What is wrong with file ``rel`` of a blob, whose checksum entry is ``got`` where ``want`` was stored."""
    want = want if isinstance(want, dict) else {}
    return (
        f"{rel} has {got['size']} bytes and checksum {got['checksum'][:16]}..., expected "
        f"{want.get('size')} bytes and checksum {str(want.get('checksum'))[:16]}..."
    )


def _group_name(part: str) -> str:
    """Directory name of a group under ``refs/``: escaped so it never ends in '.ref' like a ref file."""
    name = part.replace("%", "%25")
    return name[: -len(".ref")] + "%2Eref" if name.endswith(".ref") else name
