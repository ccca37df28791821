"""One benchmark measurement in this (fresh) process, for one library; prints one JSON line.

Run by ``bench/run.py`` with the interpreter of the library under test: the project's ``.venv`` for dds,
``bench/.venv-peers`` for dds_py (which is also imported as ``dds``) and checkpointer. Standard library
only, apart from the library measured (and pandas/pyarrow for the frame benchmarks).

    worker.py warm       LIB STORE_DIR ROUNDS
    worker.py pipeline   LIB STORE_DIR PKG keep|eval import|run
    worker.py sig        LIB chain|tree N
    worker.py frame-write LIB STORE_DIR MB REPS       (LIB and direct pyarrow, alternately, same process)
    worker.py frame-load LIB SOURCE                   (SOURCE: a store dir, or a .parquet file for LIB=pyarrow)

``PYTHONPATH`` holds the generated code (``bench/gen.py``). ``BENCH_PROFILE=FILE`` profiles the measured
region (pyinstrument when installed, else cProfile; see ``maybe_profile``) and writes the report to FILE;
for ``warm``, ``BENCH_PROFILE_CASE=trivial|deps`` says which case.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import resource
import statistics
import sys
import time

LIBS = ("dds", "dds_py", "checkpointer")


# ----------------------------------------------------------------------------- libraries
class Lib:
    """The same few operations for every library: set the store up, keep, eval, load."""

    def __init__(self, name: str, store: str | None, accept: tuple[str, ...] = ()):
        self.name = name
        self._wrapped: dict = {}
        if name == "dds":
            import dds

            _check_dds(dds, ours=True)
            self.mod = dds
            if store is None:
                dds.set_store("memory")
            else:
                dds.set_store("local", internal_dir=store)
        elif name == "dds_py":
            import dds

            _check_dds(dds, ours=False)
            self.mod = dds
            if store is None:
                dds.set_store("memory")
            else:
                dds.set_store("local", internal_dir=os.path.join(store, "internal"),
                              data_dir=os.path.join(store, "data"))
            for module in accept:  # dds_py only follows code into modules it was told to accept
                dds.accept_module(module)
        elif name == "checkpointer":
            from checkpointer import Checkpointer

            self.ck = (Checkpointer(storage="memory", verbosity=0) if store is None
                       else Checkpointer(directory=store, verbosity=0))
        else:
            raise SystemExit(f"unknown library {name!r}")

    def wrap(self, path: str, fn):
        """A zero-argument-or-more callable that is a cached call of ``fn`` (what a user writes once)."""
        if self.name == "checkpointer":
            return self.ck(fn)
        keep = self.mod.keep
        return lambda *args: keep(path, fn, *args)

    def keep(self, path: str, fn, *args):
        if self.name == "checkpointer":
            cached = self._wrapped.get(fn)
            if cached is None:
                cached = self._wrapped[fn] = self.ck(fn)
            return cached(*args)
        return self.mod.keep(path, fn, *args)


def _check_dds(module, ours: bool) -> None:
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    is_ours = os.path.abspath(module.__file__).startswith(os.path.join(here, "dds") + os.sep)
    if is_ours != ours:
        raise SystemExit(f"wrong dds imported: {module.__file__}")


def version_of(lib: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    dist = {"dds": "dds", "dds_py": "dds-py", "checkpointer": "checkpointer", "pyarrow": "pyarrow"}[lib]
    try:
        return version(dist)
    except PackageNotFoundError:
        return "?"


# ----------------------------------------------------------------------------- helpers
def per_call_us(fn, batches: int, budget: float = 0.02) -> float:
    """Median over ``batches`` batches of the time of one call of ``fn``, in µs (batches of ~budget s)."""
    n, elapsed = 0, 0.0
    t0 = time.perf_counter()
    while elapsed < budget / 4 and n < 1_000_000:
        fn()
        n += 1
        elapsed = time.perf_counter() - t0
    size = max(1, int(n * budget / max(elapsed, 1e-9)))
    samples = []
    rng = range(size)
    for _ in range(batches):
        t0 = time.perf_counter()
        for _ in rng:
            fn()
        samples.append((time.perf_counter() - t0) / size)
    return statistics.median(samples) * 1e6


def current_rss() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def peak_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB


@contextlib.contextmanager
def maybe_profile():
    """Profile the region when ``BENCH_PROFILE=FILE``: ``BENCH_PROFILE_TOOL=pyinstrument`` (call tree and a
    flat self-time list; the default when it is installed) or ``cprofile`` (self and cumulative times)."""
    out = os.environ.get("BENCH_PROFILE")
    if not out:
        yield
        return
    tool = os.environ.get("BENCH_PROFILE_TOOL", "pyinstrument")
    if tool == "pyinstrument":
        try:
            from pyinstrument import Profiler
        except ImportError:
            tool = "cprofile"
    if tool == "pyinstrument":
        from pyinstrument.renderers import ConsoleRenderer

        profiler = Profiler(interval=0.0002)
        profiler.start()
        try:
            yield
        finally:
            profiler.stop()
            session = profiler.last_session
            with open(out, "w") as fh:
                fh.write("## flat (self time)\n")
                fh.write(ConsoleRenderer(unicode=True, flat=True).render(session))
                fh.write("\n## call tree\n")
                fh.write(ConsoleRenderer(unicode=True).render(session))
    else:
        import cProfile
        import io
        import pstats

        profiler = cProfile.Profile()
        profiler.enable()
        try:
            yield
        finally:
            profiler.disable()
            buf = io.StringIO()
            buf.write("## self time (tottime)\n")
            pstats.Stats(profiler, stream=buf).sort_stats("tottime").print_stats(30)
            buf.write("## cumulative\n")
            pstats.Stats(profiler, stream=buf).sort_stats("cumulative").print_stats(40)
            with open(out, "w") as fh:
                fh.write(buf.getvalue())


def emit(**fields) -> None:
    print("@@BENCH@@ " + json.dumps(fields), flush=True)


# ----------------------------------------------------------------------------- benchmarks
def warm(lib_name: str, store: str, batches: str) -> None:
    """Warm cache hits in one process: trivial function, and one reaching 20 helpers + 10 constants."""
    from bw import deps, logged, trivial

    lib = Lib(lib_name, store, accept=("bw",))
    out = {"lib": lib_name, "version": version_of(lib_name)}
    nb = int(batches)
    table = {"/w/trivial": 1}
    for case, path, fn, expected in (("trivial", "/w/trivial", trivial.trivial, 1),
                                     ("deps", "/w/deps", deps.target, deps.target()),
                                     ("logged", "/w/logged", logged.logged, 1)):
        hit = lib.wrap(path, fn)
        if hit() != expected or hit() != expected:  # first call computes, second is a hit
            raise SystemExit(f"{lib_name}: wrong value for {case}")
        with maybe_profile() if os.environ.get("BENCH_PROFILE_CASE") == case else contextlib.nullcontext():
            out[f"{case}_hit_us"] = per_call_us(hit, nb)
        out[f"{case}_call_us"] = per_call_us(fn, nb)
    out["dict_us"] = per_call_us(lambda: table["/w/trivial"], nb)
    emit(**out)


def pipeline(lib_name: str, store: str, pkg: str, mode: str, action: str) -> None:
    """Import the user package (baseline) or import it and run its 50-step pipeline (keep or eval)."""
    import importlib

    t0 = time.perf_counter()
    lib = Lib(lib_name, store, accept=(pkg,))
    main = importlib.import_module(f"{pkg}.main_{'ck' if lib_name == 'checkpointer' else 'dds'}")
    t_import = time.perf_counter() - t0
    result = None
    t1 = time.perf_counter()
    if action == "run":
        with maybe_profile():
            result = lib.mod.eval(main.run) if mode == "eval" else main.run()
    emit(lib=lib_name, import_s=t_import, run_s=time.perf_counter() - t1, result=repr(result)[:200])


def sig(lib_name: str, shape: str, n: str) -> None:
    """First call of keep over a generated chain/tree of N helpers, in a fresh process (memory store)."""
    import ast
    import importlib

    from sigc import warm as warm_module

    module = importlib.import_module(f"sigc.{shape}_{n}")
    lib = Lib(lib_name, None, accept=("sigc",))
    # baseline: read and parse the module once (no cache involved; the garbage collector off, so that the
    # figure does not depend on how many objects the library under test holds)
    gc.collect()
    gc.disable()
    t0 = time.perf_counter()
    with open(module.__file__, encoding="utf-8") as fh:
        ast.parse(fh.read())
    t_parse = time.perf_counter() - t0
    gc.enable()
    lib.keep("/w", warm_module.warm)  # store, run info, imports: warmed up on another function
    fn = module.h0
    error = None
    t0 = time.perf_counter()
    try:
        with maybe_profile():
            value = lib.keep(f"/sig/{shape}", fn, 0)
        if value != 0:
            error = f"wrong value {value!r}"
    except RecursionError:
        error = "RecursionError"
    except Exception as exc:  # noqa: BLE001 - a peer failing is a result, not a crash of the benchmark
        error = f"{type(exc).__name__}: {str(exc)[:120]}"
    t_sig = time.perf_counter() - t0
    emit(lib=lib_name, shape=shape, n=int(n), sig_s=t_sig, parse_s=t_parse, error=error,
         recursionlimit=sys.getrecursionlimit())


def make_frame(mb: float):
    """A deterministic frame of about ``mb`` MB in memory: 6 numeric columns and a short-string column."""
    import numpy as np
    import pandas as pd

    row_bytes = 8 * 6 + 12  # six 8-byte columns + a ~12-byte string (Arrow-backed)
    rows = max(1000, int(mb * 1e6 / row_bytes))
    rng = np.random.default_rng(42)
    frame = pd.DataFrame({
        "f0": rng.random(rows),
        "f1": rng.normal(size=rows),
        "f2": np.round(rng.random(rows) * 1000, 2),
        "i0": rng.integers(0, 1_000_000, rows, dtype=np.int64),
        "i1": np.arange(rows, dtype=np.int64),
        "i2": rng.integers(0, 50, rows, dtype=np.int64),
        "s": pd.Series(np.array([f"k{i:05d}" for i in range(5000)], dtype=object)[rng.integers(0, 5000, rows)],
                       dtype="string"),
    })
    return frame


def frame_write(lib_name: str, store: str, mb: str, reps: str) -> None:
    """Write the same frame through the library and directly with pyarrow, alternately; keep the last of each."""
    import shutil

    import bigfn
    import bigsrc
    import pyarrow as pa
    import pyarrow.parquet as pq

    frame = make_frame(float(mb))
    bigsrc.FRAME = frame
    nbytes = int(frame.memory_usage(deep=True).sum())
    if lib_name == "dds":
        import dds

        dds.reject_module("bigsrc")  # hashed by name: the benchmark times the store, not hashing 500 MB
    direct_file = os.path.join(store, "direct.parquet")
    os.makedirs(store, exist_ok=True)
    direct, through = [], []
    for rep in range(int(reps)):
        last = rep == int(reps) - 1
        if os.path.exists(direct_file):
            os.remove(direct_file)
        gc.collect()
        t0 = time.perf_counter()
        pq.write_table(pa.Table.from_pandas(frame), direct_file)
        direct.append(time.perf_counter() - t0)
        rep_store = os.path.join(store, "lib" if last else f"rep{rep}")
        shutil.rmtree(rep_store, ignore_errors=True)
        lib = Lib(lib_name, rep_store, accept=("bigfn",))
        lib.keep("/small", bigfn.produce_small)  # warm up: codec, run info, first-use costs of the store
        gc.collect()
        t0 = time.perf_counter()
        with maybe_profile() if last else contextlib.nullcontext():
            value = lib.keep("/big", bigfn.produce)
        through.append(time.perf_counter() - t0)
        if value is not frame and len(value) != len(frame):
            raise SystemExit("wrong frame returned")
        if not last:
            shutil.rmtree(rep_store, ignore_errors=True)
    emit(lib=lib_name, frame_bytes=nbytes, rows=len(frame), lib_s=statistics.median(through),
         direct_s=statistics.median(direct), lib_all=through, direct_all=direct,
         parquet_bytes=os.path.getsize(direct_file))


def frame_load(lib_name: str, source: str) -> None:
    """Load the stored frame in this fresh process: time and peak RSS above the RSS before the load."""
    # imported before the pre-load RSS and the clock, for every library alike (pq.read_table would
    # otherwise import pyarrow.dataset inside the timed region)
    import bigfn
    import pandas  # noqa: F401
    import pyarrow.dataset  # noqa: F401
    import pyarrow.parquet as pq

    if lib_name == "pyarrow":
        load = lambda: pq.read_table(source).to_pandas()
    elif lib_name == "checkpointer":
        lib = Lib(lib_name, os.path.join(source, "lib"))
        cached = lib.ck(bigfn.produce)
        load = cached.get
    else:
        lib = Lib(lib_name, os.path.join(source, "lib"), accept=("bigfn",))
        load = lambda: lib.mod.load("/big")
    gc.collect()
    before = current_rss()
    peak_before = peak_rss()
    t0 = time.perf_counter()
    with maybe_profile():
        frame = load()
    t_load = time.perf_counter() - t0
    emit(lib=lib_name, load_s=t_load, rss_before=before, peak_before=peak_before, peak=peak_rss(),
         rows=len(frame), delta=peak_rss() - before)


def main(argv: list[str]) -> None:
    commands = {"warm": warm, "pipeline": pipeline, "sig": sig, "frame-write": frame_write,
                "frame-load": frame_load}
    if not argv or argv[0] not in commands:
        raise SystemExit(__doc__)
    commands[argv[0]](*argv[1:])


if __name__ == "__main__":
    main(sys.argv[1:])
