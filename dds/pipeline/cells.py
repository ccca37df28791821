"""Notebook cells by number: ``/tmp/ipykernel_1614/3482856672.py:12`` is ``In [3], line 12`` to people.

A leaf (imports nothing of dds): ``explain`` uses it to name code in cells, for display only; the notebook
package re-exports it.
"""

from __future__ import annotations

import sys


def cell_location(where: str) -> str:
    """``/tmp/ipykernel_1614/3482856672.py:12`` -> ``In [3], line 12``: a place in a notebook cell as the
    notebook shows it. Only for display (``dds.why``); signatures never contain cell numbers. A file this
    kernel did not compile (another session's cell, a module) is returned unchanged."""
    filename, sep, line = where.rpartition(":")
    if not sep or not line.isdigit():
        filename, line = where, ""
    number = _cell_number(filename)
    if number is None:
        return where
    return f"In [{number}], line {line}" if line else f"In [{number}]"


def _cell_number(filename: str) -> int | None:
    """The execution count of the cell IPython compiled under ``filename``, if this kernel did."""
    ipython_module = sys.modules.get("IPython")
    shell = ipython_module.get_ipython() if ipython_module is not None else None
    numbers = getattr(getattr(shell, "compile", None), "_filename_map", None)
    number = numbers.get(filename) if isinstance(numbers, dict) else None
    return number if isinstance(number, int) and number > 0 else None
