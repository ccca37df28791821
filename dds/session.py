"""The state of this process's dds session: the current store, the latest decision per path, and who is
told of every keep.

Owns nothing else, so every layer can read it without importing the layers above: ``api.keep`` writes
decisions and notifies observers; ``pipeline`` (plans, eval), ``cli`` (``dds run``/``status``) and
``inputs.untracked`` read or observe them. Imports only ``store`` (to open the default store) and must
not import ``api``, ``step``, ``pipeline``, ``notebook`` or ``cli``.
"""

from __future__ import annotations

from typing import Any, Callable

from .store.base import Store

_store: Store | None = None


def current_store() -> Store:
    """The store ``keep`` uses: the one set by ``dds.set_store``, else opened from ``DDS_STORE``/``DDS_DIR``."""
    global _store
    if _store is None:
        from .store.open import open_store  # the store package's registry, imported when first needed

        _store = open_store()
    return _store


def use_store(store: Store) -> Store:
    """Make ``store`` the current store (``dds.set_store`` validates and builds it first)."""
    global _store
    _store = store
    return store


def forget_store() -> Store | None:
    """Drop the current store (the next ``current_store`` opens one from the environment); returns it."""
    global _store
    previous, _store = _store, None
    return previous


class Decision:
    """What keep (or a plan) decided for a path: what ``why`` explains."""

    __slots__ = ("old_sig", "new_sig", "_tree", "note")  # one per path of a pipeline, kept for the process

    def __init__(self, old_sig: str | None, new_sig: str | None, tree: Any, note: str = ""):
        self.old_sig = old_sig  # what the path pointed to before
        self.new_sig = new_sig  # the current signature (None: arguments only known at run time)
        self._tree = tree  # a dict, or an object whose ``tree`` builds it on demand (most are never explained)
        self.note = note  # e.g. "upstream /a will run"

    @property
    def tree(self) -> dict | None:
        """The current signature tree (for new_sig None: the function's part only)."""
        if self._tree is not None and not isinstance(self._tree, dict):
            self._tree = self._tree.tree
        return self._tree


#: The latest decision per store path in this process (``dds.why`` explains it).
decisions: dict[str, Decision] = {}

#: Callbacks told of every keep as ``(path, event, signature)``; event is "loaded", "started" (the function
#: is about to run), then "ran" or "failed". Used by eval, ``dds run``, ``dds status`` and untracked files.
observers: list[Callable[[str, str, str], None]] = []


def notify(path: str, event: str, sig: str) -> None:
    """Tell every observer of ``event`` for ``path``."""
    for observer in list(observers):
        observer(path, event, sig)
