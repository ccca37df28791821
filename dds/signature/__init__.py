"""Which code and which values make up a call's signature. Knows nothing about files or stores."""

from .graph import SCHEME, CallSignature, SignatureBuilder, resolve_chain
from .ignored import ignore
from .memo import call_signature, warn_if_run_changed_inputs
from .modules import accept_module, is_user_module, reject_module
from .values import register_hasher

__all__ = ["SCHEME", "CallSignature", "SignatureBuilder", "call_signature", "ignore", "warn_if_run_changed_inputs", "resolve_chain", "accept_module",
           "is_user_module", "reject_module", "register_hasher"]
