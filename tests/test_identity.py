"""Issue 16, end to end in fresh processes: the same code gives the same signature however it is started
(script, ``python -m``, import, the CLI), what ``dds status`` prints is what ``dds run`` does, and ``why``
compares with what a path held before.

Every test copies ``examples/pipeline.py`` (or ``examples/ci``) into its own project directory (with a
``pyproject.toml``, as a clone has) and runs real processes there: edits never touch the repository.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from dds.signature.identity import identity_of_file

REPO_ROOT = Path(__file__).resolve().parents[1]
PATHS = ["/example/raw", "/example/clean", "/example/model", "/example/report"]
TIMEOUT = 180
_LOG = re.compile(r"^dds: (loaded|computed) +(/\S+) .*\[([0-9a-f]{10})\]$", re.M)


class Project:
    """A copy of the example on disk, run in fresh processes from its root (the current directory)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        (root / "examples").mkdir(parents=True)
        shutil.copy(REPO_ROOT / "examples" / "pipeline.py", root / "examples" / "pipeline.py")
        shutil.copytree(REPO_ROOT / "examples" / "ci", root / "examples" / "ci",
                        ignore=shutil.ignore_patterns("__pycache__", ".dds"))
        (root / "pyproject.toml").write_text("[project]\nname = 'demo'\n", encoding="utf-8")
        (root / "notebooks").mkdir()
        self._age_sources()

    def _age_sources(self) -> None:
        """Sources look saved a few seconds ago, as a person's edits would."""
        stamp = time.time() - 5
        for p in self.root.rglob("*.py"):
            os.utime(p, (stamp, stamp))

    def edit(self, rel: str, old: str, new: str) -> None:
        p = self.root / rel
        text = p.read_text(encoding="utf-8")
        assert text.count(old) == 1, f"{old!r} must occur once in {rel}"
        before = p.stat().st_mtime
        p.write_text(text.replace(old, new), encoding="utf-8")
        mtime = max(time.time() - 5, before + 0.01)
        os.utime(p, (mtime, mtime))

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DDS_", "PYTHON", "COV_CORE"))}
        env.update(PYTHONPATH=str(REPO_ROOT), PYTHONDONTWRITEBYTECODE="1", PYTHONHASHSEED="0")
        return env

    def run(self, *args: str, cwd: Path | None = None, expect: int | None = 0) -> subprocess.CompletedProcess:
        proc = subprocess.run([sys.executable, *args], cwd=str(cwd or self.root), env=self.env(), text=True,
                              capture_output=True, timeout=TIMEOUT, stdin=subprocess.DEVNULL)
        if expect is not None:
            assert proc.returncode == expect, (f"{args} exited {proc.returncode}, expected {expect}\n"
                                               f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}")
        return proc

    def dds(self, *args: str, cwd: Path | None = None, expect: int | None = 0) -> subprocess.CompletedProcess:
        return self.run("-m", "dds.cli", "--store", str(self.root / ".dds"), *args, cwd=cwd, expect=expect)

    def report(self, *args: str, expect: int | None = 0, cwd: Path | None = None) -> dict[str, dict]:
        """``dds <args> --report FILE`` -> {path: step} from the JSON report."""
        out = self.root / "report.json"
        if out.exists():
            out.unlink()
        self.dds(*args, "--report", str(out), expect=expect, cwd=cwd)
        return {s["path"]: s for s in json.loads(out.read_text(encoding="utf-8"))["steps"]}

    def script(self, *args: str) -> dict[str, tuple[str, str]]:
        """Run the example as a program; {path: (loaded|computed, short signature)} from dds's log."""
        proc = self.run(*args)
        return {path: (what, sig) for what, path, sig in _LOG.findall(proc.stderr)}


@pytest.fixture
def project(tmp_path):
    return Project(tmp_path / "clone")


def _short(report: dict[str, dict]) -> dict[str, str | None]:
    return {p: (s["signature"] or None) and s["signature"][:10] for p, s in report.items()}


