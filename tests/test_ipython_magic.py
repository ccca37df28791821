"""The ``%%dds /path`` cell magic in a real IPython InteractiveShell, and the rich display objects
(``dds.info``, ``dds.graph``) that Jupyter renders as HTML and SVG.

Cells are run with ``shell.run_cell`` exactly as IPython runs typed cells (its compiler registers each cell
in linecache). What ran is seen from the cell's own print() and from dds's "computed"/"loaded" lines,
which ``%load_ext dds`` prints under each cell.
"""

from __future__ import annotations

import html
import shutil
import sys
import xml.etree.ElementTree as ET

import pytest

import dds
from dds.errors import ArgumentError, NotFoundError, PathError, SourceUnavailableError

IPython = pytest.importorskip("IPython")


@pytest.fixture(scope="module")
def shell(tmp_path_factory):
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    saved = sys.modules.get("__main__"), sys.displayhook, sys.excepthook
    config = Config()
    config.HistoryManager.hist_file = ":memory:"
    ip = InteractiveShell.instance(config=config, ipython_dir=str(tmp_path_factory.mktemp("ipython")))
    ip.run_line_magic("load_ext", "dds")
    yield ip
    dds.notebook.show_messages(False)
    InteractiveShell.clear_instance()
    sys.modules["__main__"], sys.displayhook, sys.excepthook = saved


@pytest.fixture
def run(shell, tmp_path, capsys):
    """``run(source)`` -> (value of the cell, its stdout); the cell's exception is raised here."""
    shell.reset(new_session=False)
    dds.set_store("local", internal_dir=str(tmp_path / "store"))
    capsys.readouterr()

    def run_cell(source: str):
        result = shell.run_cell(source, store_history=True)
        out = capsys.readouterr().out
        if result.error_before_exec is not None:
            raise result.error_before_exec
        if result.error_in_exec is not None:
            raise result.error_in_exec
        return result.result, out

    return run_cell


SETUP = """
RATE = 2
def helper(v):
    return v + 1
"""

CELL = """%%dds /cell
print("cell ran")
xs = [helper(i) * RATE for i in range(4)]
total = sum(xs)
total
"""


def test_an_unchanged_cell_run_again_loads(run):
    run(SETUP)
    value, out = run(CELL)
    assert value == 20 and "cell ran" in out and "dds: computed /cell" in out
    value, out = run(CELL)
    assert value == 20 and "cell ran" not in out and "dds: loaded   /cell" in out


def test_comments_and_formatting_do_not_matter(run):
    run(SETUP)
    run(CELL)
    value, out = run(CELL.replace("total = sum(xs)", "total = sum( xs )   # the sum\n\n"))
    assert value == 20 and "cell ran" not in out


def test_a_changed_cell_reruns(run):
    run(SETUP)
    run(CELL)
    value, out = run(CELL.replace("range(4)", "range(5)"))
    assert value == 30 and "cell ran" in out and "dds: computed /cell" in out


def test_a_changed_constant_in_the_namespace_reruns(run):
    run(SETUP)
    run(CELL)
    run("RATE = 3")
    value, out = run(CELL)
    assert value == 30 and "cell ran" in out
    assert "RATE changed 2 -> 3" in dds.why("/cell")


def test_a_helper_redefined_in_another_cell_reruns(run):
    run(SETUP)
    run(CELL)
    run("def helper(v):\n    return v + 2\n")
    value, out = run(CELL)
    assert value == 28 and "cell ran" in out
    run("def helper(v):\n    # same code as before, with a comment\n    return v + 2\n")
    value, out = run(CELL)
    assert value == 28 and "cell ran" not in out


def test_names_the_cell_does_not_read_do_not_matter(run):
    run(SETUP)
    run(CELL)
    run("UNRELATED = 1\ndef other():\n    return 5\n")
    _, out = run(CELL)
    assert "cell ran" not in out


def test_assignments_land_when_the_cell_runs(run, shell):
    run(SETUP)
    run(CELL)
    assert shell.user_ns["total"] == 20 and shell.user_ns["xs"] == [2, 4, 6, 8]


def test_on_a_load_only_the_last_expression_name_is_bound(run, shell):
    run(SETUP)
    run(CELL)
    del shell.user_ns["total"], shell.user_ns["xs"]
    run(CELL)
    assert shell.user_ns["total"] == 20  # the last expression is a name the cell assigns
    assert "xs" not in shell.user_ns  # the cell did not run
    assert shell.user_ns["_"] == 20  # IPython's last result, as for any cell


