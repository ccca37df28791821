"""Finding the source (AST node) of a live function or class.

Files are parsed at most once per (path, size, mtime); notebook cells come from ``linecache``, where
IPython registers them. Because the signature is computed from the file while the function that runs is
the imported code, a file edited *after* it was imported would make dds store old results under the new
code's signature. So when a file is newer than this process, the located function is compiled again and
compared with the running code object; a mismatch is an error that says to reload.
"""

from __future__ import annotations

import __future__
import ast
import bisect
import functools
import importlib.util
import inspect
import linecache
import operator
import os
import time
import tokenize
import types
from dataclasses import dataclass, field

import xxhash

from ..errors import SourceUnavailableError

_DEF_NODES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)


def _process_start_time() -> float:
    """When this process started (Linux: from /proc), else when dds was imported."""
    try:
        with open("/proc/self/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        start_ticks = int(fields[19])
        with open("/proc/stat", "rb") as f:
            boot = next(int(line.split()[1]) for line in f if line.startswith(b"btime"))
        return boot + start_ticks / os.sysconf("SC_CLK_TCK") - 1.0  # btime is rounded down to seconds
    except (OSError, ValueError, IndexError, StopIteration, AttributeError):
        return time.time()


PROCESS_START = _process_start_time()


@dataclass
class ParsedModule:
    """One parsed source file with indexes from (first line, name) to definition nodes."""

    filename: str
    tree: ast.Module
    newer_than_process: bool
    functions: dict[tuple[int, str], list[ast.AST]] = field(default_factory=dict)
    verified: set[int] = field(default_factory=set)  # ids of code objects checked against this source
    compiled: object = None  # the module compiled from this source, when a check needed it
    codes: dict[tuple[str, int], list[types.CodeType]] | None = None  # (name, first line) -> compiled code
    text_digest: str | None = None  # of a real file's text (as ``running_source_digest`` computes it)
    starts: list[int] = field(default_factory=list)  # first line of each top-level statement

    def index(self) -> None:
        self.starts = [_first_line(stmt) for stmt in self.tree.body]

    def definitions(self, line: int, name: str) -> list[ast.AST]:
        """The def/lambda nodes starting at ``line`` named ``name``. Only the one top-level statement
        holding that line is searched, so the cost follows the code reached, not the module's size."""
        key = (line, name)
        found = self.functions.get(key)
        if found is None:
            found = []
            i = bisect.bisect_right(self.starts, line) - 1
            if i >= 0 and line <= self.tree.body[i].end_lineno:
                for node in ast.walk(self.tree.body[i]):
                    if isinstance(node, _DEF_NODES) and _first_line(node) == line and _name(node) == name:
                        found.append(node)
            self.functions[key] = found
        return found


def _first_line(node: ast.AST) -> int:
    return min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])


def _name(node: ast.AST) -> str:
    return "<lambda>" if isinstance(node, ast.Lambda) else getattr(node, "name", "")


_parsed: dict[str, tuple[object, ParsedModule]] = {}
_keepalive: dict[str, list[str]] = {}  # keeps linecache line lists alive so their id() keys stay unique


def parse_file(filename: str) -> ParsedModule:
    """Parse ``filename`` (a file, or a linecache entry such as a notebook cell), memoised."""
    try:
        st = os.stat(filename)
    except OSError:
        st = None
    cached = _parsed.get(filename)
    if st is not None:
        key: object = (st.st_size, st.st_mtime_ns)
        if cached is not None and cached[0] == key:
            return cached[1]
        try:
            with tokenize.open(filename) as f:
                text = f.read()
        except (OSError, SyntaxError) as exc:
            raise SourceUnavailableError(f"dds cannot read the source file {filename!r}: {exc}") from None
    else:
        lines = linecache.getlines(filename)
        if not lines:
            raise SourceUnavailableError(
                f"dds cannot read the source of {filename!r} (code created by exec or a REPL that keeps no "
                "source). Fix: define the function in a module file or a notebook cell."
            )
        key = ("text", id(lines))
        if cached is not None and cached[0] == key:
            return cached[1]
        _keepalive[filename] = lines
        text = "".join(lines)
    try:
        tree = ast.parse(text, filename)
    except SyntaxError as exc:
        raise SourceUnavailableError(
            f"dds cannot parse {filename!r} ({exc.msg}, line {exc.lineno}): the file on disk is not the code "
            "that was imported. Fix: save a valid file and restart (or importlib.reload) the module."
        ) from None
    # Text from linecache (a notebook cell) is checked too: its name may have been reused for other code
    # (with IPYKERNEL_CELL_NAME set, as debuggers do, every cell has the same name).
    parsed = ParsedModule(filename, tree, newer_than_process=st is None or _may_not_be_running(filename, st),
                          text_digest=None if st is None else _text_digest(text))
    parsed.index()
    _parsed[filename] = (key, parsed)
    return parsed


