"""Notebook support: the ``%%dds /path`` cell magic (``%load_ext dds``) and dds's messages under each cell.

A ``%%dds /path`` cell is kept like ``dds.keep("/path", fn)`` where ``fn`` is the cell turned into a
function body that returns the cell's last expression. The function is compiled from a source text
registered in ``linecache``, so its signature comes from the same engine as any other function: the
normalised cell code plus every name it reads from the notebook (helpers by their code, constants and data
by value, libraries by version), never a second signature system. See docs/notebooks.md.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import io
import linecache
import logging
import sys
import tokenize
import types
from typing import Any

from ..api import keep
from ..errors import ArgumentError
from ..paths import validate_path

_CELL_FUNCTION = "dds_cell"
_INDENT = "\t"  # a tab shifts every indentation level by exactly one stop, whatever mix of tabs/spaces the cell uses


# ------------------------------------------------------------------------------------------- the extension
def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext dds``: register the ``%%dds`` cell magic and print dds's computed/loaded lines in cells."""
    ipython.register_magic_function(functools.partial(_magic, ipython), magic_kind="cell", magic_name="dds")
    show_messages(True)


def unload_ipython_extension(ipython: Any) -> None:
    """``%unload_ext dds``: stop printing dds's messages (IPython keeps the magic until the kernel restarts)."""
    show_messages(False)


class _CellOutput(logging.Handler):
    """Writes to ``sys.stdout`` as it is when the message is logged: in Jupyter, that is the running cell."""

    restore_level: int | None = None  # the dds logger's level before show_messages raised it to INFO

    def emit(self, record: logging.LogRecord) -> None:
        try:
            print(self.format(record), file=sys.stdout)
        except Exception:  # noqa: BLE001 - logging must never break the computation
            self.handleError(record)


def show_messages(on: bool = True) -> None:
    """Print ``dds: computed /path ...`` / ``dds: loaded /path ...`` under the cell that kept the value.

    ``%load_ext dds`` turns this on; ``show_messages(False)`` turns it off. It adds one handler to the
    ``dds`` logger (and sets that logger to INFO while it is there); nothing else in the logging
    configuration changes.
    """
    logger = logging.getLogger("dds")
    for handler in [h for h in logger.handlers if isinstance(h, _CellOutput)]:
        logger.removeHandler(handler)
        if handler.restore_level is not None:
            logger.setLevel(handler.restore_level)
    if on:
        handler = _CellOutput()
        if logger.getEffectiveLevel() > logging.INFO:
            handler.restore_level = logger.level
            logger.setLevel(logging.INFO)
        logger.addHandler(handler)


# --------------------------------------------------------------------------------------------- the magic
def _magic(ipython: Any, line: str, cell: str) -> Any:
    return run_cell(line, cell, ipython.user_ns)


def run_cell(line: str, cell: str, namespace: dict) -> Any:
    """Run (or load) a ``%%dds PATH`` cell against ``namespace`` and return its last expression's value.

    Ran: the cell's assignments land in ``namespace`` as in a plain cell. Loaded: the cell does not run
    and assigns nothing, except that a last expression which is a name the cell assigns (``model``) is
    bound to the loaded value.
    """
    path = _parse_line(line)
    fn, last_name = cell_function(path, cell, namespace)
    runner = functools.partial(_run_and_publish, fn)
    runner.__module__, runner.__qualname__ = fn.__module__, fn.__qualname__  # what metadata and messages show
    try:
        value = keep(path, runner)
    except UnboundLocalError as exc:  # the cell's own exception propagates as itself (dds.failures)
        unbound = _unbound_local_in(exc, fn.__code__)
        if unbound is None:
            raise
        raise ArgumentError(
            f"The %%dds {path} cell reads {unbound!r} before assigning it. In a %%dds cell, as in a function "
            f"body, a name the cell assigns belongs to the cell, so the cell cannot also read the notebook's "
            f"{unbound!r}. Fix: assign the result to a new name (e.g. {unbound}_2 = ... {unbound} ...)."
        ) from exc
    if not fn.__dict__.get("ran") and last_name is not None:
        namespace[last_name] = value
    return value


def _parse_line(line: str) -> str:
    parts = line.split()
    if len(parts) != 1:
        raise ArgumentError(
            f"%%dds needs exactly one store path after it, got {line.strip()!r}. Fix: start the cell with a line "
            "such as `%%dds /features` and end it with the expression whose value to keep."
        )
    return validate_path(parts[0])


def _run_and_publish(fn: types.FunctionType) -> Any:
    """What keep runs for a %%dds cell: the cell function, then its local names into the notebook.

    Kept as ``functools.partial(_run_and_publish, fn)``: this function is hashed by its name (dds functions
    are), so renaming it changes the signature of every %%dds cell."""
    value, names = fn()
    fn.__globals__.update(names)
    fn.__dict__["ran"] = True
    return value


