"""Function shapes kept on disk between processes, found by the text of the file they were read from.

Why: a fresh process re-running a fully cached pipeline would otherwise locate, parse and normalise every
function it reaches (about half a millisecond each) before it could load anything.

Why it cannot go stale: an entry is filed under a digest of the source file's whole text, the function's
first line and name, the Python version, and a digest of the dds code that computes shapes. An edited file
has another digest, so it never meets the entries of its former text. Only files whose text is known to be
the code running are looked up or stored (``source.running_source_digest``: not changed since the process
started, no outdated byte code; or, for a file saved since, once the function was compiled from it and
compared with the running code: ``source.checked_text_digest``), and only functions that no other def on
the same line could be confused with (``source.node_text_digest``). Each entry also holds a digest of the
running code it was recorded from (``source.code_digest``), so a file saved again with the same text (a
touch) is served without compiling it: the entry of its text applies to a function whose running code has
that digest. An entry that cannot be read or has an unexpected form is a miss.

Where: ``$DDS_CODE_CACHE`` (a directory; ``off`` disables the cache), else ``$XDG_CACHE_HOME/dds/code``,
else ``~/.cache/dds/code``. Deleting it is always safe; a directory that cannot be written disables it.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import logging
import os
import sys
import tempfile
import time
import types

import xxhash

from .normalize import CodeShape, ImportTarget
from .source import checked_text_digest, code_digest, current_text_digest, node_text_digest, running_source_digest

log = logging.getLogger("dds")

_FORMAT = 3  # 2: write-only uses recorded (signature scheme 2); 3: each entry a JSON text of its own, with
# the digest of the running code it was recorded from
_MAX_FILES = 4000  # past this many entry files, the least recently written half is removed

_directory: str | None | bool = False  # False: not decided yet; None: disabled
_files: dict[str, dict] = {}  # text digest -> its entries, as read from (or to be written to) disk
_dirty: set[str] = set()
_pruned = False  # the directory is pruned at most once per process
_FLUSH_EVERY = 1.0  # seconds between two writes by flush_soon
_last_flush = float("-inf")


def lookup(code: types.CodeType) -> CodeShape | None:
    """The stored shape of ``code``'s function, or None."""
    if _cache_directory() is None:
        return None
    text_digest = running_source_digest(code.co_filename)
    if text_digest is None and os.path.isfile(code.co_filename):  # a file saved again just now, say:
        shape = _recorded_for_running_code(code)  # its text unchanged and this very code recorded with it
        if shape is not None:
            return shape
        text_digest = checked_text_digest(code)  # usable once its function is checked against the running code
    if text_digest is None:
        return None
    found = _entry(text_digest, code)
    return found[0] if found is not None else None


def _entry(text_digest: str, code: types.CodeType) -> tuple[CodeShape, str] | None:
    """(shape, digest of the code it was recorded with) stored for ``code``'s function in that text, or None."""
    entry = _entries(text_digest).get(_key(code))
    if entry is None:
        return None
    try:
        end, data, recorded_code = json.loads(entry)
        shape = _decode(data)
    except (TypeError, ValueError, IndexError, KeyError, AttributeError):
        return None
    last = max((line for _, _, line in code.co_lines() if line is not None), default=code.co_firstlineno)
    return (shape, recorded_code) if isinstance(end, int) and last <= end and isinstance(recorded_code, str) else None


def _recorded_for_running_code(code: types.CodeType) -> CodeShape | None:
    """The shape of a function whose file may have changed since it was imported (a touch, a save of the same
    text), when the file's text now has an entry for it recorded with exactly this running code: the entry's
    text compiled to this code, so the shape is this code's. Spares compiling the whole module (about a
    second for 10,000 functions) to compare it with the running code."""
    text_digest = current_text_digest(code.co_filename)
    found = _entry(text_digest, code) if text_digest is not None else None
    return found[0] if found is not None and found[1] == code_digest(code) else None


def remember(code: types.CodeType, end_line: int, shape: CodeShape) -> None:
    """Keep ``shape`` for later processes, when the function's node is determined by its file's text."""
    text_digest = node_text_digest(code)
    if text_digest is None or _cache_directory() is None:
        return
    entry = [end_line, _encode(shape), code_digest(code)]  # the code: see _recorded_for_running_code
    _entries(text_digest)[_key(code)] = json.dumps(entry, separators=(",", ":"))
    _dirty.add(text_digest)


def flush_soon() -> None:
    """``flush`` when the last one is ``_FLUSH_EVERY`` seconds old; the rest is written by a later call or at
    exit. Why: a file's entries are rewritten whole, so flushing after every new signature made a first run
    over one module of N functions write N times N entries (quadratic)."""
    if _dirty and time.monotonic() - _last_flush >= _FLUSH_EVERY:
        flush()


