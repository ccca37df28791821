"""The ``fsspec`` store: the same layout as the local store, at any fsspec URL (``s3://``, ``file://``, ...).

Object stores cannot rename, so a blob is not staged in ``tmp/`` and moved: each writer puts its files
straight into its own folder ``blobs/<sig>/w-<random>/``, and the last step of a write is one small object,
the metadata, which names that folder. So the metadata is still the commit point: files without metadata
(a crash) are never read, and two writers of the same signature never touch each other's files; the later
metadata wins, and both are complete. Refs and metadata are single small objects, replaced whole by one PUT
(on a local disk: a temporary file renamed into place). All I/O goes through fsspec (s3fs for S3).

``data_dir`` (optional, same file system) gives people a copy of each path's current value.

Where the file system can create a file only if it does not exist (S3's conditional writes, a local disk's
``O_EXCL``), ``lock(sig)`` is a lease (``lease.py``), so machines sharing the store compute a step once.
"""

from __future__ import annotations

import errno
import functools
import inspect
import io
import json
import logging
import os
import threading
import time
import uuid
from contextlib import contextmanager
from typing import Any, Iterator

from ..codecs import capability, codec_named
from ..errors import CodecError, DamagedDataError, StoreError
from ..filesystems import OBJECT_STORES, is_local, protocols
from ..paths import path_parts
from . import atomic, checksums, inline, signing
from .cache import DEFAULT_BYTES, META_NAME, BlobCache
from .fs_store import FsStore, _mismatch, _reads_through_open
from .layout import check_inside, check_sig, safe_relative
from .lease import DEFAULT_SECONDS, Lease, is_finished

log = logging.getLogger("dds.store")

# Object stores whose fsspec implementation sends a conditional create (``If-None-Match: *``) for
# ``pipe_file(mode="create")``: s3fs does (AWS since 2024, MinIO, R2, moto >= 5); gcsfs and adlfs do not yet.
_ATOMIC_CREATE = {"s3", "s3a"}
# File systems without real folders: nothing to create before writing, and creating one could create a bucket.
_NO_RENAME = {errno.ENOSYS, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV, errno.EPERM}
_INSTALL = {"s3": "s3fs", "s3a": "s3fs", "gs": "gcsfs", "gcs": "gcsfs", "abfs": "adlfs", "abfss": "adlfs",
            "az": "adlfs", "adl": "adlfs"}