# ------------------------------------------------------------------------------------ 1. identity
def test_script_cli_module_and_import_share_every_signature(project):
    first = project.script("examples/pipeline.py")
    assert {p: w for p, (w, _) in first.items()} == dict.fromkeys(PATHS, "computed")
    signatures = {p: s for p, (_, s) in first.items()}

    status = project.report("status", "examples.pipeline:main")  # exit 0: nothing would re-run
    assert {p: s["outcome"] for p, s in status.items()} == dict.fromkeys(PATHS, "fresh")
    assert _short(status) == signatures  # every signature is printed, and it is the script's

    run = project.report("run", "examples.pipeline:main")
    assert {p: s["outcome"] for p, s in run.items()} == dict.fromkeys(PATHS, "loaded")
    assert _short(run) == signatures

    as_module = project.script("-m", "examples.pipeline")
    assert as_module == {p: ("loaded", s) for p, s in signatures.items()}

    kernel = project.run("-c", textwrap.dedent("""
        import logging, os, sys
        logging.basicConfig(level=logging.INFO, format="%(message)s")
        sys.path.insert(0, os.path.dirname(os.getcwd()))  # what a notebook in notebooks/ does
        import dds
        dds.set_store("local", internal_dir=os.path.join("..", ".dds"))
        from examples.pipeline import main
        print(main(), end="")
    """), cwd=project.root / "notebooks")
    assert {path: (what, sig) for what, path, sig in _LOG.findall(kernel.stderr)} == {
        p: ("loaded", s) for p, s in signatures.items()}

    assert project.script("examples/pipeline.py") == {p: ("loaded", s) for p, s in signatures.items()}


# ------------------------------------------------------------------------- 2. status is exact
def test_after_an_edit_status_names_what_run_runs_with_its_signatures(project):
    project.script("examples/pipeline.py")
    project.edit("examples/pipeline.py", "SLOPE = 3.0", "SLOPE = 4.0")

    dry = project.report("run", "--dry-run", "examples.pipeline:main")
    status = project.report("status", "examples.pipeline:main", expect=1)
    run = project.report("run", "examples.pipeline:main")
    ran = {p for p, s in run.items() if s["outcome"] == "ran"}
    assert ran == set(PATHS)
    assert {p for p, s in status.items() if s["outcome"] != "fresh"} == ran
    for planned in (dry, status):  # a printed signature is the one the run used; else none is printed
        for path, step in planned.items():
            assert step["signature"] in (None, run[path]["signature"]), (path, step, run[path])
            if step["signature"] is None and step["outcome"] != "fresh":
                assert "decided at run time" in step["reason"], step
    assert status["/example/raw"]["signature"] == run["/example/raw"]["signature"]

    again = project.script("examples/pipeline.py")  # the script agrees with what the CLI stored
    assert again == {p: ("loaded", s["signature"][:10]) for p, s in run.items()}
    assert project.report("status", "examples.pipeline:main").keys() == set(PATHS)


def test_after_a_revert_status_says_fresh_and_run_loads_everything(project):
    project.script("examples/pipeline.py")
    project.edit("examples/pipeline.py", "SLOPE = 3.0", "SLOPE = 4.0")
    project.script("examples/pipeline.py")
    project.edit("examples/pipeline.py", "SLOPE = 4.0", "SLOPE = 3.0")

    dry = project.report("run", "--dry-run", "examples.pipeline:main")
    assert all(s["outcome"] != "will run" for s in dry.values()), dry  # an earlier value may be loaded
    status = project.report("status", "examples.pipeline:main")  # exit 0
    run = project.report("run", "examples.pipeline:main")
    assert {p: s["outcome"] for p, s in run.items()} == dict.fromkeys(PATHS, "loaded")
    assert _short(status) == _short(run)


def test_ci_example_on_an_empty_store_prints_no_guessed_signature(project):
    ci = project.root / "examples" / "ci"
    spec = "ci_pipeline.pipeline:main"
    dry = project.report("run", "--dry-run", spec, cwd=ci)
    status = project.report("status", spec, cwd=ci, expect=1)
    run = project.report("run", spec, cwd=ci)
    assert {s["outcome"] for s in run.values()} == {"ran"}
    for planned in (dry, status):
        for path, step in planned.items():
            assert step["signature"] in (None, run[path]["signature"]), (path, step, run[path])
    assert dry["/ci/summary"]["signature"] is None and "decided at run time" in dry["/ci/summary"]["reason"]
    assert {p for p, s in status.items() if s["outcome"] != "fresh"} == set(run)
    assert {s["outcome"] for s in project.report("status", spec, cwd=ci).values()} == {"fresh"}


