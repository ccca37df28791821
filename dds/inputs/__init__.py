"""Inputs that live outside the program: files and directories, local or on object stores.

``dds.File(path)`` stands for one; the signature hashes it by content (``file.identity``), through the
same ``register_hasher`` mechanism any user type can use.
"""

from ..signature import register_hasher
from ..signature.spark_values import file_claimers
from .file import File, claimed_file_identity, identity
from .untracked import UntrackedFileWarning

register_hasher(File, identity)
file_claimers.append(claimed_file_identity)  # a Spark frame read from a File is hashed by the File's content

__all__ = ["File", "UntrackedFileWarning"]
