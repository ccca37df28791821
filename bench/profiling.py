"""Profile dds on one or more benchmark paths; reports go to ``bench/results/profile-<case>.txt``.

    python bench/profiling.py [--tool pyinstrument|cprofile] [--top N] [CASE ...]

Cases: pipeline-unused (default), warm-deps (default), pipeline, eval, eval-unused, warm-trivial,
sig-chain-1000, frame-write, frame-load. The profiled region is exactly the one the benchmark times, on
the same generated code (``make bench-profile`` runs the defaults: the paths furthest from their targets).
pyinstrument is used when installed in the project's venv (``pip install pyinstrument``), else cProfile.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)

import gen

WORKER = os.path.join(HERE, "worker.py")
RESULTS = os.path.join(HERE, "results")
DEFAULT = ["pipeline-unused", "warm-deps"]


def run(tmp: str, args: list[str], env_extra: dict | None = None) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DDS_DIR", "DDS_STORE", "BENCH_PROFILE")}
    env["PYTHONPATH"] = os.path.join(tmp, "src") + os.pathsep + REPO
    env["DDS_CODE_CACHE"] = os.path.join(tmp, "code-cache")  # as in run.py: this run's own code cache
    env.update(env_extra or {})
    proc = subprocess.run([sys.executable, WORKER, *args], cwd=tmp, env=env, capture_output=True, text=True,
                          check=False)
    if proc.returncode != 0:
        raise SystemExit(f"worker {' '.join(args)} failed:\n{proc.stderr[-2000:]}")


def profile_case(tmp: str, case: str, out: str, tool: str) -> None:
    prof = {"BENCH_PROFILE": out, "BENCH_PROFILE_TOOL": tool}
    store = os.path.join(tmp, "stores", case)
    if case in ("pipeline", "pipeline-unused", "eval", "eval-unused"):
        pkg = "pipeu" if case.endswith("-unused") else "pipe"
        mode = "eval" if case.startswith("eval") else "keep"
        base = ["pipeline", "dds", store, pkg, mode, "run"]
        run(tmp, base)  # computes
        run(tmp, base)  # loads, writes byte code
        run(tmp, base, prof)  # a fresh process re-running the fully cached pipeline
    elif case.startswith("warm-"):
        run(tmp, ["warm", "dds", store, "15"], {**prof, "BENCH_PROFILE_CASE": case.split("-", 1)[1]})
    elif case.startswith("sig-"):
        _, shape, n = case.split("-")
        run(tmp, ["sig", "dds", shape, n], {**prof, "DDS_CODE_CACHE": "off"})  # as in run.py: cold analysis
    elif case == "frame-write":
        run(tmp, ["frame-write", "dds", store, os.environ.get("DDS_BENCH_MB", "50"), "1"], prof)
    elif case == "frame-load":
        run(tmp, ["frame-write", "dds", store, os.environ.get("DDS_BENCH_MB", "50"), "1"])
        run(tmp, ["frame-load", "dds", store], prof)
    else:
        raise SystemExit(f"unknown case {case!r}; see --help")


def hotspots(report: str, top: int) -> list[str]:
    """The first ``top`` entries of the report's flat (self time) section."""
    lines = report.splitlines()
    out, inside = [], False
    for line in lines:
        if line.startswith(("## flat", "## self time")):
            inside = True
            continue
        if inside and line.startswith("## "):
            break
        if inside and line.strip() and not line.lstrip().startswith(("_", "Recorded", "Program", "Duration")):
            out.append(line.rstrip())
    return out[:top + 8]  # + the header lines of the section


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("cases", nargs="*", default=DEFAULT)
    parser.add_argument("--tool", default="pyinstrument", choices=["pyinstrument", "cprofile"])
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="dds-profile-")
    os.makedirs(RESULTS, exist_ok=True)
    try:
        gen.generate(os.path.join(tmp, "src"))
        for case in args.cases:
            out = os.path.join(RESULTS, f"profile-{case}.txt")
            profile_case(tmp, case, out, args.tool)
            with open(out) as fh:
                report = fh.read()
            print(f"\n=== {case}: top of the self-time list (full report: {os.path.relpath(out, REPO)})")
            print("\n".join(hotspots(report, args.top)))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
