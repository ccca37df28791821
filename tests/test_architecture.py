"""The house plan (docs/architecture.md), checked: the import graph read statically from dds's source.

No import cycle (function-local imports count, and so do the package ``__init__`` files an import runs);
imports go down the layers only; the arrows the design forbids are absent; every module says what it owns;
the public facade only re-exports; a store and a codec can be added from outside the package; and
``DDS_DIR`` means the same store to the library and to the command line.
"""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import architecture

GRAPH = architecture.import_graph()
SOURCES = {name: path for name, (path, _is_package) in architecture.modules().items()}
REPO = Path(__file__).resolve().parent.parent


def _imports(area: str) -> set[str]:
    return {target for module, targets in GRAPH.items() if architecture.area(module) == area for target in targets}


def test_the_graph_sees_function_local_imports_and_package_inits():
    # the reader itself: a function-local import (api.why -> pipeline.explain) and an import entering a
    # package (inputs -> signature.spark_values enters dds.signature) are both edges
    assert "dds.pipeline.explain" in GRAPH["dds.api"]
    assert "dds.signature" in GRAPH["dds.inputs"]
    found = architecture.cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}})
    assert found == [["a", "b", "c"]]


def test_no_import_cycle():
    assert architecture.cycles(GRAPH) == []


def test_imports_go_down_the_layers():
    assert architecture.upward_imports(GRAPH) == []


@pytest.mark.parametrize("area, forbidden", [
    ("dds.signature", {"dds.store", "dds.inputs", "dds.codecs", "dds.session"}),  # no files, no stores
    ("dds.store", {"dds.signature", "dds.inputs", "dds.session"}),  # no ASTs
    ("dds.codecs", {"dds.signature", "dds.store"}),  # no signature code
    ("dds.session", {"dds.api", "dds.step", "dds.pipeline", "dds.notebook", "dds.cli"}),  # a leaf above store
    ("dds.pipeline", {"dds.api", "dds.notebook", "dds.cli"}),
])
def test_forbidden_arrows_are_absent(area, forbidden):
    reached = {architecture.area(target) for target in _imports(area)}
    assert reached & forbidden == set()


def test_stores_and_codecs_never_read_code():
    for module, path in SOURCES.items():
        if architecture.area(module) in ("dds.store", "dds.codecs"):
            names = {alias.name for node in ast.walk(ast.parse(path.read_text())) if isinstance(node, ast.Import)
                     for alias in node.names}
            assert not names & {"ast", "tokenize"}, module


def test_nothing_imports_the_public_facade():
    assert [module for module, targets in GRAPH.items() if "dds" in targets and module != "dds"] == []


def test_the_public_facade_only_re_exports():
    tree = ast.parse(SOURCES["dds"].read_text())
    kinds = {type(node).__name__ for node in tree.body}
    assert kinds <= {"Expr", "ImportFrom", "Import", "Assign"}, kinds  # docstring, imports, __all__
    assert [t.id for node in tree.body if isinstance(node, ast.Assign) for t in node.targets] == ["__all__"]


def test_every_module_says_what_it_owns():
    missing = [module for module, path in SOURCES.items()
               if not (ast.get_docstring(ast.parse(path.read_text())) or "").strip()]
    assert missing == []


def test_every_area_is_placed_in_a_layer():
    assert [module for module in SOURCES if module != "dds" and architecture.area(module) == ""] == []


def test_every_codec_capability_dds_reads_is_declared_on_the_base_class():
    from dds.codecs.base import Codec

    read = set()
    for path in SOURCES.values():
        read |= set(re.findall(r'capability\([^,()]+, "(\w+)"\)', path.read_text()))
    assert read, "the pattern above no longer finds the reads: update it"
    assert {flag for flag in read if not isinstance(getattr(Codec, flag, None), bool)} == set()


# -------------------------------------------------------------------------------- extension from outside
def _block(page: str, marker: str) -> str:
    """The Python block right after ``<!-- marker -->`` on a docs page: the docs' own example is what runs."""
    text = (REPO / "docs" / page).read_text()
    found = re.search(rf"<!-- {marker} -->\n```python\n(.*?)```", text, re.S)
    assert found, f"docs/{page} lost its <!-- {marker} --> example"
    return found.group(1)


