"""The ``local`` store: a directory on the OS file system (default ``./.dds``).

Same logic as every store (``FsStore``); what is specific here is durability and atomicity with plain OS
calls (``os.rename``/``os.replace`` inside one file system, a file complete before its rename; durable by an fsync
per file or, by default, one sync per batch of writes: ``atomic.SyncBatch``), and
the view for people: ``data_dir/<path>`` is a symlink to the blob's file, or a copy where symlinks are
impossible, swapped in atomically.
"""

from __future__ import annotations

import io
import os
import shlex
import shutil
import stat
import time
import uuid
from typing import Any, Iterator
from urllib.parse import unquote

from ..codecs import capability, codec_named
from ..errors import CodecError, DamagedDataError, StoreError
from ..paths import path_parts
from . import atomic, checksums, sig_lock, signing
from .fs_store import FsStore
from .layout import check_inside, check_sig, is_sig
from .sigset import SigSet


class LocalStore(FsStore):
    kind = "local"
    delete_workers = 8  # gc: unlinks wait on the disk (1-2 ms each with online discard), 8 at once ~10x faster

    def __init__(self, internal_dir: str | os.PathLike | None = None, data_dir: str | os.PathLike | None = None,
                 sync: str = "batch"):
        """``sync``: ``"batch"`` (default): a keep after a quiet second is synced file by file before it
        returns, the keeps that follow within that second are synced together (``atomic.SyncBatch``: a
        second later, and at exit); ``"each"`` fsyncs every file and folder before every keep returns.
        Both leave the old value or the new one after a kill."""
        root = os.path.abspath(os.path.expanduser(os.fspath(internal_dir or os.path.join(".", ".dds"))))
        if sync not in ("batch", "each"):
            raise StoreError(f"The local store at {root}: sync is 'batch' or 'each', not {sync!r}. "
                             f"Fix: dds.set_store('local', internal_dir={root!r}, sync='batch').")
        super().__init__(_local_fs(), root)
        self.data_root = (
            os.path.abspath(os.path.expanduser(os.fspath(data_dir))) if data_dir else os.path.join(root, "data")
        )
        self._ref_file_of: dict[str, str] = {}  # store path -> its ref file
        self._refs_read: dict[str, tuple[tuple[int, int, int, int], str | None]] = {}  # ref file -> (stat, sig)
        self._metas_read: dict[str, tuple[tuple[int, int, int, int], bytes]] = {}  # meta file -> (stat, bytes)
        self._data_path_of: dict[str, str] = {}  # store path -> its view (data_root is fixed)
        self._blobs_from: dict[str, str] = {}  # folder of views -> the blobs folder relative to it
        self.sync_mode = sync
        self._batch = atomic.SyncBatch(root) if sync == "batch" else None
        self._now = self._batch is None  # the current keep syncs each file itself (see write)
        self._dirs = atomic.KnownDirs()  # folders this store made or found: no makedirs per write
        self._real: dict[str, str] = {}  # data_root or root -> its realpath (fixed for the store's life)
        self._same_device: dict[str, bool] = {}  # folder -> whether tmp/ is on its file system
        self._written: dict[str, tuple[float, dict]] = {}  # sig -> (when, metadata) a write just committed (set_ref)

    def describe(self) -> str:
        return f"local store at {self.root}"

    def get_ref(self, path: str) -> str | None:
        """Read the ref only when its file changed since the last read (refs are replaced by rename, so a new
        content is a new inode): a warm ``keep`` costs one ``stat`` here instead of an open and a read; a
        first read is an open, an ``fstat`` of the file read and a read."""
        where = self._ref_file_of.get(path)
        if where is None:
            where = self._ref_file_of[path] = self.ref_file(path)
        known = self._refs_read.get(where)
        if known is not None:
            try:
                st = os.stat(where)
            except (FileNotFoundError, NotADirectoryError):
                return None
            if known[0] == _stamp(st):
                return known[1]
        read = _read_with_stamp(where)
        if read is None:
            return None
        sig = self._parse_ref(path, where, read[1])
        self._refs_read[where] = (_stamp(read[0]), sig)
        return sig

    def read_meta(self, sig: str) -> dict | None:
        """As every store reads it; the bytes of a metadata file written more than ``_RACY_NS`` before it was
        read are kept, and a later read whose ``stat`` finds the same file (inode, size, times) parses them
        again instead of opening the file (metadata is replaced by rename, never rewritten in place by dds; a
        file changed within the same clock tick as its read is never kept). ``eval`` reads each step's
        metadata in its plan and again in its keep."""
        where = self.meta_file(sig)
        known = self._metas_read.get(where)
        if known is not None:
            try:
                st = os.stat(where)
            except (FileNotFoundError, NotADirectoryError):
                return None
            if known[0] == _stamp(st):
                return self._parse_meta(sig, where, known[1])
        read = _read_with_stamp(where)
        if read is None:
            return None
        st, data = read
        if st.st_mtime_ns < time.time_ns() - _RACY_NS and st.st_ctime_ns < time.time_ns() - _RACY_NS:
            if len(self._metas_read) >= _METAS_KEPT:
                self._metas_read.clear()
            self._metas_read[where] = (_stamp(st), data)
        return self._parse_meta(sig, where, data)

    def read(self, sig: str, meta: dict | None = None) -> Any:
        """As every store reads; a small one-file value of a codec that only opens its file (its
        ``reads_through_open``) is read from the disk once: checksummed and decoded from the same bytes."""
        if meta is None:
            return super().read(sig, meta)
        files = meta.get("files")
        name = meta.get("file_name")
        entry = files.get(name) if isinstance(files, dict) and len(files) == 1 else None
        size = entry.get("size") if isinstance(entry, dict) else None
        codec = _codec_reading_by_open(meta.get("codec"))
        if codec is None or not isinstance(size, int) or size > _READ_ONCE or not isinstance(name, str):
            return super().read(sig, meta)
        signing.check(sig, meta, self)  # with a signing key: refuse an unsigned or foreign value, unread
        self.check_listed_files(sig, meta)
        where = f"{self.blob_dir(sig)}/{name}"
        try:
            with open(where, "rb", buffering=0) as f:
                data = f.readall() if os.fstat(f.fileno()).st_size <= _READ_ONCE else None
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            raise DamagedDataError(self._damaged(meta.get("path"), sig, f"the file {name} is missing")) from None
        if data is None:  # grown past what its metadata says: damaged, which the generic path reports
            return super().read(sig, meta)
        self.check_file(sig, meta, name, checksums.checksum_of_bytes(data, checksums.algorithm_of(entry)))
        try:
            return codec.read(_OneFile(where, data), where)  # the very bytes just verified
        except Exception as exc:
            raise CodecError(
                f"Cannot load {meta.get('path') or f'signature {sig}'}: codec {codec.name!r} failed to decode it "
                f"({type(exc).__name__}: {exc}). Re-run the function to recompute it."
            ) from exc

    def write(self, sig: str, value: Any, meta: dict) -> dict:
        # after a quiet spell, this keep (its blob, metadata and then its ref) is made durable file by file
        # before it returns, exactly as with sync="each"; keeps that follow it soon after join a batch
        self._now = self._batch is None or self._batch.quiet()
        try:
            full = super().write(sig, value, meta)
        finally:
            self._maybe_sync()
        if len(self._written) >= 8:  # a write without its set_ref (an error between them): forget it
            self._written.clear()
        self._written[sig] = (time.monotonic(), full)
        return full

    def set_ref(self, path: str, sig: str) -> None:
        """As every store; the metadata a ``write`` of this process just committed is not read back."""
        try:
            written = self._written.pop(sig, None)
            fresh = written is not None and time.monotonic() - written[0] < 5  # the keep's own write, just now
            self._set_ref(path, sig, written[1] if fresh else None)
        finally:
            if self._now and self._batch is not None:
                self._batch.synced()
            self._now = self._batch is None
            self._maybe_sync()

    def flush(self) -> None:
        """Make every write of this store durable now (with ``sync="batch"``, else they already are)."""
        if self._batch is not None:
            self._batch.sync()

    def _maybe_sync(self) -> None:
        if self._batch is not None and not self._now:
            self._batch.maybe_sync()

    def _batched(self) -> atomic.SyncBatch | None:
        """The batch a write joins; None: make it durable now."""
        return None if self._now else self._batch

    def _durable_dir(self, directory: str) -> None:
        """A rename in ``directory`` must reach the disk: now, or with the batch."""
        batch = self._batched()
        if batch is None:
            atomic.fsync_dir(directory)
        else:
            batch.note(directory)

    def lock(self, sig: str) -> Any:
        """A lock per signature, released by the OS if the holder is killed: one byte of the store's lock file
        (``sig_lock``: POSIX record locks, no file per signature); a ``filelock`` per signature on Windows."""
        check_sig(sig)
        if sig_lock.available():
            return sig_lock.SignatureLock(self._at("locks"), sig)
        from filelock import FileLock

        directory = self._at("locks")
        os.makedirs(directory, exist_ok=True)
        return FileLock(os.path.join(directory, f"{sig}.lock"))

    def data_path(self, path: str) -> str:
        """Where people find ``path``: ``data_dir/<path>``."""
        where = self._data_path_of.get(path)
        if where is None:
            where = self._data_path_of[path] = os.path.join(self.data_root, *path_parts(path))
        return where

    # ------------------------------------------------------------------ primitives
    def _make_temp_dir(self) -> str:
        tmp_root = self._at("tmp")
        tmp = atomic.fresh_name(tmp_root, "b-")
        self._dirs.run(lambda: os.mkdir(tmp), tmp_root)
        return tmp

    def _remove(self, path: str) -> None:
        atomic.remove(path)

    def _sync_tree(self, path: str) -> None:
        if self._batched() is None:  # else the tree is noted where it lands (_move_dir, _swap_dir)
            atomic.fsync_tree(path)

    def _write_watcher(self, staging: str, appends_only: bool) -> atomic.Follower:
        return atomic.Follower(staging, checksums.DEFAULT if appends_only else None)

    def _move_dir(self, src: str, dst: str) -> bool:
        parent = os.path.dirname(dst)
        try:
            self._dirs.run(lambda: os.rename(src, dst), parent)  # atomic; refuses to replace a non-empty directory
        except OSError:
            if os.path.exists(dst):
                return False
            raise
        if self._batched() is not None:
            self._batched().note(dst, tree=True)
        self._durable_dir(parent)
        return True

    def _swap_dir(self, src: str, dst: str) -> None:
        aside = atomic.temp_name(self._at("tmp"), "old-")
        os.rename(dst, aside)
        os.rename(src, dst)
        if self._batched() is not None:
            self._batched().note(dst, tree=True)
        self._durable_dir(os.path.dirname(dst))
        atomic.remove(aside)

    def _write_small(self, path: str, data: bytes) -> None:
        self._check_inside(self.root, path)
        atomic.write_bytes(path, data, self._at("tmp"), self._batched(), self._dirs)

    def _check_inside(self, root: str, path: str) -> None:
        """``layout.check_inside(root, path)``, with its two ``realpath``s only where they can matter: if no
        folder between ``root`` and ``path`` is a symlink (an ``lstat`` each, up to the first that does not
        exist yet), ``path`` resolves inside ``root``, whatever ``root`` itself resolves to."""
        if not path.startswith(root + "/"):
            check_inside(root, path)
            return
        probe = root
        for part in path[len(root) + 1 :].split("/")[:-1]:
            probe = f"{probe}/{part}"
            try:
                mode = os.lstat(probe).st_mode
            except (FileNotFoundError, NotADirectoryError):
                return  # nothing below exists: the folders made there are real ones
            if not stat.S_ISDIR(mode):  # a symlink (or a file in the way): the full check decides
                check_inside(root, path)
                return

    def _find(self, directory: str) -> list[str]:
        """Every file below ``directory`` (``/``-joined, sorted), as fsspec's ``find`` lists them: ``os.walk``
        without fsspec's per-entry ``info`` dictionaries (a keep lists its staging folder and its group)."""
        found = []
        for dirpath, _dirs, names in os.walk(directory):
            found.extend(f"{dirpath}/{name}" for name in names)
        found.sort()
        return found

    def _realpath(self, where: str) -> str:
        real = self._real.get(where)
        if real is None:
            real = self._real[where] = os.path.realpath(where)
        return real

    def _read_small(self, path: str) -> bytes | None:
        try:  # plain os I/O: refs and metadata are read on every keep, fsspec's wrapping costs more
            with open(path, "rb") as f:
                return f.read()
        except (FileNotFoundError, NotADirectoryError):
            return None

    def _checksum(self, path: str, algorithm: str = checksums.DEFAULT) -> dict:
        with open(path, "rb", buffering=0) as f:  # plain os I/O: fsspec's wrapping costs more
            if os.fstat(f.fileno()).st_size > _READ_ONCE:
                return checksums.checksum_of(f, algorithm)
            return checksums.checksum_of_bytes(f.readall(), algorithm)  # small: no 1 MiB buffer

    def refresh_view(self, path: str, sig: str, meta: dict | None = None) -> None:
        final = self.data_path(path)
        if meta is None:
            try:
                meta = self.read_meta(sig)
            except DamagedDataError:
                return  # verify reports it; the view cannot follow a damaged value
            if meta is None:
                return
        try:  # the usual case, one readlink: the link holds exactly the text _publish writes for this value
            if os.readlink(final) == self._link_text(final, sig, meta["file_name"]):
                return
        except OSError:  # not a link (a copy, or nothing yet): the checks below tell which
            pass
        target = os.path.join(self.blob_dir(sig), meta["file_name"])
        try:
            mode = os.lstat(final).st_mode
        except (FileNotFoundError, NotADirectoryError):
            mode = None
        if mode is not None and not stat.S_ISLNK(mode):
            return  # a copy (no symlinks here): not checked
        if mode is not None and _same_file(final, target):
            return
        self._publish(path, sig, meta)

    def _link_text(self, final: str, sig: str, file_name: str) -> str:
        """The text of the link ``_publish`` makes at ``final`` for ``sig``'s file, which ``refresh_view``
        compares with a readlink: the blob's path relative to the link's folder, between the real folders (no
        link below data_dir, none made by dds below the root, so only the two roots need a realpath)."""
        parent = os.path.dirname(final)
        prefix = self._blobs_from.get(parent)
        if prefix is None:
            real_parent = self._realpath(self.data_root) + parent[len(self.data_root):]
            prefix = os.path.relpath(self._realpath(self.root) + "/blobs", real_parent)
            if len(self._blobs_from) < 10_000:
                self._blobs_from[parent] = prefix
        return f"{prefix}/{sig}/{file_name}"

    # ------------------------------------------------- maintenance, streamed with os.scandir
    # A store of a million values is walked one directory entry at a time: no listing is held whole (a
    # signature listing is kept sorted in a SigSet, ~28 bytes a value), and refs are read without filling
    # get_ref's per-path cache.
    def iter_blob_sigs(self) -> Iterator[str]:
        yield from SigSet(n[:-5] for n in _names(self._at("meta")) if n.endswith(".json") and is_sig(n[:-5]))

    def iter_blob_dirs(self) -> Iterator[str]:
        yield from SigSet(n for n in _names(self._at("blobs")) if is_sig(n))

    def iter_temp(self) -> Iterator[str]:
        yield from sorted(os.path.join(self._at("tmp"), n) for n in _names(self._at("tmp")))

    def _ref_files(self) -> Iterator[tuple[str, str]]:
        """Walks ``refs/`` folder by folder, each sorted the way its store paths sort (a group ``g`` as
        ``"g/"``), so refs come in path order while only one folder's names are held at a time."""
        yield from self._refs_below(self._at("refs"), "")

    def _refs_below(self, directory: str, prefix: str) -> Iterator[tuple[str, str]]:
        entries = []
        try:
            with os.scandir(directory) as listing:
                for entry in listing:
                    if entry.is_dir(follow_symlinks=False):
                        entries.append((unquote(entry.name) + "/", entry.name, True))
                    elif entry.name.endswith(".ref"):
                        entries.append((entry.name[: -len(".ref")], entry.name, False))
        except (FileNotFoundError, NotADirectoryError):
            return
        entries.sort()
        for key, name, is_dir in entries:
            full = os.path.join(directory, name)
            if is_dir:
                yield from self._refs_below(full, prefix + "/" + key[:-1])
                continue
            path = prefix + "/" + key
            try:
                if self.ref_file(path) != full:  # not a name dds writes: ignore it
                    continue
            except Exception:  # noqa: BLE001 - an invalid path: not ours either
                continue
            yield path, full

    def entry_usage(self, where: str) -> tuple[int, float | None]:
        """Plain ``lstat``s. A symlink is measured itself, never its target: a temporary link left by a crash
        whose blob ``gc`` has just deleted is still an old temporary (following it would say "unknown age":
        kept forever)."""
        try:
            info = os.lstat(where)
        except FileNotFoundError:
            return 0, None
        if not stat.S_ISDIR(info.st_mode):
            return info.st_size, info.st_mtime
        try:
            size, newest = _tree_usage(where)
        except (FileNotFoundError, NotADirectoryError):  # renamed or removed while listed (a keep publishing it)
            return 0, None
        return size, max(newest, info.st_mtime)

    def _delete_hint(self, sig: str) -> str:
        return f"delete it with `rm -r {shlex.quote(self.blob_dir(sig))} {shlex.quote(self.meta_file(sig))}`"

    # ------------------------------------------------------------ view for people
    def _publish(self, path: str, sig: str, meta: dict) -> None:
        final = self.data_path(path)
        parent = os.path.dirname(final)
        # no folder between data_dir and the value's folder is a link (refused otherwise), so nothing written
        # there lands outside data_dir: what layout.check_inside would check with two realpaths
        _refuse_folder_links(self.data_root, parent, path)
        try:
            mode: int | None = os.lstat(final).st_mode
        except (FileNotFoundError, NotADirectoryError):
            mode = None
        if mode is not None and stat.S_ISDIR(mode) and self.get_ref(path) is None:
            raise StoreError(
                f"Cannot store {path}: {final} is a directory (holding other data, e.g. from a path below "
                f"{path}), so {path} cannot be written there. Store {path} under another name, or remove {final}."
            )
        try:
            self._dirs.ensure(parent)
        except (FileExistsError, NotADirectoryError):
            raise StoreError(
                f"Cannot store {path}: a file in the way of the directory {parent} exists (another path holds a "
                f"value where {path} needs a group). Store {path} under another name."
            ) from None
        target = os.path.join(self.blob_dir(sig), meta["file_name"])
        link = self._link_text(final, sig, meta["file_name"])
        if mode is None:  # nothing there yet: the link is made in place (creating a name is atomic)
            try:
                self._dirs.run(lambda: os.symlink(link, final), parent)
            except FileExistsError:  # another writer was faster: replace its link as below
                pass
            except OSError:  # no symlinks here: the copy below
                pass
            else:
                self._durable_dir(parent)
                return
        tmp = self._temp_near(parent)
        try:
            try:
                os.symlink(link, tmp)
            except OSError:  # no symlinks here (some Windows setups, FAT, some network shares): copy
                if os.path.isdir(target):
                    shutil.copytree(target, tmp)
                else:
                    shutil.copyfile(target, tmp)
            _swap_in(tmp, final)
        except BaseException:
            atomic.remove(tmp)
            raise
        self._durable_dir(parent)

    def _temp_near(self, directory: str) -> str:
        """A temporary name from which ``os.replace`` into ``directory`` is atomic (same file system)."""
        tmp_root = self._at("tmp")
        self._dirs.ensure(tmp_root)
        same_device = self._same_device.get(directory)
        if same_device is None:
            same_device = self._same_device[directory] = os.stat(tmp_root).st_dev == os.stat(directory).st_dev
        return atomic.fresh_name(tmp_root if same_device else directory, "l-")


