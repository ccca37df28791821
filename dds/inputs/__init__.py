"""Inputs that live outside the program: files and directories, local or on object stores.

``dds.File(path)`` stands for one; the signature hashes it by content (``file.identity``), through the
same ``register_hasher`` mechanism any user type can use.
"""

from ..signature import register_hasher
from .file import File, identity
from .untracked import UntrackedFileWarning

register_hasher(File, identity)

__all__ = ["File", "UntrackedFileWarning"]