class RemoteWriteError(StoreError, OSError):
    """A remote store did not take a write (after the file system's retries): read-only, or unreachable.
    Also an OSError, as the file system's own error was before dds said what to do about it."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class FsspecStore(FsStore):
    kind = "fsspec"
    # defaults for subclasses with their own constructor (dbfs): no cache, the default lease
    cache: BlobCache | None = None
    lease_seconds = DEFAULT_SECONDS
    inline_max = inline.MAX_BYTES  # every blob read costs a request (S3) or a network round trip (DBFS's FUSE)
    _writing = threading.local()  # per write: whether and where it fills the cache

    def __init__(self, url: str | None = None, data_dir: str | None = None, internal_dir: str | None = None,
                 lease_seconds: float | None = None, local_cache: str | None = None,
                 cache_size: int | None = None, **storage_options: Any) -> None:
        """``url``: where the store lives (``internal_dir`` is accepted as another name for it, as
        ``set_store(kind, internal_dir=...)`` passes it); ``lease_seconds``: how long a dead machine's lease
        blocks others (default 60, or ``$DDS_LEASE_SECONDS``); ``local_cache``: a local folder that keeps copies
        of the blobs read and written (default ``$DDS_CACHE_DIR``; none without it), at most ``cache_size``
        bytes (default 10 GiB, or ``$DDS_CACHE_SIZE``); ``storage_options`` go to the fsspec file system."""
        if url is not None and internal_dir is not None and url != internal_dir:
            raise StoreError(f"The fsspec store got url={url!r} and internal_dir={internal_dir!r}; give only url.")
        url = url if url is not None else internal_dir
        fs, root = open_url(url, storage_options)
        data_root = check_apart(root, _on_same_fs(fs, data_dir, url), data_dir) if data_dir else None
        if local_cache is None and "memory" in protocols(fs):
            local_cache = ""  # $DDS_CACHE_DIR is for stores across a network, not this process's memory
        self._setup(fs, root, url, data_root, _lease_seconds(lease_seconds, url),
                    _blob_cache(local_cache, cache_size, f"{protocols(fs)[0]}://{root}", url))

    def _setup(self, fs: Any, root: str, url: str, data_root: str | None, lease_seconds: float,
               cache: BlobCache | None) -> None:
        """Every store on an fsspec file system is set up here (``DbfsStore`` opens its own file system)."""
        super().__init__(fs, root)
        self.url = url
        self.data_root = data_root
        self.lease_seconds = lease_seconds
        self.cache = cache
        self._writing = threading.local()

    def describe(self) -> str:
        return f"fsspec store at {self.url}"

    def data_path(self, path: str) -> str | None:
        """Where people find ``path`` (``data_dir/<path>``), or None without ``data_dir``."""
        return "/".join([self.data_root, *path_parts(path)]) if self.data_root else None

    # ------------------------------------------------------------------ leases
    @property
    def has_leases(self) -> bool:
        """Whether ``lock`` is a lease across machines (else a no-op, as on every store before)."""
        if self._is_local:  # O_EXCL is atomic on a disk, not on a FUSE mount of object storage (dbfs)
            return self.kind == "fsspec"
        return bool(set(protocols(self.fs)) & _ATOMIC_CREATE)

    def lock(self, sig: str) -> Any:
        """A lease on ``sig`` where the file system can create atomically; waits while another machine holds
        it, and stops waiting as soon as that machine committed the value (the caller then loads it)."""
        if not self.has_leases:
            return super().lock(sig)
        return Lease(_LeaseFiles(self), self._at("leases", check_sig(sig)), self.lease_seconds,
                     done=lambda: self._committed(sig), what=f"signature {sig[:10]} in the {self.describe()}")

    def _finished_leases(self) -> Iterator[str]:
        """Lease objects nobody holds any more (released after a failed step, or of a dead holder): a live
        lease is never listed, whatever gc's grace period."""
        if not self.has_leases:
            return
        files = _LeaseFiles(self)
        for sig in files.names(self._at("leases")):
            directory = self._at("leases", sig)
            for name in files.names(directory):
                if is_finished(files.read(f"{directory}/{name}")):
                    yield f"{directory}/{name}"

    def _committed(self, sig: str) -> bool:
        try:
            return self.read_meta(sig) is not None
        except DamagedDataError:
            return False  # the holder is rewriting it (or it needs rewriting): keep waiting for the lease

    # ------------------------------------------------------------ local cache
    def _readable_blob(self, sig: str, meta: dict) -> tuple[Any, str]:
        """With a local cache: the cached copy, verified (fetched first if missing or damaged). Without one, a
        small blob on S3 is fetched whole (one GET a file), verified, and decoded from memory."""
        if self.cache is None or _read_by_cluster(meta.get("codec")):
            fetched = self._fetched_blob(sig, meta)
            return fetched if fetched is not None else super()._readable_blob(sig, meta)
        names = [meta.get("file_name"), *meta.get("files", {})]
        if not meta.get("files") or not all(isinstance(n, str) and safe_relative(n) for n in names):
            raise DamagedDataError(self._damaged(meta.get("path"), sig, "its metadata lists no files or unsafe "
                                                 "file names"))
        remote = self.blob_dir(sig)
        local = self.cache.fetch(
            sig, meta["files"], lambda rel: self.fs.open(f"{remote}/{rel}", "rb"),
            lambda problem: DamagedDataError(self._damaged(meta.get("path"), sig, problem)),
        )
        from fsspec.implementations.local import LocalFileSystem

        return LocalFileSystem(), local

    def _fetched_blob(self, sig: str, meta: dict) -> tuple[Any, str] | None:
        """``(in-memory files, folder)`` of a small blob read through ``fs.open`` only, each file fetched with one
        GET (all at once) and checked against ``meta``; None where that does not apply (the caller then verifies
        and decodes from the store, which reads each file twice, a HEAD before each read)."""
        files = meta.get("files")
        if not self._single_get or not _reads_through_open(meta.get("codec")) or not isinstance(files, dict):
            return None
        names = [meta.get("file_name"), *files]
        if not files or not all(isinstance(n, str) and safe_relative(n) for n in names):
            return None  # verify() says what is wrong
        sizes = [want.get("size") if isinstance(want, dict) else None for want in files.values()]
        if not all(isinstance(n, int) for n in sizes) or sum(sizes) > _FETCH_MAX:
            return None
        blob = self.blob_dir(sig)
        wanted = {f"{blob}/{rel}": rel for rel in sorted(files)}
        got = self.fs.cat(list(wanted), on_error="return", **self._one_get)
        contents = {}
        for full, rel in wanted.items():
            body = got.get(full, FileNotFoundError(full))
            if isinstance(body, (FileNotFoundError, NotADirectoryError, IsADirectoryError)):
                raise DamagedDataError(self._damaged(meta.get("path"), sig, f"the file {rel} is missing"))
            if isinstance(body, BaseException):
                raise body
            have = checksums.checksum_of(io.BytesIO(body), checksums.algorithm_of(files[rel]))
            if have != files[rel]:
                raise DamagedDataError(self._damaged(meta.get("path"), sig, _mismatch(rel, have, files[rel])))
            contents[full] = body
        return inline.MemoryFiles(contents), blob

    def _file_info(self, directory: str, known: dict | None = None, small: dict | None = None) -> dict:
        """While a write fills the cache: checksum each new file as it is copied into the cache (one read); a
        small file's inline copy (``small``) is read back from the cache's copy, not from the store."""
        fill = getattr(self._writing, "fill", None)
        if self.cache is None or fill is None or known:
            return super()._file_info(directory, known, small)
        sig, prefix = fill
        info = {}
        for full in sorted(self._find(directory)):
            rel = full[len(directory) + 1 :]
            with self.fs.open(full, "rb") as f:
                info[rel] = self.cache.put(sig, prefix + rel, f)
            if small is not None and info[rel]["size"] <= self.inline_max:
                data = self.cache.read_file(sig, prefix + rel)
                if data is not None:
                    small[rel] = data  # checked against info[rel] before it is inlined (inline.field_for)
        self.cache.evict(keep=sig)
        return info

    # ------------------------------------------------------------ write protocol
    def write(self, sig: str, value: Any, meta: dict) -> dict:
        """Keep a complete, intact blob that is already committed (as the local store does)."""
        try:
            old = self.read_meta(sig)
            if old is not None and signing.trusted(sig, old):  # an untrusted one is replaced by a signed copy
                self.verify(sig, old)
                return old
        except DamagedDataError:
            pass  # damaged or half-replaced: write a fresh copy, whose metadata replaces this one
        return super().write(sig, value, meta)

    def _write_with(self, codec: Any, sig: str, value: Any, meta: dict) -> dict:
        """Every write (a value's, or a promoted copy's): fills the cache, and says what a remote fault means."""
        try:
            self._writing.read_by_cluster = capability(codec, "read_by_cluster")
            committed = super()._write_with(codec, sig, value, meta)
            if self.cache is not None and not self._writing.read_by_cluster:
                self._cache_meta(sig, committed)
            return committed
        except (OSError, CodecError) as exc:
            refused = self._refused(f"Cannot store {meta.get('path') or f'signature {sig}'}", exc)
            if refused is exc:
                raise
            raise refused from exc
        finally:
            self._writing.fill = None

    def set_ref(self, path: str, sig: str) -> None:
        try:
            super().set_ref(path, sig)
        except OSError as exc:
            refused = self._refused(f"Cannot point {path} at signature {sig[:10]}", exc)
            if refused is exc:
                raise
            raise refused from exc

    def _refused(self, what: str, exc: BaseException) -> BaseException:
        """An I/O error of a remote store (after the file system's own retries) as an error that says what to
        do; a codec's own failure, or any error on a local disk, is returned as it is (``exc`` itself)."""
        cause = exc.__cause__ if isinstance(exc, CodecError) else exc
        if self._is_local or not (isinstance(cause, OSError) or _is_transport_error(cause)):
            return exc
        unchanged = "Nothing was committed: the path still holds its previous value, if any."
        if isinstance(cause, PermissionError):
            return RemoteWriteError(
                f"{what} in the {self.describe()}: the store refused the write ({cause}). The bucket is read-only, "
                f"or these credentials may not write to it (s3:PutObject, s3:DeleteObject). {unchanged} Fix: use "
                f"credentials that may write to {self.url}, or only load from it (values already stored load)."
            )
        return RemoteWriteError(
            f"{what} in the {self.describe()}: the upload failed after retries ({type(cause).__name__}: {cause}). "
            f"{unchanged} Fix: check the network or the endpoint, and run again (the step is recomputed or its "
            f"finished upload reused)."
        )

    def _stage(self, sig: str) -> tuple[str, str]:
        name = f"w-{uuid.uuid4().hex}"
        staging = f"{self.blob_dir(sig)}/{name}"
        spark = getattr(self._writing, "read_by_cluster", False)  # Spark reads its own files, never the cache
        self._writing.fill = (sig, name + "/") if self.cache is not None and not spark else None
        if self._has_folders:
            self.fs.makedirs(staging, exist_ok=True)
        elif not self._bucket_seen:
            self._check_bucket()
        return staging, name + "/"

    _bucket_seen = False

    def _check_bucket(self) -> None:
        """Say so plainly if the bucket is missing (a typo), instead of a codec failing to write."""
        check_bucket(self.fs, self.root, f"the {self.describe()}")
        self._bucket_seen = True

    def check_reachable(self) -> None:
        """Raise a StoreError naming the URL now if the bucket cannot be seen (``dds run`` checks before
        anything runs, so a typo or missing credentials is not the failure of the first step that writes)."""
        if not (set(protocols(self.fs)) & {"file", "local", "memory"}):
            self._check_bucket()

    def _place(self, sig: str, staging: str, files: dict) -> None:
        return None  # the files already are where the metadata will point

    def _unstage(self, staging: str, committed: bool) -> None:
        if not committed:
            try:
                self._remove(staging)
            except OSError as exc:  # a read-only bucket, a dropped connection: gc removes it once it is old
                log.debug("dds: could not remove the unfinished write %s (%s)", staging, exc)

    # ------------------------------------------------------------------ primitives
    @property
    def _has_folders(self) -> bool:
        return not (set(protocols(self.fs)) & OBJECT_STORES)

    @property
    def _is_local(self) -> bool:
        return is_local(self.fs)

    def _write_small(self, path: str, data: bytes) -> None:
        self._reads.forget(path)  # what this process writes replaces what a plan held
        if not self._is_local:
            self.fs.pipe_file(path, data)  # one PUT: the object appears whole or not at all
            return
        check_inside(self.root, path)
        if self._can_rename:
            try:
                atomic.write_bytes(path, data, self._at("tmp"))
                return
            except OSError as exc:  # a FUSE mount without rename (DBFS, Unity Catalog volumes: ENOSYS)
                log.debug("dds: cannot rename into %s (%s); writing it in place", path, exc)
                if exc.errno in _NO_RENAME:
                    self._can_rename = False
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:  # object storage under FUSE uploads the file whole when it is closed
            f.write(data)

    _can_rename = True

    def _remove(self, path: str) -> None:
        self._reads.forget(path)
        self.fs.invalidate_cache()
        try:
            self.fs.rm(path, recursive=True)
        except FileNotFoundError:
            pass

    def _read_small(self, path: str) -> bytes | None:
        """A ref, metadata, lease...: read from the store, except inside ``planning()`` (each file once per plan)
        and for metadata a plan found (the run's next read of it, see ``planning``)."""
        reads = self._reads
        memo = getattr(reads.scope, "memo", None)
        if memo is not None:
            if path not in memo:
                memo[path] = data = self._fetch_small(path)
                if data is not None and path.endswith(".ref") and path.startswith(self._at("refs") + "/"):
                    reads.scope.pointed.add(data.decode("ascii", "replace").strip())
            return memo[path]
        held = reads.take(path)
        return held if held is not None else self._fetch_small(path)

    def _fetch_small(self, path: str) -> bytes | None:
        """One GET on S3 (s3fs's ``cat_file`` first asks for the size, to split big objects: a HEAD per read,
        and a HEAD plus a listing when the object does not exist)."""
        if not self._single_get:
            return super()._read_small(path)
        try:
            return self.fs.cat_file(path, **self._one_get)
        except (FileNotFoundError, NotADirectoryError):
            return None

    @contextmanager
    def planning(self) -> Iterator[None]:
        """While an eval plans (this thread only): each ref and metadata file is read once, however often the
        plan asks (a plan is one snapshot of the store; it was read up to four times per step). When it ends,
        the metadata it found is held for the run: the next read of each (the step's keep) is served from
        it, once, within ``_HELD_SECONDS``. That is safe because metadata, once committed, always describes an
        intact value of its signature; should it have been replaced or deleted meanwhile, ``read`` finds
        the files missing or different and reads the metadata again. Refs are never held: each keep reads
        its path's ref from the store, so a path another process moved is seen. Nothing absent is held."""
        reads = self._reads
        outer = getattr(reads.scope, "memo", None)
        if outer is not None:  # nested: the outer plan's snapshot
            yield
            return
        reads.scope.memo = memo = {}
        reads.scope.pointed = set()  # signatures the refs read by this plan point at
        try:
            yield
        finally:
            reads.scope.memo = None
            reads.scope.pointed = set()
            meta_dir = self._at("meta") + "/"
            reads.hold({p: data for p, data in memo.items() if data is not None and p.startswith(meta_dir)})

    @property
    def _reads(self) -> _PlannedReads:
        reads = self.__dict__.get("_planned_reads")
        if reads is None:
            reads = self.__dict__.setdefault("_planned_reads", _PlannedReads())
        return reads

    def read(self, sig: str, meta: dict | None = None) -> Any:
        """As the store's ``read``; when ``meta`` was held from a plan (or served by the local cache) and no longer
        matches the files (the value was replaced or deleted since) or no longer verifies, the metadata is read
        again from the store and that is what is read. With a local cache, the metadata of every value read is
        kept there too (what a later plan reads instead of the store's copy, see ``read_meta``)."""
        try:
            value = super().read(sig, meta)
        except (DamagedDataError, signing.UntrustedValueError):
            if meta is None or not self._reads.was_held(self.meta_file(sig)):
                raise
            fresh = self._fetch_meta(sig)
            if fresh is None or fresh == meta:
                raise
            value = super().read(sig, fresh)
            meta = fresh
        if self.cache is not None and meta is not None and not _read_by_cluster(meta.get("codec")):
            self._cache_meta(sig, meta)
        return value

    def read_meta(self, sig: str) -> dict | None:
        """As every store reads it; while a plan is made (``planning``), the metadata of a value this machine's
        local cache holds is read from the cache when a ref this plan read points at that value: committed
        metadata is never changed in place but replaced whole by one that names another intact copy of the same
        value, so a cached copy is as good as the store's for loading (the signing check still runs on it before
        a byte is decoded, and ``read`` falls back to the store's copy if it fails). Only for a value a path points
        at (which ``gc`` never deletes): a cached value the store no longer holds must be planned as missing, or
        its keep would find nothing to point the path at. Never outside a plan: ``gc`` and ``verify`` judge the
        store by its own files."""
        if self.cache is not None:
            memo = getattr(self._reads.scope, "memo", None)
            where = self.meta_file(sig)
            if memo is not None and where not in memo and sig in self._reads.scope.pointed:
                cached = self.cache.read_meta(sig)
                if cached is not None and self._usable_cached_meta(sig, where, cached):
                    memo[where] = cached
        return super().read_meta(sig)

    def _usable_cached_meta(self, sig: str, where: str, data: bytes) -> bool:
        """Whether the cached metadata ``data`` of ``sig`` parses and is that signature's (else it is dropped)."""
        try:
            meta = self._parse_meta(sig, where, data)
        except DamagedDataError:
            meta = None
        if meta is None or meta.get("signature", sig) != sig:
            self.cache.drop_meta(sig)
            return False
        return True

    def _fetch_meta(self, sig: str) -> dict | None:
        """The metadata of ``sig`` read from the store itself (never a plan's or the cache's copy)."""
        where = self.meta_file(sig)
        self._reads.forget(where)
        data = self._fetch_small(where)
        return None if data is None else self._parse_meta(sig, where, data)

    def _cache_meta(self, sig: str, meta: dict) -> None:
        """Keep committed metadata in the local cache, next to the blob's copy (evicted with it)."""
        if META_NAME in (meta.get("files") or {}):  # a file of the value itself has that name: not kept
            return
        try:
            self.cache.put_meta(sig, json.dumps(meta, indent=1, sort_keys=True).encode("utf-8"))
        except OSError as exc:  # a full or read-only cache disk costs requests, never the value
            log.debug("dds: cache: could not keep the metadata of %s (%s)", sig[:10], exc)

    @property
    def _single_get(self) -> bool:
        """Whether the file system reads a whole object with one GET when asked (s3fs)."""
        return bool(set(protocols(self.fs)) & _ATOMIC_CREATE)

    @property
    def _one_get(self) -> dict:
        """``cat`` options for one GET per object: s3fs since early 2026 splits an object into ranges (after a HEAD
        for its size) unless ``max_concurrency=1``; earlier versions read with one GET and refuse the option."""
        return _one_get_options(type(self.fs))

    def _find(self, directory: str) -> list[str]:
        self.fs.invalidate_cache()  # listings must see other processes' writes
        if directory == self._at("meta"):  # gc and verify list every value first: what they read is the store's
            self._reads.drop()
        if self._single_get:
            return self._list_below(directory)
        return super()._find(directory)

    def _list_below(self, directory: str) -> list[str]:
        """Every object below ``directory`` on S3 in one listing of its key prefix (``fs.find(directory)`` of an
        empty folder also asks whether the folder is an object, and lists its parent: three requests)."""
        parent, _, name = directory.rstrip("/").rpartition("/")
        if not parent:  # the bucket itself
            return super()._find(directory)
        try:
            return self.fs.find(parent, prefix=name + "/", withdirs=False)
        except FileNotFoundError:
            return []

    def iter_blob_dirs(self) -> Iterator[str]:
        self.fs.invalidate_cache()
        return super().iter_blob_dirs()

    def entry_usage(self, where: str) -> tuple[int, float | None]:
        self.fs.invalidate_cache()
        return super().entry_usage(where)

    def iter_temp(self) -> Iterator[str]:
        """Temporaries, plus the writer folders of committed blobs that their metadata does not name.

        Those are left by a concurrent writer of the same signature or by a repaired blob; ``gc`` removes them
        once they are older than its grace period (a younger one may be a write in progress).
        """
        yield from super().iter_temp()
        yield from self._finished_leases()
        for sig in self.iter_blob_sigs():
            try:
                meta = self.read_meta(sig)
            except DamagedDataError:
                continue  # ``verify`` reports it
            if meta is None:
                continue
            named = {name.split("/", 1)[0] for name in [meta["file_name"], *meta["files"]]}
            try:
                entries = self.fs.ls(self.blob_dir(sig), detail=False)
            except FileNotFoundError:
                continue
            for entry in sorted(entries):
                name = entry.rstrip("/").rsplit("/", 1)[-1]
                if name not in named:
                    yield self._at("blobs", sig, name)

    # ------------------------------------------------------------ view for people
    def _publish(self, path: str, sig: str, meta: dict) -> None:
        """Copy the value to ``data_dir/<path>``: object stores and FUSE mounts have no links.

        The copy is refreshed in place (remove, then copy), so a reader may briefly miss it; dds itself
        never reads it, the refs are the truth.
        """
        final = self.data_path(path)
        if final is None:
            return
        if self._is_local:
                check_inside(self.data_root, final)
        self.fs.invalidate_cache()
        if self.fs.isdir(final) and self.get_ref(path) is None:
            raise StoreError(
                f"Cannot store {path}: {final} is a folder holding other data, so a copy of {path} cannot be "
                f"written there. Store {path} under another name, or remove {final}."
            )
        source = f"{self.blob_dir(sig)}/{meta['file_name']}"
        self._remove(final)
        if self._has_folders:
            self.fs.makedirs(final.rsplit("/", 1)[0], exist_ok=True)
        if self.fs.isdir(source):
            self.fs.copy(source, final, recursive=True)
        else:
            self.fs.copy(source, final)


