"""numpy ndarray <-> ``.npy`` (never pickled inside: object arrays go to the pickle codec instead)."""

from __future__ import annotations

from typing import Any

from .base import Codec, is_exactly, local_path


class NumpyNpyCodec(Codec):
    name = "numpy.npy"
    reads_through_open = True  # read() opens its file with fs.open(path, "rb") only
    file_name = "data.npy"

    def handles(self, value: Any) -> bool:
        return is_exactly(value, "numpy", "ndarray") and not value.dtype.hasobject

    def write(self, value: Any, fs: Any, path: str) -> None:
        import numpy as np

        local = local_path(fs, path)
        with (open(local, "wb") if local is not None else fs.open(path, "wb")) as f:
            np.save(f, value, allow_pickle=False)

    def read(self, fs: Any, path: str) -> Any:
        import numpy as np

        local = local_path(fs, path)
        if local is not None:
            return np.load(local, allow_pickle=False)
        with fs.open(path, "rb") as f:
            return np.load(f, allow_pickle=False)
