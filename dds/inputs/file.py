"""``dds.File``: a file or directory a step reads, hashed by what it holds rather than by its name.

``keep("/rows", rows, "data.csv")`` depends on the string ``"data.csv"``: edit the CSV and the old table
comes back. ``keep("/rows", rows, dds.File("data.csv"))`` depends on the file's bytes, so an edit re-runs
the step and a ``touch`` (or a rewrite with the same bytes) does not. A File is ``os.PathLike``, so
``open(f)``, ``pd.read_csv(f)`` and ``pq.read_table(f)`` take it as they take the path.

How it is hashed (``identity``): a local file by its path as written, its size and the XXH3-128 digest of
its bytes (re-used while ``stat`` shows the file unchanged, see ``stat_cache``); a directory by the sorted
relative names, sizes and digests of every file below it (symbolic links followed; names starting with
``.`` skipped unless ``hidden=True``); an object on S3 by its ETag (and version id), which S3 changes with
every write; any other fsspec URL by its content, read through fsspec.
"""

from __future__ import annotations

import json
import os
import stat
from typing import IO, Any, Iterator

from ..errors import ArgumentError, SignatureError
from ..filesystems import from_spark_uri
from . import remote, stat_cache
from .missing import missing
from .preview import file_preview

__all__ = ["File", "identity", "claimed_file_identity"]

#: Local paths (absolute) and URLs that a File names, with its storage options: Spark input files at or
#: below one of them are hashed by content too (see ``claimed_file_identity``).
_claimed: dict[str, dict[str, Any]] = {}


class File:
    """An input file or directory, local (``"data/raw.csv"``) or any fsspec URL (``"s3://bucket/key"``).

    ``hidden=True`` includes names starting with ``.`` when hashing a directory. ``storage_options`` are
    passed to fsspec for URLs (credentials, endpoint); they are not part of the hash and are not pickled.
    """

    def __init__(self, path: str | os.PathLike, *, hidden: bool = False,
                 storage_options: dict[str, Any] | None = None):
        if isinstance(path, File):
            path = path.path
        try:
            text = os.fsdecode(os.fspath(path))
        except TypeError:
            raise ArgumentError(f"dds.File(path) takes a str or os.PathLike path, not {type(path).__name__} "
                                f"{path!r}. Fix: dds.File('data/raw.csv').") from None
        if not text:
            raise ArgumentError("dds.File('') names no file. Fix: dds.File('data/raw.csv').")
        if text.startswith("file://"):
            text = text[len("file://"):]
        self.path = text
        self.hidden = bool(hidden)
        self.storage_options = dict(storage_options or {})
        self._summary = None  # what the last hash saw, for ``why`` (never part of the hash)
        if remote.is_url(self.path):
            _claimed[self.path.rstrip("/")] = self.storage_options
        else:
            _claimed.update(dict.fromkeys((os.path.abspath(self.path), os.path.realpath(self.path)), {}))

    def __fspath__(self) -> str:
        return self.path

    def __str__(self) -> str:
        return self.path

    def __repr__(self) -> str:
        return f"dds.File({self.path!r}{', hidden=True' if self.hidden else ''})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, File) and (self.path, self.hidden) == (other.path, other.hidden)

    def __hash__(self) -> int:
        return hash((File, self.path, self.hidden))

    def __reduce__(self) -> tuple:
        return (File, (self.path,), {"hidden": self.hidden})

    def __setstate__(self, state: dict) -> None:
        self.hidden = state.get("hidden", False)

    def open(self, mode: str = "rb", **kwargs: Any) -> IO:
        """The file opened for reading (URLs through fsspec), as ``open(path, mode)`` would."""
        if remote.is_url(self.path):
            import fsspec

            return fsspec.open(self.path, mode, **self.storage_options, **kwargs).open()
        return open(self.path, mode, **kwargs)  # noqa: SIM115 - returned to the caller, who closes it

    def __dds_preview__(self) -> str | None:
        return file_preview(self.path, self._summary)


def identity(f: File) -> str:
    """What the signature hashes for ``f``: its path as written and its content (see the module doc), as
    one canonical JSON text (hashed in one step: a warm re-check costs a ``stat`` and two digests)."""
    if remote.is_url(f.path):
        payload, summary = remote.identity(f.path, f.hidden, f.storage_options)
    else:
        payload, summary = _local_identity(f)
    f._summary = summary
    return json.dumps(payload, separators=(",", ":"))


def _local_identity(f: File) -> tuple[tuple, tuple]:
    target = os.path.abspath(f.path)
    try:
        st = os.stat(target)
        if stat.S_ISDIR(st.st_mode):
            entries: list = []
            total = 0
            for rel, path, entry_st in _walk(target, f.hidden):
                size, digest = stat_cache.content_digest(path, entry_st)
                entries += [rel, size, digest]
                total += size
            return ("directory", f.path, tuple(entries)), ("directory", len(entries) // 3, total, entries)
        if not stat.S_ISREG(st.st_mode):
            raise SignatureError(f"dds.File({f.path!r}) is neither a file nor a directory ({target}). Fix: "
                                 "pass a regular file or a directory; read pipes and devices inside the step.")
        size, digest = stat_cache.content_digest(target, st)
        return ("file", f.path, size, digest), ("file", size, digest)
    except FileNotFoundError:
        raise missing(f.path, target) from None
    except PermissionError as exc:
        raise SignatureError(f"dds.File({f.path!r}) cannot be read: {exc}. Fix: make it readable by this user, "
                             "or pass a copy that is.") from None
    finally:
        stat_cache.flush()


def _walk(top: str, hidden: bool) -> Iterator[tuple[str, str, os.stat_result]]:
    """(relative posix name, absolute path, stat) of every file below ``top``, sorted by name."""
    stack: list[tuple[str, str, frozenset]] = [("", top, frozenset())]
    while stack:
        rel_dir, directory, seen = stack.pop()
        st_dir = os.stat(directory)
        seen = seen | {(st_dir.st_dev, st_dir.st_ino)}  # the directories above: a link back is a cycle
        with os.scandir(directory) as it:
            names = sorted(e.name for e in it)
        subdirs = []
        for name in names:
            if not hidden and name.startswith("."):
                continue
            path = os.path.join(directory, name)
            rel = f"{rel_dir}/{name}" if rel_dir else name
            try:
                st = os.stat(path)
            except FileNotFoundError:  # a dangling symbolic link, or removed while listed
                continue
            if stat.S_ISDIR(st.st_mode):
                if (st.st_dev, st.st_ino) not in seen:
                    subdirs.append((rel, path, seen))
            elif stat.S_ISREG(st.st_mode):
                yield rel, path, st
        # sub-directories in order, each after the files of this directory: names stay sorted per level
        stack.extend(reversed(subdirs))


def claimed_file_identity(uri: str) -> tuple | None:
    """Content identity of one input file of a Spark DataFrame, when a File names it or a directory above
    it; else None (the caller keeps its own, cheaper identity for files no File claims)."""
    path = from_spark_uri(uri)
    candidate = path
    while True:
        if candidate in _claimed:
            break
        parent = candidate.rsplit("/", 1)[0]
        if parent == candidate or not parent or parent.endswith(":/"):
            return None
        candidate = parent
    if remote.is_url(path):
        payload, _ = remote.identity(path, hidden=True, storage_options=_claimed[candidate])
        return ("dds.File", uri, payload[2:])
    try:
        size, digest = stat_cache.content_digest(path)
    except FileNotFoundError:
        raise missing(path, path) from None
    finally:
        stat_cache.flush()
    return ("dds.File", uri, size, digest)
