"""Which modules are *user code* (hashed by body) and which are libraries (hashed by name and version).

Default, chosen so that forgetting a call can never produce a stale value: a module is user code unless
it is built in, lives in the standard library or in an installed distribution (site-packages), or was
rejected with :func:`reject_module`. ``accept_module`` forces user code (e.g. for a package installed
in site-packages that you are editing). A package name covers its submodules; the longest matching
name wins, so ``accept_module("pipe")`` plus ``reject_module("pipe.vendored")`` does what it says.
"""

from __future__ import annotations

import functools
import importlib.metadata
import os
import site
import sys
import sysconfig
import types

from .probes import invalidate_all

_rules: dict[str, bool] = {}  # module or package name -> accepted?


def _name_of(module: types.ModuleType | str) -> str:
    name = module.__name__ if isinstance(module, types.ModuleType) else module
    if not isinstance(name, str) or not name:
        raise TypeError(f"expected a module or a module name, got {module!r}")
    return name


def accept_module(module: types.ModuleType | str) -> None:
    """Hash the code of ``module`` (and its submodules) by body, like the user's own code."""
    _rules[_name_of(module)] = True
    is_user_module.cache_clear()
    invalidate_all()


def reject_module(module: types.ModuleType | str) -> None:
    """Treat ``module`` (and its submodules) as a library: hashed by name and distribution version."""
    _rules[_name_of(module)] = False
    is_user_module.cache_clear()
    invalidate_all()


def _rule_for(name: str) -> bool | None:
    while True:
        if name in _rules:
            return _rules[name]
        if "." not in name:
            return None
        name = name.rsplit(".", 1)[0]


@functools.lru_cache(maxsize=None)
def _library_roots() -> tuple[str, ...]:
    paths = {sysconfig.get_path(key) for key in ("stdlib", "platstdlib", "purelib", "platlib")}
    try:
        paths.update(site.getsitepackages())
    except AttributeError:  # virtualenvs created by old tools lack it
        pass
    paths.add(site.getusersitepackages() if hasattr(site, "getusersitepackages") else "")
    return tuple(sorted(os.path.realpath(p) + os.sep for p in paths if p))


@functools.lru_cache(maxsize=None)
def is_user_module(name: str | None) -> bool:
    """True when the code of module ``name`` is part of the signature (see the module docstring)."""
    if not name:
        return False
    if name == "dds" or name.startswith("dds."):
        return False
    rule = _rule_for(name)
    if rule is not None:
        return rule
    if name == "__main__":
        return True
    module = sys.modules.get(name)
    if module is None:  # code whose module is gone or never existed (exec): hash it by body, to be safe
        return True
    filename = getattr(module, "__file__", None)
    if not filename:  # built-in or frozen
        return False
    real = os.path.realpath(filename)
    return not any(real.startswith(root) for root in _library_roots())


@functools.lru_cache(maxsize=None)
def _distributions() -> dict[str, list[str]]:
    """Top-level module -> distribution names, kept in the code cache while no distribution changes
    (see ``dist_index``): a full scan costs a fresh process 0.1-1 s."""
    from .dist_index import packages_distributions
    from .shape_cache import cache_directory

    return packages_distributions(cache_directory())


def distributions_of(top: str) -> list[str]:
    """The installed distributions that provide the top-level module ``top`` (sorted)."""
    return sorted(_distributions().get(top, []))


@functools.lru_cache(maxsize=None)
def distribution_version(dist: str) -> str | None:
    """The installed version of distribution ``dist``, or None."""
    try:
        return importlib.metadata.version(dist)
    except Exception:  # noqa: BLE001 - a broken or vanished distribution has no version
        return None


@functools.lru_cache(maxsize=None)
def library_version(module_name: str) -> str:
    """The version string that stands for a library module's code: its distribution and version."""
    top = module_name.split(".", 1)[0]
    if top in sys.stdlib_module_names or top == "builtins":
        return f"python-{sys.version_info.major}.{sys.version_info.minor}"
    for dist in distributions_of(top):
        try:
            return f"{dist}-{importlib.metadata.version(dist)}"
        except importlib.metadata.PackageNotFoundError:
            continue
    module = sys.modules.get(top)
    version = getattr(module, "__version__", None)
    return f"{top}-{version}" if isinstance(version, str) else f"{top}-unknown"
