"""Execute the notebooks and write them back with their outputs (``make notebooks``).

Each notebook runs on a fresh kernel of this interpreter (a kernelspec in a temporary directory: no
user-level Jupyter set-up is used or changed), in a temporary working directory. What changes from run to
run is scrubbed from the outputs before they are written, so re-running changes nothing unless dds's
behaviour did: temporary paths, timings, timestamps, ages, host, user, process id and git commit. The
tests (tests/test_notebooks.py) execute them again and compare the text outputs with the committed ones.

    python notebooks/execute.py                      # every notebook
    python notebooks/execute.py 01_quickstart.ipynb  # some
"""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
KERNEL = "dds-notebooks"

# (pattern, replacement) applied to every text output; the first group, when there is one, is kept.
_SCRUB = [
    (re.compile(r"(dds-[a-z]+(?:-[a-z]+)*-)[a-z0-9_]{8}\b"), r"\1XXXXXXXX"),  # tempfile.mkdtemp(prefix=...)
    (re.compile(r"(/ipykernel_)\d+/\d+\.py"), r"\1XXXX/cell.py"),  # a cell this kernel did not number
    (re.compile(r"( in )\d+\.\d+s\b"), r"\1…s"),  # "computed /path (fn) in 0.004s"
    (re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:\+00:00|Z)?"), "(time of the run)"),
    (re.compile(r"\(\d+(?:\.\d+)?[smhd] ago\)"), "(… ago)"),
    (re.compile(r"\b(duration_s|host|user|pid|git_commit|git_dirty): [^<\n]*"), r"\1: …"),
    (re.compile(r"( at 0x)[0-9A-Fa-f]+"), r"\1…"),  # an object's address in a repr
]
# Lines of stderr that say something about the machine, not about dds (Spark's JVM, library warnings).
_NOISE = re.compile(r"^(?:\d\d/\d\d/\d\d \d\d:\d\d:\d\d \w+ .*|Using Spark's default log4j profile.*|"
                    r"Setting default log level to .*|To adjust logging level use .*|WARNING: Using incubator .*|"
                    r".*(?:Future|Deprecation|User)Warning: .*|\s+require_minimum_\w+_version\(\))$\n?", re.M)


def scrub_text(text: str) -> str:
    text = text.replace(tempfile.gettempdir().rstrip("/") + "/", "/tmp/")
    for pattern, replacement in _SCRUB:
        text = pattern.sub(replacement, text)
    return text


def scrub(nb) -> None:
    """Make ``nb``'s outputs and metadata the same on every run (in place)."""
    for cell in nb.cells:
        cell.metadata.pop("execution", None)  # nbclient's start/end timestamps
        if cell.cell_type != "code":
            continue
        for output in list(cell.outputs):
            if output.get("output_type") == "stream" and output.get("name") == "stderr":
                output["text"] = _NOISE.sub("", output["text"])
                if not output["text"].strip():
                    cell.outputs.remove(output)
                    continue
            if output.get("output_type") == "stream":
                output["text"] = scrub_text(output["text"])
                previous = cell.outputs[cell.outputs.index(output) - 1] if cell.outputs.index(output) else None
                if previous is not None and previous.get("output_type") == "stream" and \
                        previous.get("name") == output.get("name"):  # one block: the kernel's flushes vary
                    previous["text"] += output["text"]
                    cell.outputs.remove(output)
                    continue
            for mime, value in output.get("data", {}).items():
                if mime.startswith("text/") or mime == "image/svg+xml":
                    output["data"][mime] = scrub_text(value if isinstance(value, str) else "".join(value))


def kernel_specs(directory: Path):
    """A KernelSpecManager whose one kernel is this interpreter (``sys.executable``)."""
    from jupyter_client.kernelspec import KernelSpecManager

    kernels = directory / "kernels"
    (kernels / KERNEL).mkdir(parents=True, exist_ok=True)
    spec = {"argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": "dds notebooks", "language": "python"}
    (kernels / KERNEL / "kernel.json").write_text(json.dumps(spec))
    return KernelSpecManager(kernel_dirs=[str(kernels)])


def execute(path: Path, specs, workdir: Path, extra_cells: list[str] = ()):
    """Run the notebook at ``path`` on a fresh kernel in ``workdir``; returns the executed notebook, its
    kernelspec metadata as committed. ``extra_cells`` are appended (a test's own checks)."""
    import nbclient
    import nbformat
    from jupyter_client.manager import AsyncKernelManager
    from jupyter_core.utils import run_sync

    nb = nbformat.read(path, as_version=4)
    kernelspec = nb.metadata.get("kernelspec")
    nb.cells.extend(nbformat.v4.new_code_cell(source) for source in extra_cells)
    manager = AsyncKernelManager(kernel_name=KERNEL, kernel_spec_manager=specs,
                                 connection_file=str(workdir / "kernel-connection.json"))
    client = nbclient.NotebookClient(nb, km=manager, timeout=300, resources={"metadata": {"path": str(workdir)}})
    env = {**os.environ, "IPYTHONDIR": str(workdir / "ipython"),  # no ~/.ipython profile or history
           "PYTHONPATH": os.pathsep.join(filter(None, [str(HERE.parent), os.environ.get("PYTHONPATH")]))}
    try:
        client.execute(env=env)
    finally:  # nbclient shuts down only kernels it started itself; this one (and its Spark JVM) is ours
        if run_sync(manager.is_alive)():
            run_sync(manager.shutdown_kernel)(now=True)
    if kernelspec is not None:
        nb.metadata["kernelspec"] = kernelspec
    return nb


def main(names: list[str]) -> int:
    import nbformat

    paths = [HERE / name for name in names] if names else sorted(HERE.glob("*.ipynb"))
    with tempfile.TemporaryDirectory(prefix="dds-notebooks-") as tmp:
        specs = kernel_specs(Path(tmp))
        for path in paths:
            workdir = Path(tmp) / path.stem
            workdir.mkdir()
            nb = execute(path, specs, workdir)
            scrub(nb)
            before = path.read_text(encoding="utf-8")
            nbformat.write(nb, path)
            print(f"{path.name}: {'unchanged' if path.read_text(encoding='utf-8') == before else 'updated'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
