"""Functions defined in notebook cells: their source lives in linecache (as IPython registers it), not in
a file. Re-executing an unchanged cell loads; a changed cell re-runs. Simulated without IPython by doing
what IPython does: compile each cell under its own pseudo file name and register its lines in linecache."""

import linecache
import types

import pytest

import dds

_counter = [0]


def run_cell(namespace: dict, source: str) -> None:
    _counter[0] += 1
    filename = f"<ipython-input-{_counter[0]}-{abs(hash(source)) % 10**8}>"
    lines = source.splitlines(keepends=True)
    linecache.cache[filename] = (len(source), None, lines, filename)
    exec(compile(source, filename, "exec"), namespace)


@pytest.fixture
def notebook(tmp_path):
    dds.set_store("local", internal_dir=str(tmp_path / "store"))
    module = types.ModuleType("__main__")  # cells run in __main__, which dds accepts as user code
    namespace = module.__dict__
    namespace["LOG"] = _Log()  # what ran; a registered hasher makes it a constant, like a logger
    return namespace


CELL = '''
import dds
RATE = 2

def step(x):
    LOG.add("step")
    return x * RATE

value = dds.keep("/nb", step, 21)
'''


def test_reexecuting_an_unchanged_cell_loads(notebook):
    run_cell(notebook, CELL)
    assert notebook["value"] == 42
    run_cell(notebook, CELL)  # a new function object, compiled from a new pseudo file
    assert notebook["value"] == 42
    assert notebook["LOG"].names == ["step"]


def test_a_changed_cell_reruns(notebook):
    run_cell(notebook, CELL)
    run_cell(notebook, CELL.replace("RATE = 2", "RATE = 3"))
    assert notebook["value"] == 63
    assert notebook["LOG"].names == ["step", "step"]


class _Log:
    """Records which functions ran; hashed as a constant (see the register_hasher call below)."""

    def __init__(self):
        self.names = []

    def add(self, name):
        self.names.append(name)


dds.register_hasher(_Log, lambda log: "log")