def _read_by_cluster(codec_name: Any) -> bool:
    """Whether the codec of a stored value reads its files from every machine of a cluster (Spark): such
    values are never read through the local cache."""
    try:
        return capability(codec_named(codec_name), "read_by_cluster")
    except CodecError:  # an unknown codec: reading it fails with the store's own message
        return False


_FETCH_MAX = 32 * 2**20


# How long metadata a plan found serves the run (one read each). Well below gc's grace period (an hour): a writer
# folder newer than a held metadata is younger than that, so no gc deletes it for being unnamed by it.
_HELD_SECONDS = 600.0


class _PlannedReads:
    """What ``FsspecStore.planning`` remembers: the plan's own reads (per thread), and the metadata it found."""

    def __init__(self) -> None:
        self.scope = threading.local()
        self._lock = threading.Lock()
        self._held: dict[str, tuple[bytes, float]] = {}  # path -> (bytes, when held)
        self._served: dict[str, float] = {}  # path -> when a held copy of it was last served

    def hold(self, found: dict[str, bytes]) -> None:
        """Serve each of ``found`` (path -> bytes) to the next read of it, within _HELD_SECONDS."""
        now = time.monotonic()
        with self._lock:
            self._held = {p: v for p, v in self._held.items() if now - v[1] < _HELD_SECONDS}
            self._held.update((p, (data, now)) for p, data in found.items())
            self._served = {p: t for p, t in self._served.items() if now - t < _HELD_SECONDS and p not in found}

    def take(self, path: str) -> bytes | None:
        if not self._held:  # the common case, without a lock
            return None
        with self._lock:
            entry = self._held.pop(path, None)
            if entry is None or time.monotonic() - entry[1] >= _HELD_SECONDS:
                return None
            self._served[path] = time.monotonic()
            return entry[0]

    def forget(self, path: str) -> None:
        """``path`` (a file, or a folder and all below it) was written or removed here: serve nothing held of it."""
        if self._held:
            with self._lock:
                for held in [p for p in self._held if p == path or p.startswith(path + "/")]:
                    del self._held[held]

    def drop(self) -> None:
        if self._held:
            with self._lock:
                self._held.clear()

    def was_held(self, path: str) -> bool:
        with self._lock:
            return path in self._served


