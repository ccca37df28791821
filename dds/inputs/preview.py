"""How a File reads in ``why``: ``data/raw.csv: 3.1 kB -> 3.4 kB, xxh3 1a2b3c4d -> 5e6f7a8b``.

The signature tree keeps one short text per dependency (its *preview*); for a File it is
``dds.File data/raw.csv: 3.14 kB, xxh3 1a2b3c4d`` (a directory: ``12 files, 4.0 MB``). This module writes
that text and reads two of them back to describe a change.
"""

from __future__ import annotations

import re

import xxhash

_PREFIX = "dds.File "
_PATTERN = re.compile(r"^dds\.File (?P<path>.+?): (?P<size>.+), (?P<kind>\S+) (?P<digest>[0-9a-f]+)$")


def file_preview(path: str, summary: tuple | None) -> str | None:
    """The preview text of a File from what its last hash saw (None before it was hashed)."""
    if summary is None:
        return None
    if summary[0] == "directory":
        _, count, total, entries = summary
        listing = "\0".join(map(str, entries)).encode("utf-8", "surrogatepass")
        what = f"{count} file{'s' if count != 1 else ''}, {human_size(total)}"
        return f"{_PREFIX}{path}: {what}, digest {xxhash.xxh3_64_hexdigest(listing)[:8]}"
    _, size, version = summary
    kind, _, value = version.partition(":") if ":" in version else ("xxh3", "", version)
    label = "ETag" if kind == "etag" else kind
    return f"{_PREFIX}{path}: {human_size(size)}, {label} {value[:8]}"


def human_size(n: int) -> str:
    """``812 B``, ``3.14 kB``, ``1.07 GB`` (powers of 1000, three significant digits)."""
    if n < 1000:
        return f"{n} B"
    value = float(n)
    for unit in ("kB", "MB", "GB", "TB", "PB"):
        value /= 1000
        if value < 1000 or unit == "PB":
            return f"{value:.3g} {unit}"
    return f"{n} B"  # pragma: no cover


def describe_change(before: object, after: object) -> str | None:
    """``data.csv: 3.1 kB -> 3.4 kB, xxh3 1a2b3c4d -> 5e6f7a8b`` when both previews are of Files (a
    ``; ``-separated list for the arguments of a call), else None."""
    old, new = _parse(before), _parse(after)
    if old is None or new is None:
        return None
    changes = []
    for path in dict.fromkeys(list(new) + list(old)):
        a, b = old.get(path), new.get(path)
        if a == b:
            continue
        if a is None or b is None:
            changes.append(f"{path} {'added' if a is None else 'removed'}")
            continue
        parts = [f"{a['size']} -> {b['size']}" if a["size"] != b["size"] else f"{b['size']}"]
        if a["kind"] == b["kind"]:
            parts.append(f"{b['kind']} {a['digest']} -> {b['digest']}")
        else:
            parts.append(f"{a['kind']} {a['digest']} -> {b['kind']} {b['digest']}")
        changes.append(f"{path}: {', '.join(parts)}")
    return "; ".join(changes) if changes else None


def _parse(text: object) -> dict[str, dict] | None:
    if not isinstance(text, str) or not text.startswith(_PREFIX):
        return None
    found = {}
    for part in text.split("; "):
        m = _PATTERN.match(part)
        if m is None:
            return None
        found[m["path"]] = m.groupdict()
    return found
