"""Jupyter: the ``%%dds`` cell magic and messages under each cell (``magic``), and the HTML/SVG objects
``dds.info`` and ``dds.graph`` return (``display``).

Builds on ``api``, ``pipeline`` and ``session``; nothing else in dds imports it (how cells are named,
``pipeline.cells``, lives below it so that ``why`` can name them).
"""

from ..pipeline.cells import cell_location
from .magic import load_ipython_extension, show_messages, unload_ipython_extension

__all__ = ["cell_location", "load_ipython_extension", "show_messages", "unload_ipython_extension"]