def test_the_last_expression_may_be_any_expression(run):
    run(SETUP)
    value, _ = run("%%dds /expr\nwords = ['a', 'bb']\n{w: len(w) for w in words}\n")
    assert value == {"a": 1, "bb": 2}
    value, out = run("%%dds /expr\nwords = ['a', 'bb']\n{w: len(w) for w in words}\n")
    assert value == {"a": 1, "bb": 2} and "loaded" in out


def test_multiline_strings_semicolons_and_tabs_are_kept_exactly(run):
    source = '%%dds /text\ntext = """first\n  second\n\tthird"""; n = len(text)\nif n:\n\tk = 2\n(n * k, text)\n'
    value, _ = run(source)
    assert value == (2 * len("first\n  second\n\tthird"), "first\n  second\n\tthird")
    value, out = run(source)
    assert value[1] == "first\n  second\n\tthird" and "loaded" in out


def test_functions_and_classes_defined_in_a_cell(run):
    source = ("%%dds /shapes\nclass Box:\n    def __init__(self, v):\n        self.v = v\n"
              "def make(v):\n    return Box(v)\n[make(i).v for i in range(3)]\n")
    value, _ = run(source)
    assert value == [0, 1, 2]
    value, out = run(source)
    assert value == [0, 1, 2] and "loaded" in out


def test_classes_and_dataclasses_defined_in_plain_cells(run):
    """IPython's __main__ has no file: dds finds a class's cell through its methods, or (a dataclass has no
    method of its own) through the latest cell IPython ran that defines it."""
    dataclass_cell = "from dataclasses import dataclass\n@dataclass\nclass P:\n    a: int = 1\n"
    run(dataclass_cell)
    run("class Scaler:\n    def __init__(self, k):\n        self.k = k\n"
        "    def apply(self, x):\n        return x * self.k\n")
    cell = ("import dds\ndef use(x):\n    print('use ran')\n    return Scaler(P().a + 1).apply(x)\n"
            "dds.keep('/classes', use, 3)\n")
    value, out = run(cell)
    assert value == 6 and "use ran" in out
    value, out = run(cell)
    assert value == 6 and "use ran" not in out
    run(dataclass_cell.replace("a: int = 1", "a: int = 2"))
    value, out = run(cell)
    assert value == 9 and "use ran" in out
    run(dataclass_cell)  # the first definition again: its value is loaded
    value, out = run(cell)
    assert value == 6 and "use ran" not in out


def test_a_cell_name_reused_for_other_code_is_refused(run, shell, monkeypatch):
    """With IPYKERNEL_CELL_NAME set (debuggers do), every cell has the same linecache name: the source found
    for a function from an earlier cell may be another function's. dds must refuse, not hash the wrong code."""
    monkeypatch.setattr(shell.compile, "get_code_name", lambda raw, code, number: "<one name for all cells>")
    run("import dds")
    run("def f(x):\n    return x + 1\nold = f\n")
    with pytest.raises(SourceUnavailableError, match="name was reused"):  # another f at the same line
        run("def f(x):\n    return x + 2\ndds.keep('/f', old, 1)\n")
    with pytest.raises(SourceUnavailableError, match="name was reused"):  # no f at that line
        run("\n\ndds.keep('/f', old, 1)\n")
    value, _ = run("def f(x):\n    return x + 2\ndds.keep('/f', f, 1)\n")
    assert value == 3


def test_an_upstream_load_is_a_dependency(run):
    run("import dds\ndds.keep('/base', lambda: 10)")
    cell = "%%dds /derived\ndds.load('/base') * 2\n"
    assert run(cell)[0] == 20
    run("dds.keep('/base', lambda: 11)")
    value, out = run(cell)
    assert value == 22 and "dds: computed /derived" in out


def test_metadata_names_the_cell(run):
    run(SETUP)
    run(CELL)
    assert dds.info("/cell").function == "__main__.%%dds /cell"


@pytest.mark.parametrize("line", ["", "/a /b"])
def test_the_magic_needs_exactly_one_path(run, line):
    with pytest.raises(ArgumentError, match="exactly one store path"):
        run(f"%%dds {line}\n1\n")


def test_a_bad_path_is_a_clear_error(run):
    with pytest.raises(PathError, match="relative: it must start with '/'"):
        run("%%dds features\n1\n")


def test_a_cell_without_a_last_expression_is_a_clear_error(run):
    with pytest.raises(ArgumentError, match=r"ends with an assignment .*not an expression.*add a last line `model`"):
        run("%%dds /model\nmodel = 3\n")
    with pytest.raises(ArgumentError, match="is empty"):
        run("%%dds /model\n# nothing\n")