# ------------------------------------------------------------------------------------ 3. why
def _why(project: Project, path: str) -> str:
    return project.dds("why", path).stdout


def test_why_after_an_f_string_edit_names_only_that_change(project):
    project.script("examples/pipeline.py")
    project.edit("examples/pipeline.py", "SLOPE = 3.0", "SLOPE = 4.0")
    project.script("examples/pipeline.py")
    project.edit("examples/pipeline.py", "SLOPE = 4.0", "SLOPE = 3.0")
    project.script("examples/pipeline.py")  # loads the first values again: refs move back
    project.edit("examples/pipeline.py", "(true slope {SLOPE})", "(true slope: {SLOPE})")
    project.script("examples/pipeline.py")
    text = _why(project, "/example/report")
    assert "examples.pipeline.report: code changed" in text, text
    assert "SLOPE" not in text and "arguments" not in text, text
    assert "up to date" in project.run("-c", "import dds; print(dds.why('/example/model'))").stdout or \
        "upstream /example/clean" in _why(project, "/example/model")


def test_why_after_a_revert_compares_with_the_value_held_before(project):
    project.script("examples/pipeline.py")
    project.edit("examples/pipeline.py", "SLOPE = 3.0", "SLOPE = 4.0")
    project.script("examples/pipeline.py")
    assert "SLOPE changed 3.0 -> 4.0" in _why(project, "/example/raw")
    project.edit("examples/pipeline.py", "SLOPE = 4.0", "SLOPE = 3.0")
    project.script("examples/pipeline.py")
    text = _why(project, "/example/raw")
    assert "SLOPE changed 4.0 -> 3.0" in text, text
    assert "no earlier value" not in text
    in_process = project.run("-c", "import dds; print(dds.why('/example/raw'))").stdout
    assert "SLOPE changed 4.0 -> 3.0" in in_process, in_process


WHY_FILES = {
    "pkg/__init__.py": "",
    "fakelib.py": '__version__ = "1.0"\n\ndef lib_fn(x):\n    return x\n',
    "pkg/helpers.py": "def helper(x):\n    return x + 1\n",
    "pkg/main.py": textwrap.dedent("""
        import dds
        import fakelib
        from pkg.helpers import helper

        dds.reject_module("fakelib")  # a library: identified by name and version


        def base(n):
            return helper(n)


        def use_lib(n):
            return fakelib.lib_fn(n)


        def downstream():
            return dds.load("/base") * 10


        def main():
            dds.keep("/base", base, 1)
            dds.keep("/lib", use_lib, 2)
            return dds.keep("/down", downstream)
    """),
}


@pytest.mark.parametrize("rel, old, new, path, fragment", [
    ("pkg/helpers.py", "return x + 1", "return x + 2", "/base", "pkg.main.base -> pkg.helpers.helper: code changed"),
    ("pkg/main.py", 'dds.keep("/base", base, 1)', 'dds.keep("/base", base, 3)', "/base", "/base: the arguments changed"),
    ("pkg/helpers.py", "return x + 1", "return x + 2", "/down", "upstream /base changed"),
    ("fakelib.py", '__version__ = "1.0"', '__version__ = "2.0"', "/lib", "fakelib.lib_fn changed"),
], ids=["helper-edited", "argument-changed", "upstream-re-run", "library-version"])
def test_why_across_processes(tmp_path, rel, old, new, path, fragment):
    root = tmp_path / "proj"
    for name, text in WHY_FILES.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    project = Project.__new__(Project)
    project.root = root
    project._age_sources()
    main = "import dds, os; dds.set_store('local', internal_dir='.dds'); from pkg.main import main; main()"
    project.run("-c", main)
    project.edit(rel, old, new)
    project.run("-c", main)
    text = _why(project, path)
    assert fragment in text, text
    assert text.startswith(f"{path} changed"), text


