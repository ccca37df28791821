"""Names inside a file-system store that must never leave it: signatures as file names, a blob's own file
names, and paths that symlinks already on disk could send outside the root. Shared by every file-system
store (a leaf: imports only ``errors``)."""

from __future__ import annotations

import os
import re

from ..errors import StoreError

_SIG = re.compile(r"[0-9A-Za-z][0-9A-Za-z_-]{0,199}")


def is_sig(name: str) -> bool:
    """Whether ``name`` (a file or folder name in the store) can be a signature."""
    return _SIG.fullmatch(name) is not None


def check_sig(sig: object) -> str:
    """``sig`` if it can name a blob (it becomes a file name), else a StoreError."""
    if not isinstance(sig, str) or not _SIG.fullmatch(sig):
        raise StoreError(f"{sig!r} is not a signature (expected letters, digits, '_' or '-', at most 200).")
    return sig


def safe_relative(name: str) -> bool:
    """A file name inside a blob that cannot leave it (no absolute path, no '..', no backslash)."""
    return not name.startswith("/") and "\\" not in name and all(p not in ("", ".", "..") for p in name.split("/"))


def check_inside(root: str, path: str) -> None:
    """Refuse ``path`` if, following symlinks already on disk, it would land outside ``root``."""
    probe = path
    while probe != root and not os.path.lexists(probe) and os.path.dirname(probe) != probe:
        probe = os.path.dirname(probe)
    if probe == path:  # the entry itself exists (e.g. the link we are about to replace): judge its folder
        probe = os.path.dirname(path)
    real_root, real = os.path.realpath(root), os.path.realpath(probe)
    if os.path.commonpath([real_root, real]) != real_root:
        raise StoreError(f"Refusing to write {path}: it resolves to {real}, outside {root}.")