def _may_not_be_running(filename: str, st: os.stat_result) -> bool:
    """True when the code running may differ from the file: it changed after this process started, or
    Python may have run an outdated ``__pycache__`` file for it."""
    return st.st_mtime > PROCESS_START or _stale_bytecode(filename, st)


def _stale_bytecode(filename: str, st: os.stat_result) -> bool:
    """True when Python may have run an outdated ``__pycache__`` file for ``filename``.

    Python trusts a .pyc whose header records the source's size and mtime in whole seconds, so a file
    saved twice within one second with the same size keeps running the first version's bytecode.
    """
    try:
        pyc = importlib.util.cache_from_source(filename)
        pyc_mtime = os.stat(pyc).st_mtime_ns
        with open(pyc, "rb") as f:
            header = f.read(16)
    except (OSError, ValueError, NotImplementedError):
        return False
    if len(header) < 16 or int.from_bytes(header[4:8], "little") != 0:  # not a timestamp-based pyc
        return False
    recorded_mtime = int.from_bytes(header[8:12], "little")
    recorded_size = int.from_bytes(header[12:16], "little")
    return (pyc_mtime < st.st_mtime_ns and recorded_mtime == (int(st.st_mtime) & 0xFFFFFFFF)
            and recorded_size == (st.st_size & 0xFFFFFFFF))


_lines: dict[str, tuple[object, list[str], str]] = {}  # filename -> ((size, mtime), lines, content digest)


def _trusted_file(filename: str) -> tuple[object, list[str], str] | None:
    """A real source file whose code is the code running (no check needs to compile it whole), memoised:
    ``(stat key, its lines, digest of its text)``; else None."""
    st = _stat(filename)
    if st is None:
        return None
    key = (st.st_size, st.st_mtime_ns)
    cached = _lines.get(filename)
    if cached is not None and cached[0] == key:
        return cached
    if _may_not_be_running(filename, st):
        return None  # the full path compares the file with the running code
    text = _text_of(filename)
    if text is None:
        return None
    entry = _lines[filename] = (key, text.splitlines(keepends=True), _text_digest(text))
    return entry


def _stat(filename: str) -> os.stat_result | None:
    try:
        return os.stat(filename)
    except OSError:
        return None


def _text_of(filename: str) -> str | None:
    """A source file's text, decoded as Python decodes it (its coding line); None when it cannot be read."""
    try:
        with tokenize.open(filename) as f:
            return f.read()
    except (OSError, SyntaxError):
        return None


def _text_digest(text: str) -> str:
    return xxhash.xxh3_128_hexdigest(text.encode())


_texts: dict[str, tuple[object, str | None]] = {}  # filename -> ((size, mtime), digest of its text now)


def current_text_digest(filename: str) -> str | None:
    """Digest of ``filename``'s text as it is on disk now (computed as ``running_source_digest`` computes it),
    whether or not it is the code running; memoised per (size, mtime). None when it cannot be read."""
    st = _stat(filename)
    if st is None:
        return None
    key = (st.st_size, st.st_mtime_ns)
    cached = _texts.get(filename)
    if cached is not None and cached[0] == key:
        return cached[1]
    text = _text_of(filename)
    found = None if text is None else _text_digest(text)
    _texts[filename] = (key, found)
    return found


def code_digest(code: types.CodeType) -> str:
    """A digest of what ``_same_code`` compares (byte code, names, constants; nested code recursively), the
    same in every process: a function whose running code has the digest its shape was recorded with is
    that recorded function (its text is known by the entry's key), with no need to compile its module."""
    h = xxhash.xxh3_128()
    stack: list = [code]
    while stack:
        item = stack.pop()
        if isinstance(item, types.CodeType):
            h.update(b"C%d:" % len(item.co_code))
            h.update(item.co_code)
            h.update(repr(item.co_names).encode("utf-8", "surrogatepass"))
            h.update(b"K%d:" % len(item.co_consts))
            stack.extend(reversed(item.co_consts))
        elif type(item) is frozenset:  # iteration order varies with hash seeds: in sorted order
            h.update(b"F%d:" % len(item))
            stack.extend(sorted(item, key=repr, reverse=True))
        elif type(item) is tuple:
            h.update(b"T%d:" % len(item))
            stack.extend(reversed(item))
        else:
            text = f"{type(item).__qualname__}:{item!r}".encode("utf-8", "surrogatepass")
            h.update(b"V%d:" % len(text))
            h.update(text)
    return h.hexdigest()


