"""Store maintenance: ``gc`` frees what no path needs, ``verify`` re-checks everything that is kept.

Both work on any store that can list itself (``iter_ref_entries``, ``iter_blob_dirs``, ...); neither knows
about the command line. The rule that matters: ``gc`` never deletes a blob a ref points to, and never
touches anything younger than its grace period, because a pipeline running right now may be between
writing a blob and pointing its path at it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

from .errors import DamagedDataError, StoreError
from .store.base import Store

#: Default grace period of ``gc``: anything written less than this many seconds ago is left alone.
DEFAULT_GRACE_S = 3600.0


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
    """What ``gc`` deleted (``dry_run``: would delete), and what it kept because it was too young."""

    dry_run: bool
    removed: list[Removal] = field(default_factory=list)
    kept_recent: list[str] = field(default_factory=list)  # unreferenced but younger than the grace period

    @property
    def bytes_freed(self) -> int:
        return sum(r.bytes for r in self.removed)


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
def gc(store: Store, dry_run: bool = False, grace: float = DEFAULT_GRACE_S, now: float | None = None) -> GcReport:
    """Delete every blob no ref points to, unfinished writes and stale temporaries.

    Anything modified less than ``grace`` seconds ago is kept (and listed in ``kept_recent`` when it is an
    unreferenced blob), so a concurrent writer's temporary or just-committed blob survives. Refs are read
    before anything is listed and again just before deleting; a damaged ref stops ``gc`` entirely, because
    then it cannot know what that path needs.
    """
    if grace < 0:
        raise StoreError(f"gc: the grace period must be >= 0 seconds, not {grace}.")
    now = time.time() if now is None else now
    report = GcReport(dry_run=dry_run)
    referenced = _referenced(store)
    if not dry_run:
        for path, _where, sig, _problem in store.iter_ref_entries():  # a crash may have left a view ahead of
            if sig is not None:                                       # its ref: make it follow the ref
                store.refresh_view(path, sig)
    committed = set(store.iter_blob_sigs())
    doomed: list[Removal] = []
    for sig in sorted(committed | set(store.iter_blob_dirs())):
        if sig in referenced:
            continue
        size, newest = _blob_usage(store, sig)
        if _old_enough(newest, now, grace):
            kind = "blob" if sig in committed else "unfinished"
            doomed.append(Removal(kind, store.blob_dir(sig), size, sig, _written_for(store, sig)))
        else:
            report.kept_recent.append(sig)
    if doomed and not dry_run:
        referenced = _referenced(store)  # a writer may have pointed a path at one of them meanwhile
        doomed = [r for r in doomed if r.sig not in referenced]
    for removal in doomed:
        if not dry_run:
            store.delete_blob(removal.sig)
        report.removed.append(removal)
    for where in store.iter_temp():
        size, newest = store.entry_usage(where)
        if _old_enough(newest, now, grace):
            report.removed.append(Removal("temporary", where, size))
            if not dry_run:
                store.remove_entry(where)
    return report


def _referenced(store: Store) -> set[str]:
    sigs = set()
    for path, where, sig, problem in store.iter_ref_entries():
        if sig is None:
            raise StoreError(
                f"gc stopped before deleting anything: the ref of {path} ({where}) is damaged, so gc cannot tell "
                f"which value {path} needs. {problem} Run `dds verify` to list every problem."
            )
        sigs.add(sig)
    sigs.update(sig for _path, sig in store.iter_pins())  # pinned: needed by someone, whatever refs say now
    return sigs


def _blob_usage(store: Store, sig: str) -> tuple[int, float | None]:
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


# --------------------------------------------------------------------------------------------- verify
def verify(store: Store, progress: Callable[[int, int], None] | None = None) -> VerifyReport:
    """Re-check every ref and every committed blob (sizes, checksums, metadata); never changes anything.

    ``progress(done, total)`` is called after each blob (reading every blob of a big store takes a while).
    """
    report = VerifyReport()
    pointing: dict[str, list[str]] = {}
    for path, where, sig, problem in store.iter_ref_entries():
        report.refs += 1
        if sig is None:
            report.problems.append(Problem(
                "damaged ref", where, problem or f"the ref of {path} is unreadable",
                f"delete {where} and re-run the step that keeps {path}", [path]))
        else:
            pointing.setdefault(sig, []).append(path)
    committed = set(store.iter_blob_sigs())
    for sig in sorted(committed):
        report.blobs += 1
        problem = _check_blob(store, sig, pointing.get(sig, []))
        if problem is not None:
            report.problems.append(problem)
        if progress is not None:
            progress(report.blobs, len(committed))
    for sig, paths in sorted(pointing.items()):
        if sig not in committed:
            for path in paths:
                report.problems.append(Problem(
                    "dangling ref", store.ref_file(path),
                    f"{path} points to signature {sig}, but the store holds no committed value with that "
                    f"signature (its metadata {store.meta_file(sig)} is missing)",
                    f"re-run the step that keeps {path}, or delete {store.ref_file(path)} to forget {path}",
                    [path], sig))
    for sig in store.iter_blob_dirs():
        if sig not in committed and sig not in pointing:
            report.notes.append(f"{store.blob_dir(sig)} has no metadata: an unfinished or interrupted write "
                                f"(harmless; `dds gc` removes it once it is older than the grace period)")
    return report


def _check_blob(store: Store, sig: str, paths: list[str]) -> Problem | None:
    delete = f"delete {store.blob_dir(sig)} and {store.meta_file(sig)}"
    rerun = (f", then re-run the step that keeps {' and '.join(paths)}" if paths
             else " (no path points to it, so `dds gc` would remove it as well)")
    try:
        meta = store.read_meta(sig)
    except DamagedDataError as exc:
        return Problem("damaged metadata", store.meta_file(sig), str(exc), f"{delete}{rerun}", paths, sig)
    if meta is None:  # deleted since it was listed
        return None
    if meta.get("signature") not in (None, sig):
        return Problem("damaged metadata", store.meta_file(sig),
                       f"{store.meta_file(sig)} says it describes signature {meta.get('signature')}, not {sig}",
                       f"{delete}{rerun}", paths, sig)
    try:
        store.verify(sig, meta)  # type: ignore[attr-defined]
    except DamagedDataError as exc:
        return Problem("damaged blob", store.blob_dir(sig), str(exc), f"{delete}{rerun}", paths, sig)
    return None
