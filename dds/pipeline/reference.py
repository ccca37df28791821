"""Import a pipeline named ``module:function`` (as the CLI receives it), with errors that say the fix."""

from __future__ import annotations

import importlib
import os
import sys
from typing import Callable

from ..errors import ArgumentError


def import_pipeline(spec: str) -> Callable:
    """The function ``spec`` (``package.module:function``) names; the current directory is importable."""
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise ArgumentError(f"{spec!r} is not a pipeline reference. Fix: write it as module.path:function_name.")
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ArgumentError(f"Cannot import {module_name!r} for pipeline {spec!r}: {exc}. Fix: run from the "
                            "directory holding it or set PYTHONPATH.") from None
    except Exception as exc:  # the user's module itself failed while importing
        raise ArgumentError(f"Importing {module_name!r} for pipeline {spec!r} raised {type(exc).__name__}: "
                            f"{exc}. Fix the module so it imports cleanly.") from exc
    obj = module
    for part in attr.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            raise ArgumentError(f"{module_name!r} has no attribute {attr!r} (pipeline {spec!r}).")
    if not callable(obj):
        raise ArgumentError(f"{spec!r} is a {type(obj).__name__}, not a function.")
    return obj