@functools.lru_cache(maxsize=None)
def _one_get_options(fs_type: type) -> dict:
    try:
        parameters = inspect.signature(fs_type._cat_file).parameters
    except (AttributeError, TypeError, ValueError):
        return {}
    return {"max_concurrency": 1} if "max_concurrency" in parameters else {}


def _blob_cache(directory: str | None, size: int | None, key: str, url: str) -> BlobCache | None:
    directory = (directory if directory is not None else os.environ.get("DDS_CACHE_DIR")) or None
    raw = size if size is not None else os.environ.get("DDS_CACHE_SIZE", DEFAULT_BYTES)
    try:
        max_bytes = int(raw)
    except (TypeError, ValueError):
        max_bytes = -1
    if max_bytes < 0 or isinstance(raw, bool):
        raise StoreError(
            f"The fsspec store at {url!r} got cache_size={raw!r}: it must be a number of bytes (0 or more). "
            f"Fix: cache_size=10 * 2**30, or unset DDS_CACHE_SIZE."
        )
    if directory is None:
        return None
    directory = os.fspath(directory)
    if "://" in directory and not directory.startswith("file://"):
        raise StoreError(
            f"The fsspec store at {url!r} got local_cache={directory!r}: the cache must be a folder on this "
            f"machine. Fix: local_cache='~/.cache/dds' (or DDS_CACHE_DIR=~/.cache/dds)."
        )
    return BlobCache(directory.removeprefix("file://"), max_bytes, key)


