"""Benchmark section ``million`` (issue 17): ``dds ls``, ``dds verify`` and ``dds gc`` on a store of N values.

    python bench/run.py --only million --no-peers      # N = 1,000,000 (DDS_BENCH_MILLION_N), --quick: 20,000
    python bench/million.py generate DIR N              # only write the layout (what run.py does first)

Running a million ``keep`` calls would take hours, so the store's files are written directly, in exactly the
layout ``dds/store/fs_store.py`` and ``local.py`` write (blob folder with one small text file, metadata JSON
with the file's size and XXH3-128 checksum, ref files, the symlink view under ``data/``). Half the values are
referenced (``/g0000/v0`` ...: 1,000 paths per group), half are not (values paths have moved on from) and
their files are dated two days back, past ``gc``'s grace period. Each command runs as a subprocess of the
installed ``dds`` command line (stdout to /dev/null): wall time and the child's own peak RSS (``os.wait4``).

Targets: peak RSS ≤ 200 MB for each command; O(n): t(N) / t(N/10) ≤ 11; ``gc`` of the unreferenced half in
minutes (≤ 600 s at N = 1,000,000), printing progress (lines on stderr, counted).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

import xxhash

GROUP = 1000  # paths per group folder
RSS_LIMIT_MB = 200.0
GC_LIMIT_S = 600.0
PROGRESS_S = 2.0  # seconds between progress lines (a run shorter than that prints none)
OLD_S = 2 * 86400.0  # the unreferenced half is this much older than "now": past gc's grace period


def run(suite, Row) -> None:  # noqa: N803 - bench/run.py's Row class
    """Add the rows of this section to ``suite`` (bench/run.py's Suite)."""
    n = int(os.environ.get("DDS_BENCH_MILLION_N", "20000" if suite.quick else "1000000"))
    print(f"\n# a store of {n:,} values (half referenced, half unreferenced and old), written directly: "
          "dds ls / verify / gc as subprocesses, wall time and the child's peak RSS")
    space = shutil.disk_usage(suite.tmp)
    inodes = os.statvfs(suite.tmp).f_favail
    need_inodes = int(n * 4.5) + 10000  # blob dir + file + meta per value; ref + view link per referenced one
    need_bytes = n * 4 * 4096 * 1.2  # small files take a block each
    if inodes < need_inodes or space.free < need_bytes:
        fit = int(min(n, (inodes - 10000) / 4.5, space.free / (4 * 4096 * 1.2)) // 1000 * 1000)
        print(f"  only {space.free / 1e9:.0f} GB and {inodes:,} inodes free: N={n:,} does not fit, using N={fit:,}")
        suite.add(Row("million: store size", "dds", f"{fit:,}", f"wanted {n:,}", "", "", "FLAG: disk"))
        n = fit
    figures = {}
    for size in (n // 10, n):
        root = os.path.join(suite.tmp, f"million-{size}")
        t0 = time.perf_counter()
        generate(root, size)
        took = time.perf_counter() - t0
        print(f"  wrote {size:,} values in {took:.0f} s ({_du(root)})", flush=True)
        figures[size] = {cmd: _command(suite, root, cmd) for cmd in ("ls", "verify", "gc")}
        _remove(root)
    small = figures[n // 10]
    for cmd in ("ls", "verify", "gc"):
        got, base = figures[n][cmd], small[cmd]
        if got["error"] or base["error"]:
            suite.add(Row(f"dds {cmd}, N={n:,}", "dds", "error", result=f"FAIL {got['error'] or base['error']}"))
            continue
        per = got["s"] / n * 1e6
        limit = GC_LIMIT_S * max(n, 100_000) / 1e6  # 600 s a million; small stores: process start-up dominates
        extra = ""
        if cmd == "gc":
            extra = f", {got['progress']} progress lines"
        suite.add(Row(f"dds {cmd}, N={n:,}", "dds", f"{got['s']:.1f} s", f"N={n // 10:,}: {base['s']:.1f} s{extra}",
                      f"{per:.0f} µs/value", f"≤ {limit:g} s" if cmd == "gc" else "",
                      _verdict(got["s"] <= limit and (got["progress"] > 0 or got["s"] < PROGRESS_S))
                      if cmd == "gc" else "",
                      raw={"n": n, "big": got, "small": base}))
        ratio = got["s"] / max(base["s"], 1e-9)
        suite.add(Row(f"  dds {cmd} t(N)/t(N/10)", "dds", f"{ratio:.1f}×", "linear: 10×", "", "≤ 11",
                      _verdict(ratio <= 11)))
        suite.add(Row(f"  dds {cmd} peak RSS, N={n:,}", "dds", f"{got['rss_mb']:.0f} MB",
                      f"N={n // 10:,}: {base['rss_mb']:.0f} MB", "", f"≤ {RSS_LIMIT_MB:g} MB",
                      _verdict(got["rss_mb"] <= RSS_LIMIT_MB)))
        if cmd == "gc":
            ok = got["left"] == n - n // 2 and got["out_lines"] >= n // 2
            suite.add(Row(f"  dds gc removed the unreferenced half, N={n:,}", "dds", f"{got['left']:,} left",
                          f"{n - n // 2:,} referenced", "", "exactly", _verdict(ok)))


def _command(suite, root: str, cmd: str) -> dict:
    """Run ``dds CMD --store ROOT/.dds`` (gc: ``--grace 3600``); wall time, the child's peak RSS, its output."""
    args = [sys.executable, "-m", "dds.cli", cmd, "--store", os.path.join(root, ".dds")]
    if cmd == "gc":
        args += ["--grace", "3600"]
    env = suite.env("dds")
    env["DDS_PROGRESS_INTERVAL"] = str(PROGRESS_S)  # progress lines on a non-terminal stderr
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(args, stdout=out, stderr=err, cwd=suite.tmp, env=env)
        _pid, status, usage = os.wait4(proc.pid, 0)
        took = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        out_lines = sum(1 for _ in out)
        err.seek(0)
        err_text = err.read().decode("utf-8", "replace")
    progress = sum(1 for line in err_text.splitlines() if line.startswith("dds "))
    expected = {"ls": (0,), "verify": (0,), "gc": (0,)}[cmd]
    error = "" if proc.returncode in expected else f"exit {proc.returncode}: {err_text.strip()[-150:]}"
    left = len(os.listdir(os.path.join(root, ".dds", "meta"))) if cmd == "gc" else None
    figure = {"s": took, "rss_mb": usage.ru_maxrss / 1024, "progress": progress, "out_lines": out_lines,
              "left": left, "error": error}
    print(f"    dds {cmd}: {took:.1f} s, peak RSS {figure['rss_mb']:.0f} MB, {out_lines:,} lines out, "
          f"{progress} progress lines{', ' + error if error else ''}", flush=True)
    return figure


def _remove(root: str) -> None:
    """``rm -r root``, 8 entries at a time: a million serial unlinks take an hour on a disk with online discard."""
    def one(path: str) -> None:
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path, ignore_errors=True)
        else:
            try:
                os.remove(path)
            except OSError:
                pass

    internal = os.path.join(root, ".dds")
    with ThreadPoolExecutor(8) as pool:
        for sub in ("blobs", "meta", "data", "refs"):
            folder = os.path.join(internal, sub)
            if os.path.isdir(folder):
                with os.scandir(folder) as listing:
                    list(pool.map(one, (entry.path for entry in listing)))
    shutil.rmtree(root, ignore_errors=True)


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def _du(root: str) -> str:
    st = os.statvfs(root)
    return f"{st.f_bavail * st.f_frsize / 1e9:.0f} GB free after"


# -- the layout -----------------------------------------------------------------------------------------
def generate(root: str, n: int) -> None:
    """Write a local store of ``n`` values under ``root/.dds`` (view: ``root/.dds/data``), as dds writes it."""
    internal = os.path.join(root, ".dds")
    for sub in ("blobs", "meta", "refs", "tmp", "data"):
        os.makedirs(os.path.join(internal, sub), exist_ok=True)
    old = time.time() - OLD_S
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime())
    chunks = [range(lo, min(n, lo + 2 * GROUP)) for lo in range(0, n, 2 * GROUP)]  # one group folder each
    with ThreadPoolExecutor(8) as pool:  # creating files waits on the disk: threads overlap the waits
        list(pool.map(lambda chunk: _write_values(internal, chunk, old, stamp), chunks))


def _write_values(internal: str, indices: range, old: float, stamp: str) -> None:
    for i in indices:
        referenced = i % 2 == 0
        sig = hashlib.blake2b(f"million {i}".encode(), digest_size=20).hexdigest()
        data = f"value {i}\n".encode()
        blob = os.path.join(internal, "blobs", sig)
        os.mkdir(blob)
        file = os.path.join(blob, "data.txt")
        with open(file, "wb") as fh:
            fh.write(data)
        group, name = f"g{i // 2 // GROUP:04d}", f"v{i // 2}"
        path = f"/{group}/{name}" if referenced else f"/old/{group}/{name}"
        meta = {"codec": "text", "file_name": "data.txt", "function": "bench.million.step", "path": path,
                "files": {"data.txt": {"algorithm": "xxh3_128", "checksum": xxhash.xxh3_128_hexdigest(data),
                                       "size": len(data)}},
                "run": {"dds": "bench", "host": "bench"}, "signature": sig, "stored_at": stamp}
        where = os.path.join(internal, "meta", sig + ".json")
        with open(where, "w") as fh:
            json.dump(meta, fh, indent=1, sort_keys=True)
        if referenced:
            _write_ref(internal, group, name, sig)
        else:
            for entry in (file, blob, where):
                os.utime(entry, (old, old))


def _write_ref(internal: str, group: str, name: str, sig: str) -> None:
    refs = os.path.join(internal, "refs", group)
    view = os.path.join(internal, "data", group)
    if not os.path.isdir(refs):
        os.makedirs(refs)
        os.makedirs(view)
    with open(os.path.join(refs, name + ".ref"), "w") as fh:
        fh.write(sig + "\n")
    os.symlink(os.path.join("..", "..", "blobs", sig, "data.txt"), os.path.join(view, name))


if __name__ == "__main__":
    if sys.argv[1:2] == ["generate"]:
        generate(sys.argv[2], int(sys.argv[3]))
    else:
        raise SystemExit(__doc__)
