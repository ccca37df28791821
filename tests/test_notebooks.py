"""Every notebook in notebooks/ runs on a fresh kernel of this venv's Python, without errors, and shows what
it teaches: cells tagged ``computed`` print dds's "computed" line, cells tagged ``loaded`` print "loaded"
and never "computed" nor the function's own "running ..." line, ``svg``/``html`` cells display a drawing or
a table. The notebooks also assert their own behaviour in cells a reader learns from.

The kernel is this test process's interpreter (``sys.executable``), through a kernelspec written to a
temporary directory: no user-level Jupyter installation is used or changed.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))
KERNEL = "dds-test-venv"


@pytest.fixture(scope="module")
def kernel_specs(tmp_path_factory):
    from jupyter_client.kernelspec import KernelSpecManager

    kernels = tmp_path_factory.mktemp("jupyter") / "kernels"
    (kernels / KERNEL).mkdir(parents=True)
    spec = {"argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": "dds tests", "language": "python"}
    (kernels / KERNEL / "kernel.json").write_text(json.dumps(spec))
    return KernelSpecManager(kernel_dirs=[str(kernels)])


def execute(path: Path, kernel_specs, workdir: Path):
    """Run the notebook at ``path`` on a fresh kernel; returns the executed notebook."""
    from jupyter_client.manager import AsyncKernelManager
    from jupyter_core.utils import run_sync

    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell("import sys; print('kernel:', sys.executable)"))
    manager = AsyncKernelManager(kernel_name=KERNEL, kernel_spec_manager=kernel_specs,
                                 connection_file=str(workdir / "kernel-connection.json"))
    client = nbclient.NotebookClient(nb, km=manager, timeout=300, resources={"metadata": {"path": str(workdir)}})
    try:
        client.execute(env={**os.environ, "IPYTHONDIR": str(workdir / "ipython")})  # no ~/.ipython profile/history
    finally:  # nbclient shuts down only kernels it started itself; this one (and its Spark JVM) is ours
        if run_sync(manager.is_alive)():
            run_sync(manager.shutdown_kernel)(now=True)
    return nb


def text_of(cell) -> str:
    parts = []
    for output in cell.get("outputs", []):
        if output.output_type == "stream":
            parts.append(output.text)
        elif "data" in output:
            parts.append(output.data.get("text/plain", ""))
    return "".join(parts)


def has_data(cell, mime: str) -> bool:
    return any(mime in output.get("data", {}) for output in cell.get("outputs", []))


def needs(notebook: Path) -> None:
    if "spark" in notebook.name:
        pytest.importorskip("pyspark")
        if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
            pytest.skip("Spark needs Java")
    if "pipelines" in notebook.name:
        pytest.importorskip("pydotplus")


def test_there_are_notebooks():
    assert [p.name for p in NOTEBOOKS][:4] == ["01_quickstart.ipynb", "02_pipelines.ipynb", "03_spark.ipynb",
                                               "04_custom_types.ipynb"]


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebooks_are_committed_without_outputs(notebook):
    nb = nbformat.read(notebook, as_version=4)
    nbformat.validate(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"{notebook.name}: clear the outputs"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_and_shows_what_it_teaches(notebook, kernel_specs, tmp_path):
    needs(notebook)
    nb = execute(notebook, kernel_specs, tmp_path)  # raises CellExecutionError on any error
    assert text_of(nb.cells[-1]).strip() == f"kernel: {sys.executable}"
    tagged = {"computed": 0, "loaded": 0}
    for index, cell in enumerate(nb.cells):
        tags = set(cell.get("metadata", {}).get("tags", []))
        out = text_of(cell)
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
