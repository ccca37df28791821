"""The name that identifies a module's code in a signature, whatever way the code was started.

Python names one file differently depending on how it was started: ``__main__`` for ``python
examples/pipeline.py`` or ``python -m examples.pipeline``, ``examples.pipeline`` when imported from the
project root, ``pipeline`` when ``examples/`` itself is on ``sys.path``. A signature that used ``__name__``
would make a script and ``dds run`` overwrite each other's values forever. So the identity is derived from
the module's *file* alone:

1. the file's stem (a package's ``__init__.py``: the package's directory name), prefixed by every enclosing
   directory that holds an ``__init__.py`` (a regular package): ``ci_pipeline/steps.py`` -> ``ci_pipeline.steps``;
2. a file outside any regular package is prefixed by the directories between it and the project root (the
   nearest enclosing directory with ``pyproject.toml``, ``setup.py``, ``setup.cfg`` or ``.git``), as long as
   they are valid identifiers: ``examples/pipeline.py`` in a project -> ``examples.pipeline``.

Neither ``sys.path``, the current directory nor ``__name__`` is read, so every way of starting the same
file gives the same name; moving the file (or renaming a package) changes it. Code without a source file
(a notebook cell, ``exec``) keeps its module's ``__name__``: notebook cells have their own rule
(see dds/notebook.py).
"""

from __future__ import annotations

import functools
import os
import sys
from typing import Any

_ROOT_MARKERS = ("pyproject.toml", "setup.py", "setup.cfg", ".git")


def module_identity(module_name: str | None, namespace: dict | None = None) -> str:
    """The identity of module ``module_name``'s code; ``namespace`` is its globals when the caller has them
    (a function's ``__globals__``), else the module is looked up in ``sys.modules``."""
    name = module_name or ""
    if namespace is None or namespace.get("__name__") != name:
        module = sys.modules.get(name)
        namespace = vars(module) if module is not None else {}
    filename = namespace.get("__file__")
    if not isinstance(filename, str) or not filename.endswith(".py"):
        return name
    return identity_of_file(filename) or name


def function_identity(fn: Any) -> str:
    """``identity.qualname`` of a function or class, as signatures name it (for labels: plans, reports)."""
    fn = getattr(fn, "__wrapped__", fn) if hasattr(fn, "__dds_keep_path__") else fn
    qualname = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or type(fn).__name__
    module = getattr(fn, "__module__", None)
    if not isinstance(module, str):
        return qualname
    from .modules import is_user_module  # libraries keep their import names

    if not is_user_module(module):
        return f"{module}.{qualname}"
    return f"{module_identity(module, getattr(fn, '__globals__', None))}.{qualname}"


@functools.lru_cache(maxsize=None)
def identity_of_file(filename: str) -> str | None:
    """The dotted identity of the module in ``filename`` (rules in the module docstring); None when the file
    does not exist (the caller then keeps the module's own name)."""
    path = os.path.realpath(os.path.abspath(filename))
    if not os.path.isfile(path):
        return None
    directory, base = os.path.split(path)
    stem = base[: -len(".py")]
    parts = [] if stem == "__init__" else [stem]
    in_package = False
    while os.path.isfile(os.path.join(directory, "__init__.py")):
        in_package = True
        directory, package = os.path.split(directory)
        parts.insert(0, package)
        if not package:  # reached the file system root
            break
    if not in_package:
        parts = _from_project_root(directory) + parts
    return ".".join(parts) or None


def _from_project_root(directory: str) -> list[str]:
    """The directory names from the project root (excluded) down to ``directory`` (included); [] when no
    root encloses it or a name on the way is not an identifier (then no import could use that prefix)."""
    root = _project_root(directory)
    if root is None or root == directory:
        return []
    names = os.path.relpath(directory, root).split(os.sep)
    return names if all(n.isidentifier() for n in names) else []


@functools.lru_cache(maxsize=None)
def _project_root(directory: str) -> str | None:
    """The nearest directory at or above ``directory`` holding a project marker, or None."""
    while True:
        if any(os.path.exists(os.path.join(directory, marker)) for marker in _ROOT_MARKERS):
            return directory
        parent = os.path.dirname(directory)
        if parent == directory:
            return None
        directory = parent


def function_name(fn: Any) -> str:
    """``module.qualname`` of a function: the name people read in messages and metadata (the identity that
    signatures use is ``function_identity``, which names the file instead of ``__name__``)."""
    module = getattr(fn, "__module__", None)
    qualname = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or type(fn).__name__
    return f"{module}.{qualname}" if module else qualname
