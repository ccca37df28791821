"""README.md's quick start, followed literally.

The quick-start block must hold exactly ``make run`` and ``make test``; CI (``.ci/run``) runs ``make test``,
so this test only has to run ``make run``: in a copy of the repository (its tracked and untracked,
non-ignored files as they are in the working tree), exactly as written, twice. The first run must compute
every step of ``examples/pipeline.py``, the second must load every one of them.

``make run`` creates a fresh ``.venv`` in the copy and pip-installs ``.[pandas]`` into it, so it needs pip to
reach the package index or find the packages in its cache; without them the test fails and says so.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
COMMANDS = ["make run", "make test"]

# Variables that would change what `make run` does in the copy: make's own (a `make VENV=...` calling
# pytest passes its overrides down through MAKEFLAGS), an active virtualenv's, dds's store settings.
_DROP = {"MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES", "VENV", "PYTHON", "PY", "VIRTUAL_ENV",
         "PYTHONPATH", "PYTHONHOME", "PIP_NO_CACHE_DIR", "PIP_REQUIRE_VIRTUALENV"}


def quick_start_block(readme: str) -> str:
    """The first fenced code block under the '## Quick start' heading."""
    section = re.search(r"^## Quick start\s*$(.*?)(?=^## |\Z)", readme, re.M | re.S)
    assert section, "README.md has no '## Quick start' section"
    block = re.search(r"^```[^\n]*\n(.*?)^```", section.group(1), re.M | re.S)
    assert block, "the quick start section of README.md has no code block"
    return block.group(1)


def commands(block: str) -> list[str]:
    """Shell commands of a code block: one per line, comments and blank lines left out."""
    return [line.split("#", 1)[0].strip() for line in block.splitlines() if line.split("#", 1)[0].strip()]


def test_quick_start_is_exactly_make_run_and_make_test():
    block = quick_start_block((REPO / "README.md").read_text(encoding="utf-8"))
    assert commands(block) == COMMANDS, f"quick start block:\n{block}"


def test_ci_runs_make_test():
    assert "make test" in commands((REPO / ".ci" / "run").read_text(encoding="utf-8"))


def example_steps() -> list[str]:
    """The store paths examples/pipeline.py keeps: dds.keep("/p", ...) and @dds.data_function("/p")."""
    source = (REPO / "examples" / "pipeline.py").read_text(encoding="utf-8")
    steps = re.findall(r"""(?:dds\.keep|data_function)\(\s*["'](/[^"']+)["']""", source)
    assert len(steps) >= 3, f"expected the example's steps in examples/pipeline.py, found {steps}"
    return steps


def git_files(*args: str) -> list[str]:
    try:
        done = subprocess.run(["git", "ls-files", "-z", *args], cwd=REPO, capture_output=True, check=True,
                              timeout=60)
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.fail(f"this test copies the repository's files with `git ls-files`, which failed: {exc}")
    return [name for name in done.stdout.decode("utf-8", "surrogateescape").split("\0") if name]


def copy_of_the_repository(target: Path) -> Path:
    """Tracked files as they are in the working tree (uncommitted edits included, deleted ones left out),
    plus untracked files that .gitignore does not exclude."""
    names = sorted(set(git_files()) | set(git_files("--others", "--exclude-standard")))
    assert "Makefile" in names and "examples/pipeline.py" in names, names[:20]
    for name in names:
        source = REPO / name
        if not os.path.lexists(source) or source.is_dir():  # deleted in the working tree, or a submodule
            continue
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target / name, follow_symlinks=False)
    return target


def make_run(copy: Path, env: dict, attempt: int) -> subprocess.CompletedProcess:
    try:
        done = subprocess.run(["make", "run"], cwd=copy, env=env, capture_output=True, text=True, timeout=1500)
    except FileNotFoundError:
        pytest.fail("`make` is not installed: the README's quick start needs it")
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"`make run` (run {attempt}) did not finish in {exc.timeout} s")
    if done.returncode != 0:
        pytest.fail(
            f"`make run` (run {attempt}) exited with {done.returncode} in a copy of the repository. It creates "
            f".venv and pip-installs '.[pandas]', so it needs pip to reach the package index (or its cache): if "
            f"the output below shows pip failing to download, this machine has no access to them.\n"
            f"--- stdout ---\n{done.stdout[-4000:]}\n--- stderr ---\n{done.stderr[-4000:]}"
        )
    return done


def test_make_run_twice_computes_then_loads_every_step(tmp_path):
    steps = example_steps()
    copy = copy_of_the_repository(tmp_path / "repo")
    env = {k: v for k, v in os.environ.items() if k not in _DROP and not k.startswith("DDS_")}
    try:
        first = make_run(copy, env, 1)
        assert (copy / ".venv" / "bin" / "python").exists(), "make run did not create .venv in the copy"
        second = make_run(copy, env, 2)
    finally:
        shutil.rmtree(copy / ".venv", ignore_errors=True)  # a few hundred MB; pytest keeps old tmp dirs

    log1, log2 = first.stdout + first.stderr, second.stdout + second.stderr
    for step in steps:
        assert re.search(rf"^dds: computed {re.escape(step)} ", log1, re.M), f"run 1 did not compute {step}:\n{log1[-3000:]}"
        assert re.search(rf"^dds: loaded +{re.escape(step)} ", log2, re.M), f"run 2 did not load {step}:\n{log2[-3000:]}"
    assert "dds: loaded" not in log1, f"run 1 loaded a step from a store that should be empty:\n{log1[-3000:]}"
    assert "dds: computed" not in log2, f"run 2 computed a step again:\n{log2[-3000:]}"
    computed = re.findall(r"^dds: computed (\S+) ", log1, re.M)
    assert sorted(computed) == sorted(steps), f"steps computed {computed}, steps in the example {steps}"

    # the pipeline printed the same report both times (the report step's value)
    report1 = [line for line in first.stdout.splitlines() if line.startswith("fitted y =")]
    report2 = [line for line in second.stdout.splitlines() if line.startswith("fitted y =")]
    assert report1 and report1 == report2, (first.stdout[-2000:], second.stdout[-2000:])
    assert (copy / ".dds").is_dir(), "the example did not use the local store ./.dds"
