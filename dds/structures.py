"""dds_py's ``dds.structures`` names, so ``from dds.structures import DDSException, DDSErrorCode`` works.

``DDSException`` is :class:`dds.DDSError` itself (one class, two names): ``except DDSException`` catches
every error dds raises. Unlike dds_py's, it derives from ``Exception``, so ``except Exception`` catches it
too. ``DDSPath`` is the type of a store path (a ``str`` such as ``"/group/name"``).
"""

from __future__ import annotations

from typing import NewType

from .errors import DDSError, DDSErrorCode
from .pipeline.evaluate import ProcessingStage

DDSException = DDSError
DDSPath = NewType("DDSPath", str)

__all__ = ["DDSException", "DDSErrorCode", "DDSPath", "ProcessingStage"]