_RUN = '''
import json, os, sys
import dds
import toy

RUNS = []


def make(x):
    RUNS.append(x)
    return toy.Point(x, x * 2.0)


dds.set_store("folder", internal_dir=sys.argv[1])
value = dds.keep("/toy/point", make, 1.5)
store = dds.get_store()
meta = store.read_meta(store.get_ref("/toy/point"))
print(json.dumps({"runs": RUNS, "value": [value.x, value.y], "type": type(value).__name__,
                  "codec": meta["codec"], "store": type(store).__name__}))
'''


def test_a_store_and_a_codec_added_from_outside_the_package(tmp_path):
    toy = '"""A toy codec and a toy store, as docs/codecs.md and docs/stores.md add them."""\n'
    (tmp_path / "toy.py").write_text(toy + _block("codecs.md", "toy-codec") + "\n" + _block("stores.md", "toy-store"))
    (tmp_path / "run.py").write_text(_RUN)
    store_dir = tmp_path / "folder-store"

    def run() -> dict:
        done = subprocess.run([sys.executable, "run.py", str(store_dir)], cwd=tmp_path, capture_output=True,
                              text=True, timeout=120, env={**os.environ, "PYTHONPATH": _pythonpath(tmp_path)})
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout.strip().splitlines()[-1])

    first, second = run(), run()  # fresh processes: the second loads what the first stored
    assert first == {"runs": [1.5], "value": [1.5, 3.0], "type": "Point", "codec": "myproject.point.json",
                     "store": "FolderStore"}
    assert second == {**first, "runs": []}
    assert list(store_dir.glob("blobs/*/point.json"))


def _pythonpath(*extra: Path) -> str:
    return os.pathsep.join([*(str(p) for p in extra), str(REPO), os.environ.get("PYTHONPATH", "")])


# -------------------------------------------------------------------------------- one rule for DDS_DIR
_KEEP_ON_DDS_DIR = '''
import json
import dds

RUNS = []


def total():
    RUNS.append(1)
    return 42


value = dds.keep("/remote/total", total)
print(json.dumps({"value": value, "runs": len(RUNS), "store": dds.get_store().describe()}))
'''


def test_dds_dir_names_the_same_s3_store_for_the_library_and_the_cli(s3, tmp_path):
    url = s3.url(f"house-{os.urandom(4).hex()}")
    env = {**os.environ, **s3.env, "DDS_DIR": url, "AWS_ENDPOINT_URL_S3": s3.endpoint,
           "PYTHONPATH": _pythonpath()}
    env.pop("DDS_STORE", None)
    (tmp_path / "keep.py").write_text(_KEEP_ON_DDS_DIR)

    def library() -> dict:
        done = subprocess.run([sys.executable, "keep.py"], cwd=tmp_path, env=env, capture_output=True, text=True,
                              timeout=120)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout.strip().splitlines()[-1])

    first = library()
    assert first["value"] == 42 and first["runs"] == 1 and url.split("://", 1)[1] in first["store"]
    assert not (tmp_path / "s3:").exists()  # it used to be a local folder named after the URL
    assert any("/refs/" in key for key in s3.listing())
    listed = subprocess.run([sys.executable, "-m", "dds.cli", "ls"], cwd=tmp_path, env=env, capture_output=True,
                            text=True, timeout=120)
    assert listed.returncode == 0, listed.stderr
    assert "/remote/total" in listed.stdout
    assert library()["runs"] == 0  # a fresh process loads it from the same S3 store


def test_readme_draws_the_layers_of_the_code():
    text = (REPO / "README.md").read_text()
    found = re.search(r"<!-- layers:[^>]*-->\n```\n(.*?)```", text, re.S)
    assert found, "README.md lost its architecture block"
    drawn = [line.split("   ")[0].split() for line in found.group(1).splitlines()]  # names before the comment
    expected = [[name.removeprefix("dds.") + ("/" if (REPO / name.replace(".", "/") / "__init__.py").exists() else "")
                 for name in layer] for layer in reversed(architecture.LAYERS)]
    assert drawn == expected
