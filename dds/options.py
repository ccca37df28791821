"""Process-wide options (``dds.set_option`` / ``dds.get_option``), validated when set.

A leaf (imports only ``errors``): an option whose rules belong to another module is declared by that module
(``declare``, ``on_set``), so this one never imports upwards."""

from __future__ import annotations

from typing import Any, Callable

from .errors import ArgumentError

_CHOICES: dict[str, tuple[Any, ...]] = {
    # What keep does when a stored value fails verification: raise a DamagedDataError, or recompute it.
    "on_damage": ("raise", "recompute"),
    # Log every signature tree computed (at DEBUG level of the "dds" logger).
    "extra_debug": (False, True),
    # How pandas frames and Arrow tables are stored: exact Parquet, or Delta tables (needs deltalake).
    "tabular_format": ("parquet", "delta"),
    # Which codecs may write and read values. "all": pickle stores whatever no other codec handles.
    # "safe": pickle is refused both ways (loading a pickle runs code chosen by whoever wrote the file), so
    # only data formats are used: Parquet (and Delta), .npy, text, bytes, and user codecs marked ``safe = True``.
    "codecs": ("all", "safe"),
    # Warn when a kept function opens a file that is not a dds.File input (docs/files.md says what is seen).
    "warn_untracked_files": (False, True),
}
_values: dict[str, Any] = {name: choices[0] for name, choices in _CHOICES.items()}
# Options taking a free value, each validated (and normalised) by the module that owns it, which declares it
# with ``declare``: "signing_key" (dds/store/signing.py): the team's secret (str or bytes); values whose HMAC
# does not verify under it are not loaded; None (the default) reads $DDS_SIGNING_KEY, else signs nothing.
_FREE: dict[str, Callable[[Any], Any]] = {}
#: Called with the new value after an option is set: how the owner of an option reacts (e.g. installs a hook).
_ON_SET: dict[str, list[Callable[[Any], None]]] = {}


def declare(name: str, validate: Callable[[Any], Any], default: Any = None) -> None:
    """Declare option ``name`` taking any value ``validate`` accepts (it returns the value to keep)."""
    _FREE[name] = validate
    _values.setdefault(name, default)


def on_set(name: str, callback: Callable[[Any], None]) -> None:
    """Call ``callback(value)`` every time option ``name`` is set (the option's owner reacting to it)."""
    _ON_SET.setdefault(name, []).append(callback)


def set_option(name: str, value: Any) -> None:
    """Set option ``name``; unknown names and values are refused with the list of valid ones."""
    if name in _FREE:
        _values[name] = _FREE[name](value)
        _told(name)
        return
    if name not in _CHOICES:
        raise ArgumentError(f"Unknown dds option {name!r}. Known options: {', '.join(sorted(_values))}.")
    if value not in _CHOICES[name] or type(value) is not type(_CHOICES[name][0]):
        raise ArgumentError(f"Option {name!r} accepts {_CHOICES[name]!r}, not {value!r}.")
    _values[name] = value
    _told(name)


def _told(name: str) -> None:
    for callback in _ON_SET.get(name, ()):
        callback(_values[name])


def get_option(name: str) -> Any:
    """Current value of option ``name``."""
    if name not in _values:
        raise ArgumentError(f"Unknown dds option {name!r}. Known options: {', '.join(sorted(_values))}.")
    return _values[name]