def test_reading_a_name_before_assigning_it_is_a_clear_error(run):
    run("df = [3, 1, 2]")
    with pytest.raises(ArgumentError, match="reads 'df' before assigning it"):
        run("%%dds /sorted\ndf = sorted(df)\ndf\n")


def test_an_error_in_the_cell_stores_nothing(run):
    with pytest.raises(ZeroDivisionError) as info:  # the cell's own exception, as in a plain cell
        run("%%dds /boom\n1 / 0\n")
    assert any("/boom" in note for note in info.value.__notes__)
    with pytest.raises(NotFoundError):
        dds.load("/boom")


def test_return_outside_a_function_is_refused_as_in_a_plain_cell(run):
    with pytest.raises(SyntaxError):
        run("%%dds /r\nreturn 1\n")


# ------------------------------------------------------------------------------------ rich display
def test_info_text_and_html(run):
    run(SETUP)
    run(CELL)
    info = dds.info("/cell")
    assert info.path == "/cell" and len(info.signature) == 40 and info.run["duration_s"] >= 0
    text = repr(info)
    assert "path:      /cell" in text and "function:  __main__.%%dds /cell" in text and "upstream: (none)" in text
    page = info._repr_html_()
    assert page.startswith("<table") and "<code>/cell</code>" in page and info.signature in page


def test_info_html_escapes_user_strings(tmp_path):
    dds.set_store("local", internal_dir=str(tmp_path / "store"))
    dds.set_run_info_fn(lambda: {"note": "<script>alert(1)</script>"})
    try:
        dds.keep("/<b>x</b>", lambda: 1)
    finally:
        dds.set_run_info_fn(None)
    page = dds.info("/<b>x</b>")._repr_html_()
    assert "<script>" not in page and "<b>" not in page and "<lambda>" not in page
    assert html.escape("<script>alert(1)</script>") in page and "&lt;lambda&gt;" in page


def test_info_lists_upstream_paths(tmp_path):
    dds.set_store("local", internal_dir=str(tmp_path / "store"))
    dds.keep("/up", _upstream_value)
    dds.keep("/down", _reads_upstream)
    info = dds.info("/down")
    assert info.upstream and info.upstream[0][0] == "/up" and "still current" in info.upstream[0][1]
    assert "/up" in info._repr_html_()


def test_info_of_a_missing_path_names_the_fix(tmp_path):
    dds.set_store("local", internal_dir=str(tmp_path / "store"))
    with pytest.raises(NotFoundError, match=r"Nothing is stored at /nothing.*%%dds /nothing"):
        dds.info("/nothing")


def _upstream_value():
    return 2


def _reads_upstream():
    return dds.load("/up") + 1


def _pipeline():
    a = dds.keep("/g/a", _upstream_value)
    return dds.keep("/g/b", _double, a)


def _double(v):
    return v * 2


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")
def test_graph_renders_svg(tmp_path):
    dds.set_store("local", internal_dir=str(tmp_path / "store"))
    drawing = dds.graph(_pipeline)
    svg = drawing._repr_svg_()
    root = ET.fromstring(svg)
    assert root.tag.endswith("svg")
    labels = "".join(root.itertext())
    assert "/g/a" in labels and "/g/b" in labels
    assert drawing.save(tmp_path / "p.svg") == str(tmp_path / "p.svg")
    assert ET.parse(tmp_path / "p.svg").getroot().tag.endswith("svg")


def test_graph_text_and_dot(tmp_path):
    pytest.importorskip("pydotplus")
    dds.set_store("local", internal_dir=str(tmp_path / "store"))
    drawing = dds.graph(_pipeline)
    assert set(drawing.plan.paths("will run")) == {"/g/a", "/g/b"}  # planned: nothing ran
    assert dds.get_store().get_ref("/g/a") is None
    text = repr(drawing)
    assert text.startswith("dds.graph(") and "will run" in text and "/g/b" in text
    assert '"/g/a" -> "/g/b"' in drawing.to_dot()
    dds.eval(_pipeline)
    assert dds.graph(_pipeline).plan.paths("fresh") == ["/g/a", "/g/b"]


def test_graph_needs_a_function():
    with pytest.raises(ArgumentError, match="needs the pipeline function"):
        dds.graph("/not/a/function")


def test_graph_without_graphviz_falls_back_to_text(tmp_path, monkeypatch):
    pytest.importorskip("pydotplus")
    dds.set_store("local", internal_dir=str(tmp_path / "store"))
    monkeypatch.setattr("dds.notebook.display.shutil.which", lambda name: None)
    drawing = dds.graph(_pipeline)
    assert drawing._repr_svg_() is None  # Jupyter then shows the text
    assert "install Graphviz" in repr(drawing)
