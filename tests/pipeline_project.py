"""A tiny project on disk, run in fresh processes: the fixture of the eval, why and graph tests.

``Project(tmp_path, files)`` writes the files under ``src/``; ``project.python(code)`` runs a snippet in a
fresh interpreter with the project importable and the store at ``tmp_path/store``, and returns its stdout.
Side effects of user functions go to ``ran.txt`` (one name per line), so tests can see what really ran.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]

TRACE = '''
import os


def trace(name):
    with open(os.environ["RAN_FILE"], "a") as f:
        f.write(name + "\\n")
'''


class Project:
    def __init__(self, tmp_path: Path, files: dict[str, str]):
        self.root = Path(tmp_path)
        self.src = self.root / "src"
        self.store = self.root / "store"
        self.ran_file = self.root / "ran.txt"
        self.write("proj/_trace.py", TRACE)
        self.write("proj/__init__.py", "")
        for name, text in files.items():
            self.write(name, text)

    def write(self, name: str, text: str) -> None:
        path = self.src / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        past = time.time() - 10  # as if saved a while ago: the run is not "right after a save"
        os.utime(path, (past, past))

    def edit(self, name: str, old: str, new: str) -> None:
        path = self.src / name
        text = path.read_text(encoding="utf-8")
        assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times in {name}"
        self.write(name, text.replace(old, new))

    def env(self) -> dict:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("DDS_", "PYTHON")) or k == "DDS_CODE_CACHE"}  # see conftest.py
        env.update(PYTHONPATH=os.pathsep.join([str(self.src), str(REPO_ROOT)]), DDS_DIR=str(self.store),
                   RAN_FILE=str(self.ran_file), PYTHONDONTWRITEBYTECODE="1")
        return env

    def python(self, code: str, check: bool = True) -> subprocess.CompletedProcess:
        if self.ran_file.exists():
            self.ran_file.unlink()
        proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=self.root, env=self.env(),
                              capture_output=True, text=True, timeout=120)
        if check:
            assert proc.returncode == 0, f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
        return proc

    def ran(self) -> list[str]:
        return self.ran_file.read_text().split() if self.ran_file.exists() else []