def flush() -> None:
    """Write the entries remembered since the last flush (atomically: a reader sees old or new, not half)."""
    global _last_flush
    _last_flush = time.monotonic()
    directory = _cache_directory() if _dirty else None
    if directory is None:
        _dirty.clear()
        return
    dirty = list(_dirty)
    _dirty.difference_update(dirty)
    for text_digest in dirty:
        text = json.dumps(dict(_files[text_digest]), separators=(",", ":"))  # a copy: another thread may add
        tmp = None
        try:
            fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-")
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
            os.replace(tmp, os.path.join(directory, text_digest + ".json"))
        except OSError as exc:
            log.debug("dds: code cache not written (%s)", exc)
            if tmp is not None:
                with contextlib.suppress(OSError):
                    os.remove(tmp)
    global _pruned
    if not _pruned:
        _pruned = True
        _prune(directory)


def reset(directory: str | None | bool = False) -> None:
    """Forget what this process read (tests); ``directory`` overrides where the cache lives."""
    global _directory
    _directory = directory
    _files.clear()
    _dirty.clear()


def _key(code: types.CodeType) -> str:
    return f"{code.co_firstlineno}:{code.co_name}"


def _entries(text_digest: str) -> dict[str, str]:
    """A file's entries, each the JSON text of ``[end line, encoded shape]``, decoded only when looked up: a
    module of 10,000 functions read as nested lists would be ~100,000 objects that the cyclic garbage
    collector walks on every full pass for the rest of the process; as strings they cost it nothing."""
    entries = _files.get(text_digest)
    if entries is None:
        entries = {}
        try:
            with open(os.path.join(_directory, text_digest + ".json"), encoding="utf-8") as f:
                read = json.load(f)
            if isinstance(read, dict):
                entries = read
        except (OSError, ValueError):
            pass
        _files[text_digest] = entries
    return entries


def cache_directory() -> str | None:
    """The code cache's directory for this dds and Python, or None when it is off or cannot be written."""
    return _cache_directory()


def _cache_directory() -> str | None:
    global _directory
    if _directory is False:
        _directory = _open_directory()
    return _directory


def _open_directory() -> str | None:
    configured = os.environ.get("DDS_CODE_CACHE", "")
    if configured.lower() == "off":
        return None
    base = configured or os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"),
                                      "dds", "code")
    version = _code_version()
    if version is None:
        return None
    directory = os.path.join(base, version)
    try:
        os.makedirs(directory, exist_ok=True)
    except OSError as exc:
        log.debug("dds: code cache disabled (%s)", exc)
        return None
    return directory if os.access(directory, os.W_OK) else None


def _code_version() -> str | None:
    """Names what shapes depend on besides the file: this format, Python's AST, and the dds code that
    locates and normalises functions (any edit to it, released or not, starts a new directory)."""
    here = os.path.dirname(os.path.abspath(__file__))
    h = xxhash.xxh3_64(f"{_FORMAT}:{sys.implementation.cache_tag}".encode())
    for name in ("source.py", "normalize.py", "shape_cache.py"):
        try:
            with open(os.path.join(here, name), "rb") as f:
                h.update(f.read())
        except OSError:
            return None  # dds installed without its sources: no way to tell versions apart
    return f"{sys.implementation.cache_tag}-{h.hexdigest()}"


def _encode(shape: CodeShape) -> list:
    return [shape.ast_digest, [[n, list(c)] for n, c in shape.free],
            {k: [t.module, t.attr, t.level] for k, t in shape.imports.items()},
            [[n, list(c)] for n, c in shape.import_uses],
            [[n, list(c), p] for n, c, p in shape.literal_calls],
            _encode_writes(shape.write_only), _encode_writes(shape.import_write_only),
            None if shape.self_writes is None else [[list(c), list(k)] for c, k in shape.self_writes.items()]]


def _encode_writes(writes: dict) -> list:
    return [[n, list(c), list(kinds)] for (n, c), kinds in writes.items()]


def _decode_writes(data: list) -> dict:
    return {(_str(n), _strs(c)): _strs(kinds) for n, c, kinds in data}


def _decode(data: list) -> CodeShape:
    ast_digest, free, imports, import_uses, literal_calls, write_only, import_write_only, self_writes = data
    shape = CodeShape(
        ast_digest=_str(ast_digest),
        free=[(_str(n), _strs(c)) for n, c in free],
        imports={_str(k): ImportTarget(_str(m), None if a is None else _str(a), _int(lv))
                 for k, (m, a, lv) in imports.items()},
        import_uses=[(_str(n), _strs(c)) for n, c in import_uses],
        literal_calls=[(_str(n), _strs(c), _str(p)) for n, c, p in literal_calls],
        write_only=_decode_writes(write_only),
        import_write_only=_decode_writes(import_write_only),
        self_writes=None if self_writes is None else {_strs(c): _strs(k) for c, k in self_writes},
    )
    return shape.frozen()


def _str(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError("not a string")
    return value


def _int(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError("not an int")
    return value


def _strs(values: list) -> tuple[str, ...]:
    if not isinstance(values, list):
        raise TypeError("not a list")
    return tuple(_str(v) for v in values)


def _prune(directory: str) -> None:
    try:
        names = [n for n in os.listdir(directory) if n.endswith(".json")]
        if len(names) <= _MAX_FILES:
            return
        paths = sorted((os.path.join(directory, n) for n in names), key=os.path.getmtime)
        for path in paths[: len(paths) // 2]:
            os.remove(path)
    except OSError:
        pass


atexit.register(flush)  # what flush_soon left for later
