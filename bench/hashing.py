"""One hashing measurement in this (fresh) process: dds's hash of big values against raw XXH3-128.

    hashing.py MB REPS

Builds a float64 numpy array of about MB megabytes, a pandas frame of 8 float64 columns and an Arrow
table of the same size, then times, alternately and REPS times each, the token dds computes for an
argument (``ValueHasher.token``: identity tuple, every buffer streamed) and a bare ``xxh3_128`` over the
same buffers (one hasher per buffer, nothing else). A Fortran-ordered copy of the array is timed too: the
chunked path that reorders a layout before hashing. Prints one JSON line, like ``worker.py``.
"""

from __future__ import annotations

import gc
import json
import statistics
import sys
import time


def _raw(buffers):
    import xxhash

    def run():
        for buf in buffers:
            h = xxhash.xxh3_128()
            h.update(buf)
            h.hexdigest()
    return run


def main(mb: str, reps: str) -> None:
    import numpy as np
    import pandas as pd
    import pyarrow as pa

    from dds.signature.values import ValueHasher

    n = int(float(mb) * 1e6 / 8) // 8 * 8
    rng = np.random.default_rng(7)
    array = rng.random(n)
    frame = pd.DataFrame({f"c{i}": array[i * (n // 8):(i + 1) * (n // 8)].copy() for i in range(8)})
    table = pa.Table.from_pandas(frame, preserve_index=False)
    fortran = np.asfortranarray(array.reshape(n // 1000, 1000)) if n % 1000 == 0 else np.asfortranarray(
        array.reshape(-1, 8))
    cases = {
        "array": (array, [memoryview(array)]),
        "frame": (frame, [memoryview(frame[c].to_numpy()) for c in frame.columns]),
        "table": (table, [chunk.buffers()[1] for col in table.columns for chunk in col.chunks]),
        "array-fortran": (fortran, [memoryview(fortran.T)]),  # raw: its memory in its own order
    }
    out = {"bytes": int(array.nbytes)}
    for name, (value, buffers) in cases.items():
        dds_hash = lambda: ValueHasher(lambda o: None).token(value)  # noqa: E731 - a timed call
        raw = _raw(buffers)
        dds_hash(), raw()  # first use: imports, page faults
        t_dds, t_raw = [], []
        for _ in range(int(reps)):
            gc.collect()
            t0 = time.perf_counter()
            dds_hash()
            t_dds.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            raw()
            t_raw.append(time.perf_counter() - t0)
        out[name] = {"dds_s": statistics.median(t_dds), "raw_s": statistics.median(t_raw),
                     "dds_all": t_dds, "raw_all": t_raw}
    print("@@BENCH@@ " + json.dumps(out), flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