def _unbound_local_in(exc: BaseException | None, code: types.CodeType) -> str | None:
    """The name of an UnboundLocalError raised by the cell's own code (not by a function it calls)."""
    if not isinstance(exc, UnboundLocalError):
        return None
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    if tb is None or tb.tb_frame.f_code is not code:
        return None
    name = getattr(exc, "name", None)
    if isinstance(name, str):
        return name
    text = str(exc)
    return text.split("'")[1] if text.count("'") >= 2 else "a name"


# ----------------------------------------------------------------------------------- the cell as a function
def cell_function(path: str, cell: str, namespace: dict) -> tuple[types.FunctionType, str | None]:
    """The function a ``%%dds path`` cell is kept as, and the name its last expression reads, if any.

    The cell becomes the body of ``def dds_cell(): ...`` whose last expression statement ``expr`` becomes
    ``return (expr), locals()``; the function's globals are ``namespace``. The source text is registered in
    ``linecache`` under a name unique to it, so dds reads, normalises and hashes it like any function.
    """
    filename = f"<%%dds {path} {hashlib.sha1(cell.encode('utf-8', 'surrogatepass')).hexdigest()[:10]}>"
    tree = ast.parse(cell, filename)
    compile(tree, filename, "exec", dont_inherit=True)  # `return`, `yield`, `await` ... are refused as in a cell
    last = tree.body[-1] if tree.body else None
    if not isinstance(last, ast.Expr):
        raise ArgumentError(_no_expression_message(path, last))
    source = _function_source(cell, last)
    linecache.cache[filename] = (len(source), None, source.splitlines(keepends=True), filename)
    module_code = compile(source, filename, "exec", dont_inherit=True)
    code = next(c for c in module_code.co_consts if isinstance(c, types.CodeType) and c.co_name == _CELL_FUNCTION)
    fn = types.FunctionType(code, namespace, _CELL_FUNCTION)
    fn.__qualname__ = f"%%dds {path}"
    fn.__module__ = namespace.get("__name__", "__main__")
    assigned = code.co_varnames + code.co_cellvars
    last_name = last.value.id if isinstance(last.value, ast.Name) and last.value.id in assigned else None
    return fn, last_name


def _no_expression_message(path: str, last: ast.stmt | None) -> str:
    if last is None:
        return (f"The %%dds {path} cell is empty: there is no value to keep. Fix: write the computation in the "
                "cell, ending with the expression whose value to keep.")
    hint = "add a last line with the expression whose value to keep"
    if isinstance(last, ast.Assign) and len(last.targets) == 1 and isinstance(last.targets[0], ast.Name):
        hint = f"add a last line `{last.targets[0].id}` to keep the value assigned to it"
    kind = _STATEMENTS.get(type(last).__name__, "a statement")
    return (f"The %%dds {path} cell ends with {kind} (line {last.lineno}), not an expression, so there is no value "
            f"to keep. Fix: {hint}.")


_STATEMENTS = {"Assign": "an assignment", "AugAssign": "an assignment", "AnnAssign": "an assignment",
               "FunctionDef": "a def", "AsyncFunctionDef": "a def", "ClassDef": "a class", "Import": "an import",
               "ImportFrom": "an import", "For": "a for loop", "While": "a while loop", "If": "an if statement",
               "With": "a with statement", "Try": "a try statement"}


def _function_source(cell: str, last: ast.Expr) -> str:
    """``def dds_cell():`` + the cell indented one level, its last expression returned with the locals."""
    lines = [line + "\n" for line in cell.split("\n")]
    start, end = last.lineno - 1, last.end_lineno - 1
    lines[end] = _insert(lines[end], last.end_col_offset, "), locals()")
    lines[start] = _insert(lines[start], last.col_offset, "return (")
    inside_strings = _lines_inside_strings(cell)
    body = [line if number in inside_strings else _INDENT + line for number, line in enumerate(lines, start=1)]
    return f"def {_CELL_FUNCTION}():\n" + "".join(body)


def _insert(line: str, byte_offset: int, text: str) -> str:
    """Insert ``text`` at a UTF-8 byte offset (what ``ast`` reports as a column)."""
    column = len(line.encode("utf-8", "surrogatepass")[:byte_offset].decode("utf-8", "surrogatepass"))
    return line[:column] + text + line[column:]


def _lines_inside_strings(cell: str) -> set[int]:
    """Line numbers that begin inside a multi-line string: indenting them would change the string."""
    inside: set[int] = set()
    starts: list[int] = []
    fstring_start = getattr(tokenize, "FSTRING_START", None)  # Python >= 3.12 splits f-strings into tokens
    fstring_end = getattr(tokenize, "FSTRING_END", None)
    for token in tokenize.generate_tokens(io.StringIO(cell).readline):
        if token.type == tokenize.STRING:
            inside.update(range(token.start[0] + 1, token.end[0] + 1))
        elif token.type == fstring_start:
            starts.append(token.start[0])
        elif token.type == fstring_end and starts:
            inside.update(range(starts.pop() + 1, token.end[0] + 1))
    return inside
