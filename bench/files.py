"""Benchmark section ``files``: hashing a big ``dds.File`` input cold, and re-checking it warm.

    python bench/run.py --only files            # 1 GiB (DDS_BENCH_FILE_MB=1024), --quick: 64 MiB
    python bench/files.py measure FILE CACHE     # one measurement process (what run.py starts)

Cold means not in the page cache: the file's pages are dropped with ``posix_fadvise(DONTNEED)`` (that file
only, no root needed) before every read, and the baseline is a plain read of the same file, dropped the
same way, in the same process, alternating with the digest; ratio = digest time / plain read time
(target ≤ 1.1×: the digest runs at disk speed). The page-cache row does the same with the file cached
(XXH3's own cost shows there). Warm rows: the stat-cache hit in memory, the first check in a fresh
process (served by the on-disk cache: SQLite open + one row), and a warm ``keep`` of a step reading the
File as a module constant next to the same step without it (the memo re-checks the File by a ``stat``).
Targets: warm ≤ 1 ms.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
MARK = "@@BENCH-FILES@@ "
_BLOCK = 1 << 20


def run(suite, Row) -> None:  # noqa: N803 - bench/run.py's Row class
    """Add the rows of this section to ``suite`` (bench/run.py's Suite)."""
    mb = float(os.environ.get("DDS_BENCH_FILE_MB", "64" if suite.quick else "1024"))
    reps = suite.reps(5, 5)
    print(f"\n# dds.File: content digest of a {mb:g} MiB file cold (page cache dropped) and from the stat cache")
    path = os.path.join(suite.tmp, "input.bin")
    _write(path, int(mb * _BLOCK))
    cache = os.path.join(suite.tmp, "file-cache")
    data = _measure(suite, Row, path, cache, reps)
    if data is None:
        return
    fresh_runs = [_measure(suite, Row, path, cache, reps, fresh_only=True) for _ in range(reps)]
    fresh = None if None in fresh_runs else {"fresh_us": statistics.median(r["fresh_us"] for r in fresh_runs),
                                             "runs_us": [r["fresh_us"] for r in fresh_runs]}
    gb = data["bytes"] / 1e9
    ratio = data["cold_s"] / data["read_cold_s"]
    suite.add(Row(f"digest {mb:g} MiB file, cold", "dds", f"{data['cold_s']:.2f} s",
                  f"plain read {data['read_cold_s']:.2f} s ({gb / data['read_cold_s']:.2f} GB/s)",
                  f"{ratio:.2f}×", "≤ 1.1×", _verdict("dds", ratio <= 1.1), raw=data))
    ratio = data["hot_s"] / data["read_hot_s"]
    suite.add(Row("  same, file in page cache", "dds", f"{data['hot_s']:.2f} s",
                  f"plain read {data['read_hot_s']:.2f} s ({gb / data['read_hot_s']:.2f} GB/s)", f"{ratio:.2f}×"))
    suite.add(Row("  re-check, stat cache in memory", "dds", _us(data["warm_us"]), f"os.stat {_us(data['stat_us'])}",
                  f"{data['warm_us'] / data['stat_us']:.1f}×", "≤ 1 ms", _verdict("dds", data["warm_us"] <= 1000)))
    if fresh is not None:
        suite.add(Row(f"  first check in a fresh process (disk cache; median of {reps})", "dds",
                      _us(fresh["fresh_us"]), "", "",
                      "≤ 1 ms", _verdict("dds", fresh["fresh_us"] <= 1000), raw=fresh))
    suite.add(Row("  warm keep reading it as a constant", "dds", _us(data["keep_file_us"]),
                  f"same step without the File {_us(data['keep_plain_us'])}",
                  f"+{data['keep_file_us'] - data['keep_plain_us']:.1f} µs", "≤ 1 ms",
                  _verdict("dds", data["keep_file_us"] <= 1000)))


def _write(path: str, size: int) -> None:
    block = os.urandom(_BLOCK)
    with open(path, "wb") as fh:
        for _ in range(size // _BLOCK):
            fh.write(block)
        fh.flush()
        os.fsync(fh.fileno())


def _us(v: float) -> str:
    return f"{v:.1f} µs"


def _verdict(lib: str, ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def _measure(suite, Row, path: str, cache: str, reps: int, fresh_only: bool = False) -> dict | None:  # noqa: N803
    env = suite.env("dds", DDS_FILE_CACHE=cache)
    args = [sys.executable, os.path.abspath(__file__), "measure", path, str(reps)] + (["fresh"] if fresh_only else [])
    proc = subprocess.run(args, capture_output=True, text=True, cwd=suite.tmp, env=env, check=False)
    for line in proc.stdout.splitlines():
        if line.startswith(MARK):
            return json.loads(line[len(MARK):])
    lines = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()]
    suite.add(Row("dds.File digest", "dds", "error", result=(lines[-1] if lines else f"exit {proc.returncode}")[:160]))
    return None


# -- the measuring process -----------------------------------------------------------------------------
def _drop(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fdatasync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def _plain_read(path: str) -> int:
    buffer = bytearray(_BLOCK)
    n = 0
    with open(path, "rb", buffering=0) as fh:
        os.posix_fadvise(fh.fileno(), 0, 0, os.POSIX_FADV_SEQUENTIAL)
        while True:
            got = fh.readinto(buffer)
            if not got:
                return n
            n += got


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def _per_call_us(fn, budget: float = 0.05) -> float:
    samples = []
    for _ in range(15):
        n, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < budget / 15 or n < 3:
            fn()
            n += 1
        samples.append((time.perf_counter() - t0) / n * 1e6)
    return statistics.median(samples)


def measure(path: str, reps: int, fresh: bool) -> dict:
    from dds.inputs import stat_cache
    from dds.inputs.digests import file_digest

    st = os.stat(path)
    while time.time_ns() - max(st.st_mtime_ns, st.st_ctime_ns) < (stat_cache.RACY_SECONDS + 0.1) * 1e9:
        time.sleep(0.1)  # a file written this instant is never cached (see stat_cache): let it age
    if fresh:  # this process has never seen the file: its first check, served by the disk cache
        t0 = time.perf_counter()
        stat_cache.content_digest(path)
        return {"fresh_us": (time.perf_counter() - t0) * 1e6}
    out: dict = {"bytes": st.st_size}
    cold, read_cold, hot, read_hot = [], [], [], []
    for i in range(reps):  # alternating which goes first, so neither always meets the other's leftovers
        for which in ((0, 1) if i % 2 == 0 else (1, 0)):
            _drop(path)
            if which == 0:
                read_cold.append(_timed(lambda: _plain_read(path)))
                read_hot.append(_timed(lambda: _plain_read(path)))
            else:
                cold.append(_timed(lambda: file_digest(path)))
                hot.append(_timed(lambda: file_digest(path)))
    out.update(cold_s=statistics.median(cold), read_cold_s=statistics.median(read_cold),
               hot_s=statistics.median(hot), read_hot_s=statistics.median(read_hot))
    stat_cache.forget()
    stat_cache.content_digest(path)  # reads it once more (cold cache) and records it, in memory and on disk
    out["warm_us"] = _per_call_us(lambda: stat_cache.content_digest(path))
    out["stat_us"] = _per_call_us(lambda: os.stat(path))
    out.update(_keep_figures(path))
    return out


def _keep_figures(path: str) -> dict:
    import dds

    src = tempfile.mkdtemp(prefix="dds-bench-files-")
    with open(os.path.join(src, "file_steps.py"), "w") as fh:
        fh.write(f"import dds\nDATA = dds.File({path!r})\nSIZE = 7\n\n\n"
                 "def with_file():\n    return DATA.path\n\n\n"
                 "def without_file():\n    return SIZE\n")
    sys.path.insert(0, src)
    import file_steps

    dds.set_store("memory")
    dds.keep("/with", file_steps.with_file)
    dds.keep("/without", file_steps.without_file)
    return {"keep_file_us": _per_call_us(lambda: dds.keep("/with", file_steps.with_file)),
            "keep_plain_us": _per_call_us(lambda: dds.keep("/without", file_steps.without_file))}


if __name__ == "__main__":
    if sys.argv[1:2] == ["measure"]:
        result = measure(sys.argv[2], int(sys.argv[3]), fresh=sys.argv[4:5] == ["fresh"])
        print(MARK + json.dumps(result), flush=True)
    else:
        raise SystemExit(__doc__)
