"""What a failing kept function leaves on its exception: one note naming every path it stopped.

The exception the user's function raised propagates as itself (``except KeyError:`` around a ``keep``
catches it, as it would without dds). dds adds one PEP 678 note, shown under the traceback::

    dds: nothing was stored for /features (pipe.steps.features raised KeyError); /features still holds its
    previous value.

When keeps are nested (the function kept at ``/report`` keeps ``/features``), the same exception passes
through each of them: the note is rewritten in place to list every path, never stacked once per level.
"""

from __future__ import annotations

import logging

from ..errors import DDSError
from ..options import get_option

log = logging.getLogger("dds")

_NOTE_PREFIX = "dds: nothing was stored for "


def annotate(exc: BaseException, path: str, function: str, had_value: bool | None) -> None:
    """Record on ``exc`` (raised by ``function``, kept at ``path``) that nothing was stored, and log it.
    ``had_value``: whether ``path`` held a value before (None: unknown)."""
    state = {True: " still holds its previous value", False: " holds no value yet",
             None: " still holds its previous value, if any"}[had_value]
    failed = getattr(exc, "__dds_failed__", None)
    try:
        if failed is None:
            failed = []
            exc.__dds_failed__ = failed  # type: ignore[attr-defined]
        if all(known != path for known, _f, _s in failed):  # a keep retried around the same exception
            failed.append((path, function, state))
    except (AttributeError, TypeError):  # an exception object that takes no attributes: log only
        failed = [(path, function, state)]
    log.error("dds: %s (%s) raised %s: nothing was stored; %s%s", path, function, type(exc).__name__, path, state)
    _set_note(exc, _note(exc, failed))


def stored_nothing_for(exc: BaseException) -> list[str]:
    """The paths ``exc`` stopped, innermost first (empty when it did not pass through a keep)."""
    return [path for path, _function, _state in getattr(exc, "__dds_failed__", ())]


def _note(exc: BaseException, failed: list[tuple[str, str, str]]) -> str:
    (path, function, state), outer = failed[0], failed[1:]
    text = f"{_NOTE_PREFIX}{path} ({function} raised {type(exc).__name__}); {path}{state}."
    for path, function, state in outer:
        text += f" Nor for {path} ({function}, whose code was running it); {path}{state}."
    return text


def _set_note(exc: BaseException, note: str) -> None:
    """Replace dds's note on ``exc`` (or add it): ``add_note`` on Python >= 3.11, ``__notes__`` before."""
    notes = getattr(exc, "__notes__", None)
    try:
        if isinstance(notes, list):
            for i, existing in enumerate(notes):
                if isinstance(existing, str) and existing.startswith(_NOTE_PREFIX):
                    notes[i] = note
                    return
        if hasattr(exc, "add_note"):
            exc.add_note(note)
        elif notes is None:
            exc.__notes__ = [note]  # type: ignore[attr-defined]
        else:
            notes.append(note)
    except (AttributeError, TypeError):  # __notes__ is not a list, or cannot be set: the log has it
        pass


def without_dds_frames(exc: DDSError) -> DDSError:
    """A signature error raised deep in dds's own code, shown from the user's ``keep`` line: the message names
    the path, the function and the fix; frames inside dds/signature/ would only bury it.
    ``dds.set_option("extra_debug", True)`` keeps them, for reports about dds itself."""
    if not get_option("extra_debug"):
        exc.__traceback__ = None
    return exc