# ------------------------------------------------------------------------------- identity rule
def test_identity_rule_follows_the_file_not_how_it_was_started(tmp_path):
    (tmp_path / "proj" / "scripts").mkdir(parents=True)
    (tmp_path / "proj" / "pkg" / "sub").mkdir(parents=True)
    (tmp_path / "proj" / "setup.py").write_text("", encoding="utf-8")
    for rel in ("scripts/run.py", "top.py", "pkg/__init__.py", "pkg/sub/__init__.py", "pkg/sub/mod.py"):
        (tmp_path / "proj" / rel).write_text("", encoding="utf-8")
    (tmp_path / "loose").mkdir()
    (tmp_path / "loose" / "alone.py").write_text("", encoding="utf-8")
    (tmp_path / "proj" / "my-scripts").mkdir()
    (tmp_path / "proj" / "my-scripts" / "x.py").write_text("", encoding="utf-8")
    name = lambda rel: identity_of_file(str(tmp_path / rel))  # noqa: E731
    assert name("proj/scripts/run.py") == "scripts.run"  # a plain directory: named from the project root
    assert name("proj/top.py") == "top"
    assert name("proj/pkg/__init__.py") == "pkg"
    assert name("proj/pkg/sub/mod.py") == "pkg.sub.mod"  # regular packages: their own names
    assert name("proj/my-scripts/x.py") == "x"  # no import could name the directory
    assert name("loose/alone.py") == "alone"  # no project root above it
    assert name("proj/missing.py") is None


# ---------------------------------------------------------------------------------- 4. lineage
def _lineage(project: Project) -> dict[str, dict[str, set[str]]]:
    """Upstream paths of every step as dds show, dds run --report and dds graph give them."""
    shown = {}
    for path in PATHS:
        out = project.dds("show", path).stdout
        block = out.split("upstream:", 1)[1].split("code:", 1)[0]
        shown[path] = set(re.findall(r"^  (/\S+)", block, re.M))
    reported = {p: set(s["upstream"]) for p, s in project.report("run", "examples.pipeline:main").items()}
    dot = project.root / "graph.dot"
    project.dds("graph", "examples.pipeline:main", "-o", str(dot))
    drawn = {p: set() for p in PATHS}
    for up, down in re.findall(r'"(/[^"]+)" -> "(/[^"]+)"', dot.read_text(encoding="utf-8")):
        drawn[down].add(up)
    return {"show": shown, "run --report": reported, "graph": drawn}


def test_lineage_of_a_load_is_the_same_in_show_run_report_and_graph(project):
    project.script("examples/pipeline.py")  # stored by the script (__main__), read by the CLI
    found = _lineage(project)
    assert {name: got["/example/model"] for name, got in found.items()} == dict.fromkeys(found, {"/example/clean"})


def test_lineage_of_an_argument_is_the_same_in_show_run_report_and_graph(project):
    project.script("examples/pipeline.py")
    found = _lineage(project)
    assert found["show"] == found["run --report"] == found["graph"]


@pytest.mark.parametrize("kind", ["local", "memory"])
def test_stores_keep_the_refs_a_path_held_before(tmp_path, kind):
    from dds.store import create_store

    store = create_store(kind, internal_dir=str(tmp_path / "s")) if kind == "local" else create_store("memory")
    sigs = ["a" * 40, "b" * 40, "c" * 40]
    for sig in sigs:
        store.write(sig, sig, {"path": "/p", "signature": sig})
    assert store.ref_history("/p") == []
    store.set_ref("/p", sigs[0])
    store.set_ref("/p", sigs[0])  # no move: nothing remembered
    assert store.ref_history("/p") == []
    store.set_ref("/p", sigs[1])
    store.set_ref("/p", sigs[2])
    assert store.ref_history("/p") == [sigs[1], sigs[0]]
    store.set_ref("/p", sigs[0])  # a revert: what it held just before comes first
    assert store.ref_history("/p") == [sigs[2], sigs[1]]
    assert store.get_ref("/p") == sigs[0]
