"""Zero-knowledge proofs over ristretto255: Pedersen commitments, Sigma protocols (Schnorr, DLEQ,
linear relations, AND/OR), Bulletproofs range proofs, versioned proof envelopes, and credentials
for the guidance's examples (age over a threshold, solvency, ownership of a key).

Every proof is bound to a :class:`~petsuite.zkp.transcript.Transcript` (Fiat–Shamir) that the
caller starts with a protocol label and its context (nonce, date); every ``verify*`` raises
:class:`~petsuite.core.errors.VerificationFailed` on any false or malformed proof.
"""

from petsuite.zkp.api import (
    answer_presentation,
    check_presentation,
    prove_ownership,
    request_presentation,
    verify_ownership,
)
from petsuite.zkp.bitrange import BitRangeProof, prove_bitrange, verify_bitrange
from petsuite.zkp.bulletproofs import (
    RangeProof,
    interval_bits,
    prove_interval,
    prove_range,
    verify_interval,
    verify_range,
)
from petsuite.zkp.credentials import (
    AccountKey,
    CredentialBook,
    CredentialType,
    IssuerKey,
    IssuerPublicKey,
    TrustedIssuer,
    TrustStore,
    Wallet,
    issue_book,
)
from petsuite.zkp.generators import ipa_generator, pedersen_generators, vector_generators
from petsuite.zkp.pedersen import PedersenParams, commit, verify_opening
from petsuite.zkp.presentation import (
    Challenge,
    Presentation,
    Statement,
    VerifiedClaim,
    age_cutoff,
    present,
    verify_presentation,
)
from petsuite.zkp.sigma import (
    LinearRelation,
    OrProof,
    SigmaProof,
    SigmaProver,
    check_interactive,
    conjunction,
    dleq,
    equal_committed_values,
    pedersen_opening,
    prove,
    prove_or,
    schnorr,
    verify,
    verify_or,
)
from petsuite.zkp.transcript import Transcript
from petsuite.zkp.verifier_store import NonceStore

__all__ = [
    "AccountKey",
    "BitRangeProof",
    "Challenge",
    "CredentialBook",
    "CredentialType",
    "IssuerKey",
    "IssuerPublicKey",
    "LinearRelation",
    "NonceStore",
    "OrProof",
    "PedersenParams",
    "Presentation",
    "RangeProof",
    "SigmaProof",
    "SigmaProver",
    "Statement",
    "Transcript",
    "TrustStore",
    "TrustedIssuer",
    "VerifiedClaim",
    "Wallet",
    "age_cutoff",
    "answer_presentation",
    "check_interactive",
    "check_presentation",
    "commit",
    "conjunction",
    "dleq",
    "equal_committed_values",
    "interval_bits",
    "ipa_generator",
    "issue_book",
    "pedersen_generators",
    "pedersen_opening",
    "present",
    "prove",
    "prove_bitrange",
    "prove_interval",
    "prove_or",
    "prove_ownership",
    "prove_range",
    "request_presentation",
    "schnorr",
    "vector_generators",
    "verify",
    "verify_bitrange",
    "verify_interval",
    "verify_opening",
    "verify_or",
    "verify_ownership",
    "verify_presentation",
    "verify_range",
]
