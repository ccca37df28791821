"""Which code and which values make up a call's signature. Knows nothing about files or stores.

``tree`` owns the tree (units, dependencies, how digests combine, its JSON), ``digest`` every tag; ``build``
walks the code (``normalize``, ``source``, ``shape_cache``), ``resolve`` names, ``values`` hashes data,
``merkle`` signs the graph, ``memo`` re-checks a warm call. Must not import ``store``, ``inputs`` or above.
"""

from .build import SignatureBuilder
from .resolve import resolve_chain
from .tree import SCHEME, CallSignature
from .ignored import ignore
from .memo import call_signature, warn_if_run_changed_inputs
from .modules import accept_module, is_user_module, reject_module
from .values import register_hasher

__all__ = ["SCHEME", "CallSignature", "SignatureBuilder", "call_signature", "ignore", "warn_if_run_changed_inputs", "resolve_chain", "accept_module",
           "is_user_module", "reject_module", "register_hasher"]
