"""Store maintenance: ``gc`` frees what no path needs, ``verify`` re-checks everything that is kept.

Both work on any store implementing the maintenance protocol (``MaintainableStore``, maintainable.py) and
give a clear StoreError for one that does not; neither knows about the command line, signatures or ASTs.
The rule that matters: ``gc`` never deletes a blob a ref points to, and never touches anything younger than
its grace period, because a pipeline running right now may be between writing a blob and pointing its path
at it.

Both stream: a store of a million values is walked once per listing, holding only compact sets of
signatures (``SigSet``: ~28 bytes a value) and, for ``gc``, the list of what to delete in a temporary file,
so memory stays flat (bench/million.py measures it). ``progress(stage, done, total)`` is called as they go
(``total`` None while it is not known yet).
"""

from __future__ import annotations

import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import islice
from typing import Callable, Iterable, Iterator

from ..errors import DamagedDataError, StoreError
from .base import Store
from .maintainable import MaintainableStore, require
from .sigset import SigSet

#: Default grace period of ``gc``: anything written less than this many seconds ago is left alone.
DEFAULT_GRACE_S = 3600.0
#: How many of the unreferenced values ``gc`` keeps because they are young it names in its report.
KEPT_LISTED = 1000

Progress = Callable[[str, int, "int | None"], None]


@dataclass
class Removal:
    """One thing ``gc`` deleted (or would delete): ``kind`` is ``blob``, ``unfinished`` or ``temporary``."""

    kind: str
    where: str
    bytes: int
    sig: str | None = None
    path: str | None = None  # the store path the blob was written for, if its metadata says


@dataclass
class GcReport:
    """What ``gc`` deleted (``dry_run``: would delete), and what it kept because it was too young.

    ``removed`` lists every removal unless ``gc`` was given ``on_removal`` (then they were handed to it one
    by one, and only the counts are here); ``kept_recent`` names the first ``KEPT_LISTED`` young ones.
    """

    dry_run: bool
    removed: list[Removal] = field(default_factory=list)
    kept_recent: list[str] = field(default_factory=list)  # unreferenced but younger than the grace period
    removed_count: int = 0
    bytes_freed: int = 0
    kept_recent_count: int = 0


@dataclass
class Problem:
    """One damaged thing found by ``verify``: where it is, which path and signature, and how to fix it."""

    kind: str  # "damaged blob", "damaged metadata", "dangling ref", "damaged ref"
    where: str
    message: str
    fix: str
    paths: list[str] = field(default_factory=list)
    sig: str | None = None


@dataclass
class VerifyReport:
    """Everything ``verify`` checked; ``ok`` is False as soon as one problem was found."""

    refs: int = 0
    blobs: int = 0
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # harmless findings (an unfinished write gc will remove)

    @property
    def ok(self) -> bool:
        return not self.problems


# ------------------------------------------------------------------------------------------------- gc
def gc(store: Store, dry_run: bool = False, grace: float = DEFAULT_GRACE_S, now: float | None = None,
       progress: Progress | None = None, on_removal: Callable[[Removal], None] | None = None) -> GcReport:
    """Delete every blob no ref (or pin) points to, unfinished writes and stale temporaries.

    Anything modified less than ``grace`` seconds ago is kept (and counted in ``kept_recent``), so a
    concurrent writer's temporary or just-committed blob survives. Refs are read before anything is listed
    and again just before deleting; a damaged ref stops ``gc`` entirely, because then it cannot know what
    that path needs. ``on_removal`` receives each removal as it is made (the report then keeps counts only).
    """
    store = require(store, "gc")
    if grace < 0:
        raise StoreError(f"gc: the grace period must be >= 0 seconds, not {grace}.")
    now = time.time() if now is None else now
    tick = progress or _silent
    report = GcReport(dry_run=dry_run)

    def removed(removal: Removal) -> None:
        report.removed_count += 1
        report.bytes_freed += removal.bytes
        if on_removal is not None:
            on_removal(removal)
        else:
            report.removed.append(removal)

    # a crash may have left a view ahead of its ref: make it follow the ref (not in a dry run)
    referenced = _referenced(store, tick, refresh_views=not dry_run)
    with tempfile.SpooledTemporaryFile(max_size=1 << 20, mode="w+", encoding="ascii") as doomed:
        count = 0
        for done, (sig, committed) in enumerate(_blobs(store), 1):
            tick("checking values", done, None)
            if sig in referenced:
                continue
            size, newest = _blob_usage(store, sig)
            if _old_enough(newest, now, grace):
                doomed.write(f"{'blob' if committed else 'unfinished'} {sig} {size}\n")
                count += 1
            else:
                if len(report.kept_recent) < KEPT_LISTED:
                    report.kept_recent.append(sig)
                report.kept_recent_count += 1
        if count and not dry_run:
            referenced = _referenced(store, tick)  # a writer may have pointed a path at one of them meanwhile
        doomed.seek(0)
        stage = "listing" if dry_run else "deleting"
        wanted = (line.split() for line in doomed)
        for done, removal in enumerate(_remove_blobs(store, wanted, referenced, dry_run), 1):
            tick(stage, done, count)
            if removal is not None:
                removed(removal)
    for where in store.iter_temp():
        size, newest = store.entry_usage(where)
        if _old_enough(newest, now, grace):
            if not dry_run:
                store.remove_entry(where)
            removed(Removal("temporary", where, size))
    return report