def _local_fs() -> Any:
    """The local file system codecs write and read blobs through: fsspec's, whose ``open`` of a plain path for
    ``"rb"``/``"wb"`` (what the built-in codecs ask) is Python's own ``open``, without fsspec's wrapping
    (path normalisation and a file object of its own, about as much Python as the rest of a small write)."""
    global _LocalFS
    if _LocalFS is None:
        from fsspec.implementations.local import LocalFileSystem

        class LocalFS(LocalFileSystem):
            def open(self, path: Any, mode: str = "rb", block_size: Any = None, cache_options: Any = None,
                     compression: Any = None, **kwargs: Any) -> Any:
                if (mode in ("rb", "wb") and isinstance(path, str) and path.startswith("/") and not kwargs
                        and block_size is None and cache_options is None and compression is None):
                    return open(path, mode)  # noqa: SIM115 - the caller closes it, as fsspec's
                return super().open(path, mode, block_size, cache_options, compression, **kwargs)

        _LocalFS = LocalFS
    return _LocalFS()


_LocalFS: Any = None


def _names(directory: str) -> Iterator[str]:
    """The names in ``directory``, as the OS lists them (none if it does not exist)."""
    try:
        with os.scandir(directory) as listing:
            for entry in listing:
                yield entry.name
    except (FileNotFoundError, NotADirectoryError):
        return


