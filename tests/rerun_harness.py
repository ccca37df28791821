"""Edit-and-rerun harness: write a small user package, run it in fresh processes, edit its source, rerun.

This is how a user meets dds: they run a pipeline, change some code, run it again and trust that exactly
the affected data functions ran again and that every value they get equals what a full recompute gives.
The harness reproduces that loop with real files and real processes, and observes what ran through the
user code's own side effects (never through dds's own reports):

* every user function a test cares about calls ``trace("name")`` from ``pipe/_trace.py`` (written by the
  harness, never edited, so it never changes a signature), which appends the name to the file named by the
  environment variable ``DDS_TRACE_FILE``;
* every run is a fresh ``sys.executable`` process with ``PYTHONPATH`` = the package's source dir + the repo
  root, ``DDS_DIR`` = a store under ``tmp_path``, no byte-code cache (unless ``bytecode=True``), and a
  different ``PYTHONHASHSEED`` for each run, so nothing may depend on ``hash()`` or on what a previous
  process left in memory;
* the runner imports the entry point (``"pipe.main:run"``), calls it and prints the value on a marked line;
  an entry ending in ``.py`` is instead a script (path relative to the source dir) run as ``__main__``,
  whose module-level ``RESULT`` is the value;
* source files look saved a few seconds before each run (mtimes strictly increase with every write), as a
  person's edits would; ``just_saved=True`` keeps the real "saved this instant" mtime instead, for the
  cases about running right after a save.

Typical use::

    h = RerunHarness(tmp_path, files={"pipe/main.py": SOURCE}, entry="pipe.main:run")
    assert h.run().ran == {"a", "b"}
    h.edit("pipe/main.py", "return 1", "return 2")
    second = h.run()
    assert second.ran == {"a"}
    h.assert_matches_uncached(second)

or, table-driven, :func:`check_edit` runs the whole five-process protocol for one edit.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping, Sequence

REPO_ROOT = Path(__file__).resolve().parent.parent
RESULT_MARK = "@@DDS-RERUN-RESULT@@ "
DEFAULT_ENTRY = "pipe.main:run"
TIMEOUT = float(os.environ.get("DDS_RERUN_TIMEOUT", "180"))
SAVED_AGO = 5.0  # seconds: how long before a run its source files look saved (see RerunHarness.write)

TRACE_MODULE = '''\
"""Records which user functions ran. Written by the rerun harness and never edited."""
import os


def trace(name):
    path = os.environ.get("DDS_TRACE_FILE")
    if path:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(name + "\\n")
'''

RUNNER = '''\
"""Rerun harness runner: set up the store, call the entry point, print its value on a marked line."""
import importlib
import json
import os
import sys

MARK = %(mark)r


def canon(v):
    """A type-exact, hash-seed-independent text for a value (1, 1.0 and True all differ)."""
    if isinstance(v, dict):
        items = sorted(canon(k) + ": " + canon(x) for k, x in v.items())
        return type(v).__name__ + "{" + ", ".join(items) + "}"
    if isinstance(v, (set, frozenset)):
        return type(v).__name__ + "{" + ", ".join(sorted(canon(x) for x in v)) + "}"
    if isinstance(v, (list, tuple)):
        return type(v).__name__ + "[" + ", ".join(canon(x) for x in v) + "]"
    return type(v).__name__ + ":" + repr(v)


def to_json(v):
    """A JSON-able view for tests to read: tuples become lists, sets sorted lists, others their repr."""
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    if isinstance(v, dict):
        return {k if isinstance(k, str) else repr(k): to_json(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [to_json(x) for x in v]
    if isinstance(v, (set, frozenset)):
        return [to_json(x) for x in sorted(v, key=canon)]
    return repr(v)


def main():
    if os.environ.get("DDS_RERUN_USE_DDS") == "1":
        import dds

        dds.set_store(
            "local",
            internal_dir=os.environ["DDS_DIR"],
            data_dir=os.environ["DDS_RERUN_DATA_DIR"],
        )
    entry = sys.argv[1]
    if entry.endswith(".py"):  # a script run as __main__; its module-level RESULT is the value
        import runpy

        value = runpy.run_path(os.path.join(sys.argv[2], entry), run_name="__main__")["RESULT"]
    else:
        module_name, _, attr = entry.partition(":")
        fn = getattr(importlib.import_module(module_name), attr)
        if os.environ.get("DDS_RERUN_MODE") == "eval":  # the same pipeline through dds.eval
            import dds

            value = dds.eval(fn)
        else:
            value = fn()
    sys.stdout.flush()
    sys.stdout.write(MARK + json.dumps({"value": to_json(value), "canon": canon(value)}) + "\\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
''' % {"mark": RESULT_MARK}

_TRACE_CALL = re.compile(r"""\btrace\(\s*(['"])([^'"]+)\1\s*\)""")


@dataclass
class Result:
    """What one run did: the traced names in call order, and the entry point's value."""

    calls: list[str]
    value: object
    canon: str
    label: str = ""
    stderr: str = field(default="", repr=False)

    @property
    def ran(self) -> set[str]:
        return set(self.calls)


def traced_names(sources: Iterable[str]) -> set[str]:
    """Every name passed to ``trace("...")`` as a literal in the given sources."""
    names: set[str] = set()
    for src in sources:
        names.update(m.group(2) for m in _TRACE_CALL.finditer(src))
    return names


class RerunHarness:
    """A user package on disk plus a store, run again and again in fresh processes."""

    def __init__(
        self,
        tmp_path: Path | str,
        files: Mapping[str, str],
        entry: str = DEFAULT_ENTRY,
        *,
        use_dds: bool = True,
        dedent: bool = True,
        just_saved: bool = False,
        bytecode: bool = False,
    ) -> None:
        self.root = Path(tmp_path)
        self.just_saved = just_saved
        self.bytecode = bytecode  # let Python write and trust __pycache__ (off by default: see _env)
        self.src = self.root / "src"
        self.entry = entry
        self.use_dds = use_dds
        self.history: list[str] = []  # what was done, for failure messages
        self._runs = 0
        self._fresh = 0
        self.store = self.root / "store"
        self.src.mkdir(parents=True, exist_ok=True)
        (self.root / "cwd").mkdir(exist_ok=True)
        (self.root / "traces").mkdir(exist_ok=True)
        all_files = dict(files)
        all_files.setdefault("pipe/_trace.py", TRACE_MODULE)
        for rel, text in all_files.items():
            self.write(rel, textwrap.dedent(text) if dedent else text)
        self._add_package_inits()
        (self.root / "runner.py").write_text(RUNNER, encoding="utf-8")

    # ----------------------------------------------------------------------------------------- files
    def path(self, rel: str) -> Path:
        return self.src / rel

    def read(self, rel: str) -> str:
        return self.path(rel).read_text(encoding="utf-8")

    def write(self, rel: str, text: str) -> None:
        """Create or replace a source file.

        Its mtime always moves forward, and (unless ``just_saved``) lies ``SAVED_AGO`` seconds in the
        past, as a file a person saved and then ran would: a run right after a save is its own case.
        """
        p = self.path(rel)
        p.parent.mkdir(parents=True, exist_ok=True)
        old_mtime = p.stat().st_mtime_ns if p.exists() else None
        p.write_text(text, encoding="utf-8")
        self._set_mtime(p, old_mtime)
        self._add_package_inits()

    def set_mtime_ns(self, rel: str, ns: int) -> None:
        """Give a file (relative to the source dir, or absolute) an exact mtime."""
        p = Path(rel) if os.path.isabs(rel) else self.path(rel)
        os.utime(p, ns=(ns, ns))

    def _set_mtime(self, p: Path, old_mtime: int | None) -> None:
        t = time.time_ns() - (0 if self.just_saved else int(SAVED_AGO * 1e9))
        if old_mtime is not None and t <= old_mtime:
            t = old_mtime + 1_000
        os.utime(p, ns=(t, t))

    def _add_package_inits(self) -> None:
        for d in [p for p in self.src.rglob("*") if p.is_dir()]:
            if d.name == "__pycache__":
                continue
            init = d / "__init__.py"
            if any(d.glob("*.py")) and not init.exists():
                init.write_text("", encoding="utf-8")
                self._set_mtime(init, None)

    def edit(self, rel: str, old: str, new: str) -> None:
        """Replace the one occurrence of ``old`` by ``new`` in ``rel``.

        Refuses (AssertionError) when ``old`` occurs zero or several times, or when ``old == new``,
        so a typo can never turn a test into one that edits nothing.
        """
        text = self.read(rel)
        count = text.count(old)
        assert old != new, f"edit of {rel}: old and new are the same text {old!r}"
        assert count == 1, (
            f"edit of {rel}: {old!r} occurs {count} times (expected exactly once) in:\n{text}"
        )
        self.write(rel, text.replace(old, new))
        self.history.append(f"edit {rel}: {old!r} -> {new!r}")

    def sources(self) -> list[str]:
        return [
            p.read_text(encoding="utf-8")
            for p in sorted(self.src.rglob("*.py"))
            if "__pycache__" not in p.parts
        ]

    def traced_names(self) -> set[str]:
        return traced_names(self.sources())

    # ------------------------------------------------------------------------------------------ runs
    def _env(self, store: Path, data_dir: Path, trace_file: Path, seed: int) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("DDS_", "PYTHON", "COV_CORE")) or k == "DDS_CODE_CACHE"  # see conftest.py
        }
        env.update(
            PYTHONPATH=os.pathsep.join([str(self.src), str(REPO_ROOT)]),
            PYTHONHASHSEED=str(seed),
            PYTHONNOUSERSITE="1",
            DDS_DIR=str(store),
            DDS_RERUN_DATA_DIR=str(data_dir),
            DDS_TRACE_FILE=str(trace_file),
            DDS_RERUN_USE_DDS="1" if self.use_dds else "0",
            # "eval" runs the entry point through dds.eval; set by test_rerun_eval_mode.py
            DDS_RERUN_MODE=os.environ.get("DDS_RERUN_MODE", "keep"),
        )
        if not self.bytecode:
            # Python trusts a .pyc whose header matches the source's size and mtime second; cases about
            # that hazard opt in with bytecode=True, all others must run exactly the code on disk
            env["PYTHONDONTWRITEBYTECODE"] = "1"
        return env

    def run(self, *, store: Path | None = None, seed: int | None = None, label: str = "") -> Result:
        """Run the entry point once in a fresh process against ``store`` (default: the harness's store)."""
        self._runs += 1
        n = self._runs
        store = self.store if store is None else store
        data_dir = store.parent / (store.name + "-data")
        seed = n if seed is None else seed
        label = label or f"run {n}"
        trace_file = self.root / "traces" / f"run{n}.txt"
        trace_file.write_text("", encoding="utf-8")
        cmd = [sys.executable, str(self.root / "runner.py"), self.entry, str(self.src)]
        try:
            proc = subprocess.run(
                cmd,
                cwd=str(self.root / "cwd"),
                env=self._env(store, data_dir, trace_file, seed),
                capture_output=True,
                text=True,
                timeout=TIMEOUT,
                stdin=subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired as exc:  # pragma: no cover - shown as a failure
            raise AssertionError(
                f"{label} ({self.entry}) timed out after {TIMEOUT}s\n{self._context()}\n"
                f"stdout:\n{exc.stdout}\nstderr:\n{exc.stderr}"
            ) from None
        calls = [line for line in trace_file.read_text(encoding="utf-8").splitlines() if line]
        payload = None
        for line in proc.stdout.splitlines():
            if line.startswith(RESULT_MARK):
                payload = json.loads(line[len(RESULT_MARK):])
        if proc.returncode != 0 or payload is None:
            raise AssertionError(
                f"{label} ({self.entry}, PYTHONHASHSEED={seed}) failed with exit code {proc.returncode}"
                f"{'' if payload is not None or proc.returncode else ' and printed no result line'}\n"
                f"{self._context()}\ntraced calls: {calls}\n"
                f"--- stdout ---\n{proc.stdout[-4000:]}\n--- stderr ---\n{proc.stderr[-8000:]}"
            )
        self.history.append(f"{label}: ran {sorted(set(calls))}")
        return Result(calls=calls, value=payload["value"], canon=payload["canon"], label=label,
                      stderr=proc.stderr)

    def run_uncached(self, *, seed: int | None = None) -> Result:
        """Run the current code against a brand-new empty store (a full recompute)."""
        self._fresh += 1
        store = self.root / f"fresh-store-{self._fresh}"
        return self.run(store=store, seed=1000 + self._fresh if seed is None else seed,
                        label=f"uncached run {self._fresh}")

    def assert_matches_uncached(self, result: Result) -> Result:
        """The staleness check: ``result`` must equal a full recompute of the current code."""
        fresh = self.run_uncached()
        assert result.canon == fresh.canon, (
            f"STALE VALUE: {result.label} returned\n  {result.canon}\n"
            f"but a full recompute of the same code on an empty store returns\n  {fresh.canon}\n"
            f"{self._context()}"
        )
        return fresh

    def _context(self) -> str:
        return "history:\n  " + "\n  ".join(self.history) if self.history else "history: (none)"


# --------------------------------------------------------------------------------------- table driven
Edit = Sequence[str]  # (file, old, new)


def _edits(edit: Edit | Sequence[Edit]) -> list[tuple[str, str, str]]:
    if len(edit) == 3 and all(isinstance(x, str) for x in edit):
        return [tuple(edit)]  # type: ignore[list-item]
    return [tuple(e) for e in edit]  # type: ignore[misc]


def check_edit(
    tmp_path: Path | str,
    files: Mapping[str, str],
    edit: Edit | Sequence[Edit],
    reran: Iterable[str],
    *,
    entry: str = DEFAULT_ENTRY,
    first: Iterable[str] | None = None,
    value_changes: bool | None = None,
    use_dds: bool = True,
    just_saved: bool = False,
) -> RerunHarness:
    """The whole protocol for one source edit, in five fresh processes.

    1. first run on an empty store: everything ran (``first``, default: every ``trace("...")`` name in
       the sources);
    2. rerun with no edit: nothing ran (and the same value);
    3. apply ``edit`` (one ``(file, old, new)`` or a list of them), rerun: exactly ``reran`` ran;
    4. rerun again: nothing ran (and the same value as 3);
    5. run the edited code on a fresh empty store: its value equals run 3's (no stale value).

    ``value_changes`` (default: ``bool(reran)``) also asserts whether the edit changed the value, so a
    must-rerun case proves that skipping the rerun would have returned a stale value, and a must-not-
    rerun case proves that the edit really kept the meaning.
    """
    reran = set(reran)
    h = RerunHarness(tmp_path, files, entry, use_dds=use_dds, just_saved=just_saved)
    expected_first = set(first) if first is not None else h.traced_names()
    assert expected_first, "test package has no trace(...) calls: the case could not observe anything"
    assert reran <= expected_first | _new_traced_names(h, edit), (
        f"expected re-runs {sorted(reran)} name functions the package does not trace"
    )

    r1 = h.run(label="run 1 (empty store)")
    assert r1.ran == expected_first, (
        f"run 1 on an empty store: expected {sorted(expected_first)} to run, ran {sorted(r1.ran)}\n"
        f"{h._context()}"
    )
    r2 = h.run(label="run 2 (no edit)")
    assert r2.ran == set(), (
        f"NEEDLESS RECOMPUTE: run 2 with no edit at all re-ran {sorted(r2.ran)}\n{h._context()}"
    )
    assert r2.canon == r1.canon, f"run 2 (no edit) returned {r2.canon}, run 1 returned {r1.canon}"

    for rel, old, new in _edits(edit):
        h.edit(rel, old, new)
    r3 = h.run(label="run 3 (after edit)")
    missing, extra = reran - r3.ran, r3.ran - reran
    problems = []
    if missing:
        problems.append(f"STALE: {sorted(missing)} should have re-run but did not")
    if extra:
        problems.append(f"NEEDLESS RECOMPUTE: {sorted(extra)} re-ran but should not have")
    assert not problems, (
        f"after the edit expected exactly {sorted(reran)} to re-run, got {sorted(r3.ran)}: "
        + "; ".join(problems) + f"\n{h._context()}\nvalue before: {r1.canon}\nvalue after:  {r3.canon}"
    )
    r4 = h.run(label="run 4 (no further edit)")
    assert r4.ran == set(), (
        f"NEEDLESS RECOMPUTE: run 4 (no edit since run 3) re-ran {sorted(r4.ran)}\n{h._context()}"
    )
    assert r4.canon == r3.canon, f"run 4 returned {r4.canon}, run 3 returned {r3.canon}"

    fresh = h.assert_matches_uncached(r3)
    assert reran <= fresh.ran, f"uncached run did not run {sorted(reran - fresh.ran)}"

    if value_changes is None:
        value_changes = bool(reran)
    if value_changes:
        assert r3.canon != r1.canon, (
            f"test design: the edit did not change the value ({r1.canon}), so it cannot show staleness"
        )
    else:
        assert r3.canon == r1.canon, (
            f"the edit changed the value from {r1.canon} to {r3.canon}, yet is meant to keep the meaning"
        )
    return h


def _new_traced_names(h: RerunHarness, edit: Edit | Sequence[Edit]) -> set[str]:
    return traced_names(new for _, _, new in _edits(edit))
