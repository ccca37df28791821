"""The notebooks in notebooks/ are committed executed, and their outputs are what dds prints today.

Each notebook runs on a fresh kernel of this venv's Python (notebooks/execute.py, the code behind ``make
notebooks``) and must: run without errors; show what it teaches (cells tagged ``computed`` print dds's
"computed" line, ``loaded`` cells print "loaded" and never "computed" nor the function's own "running ..."
line, ``svg``/``html`` cells display a drawing or a table); print what the checks below expect (the
notebooks themselves hold no ``assert``: a reader's cells teach, this file checks); and produce the text
outputs that are committed, up to signatures (they follow library versions). A stale committed output fails
with the fix: ``make notebooks``.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))
_spec = importlib.util.spec_from_file_location("notebook_execute", REPO / "notebooks" / "execute.py")
execute = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(execute)

# In order: (a line of a code cell's source, text(s) its output must contain). The cells are found in
# sequence, so a repeated source line matches the next such cell.
EXPECT = {
    "01_quickstart": [
        ('print(dds.why("/quickstart/lengths"))', "is up to date"),
        ('print(dds.why("/quickstart/lengths"))', "__main__.word_lengths: code changed (In ["),
        ('print(dds.why("/quickstart/long_words"))', "__main__.is_long: MIN_LENGTH changed 5 -> 7"),
        ("%%dds /quickstart/summary", "'2 of 3 words are long'"),
        ("%%dds /quickstart/summary", "'2 of 3 words are long'"),
        ('dds.info("/quickstart/long_words")', "codec:     pickle"),
    ],
    "02_pipelines": [
        ("dds.graph(pipeline)", "will run  /shop/orders"),
        ("dds.graph(pipeline)", ("will run  /shop/clean", "will run  /shop/totals", "   fresh  /shop/orders")),
        ('print(dds.why("/shop/clean"))', "__main__.clean: code changed (In ["),
        ('dds.info("/shop/totals")', "/shop/clean  data function __main__.clean called"),
    ],
    "03_spark": [
        ('print(dds.why("/spark/big_orders"))', ("/spark/big_orders is up to date",
                                                 "__main__.totals: code changed (In [")),
    ],
    "04_custom_types": [
        ('dds.keep("/custom/noisy_mean", noisy_mean, np.random.default_rng(42), 1000)', "dds: loaded   /custom/noisy_mean"),
        ('info = dds.info("/custom/histogram")', "codec:     histogram.json"),
        ("again == hist", "True"),
        ('print(dds.why("/custom/histogram"))', "__main__.histogram: code changed (In ["),
    ],
}
_SIGNATURE = re.compile(r"\b[0-9a-f]{10}(?:[0-9a-f]{30})?\b")


@pytest.fixture(scope="module")
def kernel_specs(tmp_path_factory):
    return execute.kernel_specs(tmp_path_factory.mktemp("jupyter"))


def text_of(cell, streams=("stdout",)) -> str:
    """What a reader sees of a cell as text: its printed lines and the plain text of what it displays."""
    parts = []
    for output in cell.get("outputs", []):
        if output.output_type == "stream":
            if output.name in streams:
                parts.append(output.text)
        elif "data" in output:
            parts.append(output.data.get("text/plain", ""))
    return "".join(parts)


def comparable(cell) -> str:
    return _SIGNATURE.sub("<sig>", execute.scrub_text(text_of(cell)))


def has_data(cell, mime: str) -> bool:
    return any(mime in output.get("data", {}) for output in cell.get("outputs", []))


def needs(notebook: Path) -> None:
    if "spark" in notebook.name:
        pytest.importorskip("pyspark")
        if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
            pytest.skip("Spark needs Java")
    if "pipelines" in notebook.name:
        pytest.importorskip("pydotplus")


def code_cells(nb) -> list:
    return [cell for cell in nb.cells if cell.cell_type == "code"]


def test_there_are_notebooks():
    assert [p.name for p in NOTEBOOKS][:4] == ["01_quickstart.ipynb", "02_pipelines.ipynb", "03_spark.ipynb",
                                               "04_custom_types.ipynb"]
    assert set(EXPECT) == {p.stem for p in NOTEBOOKS}, "every notebook has its checks in EXPECT"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebooks_are_committed_executed_and_scrubbed(notebook):
    nb = nbformat.read(notebook, as_version=4)
    nbformat.validate(nb)
    cells = code_cells(nb)
    assert [c.execution_count for c in cells] == list(range(1, len(cells) + 1)), \
        f"{notebook.name} is not executed top to bottom: run `make notebooks`"
    assert any(c.outputs for c in cells), f"{notebook.name} has no outputs: run `make notebooks`"
    for cell in cells:
        assert not re.search(r"^\s*assert\b", cell.source, re.M), \
            f"{notebook.name}: an assert in a reader's cell; checks go in tests/test_notebooks.py:\n{cell.source}"
        assert all(o.output_type != "error" for o in cell.outputs), f"{notebook.name}: a cell failed"
        assert "execution" not in cell.metadata, f"{notebook.name}: execution timestamps are committed"
    copy = nbformat.from_dict(nb.copy())
    before = nbformat.writes(copy)
    execute.scrub(copy)
    assert nbformat.writes(copy) == before, f"{notebook.name} has unscrubbed outputs: run `make notebooks`"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_shows_what_it_teaches_and_matches_its_committed_outputs(notebook, kernel_specs, tmp_path):
    needs(notebook)
    committed = nbformat.read(notebook, as_version=4)
    nb = execute.execute(notebook, kernel_specs, tmp_path, extra_cells=["import sys; print('kernel:', sys.executable)"])
    assert text_of(nb.cells.pop()).strip() == f"kernel: {sys.executable}"
    execute.scrub(nb)
    tagged = {"computed": 0, "loaded": 0}
    for index, cell in enumerate(nb.cells):
        tags = set(cell.get("metadata", {}).get("tags", []))
        out = text_of(cell, streams=("stdout", "stderr"))
        where = f"{notebook.name}, cell {index}:\n{cell.source}\n--- output:\n{out}"
        if "computed" in tags:
            tagged["computed"] += 1
            assert "dds: computed" in out, where
        if "loaded" in tags:
            tagged["loaded"] += 1
            assert "dds: loaded" in out and "dds: computed" not in out and "running" not in out, where
        if "html" in tags:
            assert has_data(cell, "text/html"), where
        if "svg" in tags and shutil.which("dot"):
            assert has_data(cell, "image/svg+xml"), where
    assert tagged["computed"] and tagged["loaded"], f"{notebook.name} shows no change -> re-run"

    cells = code_cells(nb)
    position = 0
    for line, expected in EXPECT[notebook.stem]:
        while position < len(cells) and line not in cells[position].source.splitlines():
            position += 1
        assert position < len(cells), f"{notebook.name}: no cell (after the previous check) has the line {line!r}"
        out = text_of(cells[position])
        for text in (expected,) if isinstance(expected, str) else expected:
            assert text in out, f"{notebook.name}, In [{position + 1}]: no {text!r} in\n{out}"
        position += 1

    stale = [(i + 1, old, new) for i, (old, new) in
             enumerate(zip(map(comparable, code_cells(committed)), map(comparable, cells))) if old != new]
    assert len(code_cells(committed)) == len(cells)
    assert not stale, (f"{notebook.name}: the committed outputs are stale (run `make notebooks`); first "
                       f"difference in In [{stale[0][0]}]:\n--- committed:\n{stale[0][1]}\n--- now:\n{stale[0][2]}")


def test_a_cell_file_this_kernel_did_not_number_keeps_its_name():
    """Outside a kernel (or for another session's cell) ``why`` shows the file name as it was stored."""
    from dds.notebook import cell_location

    assert cell_location("/tmp/ipykernel_1614/3482856672.py:12") == "/tmp/ipykernel_1614/3482856672.py:12"
    assert cell_location("pipe/util.py:3") == "pipe/util.py:3"
