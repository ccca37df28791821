"""The peers' virtualenv, ``bench/.venv-peers``: dds_py and checkpointer, benchmark-only, from PyPI.

dds_py is imported as ``dds`` too, so it can never share an environment with this project: the peers
run in their own interpreter, in subprocesses, on the same generated workload. pandas, pyarrow and numpy
are installed at the versions of the project's environment, so the frame benchmarks compare stores, not
library versions. Each package is installed on its own: one that cannot install (or import) on this
Python is reported and skipped, never a reason for the whole benchmark to fail.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib.metadata import PackageNotFoundError, version

HERE = os.path.dirname(os.path.abspath(__file__))
VENV = os.path.join(HERE, ".venv-peers")
PYTHON = os.path.join(VENV, "bin", "python")
STAMP = os.path.join(VENV, ".bench-installed.json")

_CHECK = "import {module}, importlib.metadata as m; print(m.version({dist!r}))"
PEERS = {  # name in the benchmark -> (requirement, import check)
    "dds_py": ("dds-py==0.13.1", _CHECK.format(module="dds", dist="dds-py")),
    "checkpointer": ("checkpointer==2.14.12", _CHECK.format(module="checkpointer", dist="checkpointer")),
}
FRAME_LIBS = ("numpy", "pandas", "pyarrow")  # for the frame benchmarks, pinned to the project's versions


def _same_version(dist: str) -> str:
    try:
        return f"{dist}=={version(dist)}"
    except PackageNotFoundError:
        return dist


def _pip(*args: str, log: list[str]) -> bool:
    proc = subprocess.run([PYTHON, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *args],
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        lines = [ln for ln in (proc.stderr or proc.stdout).splitlines() if ln.strip() and "WARNING" not in ln]
        log.append(f"pip install {' '.join(args)} failed: {(lines or ['?'])[-1][:240]}")
    return proc.returncode == 0


def ensure(say=print) -> dict[str, dict]:
    """Create/update the peers' venv; return {peer: {"ok": bool, "version" or "reason": str}} plus "frame"."""
    wanted = {name: req for name, (req, _) in PEERS.items()}
    wanted["frame"] = " ".join(_same_version(d) for d in FRAME_LIBS)
    if not os.path.exists(PYTHON):
        say(f"peers: creating {os.path.relpath(VENV)} (benchmark-only: {', '.join(r for r, _ in PEERS.values())})")
        proc = subprocess.run([sys.executable, "-m", "venv", VENV], capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            reason = f"cannot create the peers' virtualenv: {proc.stderr.strip()[-300:]}"
            return {name: {"ok": False, "reason": reason} for name in [*PEERS, "frame"]}
    try:
        with open(STAMP) as fh:
            installed = json.load(fh)
    except (OSError, ValueError):
        installed = {}
    status: dict[str, dict] = {}
    for name, requirement in wanted.items():
        log: list[str] = []
        if installed.get(name) != requirement:
            say(f"peers: installing {requirement}")
            if _pip(*requirement.split(), log=log):
                installed[name] = requirement
        status[name] = {"ok": not log, "reason": log[0] if log else ""}
        if name == "frame" and not log:
            status[name]["version"] = requirement
    with open(STAMP, "w") as fh:
        json.dump(installed, fh, indent=1)
    for name, (_, check) in PEERS.items():
        if not status[name]["ok"]:
            continue
        proc = subprocess.run([PYTHON, "-c", check], capture_output=True, text=True, cwd=HERE,
                              env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"}, check=False)
        if proc.returncode != 0:
            last = (proc.stderr.strip().splitlines() or ["?"])[-1]
            status[name] = {"ok": False, "reason": f"cannot import on Python {sys.version.split()[0]}: {last[:200]}"}
        else:
            status[name]["version"] = proc.stdout.strip()
    return status


if __name__ == "__main__":
    print(json.dumps(ensure(), indent=1))