def _is_transport_error(exc: BaseException | None) -> bool:
    """A connection dropped or timed out, as the S3 client libraries raise it (not OSError subclasses)."""
    import sys

    kinds = []
    botocore = sys.modules.get("botocore.exceptions")
    if botocore is not None:
        kinds.append(botocore.HTTPClientError)  # ConnectionClosedError, EndpointConnectionError, ReadTimeoutError
    aiohttp = sys.modules.get("aiohttp")
    if aiohttp is not None:
        kinds.append(aiohttp.ClientError)
    return exc is not None and bool(kinds) and isinstance(exc, tuple(kinds))


class _LeaseFiles:
    """The operations a lease needs, on the store's file system (see ``lease.LeaseFiles``)."""

    def __init__(self, store: FsspecStore) -> None:
        self.store, self.fs = store, store.fs

    def create(self, path: str, data: bytes) -> bool:
        try:
            if self.store._is_local:
                os.makedirs(os.path.dirname(path), exist_ok=True)
                with open(path, "xb") as f:  # O_EXCL: atomic on local disks and NFS v3+
                    f.write(data)
            else:
                self.fs.pipe_file(path, data, mode="create")  # s3fs: PUT with If-None-Match: *
        except FileExistsError:
            return False
        return True

    def replace(self, path: str, data: bytes) -> None:
        self.store._write_small(path, data)

    def read(self, path: str) -> bytes | None:
        return self.store._read_small(path)

    def names(self, directory: str) -> list[str]:
        self.fs.invalidate_cache(directory)
        if self.store._single_get:  # one listing (``ls`` of an empty folder lists its parent too)
            below = self.store._list_below(directory)
            return sorted({p[len(directory) + 1 :].split("/", 1)[0] for p in below if p.startswith(directory + "/")})
        try:
            return [p.rstrip("/").rsplit("/", 1)[-1] for p in self.fs.ls(directory, detail=False)]
        except FileNotFoundError:
            return []

    def remove(self, path: str) -> None:
        try:
            self.fs.rm_file(path)
        except FileNotFoundError:
            pass


