"""Benchmark section ``noop``: a fresh no-op run of raw -> clean -> summary over a big frame (issue 18).

    python bench/run.py --only noop              # 320 MB (DDS_BENCH_NOOP_MB), --quick: 32 MB
    python bench/frame_noop.py ROOT MB ACTION    # one measurement process (what run.py starts)

Every step loads; the frames are passed on as arguments, so dds hashes them (raw's value into clean, clean's
into summary). The baseline, in the same run and alternating with it, is a fresh process that only loads
the three stored values with ``dds.load``. Target: the no-op costs at most 1.3x loading its values.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time

MARK = "@@BENCH-NOOP@@ "
PIPELINE = '''
import numpy as np
import pandas as pd

import dds

ROWS = int(float({mb!r}) * 1e6 / 64)


def raw():
    rng = np.random.default_rng(0)
    return pd.DataFrame({{f"c{{i}}": rng.random(ROWS) for i in range(8)}})


def clean(df):
    return df[df["c0"] >= 0.0].reset_index(drop=True)


def summary(df):
    return {{k: round(float(v), 9) for k, v in df.mean().items()}}


def run():
    frame = dds.keep("/noop/raw", raw)
    tidy = dds.keep("/noop/clean", clean, frame)
    return dds.keep("/noop/summary", summary, tidy)
'''


def run(suite, Row) -> None:  # noqa: N803 - bench/run.py's Row class
    mb = float(os.environ.get("DDS_BENCH_NOOP_MB", "32" if suite.quick else "320"))
    reps = suite.reps(5, 3)
    print(f"\n# fresh no-op of raw -> clean -> summary over a {mb:g} MB frame vs loading its three values")
    root = os.path.join(suite.tmp, "noop")
    os.makedirs(root, exist_ok=True)
    with open(os.path.join(root, "noop_pipeline.py"), "w", encoding="utf-8") as fh:
        fh.write(PIPELINE.format(mb=mb))
    first = _measure(suite, root, mb, "run")  # computes and stores the three values
    if first is None:
        suite.add(Row("big-frame no-op", "dds", "error", result="the first run failed"))
        return
    times: dict[str, list[float]] = {"run": [], "load": []}
    for i in range(reps):
        for action in (("run", "load") if i % 2 == 0 else ("load", "run")):
            got = _measure(suite, root, mb, action)
            if got is None or (action == "run" and got["computed"]):
                suite.add(Row("big-frame no-op", "dds", "error", result=f"{action} failed or recomputed"))
                return
            times[action].append(got["seconds"])
    noop, load = statistics.median(times["run"]), statistics.median(times["load"])
    ratio = noop / load
    suite.add(Row(f"big-frame no-op ({mb:g} MB, 3 steps)", "dds", f"{noop:.3f} s",
                  f"loading the 3 values {load:.3f} s", f"{ratio:.2f}× load", "≤ 1.3×",
                  "PASS" if ratio <= 1.3 else "FAIL", raw=times))


def _measure(suite, root: str, mb: float, action: str) -> dict | None:
    env = dict(suite.env("dds"), PYTHONPATH=os.pathsep.join([root, suite.env("dds").get("PYTHONPATH", "")]))
    proc = subprocess.run([sys.executable, os.path.abspath(__file__), root, f"{mb:g}", action],
                          capture_output=True, text=True, env=env, cwd=root, check=False)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(MARK)]
    if proc.returncode != 0 or not lines:
        print(proc.stderr[-2000:], file=sys.stderr)
        return None
    return json.loads(lines[-1][len(MARK):])


def _worker(root: str, action: str) -> None:
    import logging

    import dds

    computed = []
    logging.getLogger("dds").addHandler(_Recorder(computed))
    logging.getLogger("dds").setLevel(logging.INFO)
    dds.set_store("local", internal_dir=os.path.join(root, "store"))
    import noop_pipeline

    t0 = time.perf_counter()
    if action == "run":
        noop_pipeline.run()
    else:  # held, as the pipeline holds its values: both pay for the same memory
        held = [dds.load(path) for path in ("/noop/raw", "/noop/clean", "/noop/summary")]
        assert len(held) == 3
    seconds = time.perf_counter() - t0
    print(MARK + json.dumps({"seconds": seconds, "computed": bool(computed)}), flush=True)


class _Recorder:
    """A logging handler noting dds's "computed" lines (a no-op must have none)."""

    level = 0

    def __init__(self, sink: list):
        self.sink = sink

    def handle(self, record) -> None:
        if "computed" in record.getMessage():
            self.sink.append(record.getMessage())


if __name__ == "__main__":
    _worker(sys.argv[1], sys.argv[3])
