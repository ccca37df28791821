"""``dds.pin`` / ``dds.unpin``: keep a value through every ``gc``, whatever its path points to later.

On a store shared by a team, one person's ``gc`` removes every value no path points to. A value another
pipeline still needs (the model a report was made from, a release's data) is pinned: ``gc`` treats it as
referenced until it is unpinned. Pins live in the store (``pins/<path>.pin``), so every machine's ``gc``
sees them.
"""

from __future__ import annotations

import os
from typing import Any

from .. import session
from ..errors import NotFoundError
from ..paths import validate_path


def pin(path: str | os.PathLike[str]) -> str:
    """Pin the value ``path`` holds now; returns its signature. It stays pinned when the path moves on."""
    return pin_in(session.current_store(), validate_path(path))[0]


def pin_in(store: Any, path: str) -> tuple[str, bool]:
    """Pin what ``path`` holds in ``store``: (its signature, whether it was not pinned already)."""
    sig = store.get_ref(path)
    if sig is None:
        raise NotFoundError(
            f"dds.pin({path!r}): nothing is stored at {path} in the {store.describe()}, so there is nothing to "
            f"pin. Fix: run the step that keeps {path} first."
        )
    return sig, store.pin(path, sig)


def unpin(path: str | os.PathLike[str]) -> list[str]:
    """Remove the pins of ``path``; returns the signatures that were pinned (``gc`` may delete them now)."""
    return session.current_store().unpin(validate_path(path))