def _remove_blobs(store: MaintainableStore, doomed: Iterable[list[str]], referenced: SigSet,
                  dry_run: bool) -> Iterator[Removal | None]:
    """Delete each ``(kind, sig, size)`` of ``doomed`` that is still unreferenced, in order; None for the others.

    Deleting is mostly waiting for the file system (on a disk mounted with ``discard``, 1-2 ms a file), so up to
    ``store.delete_workers`` blobs are deleted at once, a bounded batch at a time (memory stays flat).
    """
    def one(entry: list[str]) -> Removal | None:
        kind, sig, size = entry
        if sig in referenced:  # thread-safe: SigSet lookups
            return None
        removal = Removal(kind, store.blob_dir(sig), int(size), sig, _written_for(store, sig))
        if not dry_run:
            store.delete_blob(sig)
        return removal

    workers = max(1, int(getattr(store, "delete_workers", 1)))
    if workers == 1:
        yield from map(one, doomed)
        return
    entries = iter(doomed)
    with ThreadPoolExecutor(workers, thread_name_prefix="dds-gc") as pool:
        while batch := list(islice(entries, 64 * workers)):
            yield from pool.map(one, batch)


def _referenced(store: MaintainableStore, tick: Progress, refresh_views: bool = False) -> SigSet:
    """Every signature a ref or a pin points to; StoreError, before anything is deleted, at a damaged ref."""
    sigs = SigSet()
    for done, (path, where, sig, problem) in enumerate(store.iter_ref_entries(), 1):
        tick("reading refs", done, None)
        if sig is None:
            raise StoreError(
                f"gc stopped before deleting anything: the ref of {path} ({where}) is damaged, so gc cannot tell "
                f"which value {path} needs. {problem} Run `dds verify` to list every problem."
            )
        sigs.add(sig)
        if refresh_views:
            store.refresh_view(path, sig)
    for _path, sig in store.iter_pins():  # pinned: needed by someone, whatever refs say now
        sigs.add(sig)
    return sigs


def _blobs(store: MaintainableStore) -> Iterator[tuple[str, bool]]:
    """``(sig, committed)`` of every blob with metadata or a folder: both sorted listings merged in step."""
    committed, folders = iter(store.iter_blob_sigs()), iter(store.iter_blob_dirs())
    meta, folder = next(committed, None), next(folders, None)
    while meta is not None or folder is not None:
        if folder is None or (meta is not None and meta <= folder):
            yield meta, True
            if meta == folder:
                folder = next(folders, None)
            meta = next(committed, None)
        else:
            yield folder, False
            folder = next(folders, None)


def _blob_usage(store: MaintainableStore, sig: str) -> tuple[int, float | None]:
    size, newest = store.entry_usage(store.blob_dir(sig))
    meta_size, meta_time = store.entry_usage(store.meta_file(sig))
    stamps = [t for t in (newest, meta_time) if t is not None]
    return size + meta_size, max(stamps) if stamps else None


