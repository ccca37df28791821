"""How a Spark DataFrame is hashed: by what it computes, not by collecting it.

The analysed logical plan says what the DataFrame computes; its expression ids (``#12L``) differ between
sessions and are removed. The plan names its input files but not their content, so each input file's
path, size and modification time are added: a rewritten input file changes the hash. Input files that a
``dds.File`` names (``spark.read.csv(str(DATA))`` with ``DATA = dds.File("data/")``, or a directory above
them) are identified by content instead, as the File itself is: a ``touch`` re-runs nothing, and a
rewrite that keeps the size and puts the old mtime back is still seen. A DataFrame built
from driver-side rows (``createDataFrame`` of a list or pandas frame, ``parallelize``) is hashed row by
row: that data fit in the driver already. One built from an RDD that reads external data cannot be hashed
(keep it first, then pass the kept DataFrame).
"""

from __future__ import annotations

import re
from typing import Any, Callable

from ..errors import UnhashableValueError
from ..filesystems import from_spark_uri

_EXPR_ID = re.compile(r"#\d+L?")
_PLAN_ID = re.compile(r"plan_id=\d+")


def spark_frame_identity(df: Any) -> tuple:
    """What identifies a Spark DataFrame's content: normalised plan, input files, local rows."""
    plan = df._jdf.queryExecution().analyzed()
    text = _PLAN_ID.sub("", _EXPR_ID.sub("", plan.toString()))
    rows: tuple = ()
    if "LogicalRDD" in text or "ExistingRDD" in text:
        if not _rdd_from_driver_data(df):
            raise UnhashableValueError(
                "dds cannot hash a Spark DataFrame built from an RDD that reads external data (its plan does "
                "not describe that data). Fix: keep it first (dds.keep('/path', make_df)) and pass the kept "
                "DataFrame, or build it with spark.read."
            )
        rows = tuple(tuple(r) for r in df.collect())
    elif "LocalRelation" in text:  # data defined on the driver: small by nature, hash it
        rows = tuple(tuple(r) for r in df.collect())
    files = tuple(_file_identity(uri) for uri in sorted(df.inputFiles()))
    return (text, files, rows)


_EXTERNAL_RDDS = ("HadoopRDD", "NewHadoopRDD", "FileScanRDD", "JDBCRDD", "BinaryFileRDD", "WholeTextFileRDD")


def _rdd_from_driver_data(df: Any) -> bool:
    """True for ``createDataFrame(list)`` and ``parallelize``: the rows came from the driver's memory."""
    lineage = df.rdd.toDebugString().decode("utf-8", "replace")
    return "ParallelCollectionRDD" in lineage and not any(name in lineage for name in _EXTERNAL_RDDS)


#: Functions ``uri -> identity or None`` that know an input file better than its size and mtime: the
#: ``dds.File`` inputs register theirs (``dds.inputs``), so this module needs no knowledge of files.
file_claimers: list[Callable[[str], tuple | None]] = []


def _file_identity(uri: str) -> tuple:
    import fsspec

    for claimer in file_claimers:
        claimed = claimer(uri)
        if claimed is not None:
            return claimed

    fs, path = fsspec.core.url_to_fs(from_spark_uri(uri))
    info = fs.info(path)
    mtime = info.get("mtime") or info.get("LastModified") or info.get("last_modified") or info.get("created")
    return (uri, int(info.get("size") or 0), str(mtime))
