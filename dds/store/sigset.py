"""A compact, sorted set of signatures: what lets ``gc`` and ``verify`` hold a million of them in ~20 MB.

Store maintenance must remember every referenced (or committed) signature while it walks the blobs. In a
Python ``set`` a 40-hex-digit signature costs about 120 bytes; here it is kept as its binary digest (20 bytes)
in one sorted buffer per digest length, and found by binary search. Digests are sorted in chunks as they are
added and the chunks merged once, so building the set never holds them as Python objects all at once.
Signatures that are not lowercase hex of even length (a store accepts any ``[0-9A-Za-z_-]`` name) are kept
in a plain set beside it. Beside each buffer, the first 8 bytes of every digest as an ``array('Q')`` let
``bisect`` find a record at C speed (8 more bytes a signature). Iterating yields every signature once, in sorted (string) order.

Knows nothing about stores or signatures beyond their spelling.
"""

from __future__ import annotations

import heapq
import re
import threading
from array import array
from bisect import bisect_left
from typing import Iterable, Iterator

_HEX = re.compile(r"(?:[0-9a-f]{2})+")
_CHUNK = 1 << 16  # digests sorted at a time: bounds the Python objects alive while the set is built


class SigSet:
    """Signatures added with ``add`` (or given at construction); ``in``, ``len`` and sorted iteration.

    Lookups are safe from several threads at once; ``add`` is not (fill it first, then share it)."""

    def __init__(self, sigs: Iterable[str] = ()) -> None:
        self._pending: dict[int, list[bytes]] = {}  # digest length -> digests not sorted yet
        self._runs: dict[int, list[bytes]] = {}  # digest length -> sorted, deduplicated packed chunks
        self._packed: dict[int, bytearray] = {}  # digest length -> every digest of that length, sorted, packed
        self._prefixes: dict[int, array] = {}  # digest length -> the first 8 bytes of each, as integers
        self._other: set[str] = set()
        self._merging = threading.Lock()  # lookups may come from several threads (gc deletes in a pool)
        for sig in sigs:
            self.add(sig)

    def add(self, sig: str) -> None:
        if not _HEX.fullmatch(sig):
            self._other.add(sig)
            return
        digest = bytes.fromhex(sig)
        pending = self._pending.setdefault(len(digest), [])
        pending.append(digest)
        if len(pending) >= _CHUNK:
            self._sort_pending(len(digest))

    def __contains__(self, sig: object) -> bool:
        if not isinstance(sig, str):
            return False
        if not _HEX.fullmatch(sig):
            return sig in self._other
        key = bytes.fromhex(sig)
        width = len(key)
        self._freeze()
        packed = self._packed.get(width)
        if not packed:
            return False
        prefixes = self._prefixes[width]
        prefix = int.from_bytes(key[:8], "big")
        i = bisect_left(prefixes, prefix)
        while i < len(prefixes) and prefixes[i] == prefix:  # digests sharing their first 8 bytes: compare whole
            if packed[i * width : i * width + width] == key:
                return True
            i += 1
        return False

    def __len__(self) -> int:
        self._freeze()
        return sum(len(p) // w for w, p in self._packed.items()) + len(self._other)

    def __iter__(self) -> Iterator[str]:
        self._freeze()
        streams = [_hex_records(p, w) for w, p in sorted(self._packed.items())]
        yield from heapq.merge(*streams, sorted(self._other))

    # ------------------------------------------------------------------ building
    def _sort_pending(self, width: int) -> None:
        pending = self._pending.pop(width, [])
        if pending:
            self._runs.setdefault(width, []).append(b"".join(sorted(set(pending))))

    def _freeze(self) -> None:
        """Merge what was added since the last lookup into the packed buffers (once per batch of adds)."""
        if not self._pending and not self._runs:
            return
        with self._merging:
            if self._pending or self._runs:  # not merged by another thread meanwhile
                self._merge()

    def _merge(self) -> None:
        for width in list(self._pending):
            self._sort_pending(width)
        for width, runs in self._runs.items():
            old = self._packed.get(width)
            if old:
                runs.append(old)
            merged, prefixes = bytearray(), array("Q")
            last = None
            streams = [_records(run, width) for run in runs]
            for record in heapq.merge(*streams) if len(streams) > 1 else streams[0]:
                if record != last:
                    merged += record
                    prefixes.append(int.from_bytes(record[:8], "big"))
                    last = record
            self._packed[width], self._prefixes[width] = merged, prefixes
        self._runs.clear()


def _records(packed: bytes | bytearray, width: int) -> Iterator[bytes]:
    for i in range(0, len(packed), width):
        yield packed[i : i + width]


def _hex_records(packed: bytes | bytearray, width: int) -> Iterator[str]:
    for i in range(0, len(packed), width):
        yield packed[i : i + width].hex()