def running_source_digest(filename: str) -> str | None:
    """Digest of ``filename``'s text when the code running was compiled from exactly that text (the file
    has not changed since this process started and Python ran no outdated byte code for it); else None."""
    trusted = _trusted_file(filename)
    return None if trusted is None else trusted[2]


def _block_node(code: types.CodeType) -> ast.AST | None:
    """Parse only the block that defines ``code`` (what ``inspect.getsource`` reads), so the cost follows
    the code reached and not the size of its module; None when that block does not parse on its own."""
    trusted = _trusted_file(code.co_filename)
    if trusted is None:
        return None
    _, lines, text_digest = trusted
    start = code.co_firstlineno - 1
    last = max((line for _, _, line in code.co_lines() if line is not None), default=code.co_firstlineno)
    if 2 * (last - start) > len(lines):  # most of its file (a pipeline of many steps): the file parse is cheaper
        return None  # than finding the block's end token by token, and is kept for the file's other functions
    try:
        text = "".join(inspect.getblock(lines[start:]))
        indented = text[:1] in (" ", "\t")
        if indented and start == 0:
            return None
        # newlines in front put every node on its line in the file ("if 1:" keeps the original columns)
        tree = ast.parse("\n" * (start - 1) + "if 1:\n" + text if indented else "\n" * start + text)
    except (SyntaxError, ValueError, IndexError, tokenize.TokenError, inspect.EndOfBlock):
        return None
    top = tree.body[0] if tree.body else None
    if indented and isinstance(top, ast.If):
        top = top.body[0] if top.body else None
    if (code.co_name != "<lambda>" and isinstance(top, _DEF_NODES) and _first_line(top) == code.co_firstlineno
            and _name(top) == code.co_name):
        candidates = [top]  # only a lambda can start on the line of a def: no other candidate exists
    else:
        candidates = [n for n in ast.walk(tree) if isinstance(n, _DEF_NODES)
                      and _first_line(n) == code.co_firstlineno and _name(n) == code.co_name]
    alone = len(candidates) == 1
    if not alone:
        candidates = _by_column(code, candidates)
    if len(candidates) != 1:
        return None
    node = candidates[0]
    if last > node.end_lineno:
        return None  # a block cut short must never be hashed
    if alone:
        _by_line_alone[id(code)] = text_digest
    return node


_nodes: dict[int, tuple[types.CodeType, ast.AST]] = {}  # id(code) -> (code, its node): code never changes
_by_line_alone: dict[int, str] = {}  # id(code) (kept alive in _nodes) -> digest of the text its node is from


def function_node(code: types.CodeType) -> ast.AST:
    """The def/lambda node that compiled to ``code``; SourceUnavailableError if it cannot be found.
    Found once per code object (planning and signatures both ask): the node of running code never changes."""
    known = _nodes.get(id(code))
    if known is not None and known[0] is code:
        return known[1]
    _by_line_alone.pop(id(code), None)
    node = _find_function_node(code)
    _nodes[id(code)] = (code, node)
    return node


def node_text_digest(code: types.CodeType) -> str | None:
    """The digest of the file text ``function_node(code)`` was read from, when that text alone determines the
    node: the file held the running code (see ``running_source_digest``) and no other def/lambda named
    ``code.co_name`` starts on the same line. Facts derived from the node may then be kept under
    (digest, line, name). None otherwise."""
    known = _nodes.get(id(code))
    return _by_line_alone.get(id(code)) if known is not None and known[0] is code else None