def _lease_seconds(given: float | None, url: str) -> float:
    raw = given if given is not None else os.environ.get("DDS_LEASE_SECONDS", DEFAULT_SECONDS)
    try:
        seconds = float(raw)
    except (TypeError, ValueError):
        seconds = -1.0
    if not seconds > 0:
        raise StoreError(
            f"The fsspec store at {url!r} got lease_seconds={raw!r}: it must be a number of seconds above 0 "
            f"(how long a crashed machine's lease blocks the others). Fix: lease_seconds=60, or unset "
            f"DDS_LEASE_SECONDS."
        )
    return seconds


def open_url(url: str, storage_options: dict) -> tuple[Any, str]:
    """``fsspec.core.url_to_fs`` with errors that say what to install or fix."""
    import fsspec
    from fsspec.core import url_to_fs

    if not isinstance(url, str) or not url:
        raise StoreError(
            f"The fsspec store needs url='s3://bucket/prefix' (or file:///abs/dir, memory://name), not {url!r}."
        )
    scheme = url.split("://", 1)[0] if "://" in url else "file"
    if scheme not in fsspec.available_protocols():
        raise StoreError(
            f"Cannot open the fsspec store at {url!r}: fsspec knows no protocol {scheme!r}. "
            f"Use a URL such as s3://bucket/prefix, file:///abs/dir or memory://name."
        )
    try:
        fs, root = url_to_fs(url, **storage_options)
    except ImportError as exc:
        package = _INSTALL.get(scheme, f"the fsspec implementation of {scheme}://")
        raise StoreError(
            f"Cannot open the fsspec store at {url!r}: {exc}. Fix: pip install {package}"
            + (" (or pip install 'dds[s3]')." if package == "s3fs" else ".")
        ) from None
    except (TypeError, ValueError) as exc:
        raise StoreError(
            f"Cannot open the fsspec store at {url!r} with the storage options {sorted(storage_options)}: {exc}."
        ) from None
    root = root.rstrip("/")
    if not root.strip("/") and set(protocols(fs)) & OBJECT_STORES:
        raise StoreError(f"The fsspec store URL {url!r} names no bucket. Use {scheme}://bucket/prefix.")
    return fs, root or "/"