def _old_enough(stamp: float | None, now: float, grace: float) -> bool:
    """Unknown age counts as young: never delete what might be in use."""
    return stamp is not None and now - stamp >= grace


def _written_for(store: Store, sig: str) -> str | None:
    try:
        meta = store.read_meta(sig)
    except DamagedDataError:
        return None
    path = meta.get("path") if meta else None
    return path if isinstance(path, str) else None


def _silent(stage: str, done: int, total: int | None) -> None:
    return None


# --------------------------------------------------------------------------------------------- verify
def verify(store: Store, progress: Progress | None = None) -> VerifyReport:
    """Re-check every ref and every committed blob (sizes, checksums, metadata); never changes anything.

    ``progress(stage, done, total)`` is called after each ref and each blob (reading every blob of a big
    store takes a while).
    """
    store = require(store, "verify")
    tick = progress or _silent
    report = VerifyReport()
    committed = SigSet(store.iter_blob_sigs())
    referenced = SigSet()
    dangling: list[tuple[str, str]] = []
    for path, where, sig, problem in store.iter_ref_entries():
        report.refs += 1
        tick("checking refs", report.refs, None)
        if sig is None:
            report.problems.append(Problem(
                "damaged ref", where, problem or f"the ref of {path} is unreadable",
                f"delete {where} and re-run the step that keeps {path}", [path]))
            continue
        referenced.add(sig)
        if sig not in committed:
            dangling.append((sig, path))
    damaged: list[tuple[str, str, str, str]] = []  # (sig, kind, where, message)
    total = len(committed)
    for sig in committed:
        report.blobs += 1
        found = _check_blob(store, sig)
        if found is not None:
            damaged.append((sig, *found))
        tick("checking values", report.blobs, total)
    pointing = _paths_pointing(store, {sig for sig, *_ in damaged})
    for sig, kind, where, message in damaged:
        paths = pointing.get(sig, [])
        rerun = (f", then re-run the step that keeps {' and '.join(paths)}" if paths
                 else " (no path points to it, so `dds gc` would remove it as well)")
        fix = f"delete {store.blob_dir(sig)} and {store.meta_file(sig)}{rerun}"
        report.problems.append(Problem(kind, where, message, fix, paths, sig))
    for sig, path in sorted(dangling):
        report.problems.append(Problem(
            "dangling ref", store.ref_file(path),
            f"{path} points to signature {sig}, but the store holds no committed value with that "
            f"signature (its metadata {store.meta_file(sig)} is missing)",
            f"re-run the step that keeps {path}, or delete {store.ref_file(path)} to forget {path}",
            [path], sig))
    for sig in store.iter_blob_dirs():
        if sig not in committed and sig not in referenced:
            report.notes.append(f"{store.blob_dir(sig)} has no metadata: an unfinished or interrupted write "
                                f"(harmless; `dds gc` removes it once it is older than the grace period)")
    return report


def _check_blob(store: MaintainableStore, sig: str) -> tuple[str, str, str] | None:
    """``(kind, where, message)`` of what is wrong with committed blob ``sig``, or None."""
    try:
        meta = store.read_meta(sig)
    except DamagedDataError as exc:
        return "damaged metadata", store.meta_file(sig), str(exc)
    if meta is None:  # deleted since it was listed
        return None
    if meta.get("signature") not in (None, sig):
        return ("damaged metadata", store.meta_file(sig),
                f"{store.meta_file(sig)} says it describes signature {meta.get('signature')}, not {sig}")
    try:
        store.verify(sig, meta)
    except DamagedDataError as exc:
        return "damaged blob", store.blob_dir(sig), str(exc)
    return None


def _paths_pointing(store: MaintainableStore, sigs: set[str]) -> dict[str, list[str]]:
    """``{sig: [paths whose ref points to it]}`` for a few signatures (one more walk of the refs, only when
    ``verify`` found damaged values: most runs find none)."""
    pointing: dict[str, list[str]] = {}
    if sigs:
        for path, _where, sig, _problem in store.iter_ref_entries():
            if sig in sigs:
                pointing.setdefault(sig, []).append(path)
    return pointing