def _find_function_node(code: types.CodeType) -> ast.AST:
    node = _block_node(code)
    if node is not None:
        return node
    parsed = parse_file(code.co_filename)
    candidates = parsed.definitions(code.co_firstlineno, code.co_name)
    alone = len(candidates) == 1
    if len(candidates) > 1:
        candidates = _by_column(code, candidates)
    if len(candidates) != 1:
        if not os.path.exists(code.co_filename):
            raise SourceUnavailableError(_reused_name(code))
        raise SourceUnavailableError(
            f"dds cannot find the source of {code.co_name!r} at {code.co_filename}:{code.co_firstlineno}: "
            "the file changed after it was imported. Fix: restart (or importlib.reload) the module."
        )
    node = candidates[0]
    if parsed.newer_than_process and id(code) not in parsed.verified:
        _verify_against_code(parsed, node, code)
        parsed.verified.add(id(code))
        _code_keepalive.append(code)
    if alone and parsed.text_digest is not None:
        # the running code is this file's (checked above when in doubt) and no other def/lambda of that
        # name starts on that line: the text determines the node, so facts about it may be kept under it
        _by_line_alone[id(code)] = parsed.text_digest
    return node


def checked_text_digest(code: types.CodeType) -> str | None:
    """Like ``running_source_digest``, for one function: the digest of its file's text when that text is
    the code running *for this function* (checked against the running code when the file may have changed,
    e.g. saved again while the process started) and alone determines its node; else None. Raises
    SourceUnavailableError as ``function_node`` does."""
    function_node(code)
    return node_text_digest(code)


_code_keepalive: list[types.CodeType] = []


def _by_column(code: types.CodeType, candidates: list[ast.AST]) -> list[ast.AST]:
    """Several lambdas on one line: pick the one whose body holds the code's first instruction."""
    positions = [(p[0], p[2]) for p in code.co_positions()
                 if p[0] is not None and p[2] is not None and (p[2], p[3]) != (0, 0)]  # (0, 0): RESUME
    if not positions:
        return candidates
    first = min(positions)
    inside = []
    for node in candidates:
        body = node.body if isinstance(node, ast.Lambda) else node
        if (body.lineno, body.col_offset) <= first <= (body.end_lineno, body.end_col_offset):
            inside.append(node)
    return inside[-1:] if inside else candidates


def _verify_against_code(parsed: ParsedModule, node: ast.AST, code: types.CodeType) -> None:
    if parsed.compiled is None:  # the whole module: a statement compiled alone can compile differently
        parsed.compiled = _compile_whole(parsed, code.co_flags & _FUTURE_FLAGS)
        parsed.codes = _index_codes(parsed.compiled) if parsed.compiled else {}
    twin = _twin(parsed.codes.get((code.co_name, code.co_firstlineno), []), code)
    if twin is None or not _same_code(twin, code):
        if not os.path.exists(parsed.filename):
            raise SourceUnavailableError(_reused_name(code))
        raise SourceUnavailableError(
            f"{parsed.filename} changed on disk after {code.co_name!r} was imported in this process, so the "
            "code that would run is not the code on disk. Fix: restart the process (or notebook kernel), "
            "or importlib.reload() the module, then run again. If this happens in a fresh process, Python ran "
            "an outdated __pycache__ file (the source was saved twice within one second with the same size): "
            "save the file again or delete its __pycache__ folder."
        )


def _reused_name(code: types.CodeType) -> str:
    return (f"The source kept in memory for {code.co_name!r} ({code.co_filename}, line {code.co_firstlineno}) is not "
            "the code that runs: its name was reused for other code (a debugger that sets IPYKERNEL_CELL_NAME "
            f"gives every notebook cell the same name). Fix: run the cell that defines {code.co_name!r} again.")


#: the compiler flags of ``from __future__`` imports; IPython applies those of earlier cells to later ones
_FUTURE_FLAGS = functools.reduce(operator.or_, (getattr(__future__, name).compiler_flag
                                                  for name in __future__.all_feature_names))


def _compile_whole(parsed: ParsedModule, flags: int) -> types.CodeType | bool:
    for extra in (0, ast.PyCF_ALLOW_TOP_LEVEL_AWAIT):  # a notebook cell may `await` at top level
        try:
            return compile(parsed.tree, parsed.filename, "exec", flags=flags | extra, dont_inherit=True)
        except (SyntaxError, ValueError):
            continue
    return False


def _index_codes(module: types.CodeType) -> dict[tuple[str, int], list[types.CodeType]]:
    """Every code object compiled from a module, by (name, first line): built once per compiled file, so
    checking a step costs a lookup, not a walk of the whole module (which made N steps cost N x its size)."""
    index: dict[tuple[str, int], list[types.CodeType]] = {}
    stack = [module]
    while stack:
        current = stack.pop()
        index.setdefault((current.co_name, current.co_firstlineno), []).append(current)
        stack.extend(c for c in current.co_consts if isinstance(c, types.CodeType))
    return index


