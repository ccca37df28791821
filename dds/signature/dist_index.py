"""Which installed distributions provide a top-level module, without re-reading every distribution.

Why: ``importlib.metadata.packages_distributions()`` opens the metadata of every installed distribution
(0.1-1 s), which a fresh process paid the first time a signature named any library. Its answer is kept on
disk under a key made of what it reads: every ``sys.path`` entry, the names of the ``*.dist-info`` /
``*.egg-info`` entries in it and the ``stat`` (inode, size, mtime) of each such entry and of the files
``packages_distributions`` reads in it (``top_level.txt``, ``METADATA``/``PKG-INFO``, ``RECORD``,
``installed-files.txt``, ``SOURCES.txt``). Installing, removing, upgrading or editing a distribution
changes one of those, hence the key: the stored answer is then never met again. Key and answer are
only used when the standard path finder is the only one that lists distributions; otherwise (a custom
finder) the scan runs every time. The versions themselves are always read live (``library_version``).
"""

from __future__ import annotations

import contextlib
import importlib.machinery
import importlib.metadata
import json
import os
import sys
import tempfile

import xxhash

_READ = {
    ".dist-info": ("top_level.txt", "METADATA", "RECORD"),
    ".egg-info": ("top_level.txt", "PKG-INFO", "installed-files.txt", "SOURCES.txt"),
}


def packages_distributions(directory: str | None) -> dict[str, list[str]]:
    """``importlib.metadata.packages_distributions()``, read from ``directory`` (a cache; None: no cache)
    when nothing it depends on changed since it was stored there."""
    key = _key() if directory is not None else None
    if key is None:
        return _scan()
    directory = os.path.join(directory, "dists")  # apart from the shape entries
    where = os.path.join(directory, f"{key}.map")  # JSON; not named .json, as the shape entries are
    try:
        with open(where, encoding="utf-8") as f:
            stored = json.load(f)
        if isinstance(stored, dict) and all(isinstance(v, list) and all(isinstance(n, str) for n in v)
                                            for v in stored.values()):
            return stored
    except (OSError, ValueError):
        pass
    found = _scan()
    tmp = None
    try:  # atomically: a reader sees the whole answer or none
        os.makedirs(directory, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(found, f)
        os.replace(tmp, where)
    except OSError:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.remove(tmp)
    return found


def _scan() -> dict[str, list[str]]:
    return {k: list(v) for k, v in importlib.metadata.packages_distributions().items()}


def _key() -> str | None:
    """A digest of everything ``packages_distributions`` reads; None when it cannot be known cheaply."""
    finders = [f for f in sys.meta_path if hasattr(f, "find_distributions")]
    if finders != [importlib.machinery.PathFinder]:
        return None
    h = xxhash.xxh3_128(sys.version.encode())
    for entry in sys.path:
        root = entry or "."
        h.update(b"\0E" + os.path.abspath(root).encode("utf-8", "surrogateescape"))
        try:
            st = os.stat(root)
        except OSError:
            continue
        if not os.path.isdir(root):
            h.update(_stamp(st))  # a zip file on sys.path: its own stat stands for its content
            continue  # (a directory's is not needed: the entries that matter are listed below)
        egg = root.lower().endswith(".egg")
        try:
            with os.scandir(root) as it:
                names = sorted(e.name for e in it)
        except OSError:
            return None
        for name in names:
            low = name.lower()
            suffix = ".dist-info" if low.endswith(".dist-info") else ".egg-info" if low.endswith(".egg-info") \
                else ".egg-info" if egg and low == "egg-info" else None
            if suffix is None:
                continue
            path = os.path.join(root, name)
            h.update(b"\0D" + name.encode("utf-8", "surrogateescape"))
            for part in ("", *_READ[suffix]):
                try:
                    h.update(_stamp(os.stat(os.path.join(path, part) if part else path)))
                except OSError:
                    h.update(b"-")
    return h.hexdigest()


def _stamp(st: os.stat_result) -> bytes:
    return f"{st.st_dev}:{st.st_ino}:{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns};".encode()
