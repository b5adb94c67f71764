"""Homomorphic encryption: compute on data you cannot read.

Paillier (exact, additive) on GMP is always available; CKKS and BFV (:mod:`petsuite.he.seal`) need
the ``fhe`` extra (TenSEAL). Keys live in a :class:`~petsuite.he.keys.KeyStore` with the secret part
encrypted at rest; :func:`outsource` and :func:`compute_server` run encrypted analytics between a data
owner and a compute server that never holds a secret key.
"""

from petsuite.he.api import EncryptedResult, LinearModel, compute_server, outsource
from petsuite.he.keys import KeyInfo, KeyStore

__all__ = [
    "EncryptedResult",
    "KeyInfo",
    "KeyStore",
    "LinearModel",
    "compute_server",
    "outsource",
]
