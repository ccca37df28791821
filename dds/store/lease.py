"""Compute once across machines: a lease per signature, taken with the file system's atomic create.

Machines sharing an object store have no common lock, but S3 (and the local disk) can *create an object only
if it does not exist* (``If-None-Match: *``; ``O_EXCL``): of all the machines creating the same name, exactly
one succeeds. A lease is such an object, ``leases/<sig>/<generation>``:

* **taking it**: create generation ``g + 1`` above the newest one, ``g``, once ``g`` is free (released, or its
  holder stopped renewing it). Two waiters that both see ``g`` free race for the same name: one wins.
* **holding it**: a heartbeat thread rewrites the holder's own object every third of the lease period, so a
  live holder is never taken over, however long its step runs.
* **waiting**: poll with backoff. A waiter stops waiting as soon as the value is committed (``done()``: the
  caller then loads it), or takes the lease once the newest generation is released or has not changed for
  one lease period *on the waiter's own clock* (clock skew between machines cannot expire a live lease early).
  A holder's written expiry more than one further period in the past also counts as dead, so a waiter
  arriving long after a crash does not wait again; this tolerates clocks up to one lease period apart.
* **releasing it**: delete it when the value was committed (whoever comes next finds the value), else mark it
  released (the function raised), so the next taker still creates a higher generation.

A holder that was paused for longer than its lease (a frozen VM) can find itself taken over: both then compute,
and the store's write-once blobs make that harmless (wasteful, never wrong). The holder logs a warning.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
import uuid
from typing import Callable, Protocol

log = logging.getLogger("dds.store")

DEFAULT_SECONDS = 60.0
_FIRST_POLL, _MAX_POLL = 0.05, 2.0


class LeaseFiles(Protocol):
    """The four operations a lease needs from a file system; ``create`` must be atomic."""

    def create(self, path: str, data: bytes) -> bool:
        """Write ``path`` if it does not exist (True), else leave it alone (False), atomically."""

    def replace(self, path: str, data: bytes) -> None:
        """Overwrite ``path`` whole."""

    def read(self, path: str) -> bytes | None:
        """The content of ``path``, None if it does not exist."""

    def names(self, directory: str) -> list[str]:
        """The names of the files directly in ``directory`` (fresh, not cached)."""

    def remove(self, path: str) -> None:
        """Delete ``path`` if it exists."""


class Lease:
    """A context manager: held while the body runs, unless ``done()`` turned true while waiting (then the
    body runs without it, to load the value). ``held`` tells which."""

    def __init__(self, files: LeaseFiles, directory: str, seconds: float, done: Callable[[], bool],
                 what: str) -> None:
        self.files, self.directory, self.seconds, self.done, self.what = files, directory, float(seconds), done, what
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"
        self.held: str | None = None  # the name of our generation while we hold it
        self._beats = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()  # the process holding it: a child forked inside the body does not

    # ----------------------------------------------------------------- context manager
    def __enter__(self) -> Lease:
        self._pid = os.getpid()
        self._acquire()
        if self.held is not None:
            self._thread = threading.Thread(target=self._heartbeat, name=f"dds-lease-{self.held}", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.held is None:
            return
        if os.getpid() != self._pid:  # a child forked in the body: the lease, its heartbeat and the event's lock
            self.held = None  # (maybe held at the fork) are the parent's, which releases it when its body ends
            return
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        path = f"{self.directory}/{self.held}"
        try:
            if self.done():
                self.files.remove(path)
            else:
                self.files.replace(path, self._content(released=True))
        except Exception as exc:  # noqa: BLE001 - the value is stored; others take over after one period
            log.warning("dds: could not release the lease on %s (%s); others wait at most %gs for it",
                        self.what, exc, self.seconds)
        self.held = None

    # ------------------------------------------------------------------------- taking
    def _acquire(self) -> None:
        seen: tuple[str, bytes] | None = None
        seen_since = 0.0
        delay = _FIRST_POLL
        said_waiting = False
        while True:
            if self.done():
                return
            generations = self._generations()
            if not generations:
                if self._create(0):
                    return
                continue  # someone else just took generation 0: look again at once
            newest = generations[-1]
            name = _name(newest)
            content = self.files.read(f"{self.directory}/{name}")
            if content is None:
                continue  # released (deleted) between the listing and the read
            if (name, content) != seen:
                seen, seen_since = (name, content), time.monotonic()
            info = _parse(content)
            period = float(info.get("seconds") or self.seconds)
            silent_for = time.monotonic() - seen_since
            stale = isinstance(info.get("expires"), (int, float)) and info["expires"] + period < time.time()
            if info.get("released") or silent_for >= period or stale:
                if self._create(newest + 1):
                    if self.held is None:
                        return  # no lease can be taken here (see _create)
                    if not info.get("released"):
                        log.warning("dds: took over the lease on %s from %s, which stopped renewing it",
                                    self.what, info.get("owner", "an unknown holder"))
                    for old in generations:  # superseded: no one can hold them any more
                        self.files.remove(f"{self.directory}/{_name(old)}")
                    return
                continue
            if not said_waiting:
                log.info("dds: waiting for %s, which %s is computing (lease of %gs)",
                         self.what, info.get("owner", "another process"), period)
                said_waiting = True
            time.sleep(min(delay, period / 4))
            delay = min(delay * 1.6, _MAX_POLL)

    def _create(self, generation: int) -> bool:
        """True when we hold ``generation`` now, or when no lease can be taken at all (a read-only bucket, a
        server refusing conditional writes): the body then runs without one, as on stores without leases,
        and the write reports what is wrong with the store."""
        name = _name(generation)
        try:
            created = self.files.create(f"{self.directory}/{name}", self._content())
        except Exception as exc:  # noqa: BLE001 - whatever the file system raises, a lease is only an optimisation
            log.warning("dds: cannot take a lease on %s (%s: %s); computing without one, so another machine may "
                        "compute it too", self.what, type(exc).__name__, exc)
            return True
        if created:
            self.held = name
        return created

    def _generations(self) -> list[int]:
        return sorted(int(n) for n in self.files.names(self.directory) if n.isdigit())

    # ------------------------------------------------------------------------ holding
    def _heartbeat(self) -> None:
        warned = False
        while not self._stop.wait(self.seconds / 3):
            try:
                newest = self._generations()
                if newest and _name(newest[-1]) != self.held and not warned:
                    log.warning("dds: the lease on %s was taken over (this process paused longer than %gs); "
                                "both compute it, and the first stored value is kept", self.what, self.seconds)
                    warned = True
                self._beats += 1
                self.files.replace(f"{self.directory}/{self.held}", self._content())
            except Exception as exc:  # noqa: BLE001 - a transient error: the next beat retries
                log.debug("dds: renewing the lease on %s failed (%s); retrying", self.what, exc)

    def _content(self, released: bool = False) -> bytes:
        return json.dumps({
            "owner": self.owner, "seconds": self.seconds, "beat": self._beats,
            "expires": time.time() + self.seconds, "released": released,
        }, sort_keys=True).encode("utf-8")


def is_finished(content: bytes | None) -> bool:
    """Whether a lease object can be deleted: released, or not renewed for two of its periods past its expiry
    (by the holder's clock: even a clock one period off cannot make a live lease look finished)."""
    if content is None:
        return False
    info = _parse(content)
    if info.get("released"):
        return True
    expires, period = info.get("expires"), info.get("seconds")
    return isinstance(expires, (int, float)) and isinstance(period, (int, float)) and expires + 2 * period < time.time()


def _name(generation: int) -> str:
    return f"{generation:010d}"


def _parse(content: bytes) -> dict:
    try:
        info = json.loads(content)
    except ValueError:
        return {}
    return info if isinstance(info, dict) else {}