def _twin(candidates: list[types.CodeType], code: types.CodeType) -> types.CodeType | None:
    """The compiled code standing for ``code`` among those of its name and first line. Several (lambdas on
    one line): the one whose first instruction has the same position, so a look-alike is never taken."""
    if len(candidates) <= 1:
        return candidates[0] if candidates else None
    same = [c for c in candidates if _first_position(c) == _first_position(code)]
    return same[0] if len(same) == 1 else None


def _first_position(code: types.CodeType) -> tuple | None:
    positions = [p for p in code.co_positions() if p[0] is not None and p[2] is not None and (p[2], p[3]) != (0, 0)]
    return min(positions) if positions else None


def _same_code(a: types.CodeType, b: types.CodeType) -> bool:
    if a.co_code != b.co_code or a.co_names != b.co_names or len(a.co_consts) != len(b.co_consts):
        return False
    for x, y in zip(a.co_consts, b.co_consts):
        if isinstance(x, types.CodeType) and isinstance(y, types.CodeType):
            if not _same_code(x, y):
                return False
        elif type(x) is not type(y) or x != y:
            return False
    return True


def class_node(cls: type) -> ast.ClassDef:
    """The ``class`` statement of ``cls``, found by qualified name (and method lines when ambiguous)."""
    import inspect
    import sys

    module = sys.modules.get(cls.__module__)
    filename = getattr(module, "__file__", None)
    if filename is None:
        try:
            filename = inspect.getsourcefile(cls)
        except (TypeError, OSError):
            filename = _notebook_cell_of_class(cls)
    if filename is None:
        raise SourceUnavailableError(
            f"dds cannot find the source file of class {cls.__qualname__} (module {cls.__module__}). Fix: define "
            "it in a module file; in IPython/Jupyter, run the cell that defines it again."
        )
    parsed = parse_file(filename)
    candidates = _class_candidates(parsed.tree, cls.__qualname__.split("."))
    if len(candidates) > 1:
        lines = [f.__code__.co_firstlineno for f in vars(cls).values() if isinstance(f, types.FunctionType)]
        if lines:
            candidates = [c for c in candidates if c.lineno <= lines[0] <= c.end_lineno] or candidates
    if not candidates:
        raise SourceUnavailableError(
            f"dds cannot find class {cls.__qualname__} in {filename}: the file changed after it was "
            "imported. Fix: restart (or importlib.reload) the module."
        )
    return candidates[-1]


def _class_candidates(tree: ast.AST, parts: list[str]) -> list[ast.ClassDef]:
    scopes: list[ast.AST] = [tree]
    for i, part in enumerate(parts):
        if part == "<locals>":
            continue
        last = i == len(parts) - 1
        found = []
        for scope in scopes:
            for node in ast.walk(scope) if scope is not tree and parts[i - 1] == "<locals>" else getattr(scope, "body", []):
                if node is scope:
                    continue
                if last and isinstance(node, ast.ClassDef) and node.name == part:
                    found.append(node)
                elif not last and isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == part:
                    found.append(node)
        scopes = found
    return [s for s in scopes if isinstance(s, ast.ClassDef)]


def _notebook_cell_of_class(cls: type) -> str | None:
    """The cell (linecache name) of a class defined in IPython, whose ``__main__`` has no file: the cell one of
    its methods was compiled in, else the most recently run cell that defines a class of that name (a
    dataclass may have no method of its own); None outside IPython."""
    import sys

    parts = cls.__qualname__.split(".")
    names = []
    for value in vars(cls).values():
        fn = getattr(value, "__func__", getattr(value, "fget", value))  # static/class methods, properties
        code = getattr(fn, "__code__", None)
        if (isinstance(code, types.CodeType) and not hasattr(fn, "__wrapped__")  # not e.g. dataclass's repr wrapper
                and str(getattr(fn, "__qualname__", "")).startswith(cls.__qualname__ + ".")):
            names.append(code.co_filename)
    get_ipython = getattr(sys.modules.get("IPython"), "get_ipython", None)
    shell = get_ipython() if callable(get_ipython) else None
    cells = getattr(getattr(shell, "compile", None), "_filename_map", None)  # cell name -> execution count
    if isinstance(cells, dict):
        names += sorted(cells, key=lambda name: cells[name] or 0, reverse=True)
    for filename in names:
        try:
            if linecache.getlines(filename) and _class_candidates(parse_file(filename).tree, parts):
                return filename
        except SourceUnavailableError:
            continue
    return None