def _tree_usage(directory: str) -> tuple[int, float]:
    """``(bytes of the files, newest modification time of any entry)`` below ``directory``."""
    size, newest = 0, 0.0
    with os.scandir(directory) as listing:
        for entry in listing:
            info = entry.stat(follow_symlinks=False)
            newest = max(newest, info.st_mtime)
            if stat.S_ISDIR(info.st_mode):
                below, when = _tree_usage(entry.path)
                size, newest = size + below, max(newest, when)
            else:
                size += info.st_size
    return size, newest


def _swap_in(tmp: str, final: str) -> None:
    """``os.replace(tmp, final)``, also when one of them is a real directory (a copied directory blob)."""
    if os.path.isdir(final) and not os.path.islink(final):
        aside = os.path.join(os.path.dirname(final), f".dds-old-{uuid.uuid4().hex}")
        os.rename(final, aside)
        os.rename(tmp, final)
        atomic.remove(aside)
    elif os.path.isdir(tmp) and os.path.lexists(final):
        os.remove(final)
        os.rename(tmp, final)
    else:
        os.replace(tmp, final)


def _refuse_folder_links(root: str, directory: str, path: str) -> None:
    """Refuse a symlink among the folders between ``root`` (data_dir) and ``directory``.

    dds only ever makes the last name of a path a link (the view of a value), never a folder: a linked folder
    was made by someone else, and writing through it puts files wherever it points, outside data_dir or over
    another path's view.
    """
    rel = os.path.relpath(directory, root)
    probe = root
    for part in [] if rel == os.curdir else rel.split(os.sep):
        probe = os.path.join(probe, part)
        if os.path.islink(probe):
            raise StoreError(
                f"Refusing to store {path}: {probe} is a symbolic link (to {os.readlink(probe)}) that dds did not "
                f"create, and writing through it would put files wherever it points instead of under {root}. "
                f"Fix: replace the link with a real folder, or keep {path} under another name."
            )
        if not os.path.lexists(probe):
            return


