"""Process-wide options (``dds.set_option`` / ``dds.get_option``), validated when set."""

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
# Options taking a free value, each with the function that validates (and normalises) it.
# "signing_key": the team's secret (str or bytes); values whose HMAC does not verify under it are not loaded
# (see dds/store/signing.py); None (the default) reads $DDS_SIGNING_KEY, else signs nothing.
_FREE: dict[str, Callable[[Any], Any]] = {"signing_key": lambda v: _signing().check_key(v)}
_values.update(dict.fromkeys(_FREE))


def _signing() -> Any:
    from .store import signing

    return signing


def set_option(name: str, value: Any) -> None:
    """Set option ``name``; unknown names and values are refused with the list of valid ones."""
    if name in _FREE:
        _values[name] = _FREE[name](value)
        return
    if name not in _CHOICES:
        raise ArgumentError(f"Unknown dds option {name!r}. Known options: {', '.join(sorted(_values))}.")
    if value not in _CHOICES[name] or type(value) is not type(_CHOICES[name][0]):
        raise ArgumentError(f"Option {name!r} accepts {_CHOICES[name]!r}, not {value!r}.")
    _values[name] = value
    if name == "warn_untracked_files" and value:
        from .inputs.untracked import install

        install()


def get_option(name: str) -> Any:
    """Current value of option ``name``."""
    if name not in _values:
        raise ArgumentError(f"Unknown dds option {name!r}. Known options: {', '.join(sorted(_values))}.")
    return _values[name]
