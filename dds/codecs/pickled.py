"""The fallback codec: pickle (protocol 5), then cloudpickle for what pickle refuses (lambdas, local classes).

Both are streamed to the file, so a large value is not first copied into one bytes object. cloudpickle's
output is ordinary pickle data, so reading never needs to know which of the two wrote it.
"""

from __future__ import annotations

import pickle
from typing import Any

from ..errors import CodecError
from .base import Codec

_PROTOCOL = 5


class PickleCodec(Codec):
    name = "pickle"
    reads_through_open = True  # read() opens its file with fs.open(path, "rb") only
    file_name = "data.pkl"

    def handles(self, value: Any) -> bool:
        return True

    def write(self, value: Any, fs: Any, path: str) -> None:
        try:
            with fs.open(path, "wb") as f:
                pickle.dump(value, f, protocol=_PROTOCOL)
            return
        except Exception as exc:  # noqa: BLE001 - any failure of pickle means: try cloudpickle
            first = exc
        import cloudpickle

        try:
            with fs.open(path, "wb") as f:  # truncates the partial pickle
                cloudpickle.dump(value, f, protocol=_PROTOCOL)
        except Exception as exc:  # noqa: BLE001
            kind = f"{type(value).__module__}.{type(value).__qualname__}"
            raise CodecError(
                f"A value of type {kind} cannot be pickled (pickle: {first}; cloudpickle: {exc}). "
                f"Return a picklable value from the function, or teach dds to store {kind} with "
                f"dds.register_codec(...)."
            ) from exc

    def read(self, fs: Any, path: str) -> Any:
        with fs.open(path, "rb") as f:
            return pickle.load(f)