def _on_same_fs(fs: Any, where: str, url: str) -> str:
    if "://" in where and where.split("://", 1)[0] not in protocols(fs):
        raise StoreError(
            f"data_dir {where!r} must be on the same file system as the store {url!r} (it is copied there)."
        )
    return fs._strip_protocol(where).rstrip("/")


def check_apart(root: str, data_root: str, given: str) -> str:
    """The copies for people must never land on the store's own files (or the store inside the copies)."""
    inside = [f"{root}/{name}" for name in ("blobs", "meta", "refs", "tmp", "leases")]
    if data_root == root or root.startswith(data_root.rstrip("/") + "/") or any(
        data_root == d or data_root.startswith(d + "/") for d in inside
    ):
        raise StoreError(
            f"data_dir {given!r} overlaps the store's own files at {root}: a value's copy could overwrite them. "
            f"Use a folder beside it, or {root}/data."
        )
    return data_root


def check_bucket(fs: Any, root: str, where: str) -> None:
    """Raise a StoreError naming ``where`` if the bucket of ``root`` cannot be seen; errors of the file system
    itself (credentials, endpoint, network) are reported as such."""
    bucket = root.strip("/").split("/", 1)[0]
    try:
        fs.invalidate_cache()
        exists = fs.exists(bucket)
    except Exception as exc:  # noqa: BLE001 - credentials, endpoint, network: the file system's error says which
        raise StoreError(
            f"Cannot use {where}: {type(exc).__name__}: {exc}. Fix: check the URL, the credentials "
            "(AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or AWS_PROFILE) and, for an S3-compatible server, "
            "AWS_ENDPOINT_URL_S3."
        ) from None
    if not exists:
        raise StoreError(
            f"Cannot use {where}: the bucket {bucket!r} does not exist, or these credentials cannot see it. "
            "Fix: create the bucket, or correct the URL or the credentials (storage options)."
        )