def _stamp(st: os.stat_result) -> tuple[int, int, int, int]:
    return st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns


def _read_with_stamp(where: str) -> tuple[os.stat_result, bytes] | None:
    """``(fstat, bytes)`` of the small file ``where`` (the stat of the very file read: a rename may replace
    the name meanwhile); None when there is none. One open, one fstat, one read."""
    try:
        fd = os.open(where, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    except (FileNotFoundError, NotADirectoryError):
        return None
    try:
        st = os.fstat(fd)
        chunks = []
        while chunk := os.read(fd, max(st.st_size + 1, 4096)):
            chunks.append(chunk)
    finally:
        os.close(fd)
    return st, b"".join(chunks)


_RACY_NS = 2_000_000_000  # a file's times are trusted to tell its versions apart once it is this old
_METAS_KEPT = 20_000  # metadata files whose bytes a process keeps (about 1.5 KB each)


#: A file of at most this many bytes is read whole: checksummed (and for ``read``, decoded) from one buffer.
_READ_ONCE = 1 << 20


def _codec_reading_by_open(name: Any) -> Any:
    """The codec named ``name`` if it declares ``reads_through_open`` (its ``read`` only does
    ``fs.open(path, "rb")``, so it can be handed the bytes already verified); else None (also in safe mode for
    pickle: the generic path refuses it with its own message)."""
    try:
        codec = codec_named(name)
    except CodecError:
        return None
    return codec if capability(codec, "reads_through_open") else None


class _OneFile:
    """The file system a codec reads a verified small file from: its bytes, as read by the checksum."""

    protocol = ("dds-verified",)  # not the local file system: codecs must not bypass ``open``

    def __init__(self, path: str, data: bytes):
        self._path = path
        self._data = data

    def open(self, path: str, mode: str = "rb", **kwargs: Any) -> Any:
        if path != self._path or mode != "rb":
            raise OSError(f"{path!r} ({mode}) is not the file being decoded ({self._path})")
        return io.BytesIO(self._data)


def _same_file(link: str, target: str) -> bool:
    """Whether ``link`` resolves to ``target``: two stats, not a realpath of each (an lstat per folder)."""
    try:
        a, b = os.stat(link), os.stat(target)
    except OSError:
        return False
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)

