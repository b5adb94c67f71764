"""CKKS and BFV homomorphic encryption through TenSEAL (Microsoft SEAL), as a safe, typed layer.

Lattice cryptography is never implemented here: key generation, encryption, every homomorphic
operation and the parameter checks of SEAL run inside TenSEAL. This module chooses parameters from
the security standard, validates everything that crosses a boundary, keeps the secret key away from
the evaluator, and offers the encrypted analytics of the ICO's homomorphic-encryption use cases
(sums, means, variances, dot products, linear models with a polynomial activation).

Roles
-----
* The **key owner** holds a :class:`HeSecretKeyring` (made by :meth:`HeSecretKeyring.generate`):
  the TenSEAL context *with* the secret key. It encrypts, decrypts, and hands out an
  :class:`HeEvaluationContext`.
* The **evaluator** (a compute server) holds only the :class:`HeEvaluationContext`: public key,
  relinearisation and Galois (rotation) keys, never the secret key —
  :meth:`HeEvaluationContext.from_bytes` refuses a context that carries one. With it the evaluator
  computes on :class:`HeVector` ciphertexts and returns :class:`HeScalar` / :class:`HeVector`
  results, which only the key owner can decrypt.

Parameters
----------
Parameters come from the HomomorphicEncryption.org security standard (Albrecht et al.,
*Homomorphic Encryption Security Standard*, HomomorphicEncryption.org, Toronto, November 2018,
Table 1, "classical" attacks, ternary/uniform secrets): for a ring degree ``N`` the coefficient
modulus ``Q`` may have at most :data:`HE_STANDARD_MAX_LOG_Q` ``[security][N]`` bits — 128-bit
security: 109, 218, 438, 881 bits for ``N`` = 4096, 8192, 16384, 32768; 192-bit: 75, 152, 305,
611; 256-bit: 58, 118, 237, 476. SEAL enforces the 128-bit row itself; petsuite enforces the row
the caller asked for, on generated and on loaded parameters alike.

* CKKS (:meth:`CkksParameters.choose`): the caller states the multiplicative depth, the precision
  (bits after the binary point) and the integer part. Following SEAL's guidance (``examples/
  5_ckks_basics.cpp``) the scale is ``2^scale_bits`` with ``scale_bits = precision_bits +
  log2(N) + 1`` — the fresh-encryption noise of CKKS is about ``2^(log2 N)`` units of the scale —
  the middle primes have ``scale_bits`` bits (one is consumed per multiplication), and the first and
  the special (last) prime have ``scale_bits + integer_bits`` bits (at most 60). ``N`` is the
  smallest whose bound covers the total. Defaults (precision 25, integer 20) give ``[59, 39, 59]``
  at N=8192 for depth 1-2 and SEAL's canonical ``[60, 40, ..., 40, 60]`` at N=16384 for depth 3-7;
  depth 8 and more needs ``precision_bits + integer_bits ≤ 44`` (N=32768).
* BFV (:meth:`BfvParameters.choose`): a batching prime ``t ≡ 1 (mod 2N)`` from SEAL's
  ``PlainModulus.Batching`` and SEAL's ``CoeffModulus.BFVDefault`` modulus for the security level;
  ``N`` is the smallest whose noise budget (a conservative model calibrated against SEAL's
  ``invariant_noise_budget``) covers the depth.

Packing and costs
-----------------
A vector of ``n`` values is packed ``slots`` to a ciphertext (``N/2`` for both schemes: TenSEAL's
BFV rotations stay within a row of ``N/2``); a longer vector spans several ciphertexts, the last
zero-padded. Sums add the ciphertexts first and rotate once (``log2(slots)`` rotations with the
Galois keys), so a sum over ``n`` values costs ``n/slots`` additions plus one rotation sum. Known
plaintext values in the padding (after :meth:`HeVector.polyval` or adding a constant) are
subtracted exactly, so padding never changes sums or means. Depth used by each operation: sums,
means and additions 0; products, squares, dot products, :meth:`HeVector.matvec`,
:func:`linear_scores` 1; :meth:`HeVector.polyval` of degree ``d`` ``floor(log2 d) + 1``.
An operation that needs more depth than the ciphertext has left raises
:class:`~petsuite.core.errors.UnsupportedParameter` before running.

Precision (CKKS) and overflow
-----------------------------
CKKS is approximate. A fresh encryption decrypts within about ``2^-precision_bits`` of each value;
:meth:`HeSecretKeyring.expected_error` gives a documented, conservative bound for each operation
(the tests check results against numpy within it). Results must stay below
``2^(integer_bits - 1)`` in magnitude at the last level, or the decryption is garbage: CKKS cannot
detect it. Declare ``bound=`` (an upper bound on ``|x|``) when encrypting and every operation checks
the worst-case magnitude of its result against the modulus left at its level
(:class:`~petsuite.core.errors.UnsupportedParameter` before computing). BFV is exact modulo ``t``:
its ``bound`` is always set (by default the largest for which a sum of the vector cannot wrap), and
every operation refuses a result that could reach ``t/2``.

Threat model and what leaks
---------------------------
* Semantic security (IND-CPA) under the ring learning-with-errors (RLWE) assumption at the chosen
  level (128, 192 or 256 bits against classical attacks per the standard above). Key generation and
  encryption randomness come from SEAL's own CSPRNG (Blake2xb seeded by the OS): it cannot be
  injected, so these functions take no ``rng``.
* The evaluator learns the parameters, the number of values (and ciphertexts), any declared
  ``bound``, and the computation it runs — never the values. Results are not circuit private: SEAL
  does not flood noise, so a decrypted result may reveal a little about the evaluator's plaintext
  operands (weights, matrices) beyond the result itself.
* CKKS decryptions leak information about the noise, hence about the secret key (Li and Micciancio,
  *On the Security of Homomorphic Encryption on Approximate Numbers*, EUROCRYPT 2021): never give
  the evaluator (or anyone who chose the ciphertext) raw CKKS decryptions of computed results.
  Round (:func:`round_output`) to well above :meth:`HeSecretKeyring.expected_error`, or add noise,
  before releasing a result; rounding is a mitigation, noise flooding the proven defence.
* Ciphertexts are malleable and unauthenticated. The envelopes carry a SHA-256 digest that catches
  corruption and naive tampering, not an adversary who rewrites the digest too; a ciphertext made
  under another key with the same parameters is only caught by its key id label. Authenticate
  messages (signatures, an authenticated channel) wherever their origin matters.
* :meth:`HeSecretKeyring.secret_bytes` is plaintext secret-key material: the caller encrypts it at
  rest. Secret keys never appear in ``repr``/``str`` or error messages.
* No timing protections: SEAL is not constant time with respect to the secret key in every path.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import json
import math
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final, NoReturn, TypeAlias

import gmpy2
import numpy as np
import numpy.typing as npt
import tenseal as ts
from tenseal import sealapi as _sealapi

from petsuite.core.encoding import canonical_json, decode_parts, encode_parts
from petsuite.core.errors import InvalidInput, PetsError, UnsupportedParameter

__all__ = [
    "ENVELOPE_VERSION",
    "HE_STANDARD_MAX_LOG_Q",
    "SIGMOID_POLY3_INTERVAL",
    "SIGMOID_POLY3_MAX_ERROR",
    "BfvParameters",
    "CkksParameters",
    "HeEvaluationContext",
    "HeMoments",
    "HeParameters",
    "HeScalar",
    "HeScheme",
    "HeSecretKeyring",
    "HeVector",
    "linear_scores",
    "round_output",
    "sigmoid_poly3",
]

#: Maximum bits of the coefficient modulus per security level and ring degree ``N``
#: (HomomorphicEncryption.org security standard, 2018, Table 1, classical, ternary secrets).
HE_STANDARD_MAX_LOG_Q: Final[Mapping[int, Mapping[int, int]]] = MappingProxyType(
    {
        128: MappingProxyType({4096: 109, 8192: 218, 16384: 438, 32768: 881}),
        192: MappingProxyType({4096: 75, 8192: 152, 16384: 305, 32768: 611}),
        256: MappingProxyType({4096: 58, 8192: 118, 16384: 237, 32768: 476}),
    }
)
#: Version of every envelope this module writes (secret keyring, evaluation context, ciphertexts).
ENVELOPE_VERSION: Final = 1
#: The interval on which :func:`sigmoid_poly3` approximates the logistic function.
SIGMOID_POLY3_INTERVAL: Final = (-5.0, 5.0)
#: Largest absolute error of :func:`sigmoid_poly3` on :data:`SIGMOID_POLY3_INTERVAL` (measured on a
#: grid of 10⁶ points: 0.0510 at ``|x| ≈ 3.83``, RMS 0.032); outside the interval the cubic diverges.
SIGMOID_POLY3_MAX_ERROR: Final = 0.052

#: A TenSEAL/SEAL object (TenSEAL ships no type hints); never crosses the public API.
_Native: TypeAlias = Any
_FloatArray: TypeAlias = npt.NDArray[np.float64]
_Values: TypeAlias = Sequence[float] | Sequence[int] | npt.NDArray[Any]

_MAGIC: Final = b"PSHE"
_KIND_SECRET: Final = 1
_KIND_EVAL: Final = 2
_KIND_VECTOR: Final = 3
_KIND_SCALAR: Final = 4
_KIND_MOMENTS: Final = 5
_KIND_NAMES: Final = {
    _KIND_SECRET: "secret keyring",
    _KIND_EVAL: "evaluation context",
    _KIND_VECTOR: "encrypted vector",
    _KIND_SCALAR: "encrypted scalar",
    _KIND_MOMENTS: "encrypted moments",
}
_MAX_PRIME_BITS: Final = 60
_MIN_PRIME_BITS: Final = 20
_MIN_SCALE_BITS: Final = 20
_MAX_DEPTH: Final = 64
_MAX_LENGTH: Final = 1 << 31
_MAX_POLY_DEGREE: Final = 64
_KEY_ID_HEX: Final = 32
#: BFV noise model (bits), calibrated against SEAL 4.x ``invariant_noise_budget`` at t = 17..30 bits,
#: N = 4096..16384: fresh budget >= data bits - log2 t - 8, each multiplication costs
#: <= log2 t + log2 N + 1. Two bits of slack on each, and a final margin for additions.
_BFV_FRESH_LOSS: Final = 10
_BFV_MULT_EXTRA: Final = 2
_BFV_FINAL_MARGIN: Final = 5
_SEC_LEVELS: Final = MappingProxyType(
    {
        128: _sealapi.SEC_LEVEL_TYPE.TC128,
        192: _sealapi.SEC_LEVEL_TYPE.TC192,
        256: _sealapi.SEC_LEVEL_TYPE.TC256,
    }
)
_SIGMOID_POLY3: Final = (0.5, 0.197, 0.0, -0.004)


class HeScheme(enum.StrEnum):
    """The two lattice schemes offered: approximate reals (CKKS) and exact integers (BFV)."""

    CKKS = "ckks"
    BFV = "bfv"


# --- validation helpers --------------------------------------------------------------------------


def _require_int(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise InvalidInput(f"{what} must be an int, got {type(value).__name__}")
    return int(value)


def _require_float(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise InvalidInput(f"{what} must be a number, got {type(value).__name__}")
    result = float(value)
    if not math.isfinite(result):
        raise InvalidInput(f"{what} must be finite")
    return result


def _coerce_bytes(value: object, what: str) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, bytearray | memoryview):
        return bytes(value)
    raise InvalidInput(f"{what} must be bytes, got {type(value).__name__}")


def _check_table(security_bits: object, n: object) -> tuple[int, int, int]:
    """``(security_bits, N, max log2 Q)`` if the pair is in the standard's table."""
    sec = _require_int(security_bits, "security_bits")
    if sec not in HE_STANDARD_MAX_LOG_Q:
        raise UnsupportedParameter(
            f"security level {sec} bits is not in the HomomorphicEncryption.org table; "
            f"use one of {sorted(HE_STANDARD_MAX_LOG_Q)}"
        )
    degree = _require_int(n, "poly_modulus_degree")
    row = HE_STANDARD_MAX_LOG_Q[sec]
    if degree not in row:
        raise UnsupportedParameter(
            f"poly_modulus_degree {degree} is not supported; use one of {sorted(row)}"
        )
    return sec, degree, row[degree]


def _check_bit_sizes(sizes: object) -> tuple[int, ...]:
    if not isinstance(sizes, tuple | list) or len(sizes) < 2:
        raise InvalidInput("coeff_mod_bit_sizes must be a list of at least two prime sizes")
    out = tuple(_require_int(b, "coefficient prime size") for b in sizes)
    for bits in out:
        if not _MIN_PRIME_BITS <= bits <= _MAX_PRIME_BITS:
            raise UnsupportedParameter(
                f"coefficient primes must have {_MIN_PRIME_BITS} to {_MAX_PRIME_BITS} bits, got {bits}"
            )
    return out


def _check_total(total: int, bound: int, n: int, sec: int) -> None:
    if total > bound:
        raise UnsupportedParameter(
            f"a {total}-bit coefficient modulus is insecure for N={n}: the HomomorphicEncryption.org "
            f"standard allows at most {bound} bits for {sec}-bit security"
        )


def _ckks_noise_bits(n: int) -> int:
    """``log2(N) + 1``: bits of the scale eaten by fresh CKKS noise (calibrated, with ~1 bit spare)."""
    return n.bit_length()


# --- parameters ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CkksParameters:
    """CKKS parameters: ring degree, coefficient modulus primes, scale and security level.

    Validated on construction against the HomomorphicEncryption.org table (an insecure combination
    raises :class:`~petsuite.core.errors.UnsupportedParameter`). The middle primes must all have
    ``scale_bits`` bits (one is consumed per multiplication); the first prime holds the integer part
    and must exceed the scale; the last (special) prime must be at least as large as every other.
    Prefer :meth:`choose`.
    """

    poly_modulus_degree: int
    coeff_mod_bit_sizes: tuple[int, ...]
    scale_bits: int
    security_bits: int = 128

    def __post_init__(self) -> None:
        sec, n, bound = _check_table(self.security_bits, self.poly_modulus_degree)
        sizes = _check_bit_sizes(self.coeff_mod_bit_sizes)
        scale = _require_int(self.scale_bits, "scale_bits")
        if not _MIN_SCALE_BITS <= scale <= _MAX_PRIME_BITS:
            raise UnsupportedParameter(
                f"scale_bits must lie in [{_MIN_SCALE_BITS}, {_MAX_PRIME_BITS}], got {scale}"
            )
        if any(b != scale for b in sizes[1:-1]):
            raise UnsupportedParameter("every middle coefficient prime must have scale_bits bits")
        if sizes[0] <= scale:
            raise UnsupportedParameter("the first coefficient prime must be larger than the scale")
        if sizes[-1] < max(sizes[:-1]):
            raise UnsupportedParameter(
                "the special (last) prime must be at least as large as every other prime"
            )
        _check_total(sum(sizes), bound, n, sec)
        object.__setattr__(self, "poly_modulus_degree", n)
        object.__setattr__(self, "coeff_mod_bit_sizes", sizes)
        object.__setattr__(self, "scale_bits", scale)
        object.__setattr__(self, "security_bits", sec)

    @classmethod
    def choose(
        cls,
        depth: int,
        precision_bits: int = 25,
        integer_bits: int = 20,
        security_bits: int = 128,
    ) -> CkksParameters:
        """The smallest secure CKKS parameters for ``depth`` sequential multiplications.

        Parameters
        ----------
        depth:
            Multiplicative depth (0 for additions only; 1 for sums of squares and dot products; 2
            for a degree-3 polynomial; 3 for a linear model followed by :func:`sigmoid_poly3`).
        precision_bits:
            Bits after the binary point of a fresh encryption (absolute error ``≈ 2^-precision``).
        integer_bits:
            Bits of the integer part, sign included: results must satisfy
            ``|x| < 2^(integer_bits - 1)`` at the last level.
        security_bits:
            128 (default), 192 or 256.

        Raises
        ------
        UnsupportedParameter
            If no ring degree in the table can hold the request, a prime would exceed 60 bits, or
            the security level is not in the table.
        """
        d = _require_int(depth, "depth")
        precision = _require_int(precision_bits, "precision_bits")
        integer = _require_int(integer_bits, "integer_bits")
        if not 0 <= d <= _MAX_DEPTH:
            raise UnsupportedParameter(f"depth must lie in [0, {_MAX_DEPTH}], got {d}")
        if precision < 1 or integer < 1:
            raise InvalidInput("precision_bits and integer_bits must be positive")
        sec = _require_int(security_bits, "security_bits")
        if sec not in HE_STANDARD_MAX_LOG_Q:
            _check_table(sec, 0)
        too_wide = ""
        for n, bound in sorted(HE_STANDARD_MAX_LOG_Q[sec].items()):
            scale = max(precision + _ckks_noise_bits(n), _MIN_SCALE_BITS)
            first = scale + integer
            if first > _MAX_PRIME_BITS:
                too_wide = (
                    f"; at N={n} precision_bits + integer_bits must be at most "
                    f"{_MAX_PRIME_BITS - _ckks_noise_bits(n)} (primes are at most 60 bits)"
                )
                break
            if 2 * first + d * scale <= bound:
                return cls(n, (first, *([scale] * d), first), scale, sec)
        raise UnsupportedParameter(
            f"no CKKS parameters with depth {d}, {precision} bits of precision and {integer} integer "
            f"bits fit the {sec}-bit security table (largest N=32768 allows "
            f"{HE_STANDARD_MAX_LOG_Q[sec][32768]} bits){too_wide}"
        )

    @property
    def scheme(self) -> HeScheme:
        """Always :attr:`HeScheme.CKKS`."""
        return HeScheme.CKKS

    @property
    def slots(self) -> int:
        """Values packed per ciphertext: ``N/2``."""
        return self.poly_modulus_degree // 2

    @property
    def depth(self) -> int:
        """Sequential multiplications available: the number of middle primes."""
        return len(self.coeff_mod_bit_sizes) - 2

    @property
    def total_bits(self) -> int:
        """Bits of the whole coefficient modulus (checked against the table)."""
        return sum(self.coeff_mod_bit_sizes)

    @property
    def integer_bits(self) -> int:
        """First prime minus scale: results must stay below ``2^(integer_bits - 1)``."""
        return self.coeff_mod_bit_sizes[0] - self.scale_bits

    @property
    def precision_bits(self) -> int:
        """Bits after the point of a fresh encryption: ``scale_bits - log2(N) - 1``."""
        return self.scale_bits - _ckks_noise_bits(self.poly_modulus_degree)

    def to_dict(self) -> dict[str, Any]:
        """The defining fields as JSON-ready values (inverse: :meth:`from_dict`)."""
        return {
            "scheme": HeScheme.CKKS.value,
            "poly_modulus_degree": self.poly_modulus_degree,
            "coeff_mod_bit_sizes": list(self.coeff_mod_bit_sizes),
            "scale_bits": self.scale_bits,
            "security_bits": self.security_bits,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CkksParameters:
        """Rebuild and validate parameters from :meth:`to_dict` output."""
        _expect_keys(
            data,
            {"scheme", "poly_modulus_degree", "coeff_mod_bit_sizes", "scale_bits", "security_bits"},
            HeScheme.CKKS,
        )
        return cls(
            data["poly_modulus_degree"],
            _check_bit_sizes(data["coeff_mod_bit_sizes"]),
            data["scale_bits"],
            data["security_bits"],
        )


def _bfv_depth(n: int, plain_bits: int, sizes: tuple[int, ...]) -> int:
    """Multiplications (ciphertext or plaintext) that the noise model allows; -1 if none fit."""
    data_bits = sum(sizes[:-1])
    fresh = data_bits - plain_bits - _BFV_FRESH_LOSS - _BFV_FINAL_MARGIN
    if fresh < 0:
        return -1
    return fresh // (plain_bits + (n.bit_length() - 1) + _BFV_MULT_EXTRA)


@dataclass(frozen=True, slots=True)
class BfvParameters:
    """BFV parameters: ring degree, batching plain modulus ``t``, coefficient primes, security.

    ``t`` must be a prime ``≡ 1 (mod 2N)`` (batching) below ``2^60``. Validated on construction
    against the HomomorphicEncryption.org table and the noise model (at least depth 0). Prefer
    :meth:`choose`. Integers are exact modulo ``t``: values and results live in
    ``[-(t-1)/2, (t-1)/2]``.
    """

    poly_modulus_degree: int
    plain_modulus: int
    coeff_mod_bit_sizes: tuple[int, ...]
    security_bits: int = 128

    def __post_init__(self) -> None:
        sec, n, bound = _check_table(self.security_bits, self.poly_modulus_degree)
        sizes = _check_bit_sizes(self.coeff_mod_bit_sizes)
        t = _require_int(self.plain_modulus, "plain_modulus")
        if not 2 < t < 1 << _MAX_PRIME_BITS or not gmpy2.is_prime(t, 40):
            raise UnsupportedParameter("plain_modulus must be an odd prime below 2^60")
        if t % (2 * n) != 1:
            raise UnsupportedParameter(
                "plain_modulus must be ≡ 1 (mod 2N) to allow batching (PlainModulus.Batching)"
            )
        _check_total(sum(sizes), bound, n, sec)
        if _bfv_depth(n, t.bit_length(), sizes) < 0:
            raise UnsupportedParameter(
                "the plain modulus is too large for this coefficient modulus: no noise budget left"
            )
        object.__setattr__(self, "poly_modulus_degree", n)
        object.__setattr__(self, "plain_modulus", t)
        object.__setattr__(self, "coeff_mod_bit_sizes", sizes)
        object.__setattr__(self, "security_bits", sec)

    @classmethod
    def choose(
        cls, depth: int, plain_modulus_bits: int = 20, security_bits: int = 128
    ) -> BfvParameters:
        """The smallest secure BFV parameters for ``depth`` multiplications and a ``t`` of given size.

        The coefficient modulus is SEAL's ``CoeffModulus.BFVDefault(N, security)`` (the whole
        budget the standard allows); ``t`` is SEAL's ``PlainModulus.Batching(N, bits)``.

        Raises
        ------
        UnsupportedParameter
            If no ring degree has the noise budget, or the sizes are out of range.
        """
        d = _require_int(depth, "depth")
        bits = _require_int(plain_modulus_bits, "plain_modulus_bits")
        if not 0 <= d <= _MAX_DEPTH:
            raise UnsupportedParameter(f"depth must lie in [0, {_MAX_DEPTH}], got {d}")
        if not 2 <= bits <= _MAX_PRIME_BITS:
            raise UnsupportedParameter(f"plain_modulus_bits must lie in [2, {_MAX_PRIME_BITS}]")
        sec = _require_int(security_bits, "security_bits")
        if sec not in HE_STANDARD_MAX_LOG_Q:
            _check_table(sec, 0)
        for n in sorted(HE_STANDARD_MAX_LOG_Q[sec]):
            if bits <= (2 * n).bit_length():
                continue  # no prime t ≡ 1 mod 2N of that size
            with _native_errors("BFV parameter selection", UnsupportedParameter):
                sizes = tuple(
                    int(m.bit_count())
                    for m in _sealapi.CoeffModulus.BFVDefault(n, _SEC_LEVELS[sec])
                )
                if len(sizes) < 2 or _bfv_depth(n, bits, sizes) < d:
                    continue
                t = int(_sealapi.PlainModulus.Batching(n, bits).value())
            return cls(n, t, sizes, sec)
        raise UnsupportedParameter(
            f"no BFV parameters with depth {d} and a {bits}-bit plain modulus fit the {sec}-bit "
            "security table"
        )

    @property
    def scheme(self) -> HeScheme:
        """Always :attr:`HeScheme.BFV`."""
        return HeScheme.BFV

    @property
    def slots(self) -> int:
        """Values packed per ciphertext: ``N/2`` (TenSEAL's BFV rotations stay within a row)."""
        return self.poly_modulus_degree // 2

    @property
    def depth(self) -> int:
        """Multiplications (ciphertext x ciphertext or plaintext) the noise model allows."""
        return _bfv_depth(
            self.poly_modulus_degree, self.plain_modulus.bit_length(), self.coeff_mod_bit_sizes
        )

    @property
    def max_abs(self) -> int:
        """Largest magnitude of a value or result: ``(t - 1) / 2``."""
        return (self.plain_modulus - 1) // 2

    @property
    def total_bits(self) -> int:
        """Bits of the whole coefficient modulus (checked against the table)."""
        return sum(self.coeff_mod_bit_sizes)

    def to_dict(self) -> dict[str, Any]:
        """The defining fields as JSON-ready values (inverse: :meth:`from_dict`)."""
        return {
            "scheme": HeScheme.BFV.value,
            "poly_modulus_degree": self.poly_modulus_degree,
            "plain_modulus": self.plain_modulus,
            "coeff_mod_bit_sizes": list(self.coeff_mod_bit_sizes),
            "security_bits": self.security_bits,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BfvParameters:
        """Rebuild and validate parameters from :meth:`to_dict` output."""
        _expect_keys(
            data,
            {
                "scheme",
                "poly_modulus_degree",
                "plain_modulus",
                "coeff_mod_bit_sizes",
                "security_bits",
            },
            HeScheme.BFV,
        )
        return cls(
            data["poly_modulus_degree"],
            data["plain_modulus"],
            _check_bit_sizes(data["coeff_mod_bit_sizes"]),
            data["security_bits"],
        )


HeParameters: TypeAlias = CkksParameters | BfvParameters


def _expect_keys(data: object, keys: set[str], scheme: HeScheme) -> None:
    if not isinstance(data, Mapping) or set(data) != keys:
        raise InvalidInput(f"{scheme.value} parameters must have exactly the fields {sorted(keys)}")
    if data["scheme"] != scheme.value:
        raise InvalidInput(f"expected {scheme.value} parameters")


def _params_from_dict(data: object) -> HeParameters:
    if not isinstance(data, Mapping):
        raise InvalidInput("parameters must be a JSON object")
    if data.get("scheme") == HeScheme.CKKS.value:
        return CkksParameters.from_dict(data)
    if data.get("scheme") == HeScheme.BFV.value:
        return BfvParameters.from_dict(data)
    raise InvalidInput("unknown homomorphic encryption scheme")


# --- TenSEAL boundary ----------------------------------------------------------------------------


@contextmanager
def _native_errors(
    what: str, error: type[InvalidInput] = InvalidInput, *, quiet: bool = False
) -> Iterator[None]:
    """Map TenSEAL/SEAL exceptions to petsuite's hierarchy (``raise ... from``).

    ``quiet`` drops the library's message (used wherever secret-key material is being parsed).
    """
    try:
        yield
    except PetsError:
        raise
    except (ValueError, RuntimeError, TypeError, OverflowError, IndexError, MemoryError) as exc:
        detail = type(exc).__name__ if quiet else f"{type(exc).__name__}: {str(exc)[:160]}"
        raise error(f"{what} failed ({detail})") from exc


def _key_id(ctx: _Native) -> str:
    """SHA-256 (first 32 hex digits) of the serialised public context (parameters + public key).

    TenSEAL serialises its mutable ``auto_*`` flags too (creating a BFV vector switches two off),
    so they are set to a canonical value (all on) while serialising and restored afterwards.
    """
    flags = (ctx.auto_relin, ctx.auto_rescale, ctx.auto_mod_switch)
    try:
        _set_auto(ctx)
        public = ctx.serialize(
            save_public_key=True,
            save_secret_key=False,
            save_galois_keys=False,
            save_relin_keys=False,
        )
    finally:
        ctx.auto_relin, ctx.auto_rescale, ctx.auto_mod_switch = flags
    return hashlib.sha256(public).hexdigest()[:_KEY_ID_HEX]


def _new_context(params: HeParameters, threads: int | None) -> _Native:
    with _native_errors("key generation", UnsupportedParameter):
        if isinstance(params, CkksParameters):
            ctx = ts.context(
                ts.SCHEME_TYPE.CKKS,
                params.poly_modulus_degree,
                coeff_mod_bit_sizes=list(params.coeff_mod_bit_sizes),
                n_threads=threads,
            )
            ctx.global_scale = float(2**params.scale_bits)
        else:
            ctx = ts.context(
                ts.SCHEME_TYPE.BFV,
                params.poly_modulus_degree,
                params.plain_modulus,
                coeff_mod_bit_sizes=list(params.coeff_mod_bit_sizes),
                n_threads=threads,
            )
        ctx.generate_galois_keys()
        if not ctx.has_relin_keys():
            ctx.generate_relin_keys()
    return ctx


def _check_context_params(ctx: _Native, params: HeParameters) -> None:
    """The loaded TenSEAL context must have exactly the declared (validated) parameters."""
    with _native_errors("reading the context parameters"):
        parms = ctx.data.seal_context().key_context_data().parms()
        scheme = str(parms.scheme().name).lower()
        n = int(parms.poly_modulus_degree())
        sizes = tuple(int(m.bit_count()) for m in parms.coeff_modulus())
        t = int(parms.plain_modulus().value())
        scale = float(ctx.global_scale) if isinstance(params, CkksParameters) else 0.0
    same = scheme == params.scheme.value and n == params.poly_modulus_degree
    same = same and sizes == params.coeff_mod_bit_sizes
    if isinstance(params, CkksParameters):
        same = same and scale == float(2**params.scale_bits)
    else:
        same = same and t == params.plain_modulus
    if not same:
        raise InvalidInput("the TenSEAL context does not match its declared parameters")


def _set_auto(ctx: _Native) -> None:
    ctx.auto_relin = True
    ctx.auto_rescale = True
    ctx.auto_mod_switch = True


class _Keys:
    """A TenSEAL context with its validated parameters and key id (shared by the key holders)."""

    __slots__ = ("ctx", "key_id", "native", "params", "seal", "vector_cls")

    def __init__(self, ctx: _Native, params: HeParameters, key_id: str) -> None:
        self.ctx = ctx
        self.native = ctx.data
        self.params = params
        self.key_id = key_id
        self.seal = ctx.data.seal_context()
        is_ckks = isinstance(params, CkksParameters)
        self.vector_cls = ts._ts_cpp.CKKSVector if is_ckks else ts._ts_cpp.BFVVector

    @property
    def ckks(self) -> bool:
        return isinstance(self.params, CkksParameters)

    def level(self, chunk: _Native) -> int:
        """Chain index of a chunk's ciphertext: multiplications it has left (CKKS)."""
        cts = chunk.ciphertext()
        if len(cts) != 1:
            raise InvalidInput("each chunk must hold exactly one ciphertext")
        return int(self.seal.get_context_data(cts[0].parms_id()).chain_index())


# --- encryption and key holders ------------------------------------------------------------------


def _as_values(values: object, ckks: bool) -> npt.NDArray[Any]:
    if isinstance(values, np.ndarray):
        arr = values
    elif isinstance(values, Sequence) and not isinstance(values, str | bytes | bytearray):
        try:
            arr = np.asarray(values)
        except (TypeError, ValueError) as exc:
            raise InvalidInput("values must be a flat sequence of numbers") from exc
    else:
        raise InvalidInput(f"values must be a sequence or numpy array, got {type(values).__name__}")
    if arr.ndim != 1 or arr.shape[0] == 0:
        raise InvalidInput("values must be a non-empty one-dimensional vector")
    if arr.shape[0] > _MAX_LENGTH:
        raise InvalidInput(f"at most {_MAX_LENGTH} values per vector")
    if arr.dtype == np.bool_:
        raise InvalidInput("booleans are not numbers here")
    if ckks:
        if not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
            raise InvalidInput("CKKS encrypts real numbers")
        out = arr.astype(np.float64, copy=False)
        if not np.all(np.isfinite(out)):
            raise InvalidInput("values must be finite (no NaN or infinity)")
        return out
    if not np.issubdtype(arr.dtype, np.integer):
        raise InvalidInput("BFV encrypts integers; use CKKS for real numbers")
    if arr.dtype == np.uint64 and arr.size and int(arr.max()) >= 1 << 63:
        raise InvalidInput("integer values must fit in 63 bits")
    return arr.astype(np.int64, copy=False)


def _ckks_limit(params: CkksParameters, level: int) -> float:
    """Exclusive bound on a CKKS slot value at a given level (``2^(log2 Q_level - scale - 1)``)."""
    bits = params.coeff_mod_bit_sizes[0] + level * params.scale_bits - params.scale_bits - 1
    return float(2.0**bits)


def _encrypt(keys: _Keys, values: _Values, bound: float | None) -> HeVector:
    params = keys.params
    arr = _as_values(values, keys.ckks)
    n = int(arr.shape[0])
    peak = max(arr.max().item(), -arr.min().item())
    checked: float | int | None
    if isinstance(params, CkksParameters):
        if bound is not None:
            checked = _require_float(bound, "bound")
            if checked <= 0:
                raise InvalidInput("bound must be positive")
            if peak > checked:
                raise InvalidInput("values exceed the declared bound")
        else:
            checked = None
        if max(peak, checked or 0.0) >= _ckks_limit(params, params.depth):
            raise UnsupportedParameter("values too large for the CKKS modulus; raise integer_bits")
    else:
        limit = params.max_abs
        if bound is None:
            checked = limit // n
            if checked == 0:
                raise UnsupportedParameter(
                    f"{n} values: a sum could wrap modulo t; choose a larger plain_modulus_bits"
                )
        else:
            checked = _require_int(bound, "bound")
            if checked <= 0:
                raise InvalidInput("bound must be positive")
            if checked * n > limit:
                raise UnsupportedParameter(
                    f"declared bound x n = {checked * n} reaches t/2 = {limit}: the sum could wrap; "
                    "choose a larger plain_modulus_bits or a smaller bound"
                )
        if peak > checked:
            raise InvalidInput("values exceed the declared (or default) bound")
    slots = params.slots
    make = keys.vector_cls
    ctx = keys.native
    with _native_errors("encryption"):
        if n <= slots:
            chunks = [make(ctx, arr.tolist())]
        else:
            full = n // slots
            chunks = [make(ctx, arr[i * slots : (i + 1) * slots].tolist()) for i in range(full)]
            rest = n - full * slots
            if rest:
                last = np.zeros(slots, dtype=arr.dtype)
                last[:rest] = arr[full * slots :]
                chunks.append(make(ctx, last.tolist()))
    zero: float | int = 0.0 if keys.ckks else 0
    return HeVector._create(
        keys, tuple(chunks), n, bound=checked, pad=zero, replicated=True, depth_used=0
    )


class _Holder:
    """What the keyring and the evaluation context share: parameters, key id, public encryption."""

    __slots__ = ("_keys",)
    _keys: _Keys

    @property
    def key_id(self) -> str:
        """SHA-256 (32 hex digits) of the public context: names the key pair, public."""
        return self._keys.key_id

    @property
    def params(self) -> HeParameters:
        """The validated parameters."""
        return self._keys.params

    @property
    def scheme(self) -> HeScheme:
        """CKKS or BFV."""
        return self._keys.params.scheme

    def encrypt(self, values: _Values, *, bound: float | None = None) -> HeVector:
        """Encrypt a vector under the public key (several ciphertexts when longer than ``slots``).

        Parameters
        ----------
        values:
            Reals (CKKS) or integers (BFV), one-dimensional, non-empty, finite.
        bound:
            Public upper bound on ``|x|``, carried with the ciphertext so that operations can refuse
            a result that would overflow. CKKS: optional (``None`` = unchecked). BFV: defaults to
            the largest bound for which the sum of the vector cannot wrap modulo ``t``
            (``(t-1)/2 // n``); it must satisfy ``bound x n ≤ (t-1)/2``.

        Raises
        ------
        InvalidInput
            On a malformed vector or values above the bound.
        UnsupportedParameter
            If the bound cannot fit the plain modulus (BFV) or the values the modulus (CKKS).
        """
        return _encrypt(self._keys, values, bound)

    def encrypt_columns(
        self, matrix: npt.ArrayLike, *, bound: float | None = None
    ) -> list[HeVector]:
        """Encrypt each column of a records-by-features matrix (the layout of :func:`linear_scores`)."""
        try:
            arr = np.asarray(matrix)
        except (TypeError, ValueError) as exc:
            raise InvalidInput("matrix must be a two-dimensional array of numbers") from exc
        if arr.ndim != 2 or arr.shape[0] == 0 or arr.shape[1] == 0:
            raise InvalidInput("matrix must be a non-empty two-dimensional array")
        return [self.encrypt(arr[:, j], bound=bound) for j in range(arr.shape[1])]


class HeSecretKeyring(_Holder):
    """The key owner's TenSEAL context, secret key included. Never send it to an evaluator.

    Create with :meth:`generate` or :meth:`from_secret_bytes`; give evaluators
    :meth:`evaluation_context` only. The secret key never appears in ``repr``, ``str`` or errors.
    """

    __slots__ = ("_eval",)
    _eval: HeEvaluationContext | None

    def __init__(self) -> None:
        raise TypeError("use HeSecretKeyring.generate() or HeSecretKeyring.from_secret_bytes()")

    @classmethod
    def _wrap(cls, keys: _Keys) -> HeSecretKeyring:
        obj = object.__new__(cls)
        obj._keys = keys
        obj._eval = None
        return obj

    @classmethod
    def generate(cls, params: HeParameters, *, threads: int | None = None) -> HeSecretKeyring:
        """A fresh key pair with relinearisation and Galois keys, for validated ``params``.

        ``threads`` bounds TenSEAL's worker threads (default: one per CPU). Keys come from SEAL's
        CSPRNG. About 0.1 s at N=8192, 0.5 s at N=16384.
        """
        if not isinstance(params, CkksParameters | BfvParameters):
            raise InvalidInput("params must be CkksParameters or BfvParameters")
        ctx = _new_context(params, _check_threads(threads))
        return cls._wrap(_Keys(ctx, params, _key_id(ctx)))

    def evaluation_context(self) -> HeEvaluationContext:
        """The public part for an evaluator: public, relinearisation and Galois keys, no secret key."""
        if self._eval is None:
            with _native_errors("making the evaluation context"):
                public = self._keys.ctx.copy()
                public.make_context_public()
            if public.has_secret_key() or public.is_private():
                raise InvalidInput("TenSEAL left the secret key in the public context")
            self._eval = HeEvaluationContext._wrap(
                _Keys(public, self._keys.params, self._keys.key_id)
            )
        return self._eval

    def secret_bytes(self) -> bytes:
        """Versioned envelope of the secret context. Plaintext key material: encrypt it at rest.

        Holds the parameters, the key id, the public and the secret key; relinearisation and Galois
        keys are regenerated by :meth:`from_secret_bytes`.
        """
        with _native_errors("serialising the keyring", quiet=True):
            blob = self._keys.ctx.serialize(
                save_public_key=True,
                save_secret_key=True,
                save_galois_keys=False,
                save_relin_keys=False,
            )
        header = {"params": self._keys.params.to_dict(), "key_id": self._keys.key_id}
        return _encode_envelope(_KIND_SECRET, header, [blob])

    @classmethod
    def from_secret_bytes(cls, data: bytes, *, threads: int | None = None) -> HeSecretKeyring:
        """Load and validate :meth:`secret_bytes` output.

        Checks the envelope (magic, version, kind, digest), the parameters against the standard,
        that the context holds a secret and a public key with exactly those parameters, and the key
        id. Regenerates relinearisation and Galois keys.

        Raises
        ------
        InvalidInput
            On any malformed or inconsistent field (messages never include key material).
        """
        header, blobs = _decode_envelope(data, _KIND_SECRET)
        _expect_header(header, {"params", "key_id", "digest"})
        params = _params_from_dict(header["params"])
        key_id = _header_key_id(header)
        if len(blobs) != 1:
            raise InvalidInput("a secret keyring holds exactly one context")
        with _native_errors("loading the secret keyring", quiet=True):
            ctx = ts.context_from(blobs[0], n_threads=_check_threads(threads))
            private = bool(ctx.is_private()) and bool(ctx.has_public_key())
        if not private:
            raise InvalidInput("the keyring lacks its secret or public key")
        _check_context_params(ctx, params)
        if not hmac.compare_digest(_key_id(ctx), key_id):
            raise InvalidInput("the keyring's key id does not match its public key")
        with _native_errors("regenerating evaluation keys", quiet=True):
            _set_auto(ctx)
            ctx.generate_galois_keys()
            ctx.generate_relin_keys()
        return cls._wrap(_Keys(ctx, params, key_id))

    # -- decryption --------------------------------------------------------------------------------

    def _own(self, key_id: str, what: str) -> None:
        if key_id != self._keys.key_id:
            raise InvalidInput(
                f"{what} is under key {key_id}, but this keyring is key {self._keys.key_id}"
            )

    def _secret(self) -> _Native:
        return self._keys.native.secret_key()

    def decrypt(self, vector: HeVector) -> npt.NDArray[Any]:
        """The plaintext vector: ``float64`` (CKKS, approximate) or ``int64`` (BFV, exact).

        Raises
        ------
        InvalidInput
            If ``vector`` is under another key (both key ids are named).
        """
        if not isinstance(vector, HeVector):
            raise InvalidInput(f"expected an HeVector, got {type(vector).__name__}")
        self._own(vector.key_id, "the vector")
        sk = self._secret()
        dtype = np.float64 if self._keys.ckks else np.int64
        with _native_errors("decryption"):
            parts = [np.asarray(c.decrypt(sk), dtype=dtype) for c in vector._chunks]
        out = parts[0] if len(parts) == 1 else np.concatenate(parts)
        return out[: vector._length]

    def decrypt_scalar(self, scalar: HeScalar) -> float:
        """The plaintext of an :class:`HeScalar`, divided by its public divisor.

        BFV results without a divisor (sums, dot products) come back as exact ``int``.
        """
        if not isinstance(scalar, HeScalar):
            raise InvalidInput(f"expected an HeScalar, got {type(scalar).__name__}")
        self._own(scalar.key_id, "the scalar")
        with _native_errors("decryption"):
            value = scalar._native.decrypt(self._secret())[0]
        if not self._keys.ckks and scalar._divisor == 1:
            return int(value)
        return float(value) / scalar._divisor

    def decrypt_variance(self, moments: HeMoments, ddof: int = 0) -> float:
        """``var = E[x²] - E[x]²`` (times ``n/(n - ddof)``) from :meth:`HeVector.variance` output.

        Clamped at 0 (CKKS noise can make a tiny variance negative). The cancellation loses
        precision when ``|mean|`` is large against the standard deviation: see
        :meth:`expected_error` with ``op="variance"``.
        """
        if not isinstance(moments, HeMoments):
            raise InvalidInput(f"expected HeMoments, got {type(moments).__name__}")
        dd = _require_int(ddof, "ddof")
        if not 0 <= dd < moments.count:
            raise InvalidInput("ddof must lie in [0, n)")
        mean = float(self.decrypt_scalar(moments.mean))
        mean_sq = float(self.decrypt_scalar(moments.mean_of_squares))
        return max(mean_sq - mean * mean, 0.0) * moments.count / (moments.count - dd)

    def expected_error(
        self,
        op: str,
        n: int = 1,
        *,
        magnitude: float = 1.0,
        weight: float = 1.0,
        coefficients: Sequence[float] | None = None,
    ) -> float:
        """A conservative bound on the absolute error of a CKKS result (0.0 for BFV: exact).

        Model, calibrated against TenSEAL 0.3 / SEAL 4 at N = 8192 and 16384 (observed errors are
        usually 5-1000x smaller):

        * ``e0 = 2^-precision_bits`` bounds the error of each freshly encrypted value (observed:
          ``0.6·e0`` at most); independent per-slot errors add up like ``2·√n·e0``.
        * ``ek = e0·N/32`` bounds the key-switching noise of one rotation;
          ``r = ceil(log2 min(n, slots))`` rotations finish a sum.
        * ``δ`` is the largest relative gap between a middle prime and ``2^scale_bits``: TenSEAL
          resets the scale to ``2^scale_bits`` after each rescale, so every product carries a
          *relative* error up to ``δ`` (with the defaults about ``2^-22.7`` at N=8192 and
          ``2^-18`` at N=16384, whatever ``precision_bits`` says).

        With ``M = magnitude`` (bound on ``|x|``) and ``W = weight`` (bound on the other operand):

        * ``"encrypt"``: ``e0``. ``"sum"``: ``2√n·e0 + r·ek``. ``"mean"``: the sum's bound ``/ n``.
        * ``"dot"``, ``"dot_encrypted"``, ``"sum_of_squares"`` (``W = M``):
          ``n·M·W·δ + 2√n·(M + W + 1)·e0 + r·ek``; ``"matvec"`` (``n`` = row length ``d``): the
          same with ``d·ek`` in place of ``r·ek``.
        * ``"variance"`` (``E[x²] - E[x]²``): ``a + 2M·b + b²``, ``a`` and ``b`` the bounds of the
          mean of squares and of the mean.
        * ``"polyval"`` (needs ``coefficients``; ``M`` taken as at least 1; ``L`` its levels):
          ``2·e0·Σ|cᵢ|·i·M^(i-1) + L·(2·e0 + 2·δ·Σ|cᵢ|·M^i)``.

        ``n`` counts the encrypted slots summed: a vector longer than ``slots`` is padded to a
        multiple of ``slots``. Round released results well above this bound (:func:`round_output`).
        """
        params = self._keys.params
        if not isinstance(params, CkksParameters):
            return 0.0
        count = _require_int(n, "n")
        if count < 1:
            raise InvalidInput("n must be positive")
        big_m = abs(_require_float(magnitude, "magnitude"))
        big_w = abs(_require_float(weight, "weight"))
        e0 = 2.0**-params.precision_bits
        # was N/128: at n below the slot count 4 of 40 keys exceeded it (by up to 1.92x); N/32 is
        # 4x more room for the rotations that finish a sum
        ek = e0 * params.poly_modulus_degree / 32
        delta = self._rescale_gap()
        rot = math.ceil(math.log2(min(count, params.slots))) if count > 1 else 0
        spread = 2.0 * math.sqrt(count)

        def products(m: float, w: float) -> float:
            return count * m * w * delta + spread * (m + w + 1.0) * e0

        if op == "encrypt":
            return e0
        if op in ("sum", "mean"):
            total = spread * e0 + rot * ek
            return total / count if op == "mean" else total
        if op in ("dot", "dot_encrypted"):
            return products(big_m, big_w) + rot * ek
        if op == "sum_of_squares":
            return products(big_m, big_m) + rot * ek
        if op == "matvec":
            return products(big_m, big_w) + count * ek
        if op == "variance":
            a = (products(big_m, big_m) + rot * ek) / count
            b = (spread * e0 + rot * ek) / count
            return a + 2 * big_m * b + b * b
        if op == "polyval":
            if coefficients is None:
                raise InvalidInput("op='polyval' needs the coefficients")
            coeffs = _check_coefficients(coefficients)
            m1 = max(big_m, 1.0)
            levels = _poly_levels(_poly_degree(coeffs))
            slope = sum(abs(c) * i * m1 ** (i - 1) for i, c in enumerate(coeffs) if i)
            size = sum(abs(c) * m1**i for i, c in enumerate(coeffs))
            return 2 * slope * e0 + levels * (2 * e0 + 2 * delta * size) + e0
        raise InvalidInput(f"unknown operation {op!r}")

    def _rescale_gap(self) -> float:
        params = self._keys.params
        if not isinstance(params, CkksParameters):
            return 0.0
        with _native_errors("reading the coefficient modulus"):
            primes = [
                int(m.value()) for m in self._keys.seal.key_context_data().parms().coeff_modulus()
            ]
        scale = 1 << params.scale_bits
        middle = primes[1:-1]
        if not middle:
            return 0.0
        return max(abs(p - scale) / scale for p in middle)

    def __repr__(self) -> str:
        return (
            f"HeSecretKeyring(scheme={self.scheme.value}, N={self.params.poly_modulus_degree}, "
            f"key_id={self.key_id}, <secret key hidden>)"
        )

    __str__ = __repr__

    def __reduce__(self) -> NoReturn:
        raise TypeError("HeSecretKeyring cannot be pickled; use secret_bytes() and encrypt it")


class HeEvaluationContext(_Holder):
    """The evaluator's context: public, relinearisation and Galois keys, never the secret key.

    Obtain from :meth:`HeSecretKeyring.evaluation_context` or :meth:`from_bytes`. It can encrypt
    (public-key encryption) and compute on ciphertexts, but not decrypt.
    """

    __slots__ = ()

    def __init__(self) -> None:
        raise TypeError(
            "use HeSecretKeyring.evaluation_context() or HeEvaluationContext.from_bytes()"
        )

    @classmethod
    def _wrap(cls, keys: _Keys) -> HeEvaluationContext:
        obj = object.__new__(cls)
        obj._keys = keys
        return obj

    def to_bytes(self) -> bytes:
        """Versioned envelope: parameters, key id, public, relinearisation and Galois keys.

        Large (about 35 MB at N=8192 with two levels): Galois keys cover every power-of-two
        rotation.
        """
        with _native_errors("serialising the evaluation context"):
            blob = self._keys.ctx.serialize(
                save_public_key=True,
                save_secret_key=False,
                save_galois_keys=True,
                save_relin_keys=True,
            )
        header = {"params": self._keys.params.to_dict(), "key_id": self._keys.key_id}
        return _encode_envelope(_KIND_EVAL, header, [blob])

    @classmethod
    def from_bytes(cls, data: bytes, *, threads: int | None = None) -> HeEvaluationContext:
        """Load and validate :meth:`to_bytes` output.

        Raises
        ------
        InvalidInput
            If the bytes are malformed, the parameters or key id do not match, evaluation keys are
            missing, or the context **contains a secret key** (a compute server must never receive
            it; a secret keyring envelope is refused without being parsed).
        """
        header, blobs = _decode_envelope(data, _KIND_EVAL)
        _expect_header(header, {"params", "key_id", "digest"})
        params = _params_from_dict(header["params"])
        key_id = _header_key_id(header)
        if len(blobs) != 1:
            raise InvalidInput("an evaluation context holds exactly one context")
        with _native_errors("loading the evaluation context", quiet=True):
            ctx = ts.context_from(blobs[0], n_threads=_check_threads(threads))
            secret = bool(ctx.has_secret_key()) or bool(ctx.is_private())
        if secret:
            del ctx
            raise InvalidInput(
                "refusing an evaluation context that contains a secret key: "
                "send only HeSecretKeyring.evaluation_context().to_bytes() to an evaluator"
            )
        with _native_errors("loading the evaluation context"):
            complete = ctx.has_public_key() and ctx.has_galois_keys() and ctx.has_relin_keys()
        if not complete:
            raise InvalidInput(
                "the evaluation context lacks its public, relinearisation or Galois keys"
            )
        _check_context_params(ctx, params)
        actual = _key_id(ctx)
        if not hmac.compare_digest(actual, key_id):
            raise InvalidInput(f"the context claims key {key_id} but its public key is {actual}")
        _set_auto(ctx)
        return cls._wrap(_Keys(ctx, params, key_id))

    def __repr__(self) -> str:
        return (
            f"HeEvaluationContext(scheme={self.scheme.value}, "
            f"N={self.params.poly_modulus_degree}, key_id={self.key_id})"
        )


def _check_threads(threads: int | None) -> int | None:
    if threads is None:
        return None
    count = _require_int(threads, "threads")
    if not 1 <= count <= 1024:
        raise InvalidInput("threads must lie in [1, 1024]")
    return count


# --- envelopes -----------------------------------------------------------------------------------


def _blob_digest(blobs: Sequence[bytes]) -> str:
    h = hashlib.sha256()
    for blob in blobs:
        h.update(len(blob).to_bytes(8, "big"))
        h.update(blob)
    return h.hexdigest()


def _encode_envelope(kind: int, header: dict[str, Any], blobs: Sequence[bytes]) -> bytes:
    full = {**header, "digest": _blob_digest(blobs)}
    body = encode_parts([canonical_json(full), *blobs])
    return _MAGIC + bytes([ENVELOPE_VERSION, kind]) + body


def _decode_envelope(data: object, kind: int) -> tuple[dict[str, Any], list[bytes]]:
    what = _KIND_NAMES[kind]
    raw = _coerce_bytes(data, what)
    if len(raw) < 6 or raw[:4] != _MAGIC:
        raise InvalidInput(f"not a petsuite {what}")
    if raw[4] != ENVELOPE_VERSION:
        raise InvalidInput(f"unsupported {what} version {raw[4]}")
    if raw[5] != kind:
        if raw[5] == _KIND_SECRET:
            raise InvalidInput(f"refusing a secret keyring where an {what} was expected")
        raise InvalidInput(f"expected an {what}, got a {_KIND_NAMES.get(raw[5], 'unknown object')}")
    parts = decode_parts(raw[6:])
    if not parts:
        raise InvalidInput(f"truncated {what}")
    try:
        header = json.loads(parts[0].decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidInput(f"malformed {what} header") from exc
    if not isinstance(header, dict):
        raise InvalidInput(f"malformed {what} header")
    blobs = parts[1:]
    digest = header.get("digest")
    if not isinstance(digest, str) or not hmac.compare_digest(digest, _blob_digest(blobs)):
        raise InvalidInput(f"{what} digest mismatch: the bytes were corrupted or tampered with")
    return header, blobs


def _expect_header(header: Mapping[str, Any], keys: set[str]) -> None:
    if set(header) != keys:
        raise InvalidInput(f"header must have exactly the fields {sorted(keys)}")


def _header_key_id(header: Mapping[str, Any]) -> str:
    key_id = header.get("key_id")
    if (
        not isinstance(key_id, str)
        or len(key_id) != _KEY_ID_HEX
        or any(c not in "0123456789abcdef" for c in key_id)
    ):
        raise InvalidInput("malformed key id")
    return key_id


def _header_number(header: Mapping[str, Any], key: str, ckks: bool, *, optional: bool) -> Any:
    value = header.get(key)
    if value is None and optional:
        return None
    if ckks:
        return _require_float(value, key)
    return _require_int(value, key)


def _keys_of(context: object) -> _Keys:
    if isinstance(context, HeEvaluationContext | HeSecretKeyring):
        return context._keys
    raise InvalidInput("context must be an HeEvaluationContext or an HeSecretKeyring")


def _check_scheme_header(header: Mapping[str, Any], keys: _Keys) -> None:
    if header.get("scheme") != keys.params.scheme.value:
        raise InvalidInput(
            f"the ciphertext is not {keys.params.scheme.value} (got {header.get('scheme')!r})"
        )
    key_id = _header_key_id(header)
    if key_id != keys.key_id:
        raise InvalidInput(
            f"ciphertext is under key {key_id}, but the context is key {keys.key_id}"
        )


def _load_chunk(keys: _Keys, blob: bytes, size: int) -> _Native:
    with _native_errors("loading a ciphertext"):
        chunk = keys.vector_cls(keys.native, blob)
        actual = int(chunk.size())
        cts = chunk.ciphertext()
        count = len(cts)
        scale = float(cts[0].scale) if count == 1 and keys.ckks else 0.0
    if actual != size or count != 1:
        raise InvalidInput("a ciphertext chunk has the wrong size")
    params = keys.params
    if isinstance(params, CkksParameters):
        if not scale > 0 or abs(math.log2(scale) - params.scale_bits) > 1:
            raise InvalidInput("a ciphertext has an implausible scale")
        if keys.level(chunk) > params.depth:
            raise InvalidInput("a ciphertext is at the key level (not a data ciphertext)")
    return chunk


# --- encrypted values ----------------------------------------------------------------------------


def _check_coefficients(coefficients: object) -> tuple[float, ...]:
    if not isinstance(coefficients, Sequence | np.ndarray) or isinstance(coefficients, str | bytes):
        raise InvalidInput("coefficients must be a sequence of numbers")
    coeffs = tuple(_require_float(c, "coefficient") for c in coefficients)
    if not 1 <= len(coeffs) <= _MAX_POLY_DEGREE + 1:
        raise InvalidInput(f"a polynomial needs 1 to {_MAX_POLY_DEGREE + 1} coefficients")
    return coeffs


def _poly_degree(coeffs: Sequence[float]) -> int:
    degree = len(coeffs) - 1
    while degree >= 0 and coeffs[degree] == 0.0:
        degree -= 1
    return degree


def _poly_levels(degree: int) -> int:
    """Levels TenSEAL's ``polyval`` consumes (measured): ``floor(log2 d) + 1``, 0 for constants."""
    return 0 if degree <= 0 else math.floor(math.log2(degree)) + 1


class HeScalar:
    """One encrypted number (slot 0 of a ciphertext) and a public divisor applied on decryption.

    Means are sums with divisor ``n``: dividing after decryption costs no depth and no precision.
    Obtain from :meth:`HeVector.sum` and friends or :meth:`from_bytes`.
    """

    __slots__ = ("_bound", "_depth_used", "_divisor", "_keys", "_native")
    _keys: _Keys
    _native: _Native
    _divisor: float
    _bound: float | int | None
    _depth_used: int

    def __init__(self) -> None:
        raise TypeError("HeScalar values come from HeVector operations or HeScalar.from_bytes()")

    @classmethod
    def _create(
        cls,
        keys: _Keys,
        native: _Native,
        divisor: float,
        bound: float | int | None,
        depth_used: int,
    ) -> HeScalar:
        obj = object.__new__(cls)
        obj._keys = keys
        obj._native = native
        obj._divisor = divisor
        obj._bound = bound
        obj._depth_used = depth_used
        return obj

    @property
    def key_id(self) -> str:
        """The key it is encrypted under."""
        return self._keys.key_id

    @property
    def scheme(self) -> HeScheme:
        """CKKS or BFV."""
        return self._keys.params.scheme

    @property
    def divisor(self) -> float:
        """Public divisor applied after decryption (``n`` for means, 1 otherwise)."""
        return self._divisor

    @property
    def bound(self) -> float | int | None:
        """Public bound on the magnitude of the encrypted value (before the divisor), if known."""
        return self._bound

    def to_bytes(self) -> bytes:
        """Versioned envelope: scheme, key id, divisor, bound and the ciphertext."""
        with _native_errors("serialising a scalar"):
            blob = self._native.serialize()
        header = {
            "scheme": self.scheme.value,
            "key_id": self.key_id,
            "divisor": self._divisor,
            "bound": self._bound,
            "depth_used": self._depth_used,
        }
        return _encode_envelope(_KIND_SCALAR, header, [blob])

    @classmethod
    def from_bytes(cls, context: HeEvaluationContext | HeSecretKeyring, data: bytes) -> HeScalar:
        """Load and validate :meth:`to_bytes` output against ``context``.

        Raises
        ------
        InvalidInput
            On malformed or tampered bytes, or a scalar under another key (both ids are named).
        """
        keys = _keys_of(context)
        header, blobs = _decode_envelope(data, _KIND_SCALAR)
        _expect_header(header, {"scheme", "key_id", "divisor", "bound", "depth_used", "digest"})
        _check_scheme_header(header, keys)
        divisor = _require_float(header["divisor"], "divisor")
        if divisor <= 0:
            raise InvalidInput("divisor must be positive")
        bound = _header_number(header, "bound", keys.ckks, optional=keys.ckks)
        depth_used = _require_int(header["depth_used"], "depth_used")
        if not 0 <= depth_used <= max(keys.params.depth, 0):
            raise InvalidInput("depth_used out of range")
        if len(blobs) != 1:
            raise InvalidInput("a scalar holds exactly one ciphertext")
        return cls._create(keys, _load_chunk(keys, blobs[0], 1), divisor, bound, depth_used)

    def __repr__(self) -> str:
        return (
            f"HeScalar(scheme={self.scheme.value}, key_id={self.key_id}, divisor={self._divisor})"
        )


@dataclass(frozen=True, slots=True)
class HeMoments:
    """Encrypted ``E[x]`` and ``E[x²]`` of a vector (:meth:`HeVector.variance`).

    The key owner computes ``var = E[x²] - E[x]²`` after decryption
    (:meth:`HeSecretKeyring.decrypt_variance`); the evaluator never sees either moment.
    """

    count: int
    mean: HeScalar
    mean_of_squares: HeScalar

    def to_bytes(self) -> bytes:
        """Versioned envelope holding both scalars."""
        header = {"count": self.count}
        return _encode_envelope(
            _KIND_MOMENTS, header, [self.mean.to_bytes(), self.mean_of_squares.to_bytes()]
        )

    @classmethod
    def from_bytes(cls, context: HeEvaluationContext | HeSecretKeyring, data: bytes) -> HeMoments:
        """Load and validate :meth:`to_bytes` output against ``context``."""
        header, blobs = _decode_envelope(data, _KIND_MOMENTS)
        _expect_header(header, {"count", "digest"})
        count = _require_int(header["count"], "count")
        if not 1 <= count <= _MAX_LENGTH or len(blobs) != 2:
            raise InvalidInput("malformed moments")
        mean = HeScalar.from_bytes(context, blobs[0])
        mean_sq = HeScalar.from_bytes(context, blobs[1])
        if mean.divisor != count or mean_sq.divisor != count:
            raise InvalidInput("moments' divisors do not match their count")
        return cls(count, mean, mean_sq)


class HeVector:
    """An encrypted vector: TenSEAL ciphertexts of ``slots`` values each, its length and key id.

    Obtain from :meth:`HeSecretKeyring.encrypt`, :meth:`HeEvaluationContext.encrypt` or
    :meth:`from_bytes`. Every operation below runs with the evaluation context alone, returns new
    objects (ciphertexts are never modified in place) and checks depth and declared bounds first.
    """

    __slots__ = ("_bound", "_chunks", "_depth_used", "_keys", "_length", "_pad", "_replicated")
    _keys: _Keys
    _chunks: tuple[_Native, ...]
    _length: int
    _bound: float | int | None
    _pad: float | int
    _replicated: bool
    _depth_used: int

    def __init__(self) -> None:
        raise TypeError("HeVector values come from encrypt() or HeVector.from_bytes()")

    @classmethod
    def _create(
        cls,
        keys: _Keys,
        chunks: tuple[_Native, ...],
        length: int,
        *,
        bound: float | int | None,
        pad: float | int,
        replicated: bool,
        depth_used: int,
    ) -> HeVector:
        obj = object.__new__(cls)
        obj._keys = keys
        obj._chunks = chunks
        obj._length = length
        obj._bound = bound
        obj._pad = pad
        obj._replicated = replicated
        obj._depth_used = depth_used
        return obj

    # -- properties --------------------------------------------------------------------------------

    def __len__(self) -> int:
        return self._length

    @property
    def key_id(self) -> str:
        """The key it is encrypted under."""
        return self._keys.key_id

    @property
    def scheme(self) -> HeScheme:
        """CKKS or BFV."""
        return self._keys.params.scheme

    @property
    def ciphertexts(self) -> int:
        """Number of ciphertexts (``ceil(len / slots)``)."""
        return len(self._chunks)

    @property
    def bound(self) -> float | int | None:
        """Public bound on ``|x|`` (declared at encryption, propagated by operations)."""
        return self._bound

    @property
    def levels_left(self) -> int:
        """Multiplications left: the CKKS chain index, or the BFV noise model's remaining depth."""
        if self._keys.ckks:
            # every chunk of a vector goes through the same operations, so they share a level;
            # reading one avoids copying every ciphertext (measured 4-5 ms per op at 245 chunks)
            return self._keys.level(self._chunks[0])
        return self._keys.params.depth - self._depth_used

    @property
    def _pad_count(self) -> int:
        return (
            0
            if len(self._chunks) == 1
            else len(self._chunks) * self._keys.params.slots - self._length
        )

    # -- checks ------------------------------------------------------------------------------------

    def _need(self, cost: int, *others: HeVector) -> int:
        """Check ``cost`` levels are left (in every operand); return the levels after the operation."""
        left = min([self.levels_left, *(o.levels_left for o in others)])
        if left < cost:
            raise UnsupportedParameter(
                f"the operation needs {cost} multiplicative level(s) and the ciphertext has {left} "
                "left; choose parameters with a larger depth"
            )
        return left - cost

    def _guard(self, bound: float | int | None, levels_after: int) -> None:
        """Refuse a result whose worst-case magnitude could overflow the plaintext space."""
        if bound is None:
            return
        params = self._keys.params
        if isinstance(params, BfvParameters):
            if bound > params.max_abs:
                raise UnsupportedParameter(
                    f"the result could reach {bound}, beyond t/2 = {params.max_abs}: it could wrap "
                    "modulo t; declare smaller bounds or choose a larger plain_modulus_bits"
                )
        elif bound >= _ckks_limit(params, levels_after):
            raise UnsupportedParameter(
                f"the result could reach {bound:.6g}, beyond what the CKKS modulus holds at that "
                "level; declare a smaller bound or choose larger integer_bits"
            )

    def _same_layout(self, other: HeVector) -> None:
        if not isinstance(other, HeVector):
            raise InvalidInput(f"expected an HeVector, got {type(other).__name__}")
        if other._keys.key_id != self._keys.key_id:
            raise InvalidInput(
                f"the operands are under different keys: {self.key_id} and {other.key_id}"
            )
        if other._length != self._length:
            raise InvalidInput(f"length mismatch: {self._length} and {other._length}")

    def _plain(self, values: object, what: str) -> npt.NDArray[Any]:
        """A plaintext operand of this vector's length, padded like the ciphertexts."""
        arr = _as_values(values, self._keys.ckks)
        if arr.shape[0] != self._length:
            raise InvalidInput(f"{what} must have length {self._length}")
        return arr

    def _plain_chunks(self, arr: npt.NDArray[Any]) -> list[list[Any]]:
        if len(self._chunks) == 1:
            return [arr.tolist()]
        slots = self._keys.params.slots
        padded = np.zeros(len(self._chunks) * slots, dtype=arr.dtype)
        padded[: self._length] = arr
        return [padded[i * slots : (i + 1) * slots].tolist() for i in range(len(self._chunks))]

    def _scalar_operand(self, value: object, what: str) -> float | int:
        if self._keys.ckks:
            return _require_float(value, what)
        return _require_int(value, what)

    def _reduce(self, value: float | int) -> float | int:
        """A BFV plaintext constant reduced to ``[-(t-1)/2, (t-1)/2]`` (CKKS: unchanged)."""
        params = self._keys.params
        if isinstance(params, BfvParameters) and isinstance(value, int):
            t = params.plain_modulus
            value %= t
            return value - t if value > t // 2 else value
        return value

    def _scale_bound(self, factor: float | int) -> float | int | None:
        return None if self._bound is None else self._bound * factor

    # -- reductions --------------------------------------------------------------------------------

    def _total(
        self,
        chunks: Sequence[_Native],
        pad_value: float | int,
        bound: float | int | None,
        depth_used: int,
        divisor: float = 1.0,
    ) -> HeScalar:
        """Add the chunks, rotate-and-sum once, subtract the known padding."""
        with _native_errors("homomorphic sum"):
            if len(chunks) == 1:
                total = chunks[0].sum()
            else:
                acc = chunks[0].add(chunks[1])
                for chunk in chunks[2:]:
                    acc.add_(chunk)
                total = acc.sum_()
            correction = self._reduce(pad_value * self._pad_count)
            if correction:
                total = total.add_plain(-correction)
        return HeScalar._create(self._keys, total, divisor, bound, depth_used)

    def _slot_total(
        self,
        chunks: Sequence[_Native],
        pad_value: float | int,
        bound: float | int | None,
        depth_used: int,
    ) -> HeVector:
        """Add the chunks slot by slot (no rotation), cancelling the known padding."""
        slots = self._keys.params.slots
        with _native_errors("homomorphic slot sums"):
            acc = chunks[0] if len(chunks) == 1 else chunks[0].add(chunks[1])
            for chunk in chunks[2:]:
                acc.add_(chunk)
            pad_count = self._pad_count
            if pad_count and pad_value:
                mask = [0.0 if self._keys.ckks else 0] * slots
                mask[slots - pad_count :] = [self._reduce(-pad_value)] * pad_count
                acc = acc.add_plain(mask)
            size = int(acc.size())
        zero: float | int = 0.0 if self._keys.ckks else 0
        return HeVector._create(
            self._keys,
            (acc,),
            size,
            bound=bound,
            pad=zero,
            replicated=self._replicated,
            depth_used=depth_used,
        )

    def slot_sums(self) -> HeVector:
        """Encrypted per-slot sums over the ciphertexts: the owner sums the decryption to get ``Σx``.

        Depth 0 and no rotations (cheaper and less noisy than :meth:`sum`, needs no Galois keys);
        the result has ``min(n, slots)`` values. It reveals partial sums to the key owner — the
        owner's own data — and nothing to the evaluator.
        """
        bound = self._scale_bound(len(self._chunks))
        self._guard(bound, self._need(0))
        return self._slot_total(self._chunks, self._pad, bound, self._depth_used)

    def slot_sums_of_squares(self) -> HeVector:
        """Encrypted per-slot sums of ``x²`` (depth 1, no rotations): see :meth:`slot_sums`."""
        bound = None if self._bound is None else len(self._chunks) * self._bound * self._bound
        self._guard(bound, self._need(1))
        with _native_errors("homomorphic square"):
            if self._keys.ckks:
                squares = [c.square() for c in self._chunks]
            else:
                squares = [c.mul(c) for c in self._chunks]
        pad = self._reduce(self._pad * self._pad)
        return self._slot_total(squares, pad, bound, self._depth_used + 1)

    @classmethod
    def linear_combination(
        cls, vectors: Sequence[HeVector], weights: Sequence[float], bias: float = 0.0
    ) -> HeVector:
        """``Σⱼ wⱼ·vectorsⱼ + b`` element-wise: the same as :func:`linear_scores`."""
        return linear_scores(vectors, weights, bias)

    def sum(self) -> HeScalar:
        """Encrypted ``Σ x`` (depth 0; ``log2(slots)`` rotations). Padding never counts."""
        bound = self._scale_bound(self._length)
        self._guard(bound, self._need(0))
        return self._total(self._chunks, self._pad, bound, self._depth_used)

    def mean(self) -> HeScalar:
        """Encrypted ``Σ x`` with public divisor ``n``: decrypts to the mean (depth 0)."""
        total = self.sum()
        return HeScalar._create(
            self._keys, total._native, float(self._length), total._bound, total._depth_used
        )

    def sum_of_squares(self) -> HeScalar:
        """Encrypted ``Σ x²`` (depth 1)."""
        bound = None if self._bound is None else self._length * self._bound * self._bound
        self._guard(bound, self._need(1))
        with _native_errors("homomorphic square"):
            if self._keys.ckks:
                squares = [c.square() for c in self._chunks]
            else:  # TenSEAL's BFVVector has no square()
                squares = [c.mul(c) for c in self._chunks]
        pad = self._reduce(self._pad * self._pad)
        return self._total(squares, pad, bound, self._depth_used + 1)

    def variance(self) -> HeMoments:
        """Encrypted ``E[x]`` and ``E[x²]`` (depth 1) for :meth:`HeSecretKeyring.decrypt_variance`.

        The variance itself is finished by the key owner (``E[x²] - E[x]²``), which costs no
        further depth and avoids squaring an encrypted sum whose magnitude (``n²·x²``) would need
        a large integer part. The evaluator sees neither moment.
        """
        square = self.sum_of_squares()
        total = self.sum()
        n = float(self._length)
        return HeMoments(
            self._length,
            HeScalar._create(self._keys, total._native, n, total._bound, total._depth_used),
            HeScalar._create(self._keys, square._native, n, square._bound, square._depth_used),
        )

    def dot(self, weights: _Values) -> HeScalar:
        """Encrypted ``Σ wᵢ·xᵢ`` with plaintext weights (depth 1; floats for CKKS, ints for BFV)."""
        w = self._plain(weights, "weights")
        bound = self._scale_bound(
            float(np.sum(np.abs(w))) if self._keys.ckks else int(np.sum(np.abs(w.astype(object))))
        )
        self._guard(bound, self._need(1))
        with _native_errors("homomorphic dot product"):
            products = [
                c.mul_plain(p) for c, p in zip(self._chunks, self._plain_chunks(w), strict=True)
            ]
        return self._total(products, 0, bound, self._depth_used + 1)

    def dot_encrypted(self, other: HeVector) -> HeScalar:
        """Encrypted ``Σ xᵢ·yᵢ`` of two encrypted vectors under the same key (depth 1)."""
        self._same_layout(other)
        bound = None
        if self._bound is not None and other._bound is not None:
            bound = self._length * self._bound * other._bound
        self._guard(bound, self._need(1, other))
        with _native_errors("homomorphic dot product"):
            products = [a.mul(b) for a, b in zip(self._chunks, other._chunks, strict=True)]
        pad = self._reduce(self._pad * other._pad)
        return self._total(products, pad, bound, max(self._depth_used, other._depth_used) + 1)

    # -- element-wise ------------------------------------------------------------------------------

    def multiply(self, other: HeVector | float | _Values) -> HeVector:
        """Element-wise product with another encrypted vector, a plaintext vector or a constant.

        Depth 1. BFV refuses a product that could reach ``t/2``.
        """
        if isinstance(other, HeVector):
            self._same_layout(other)
            bound = None
            if self._bound is not None and other._bound is not None:
                bound = self._bound * other._bound
            self._guard(bound, self._need(1, other))
            with _native_errors("homomorphic product"):
                chunks = tuple(a.mul(b) for a, b in zip(self._chunks, other._chunks, strict=True))
            return HeVector._create(
                self._keys,
                chunks,
                self._length,
                bound=bound,
                pad=self._reduce(self._pad * other._pad),
                replicated=self._replicated and other._replicated,
                depth_used=max(self._depth_used, other._depth_used) + 1,
            )
        if isinstance(other, int | float | np.integer | np.floating):
            factor = self._scalar_operand(other, "factor")
            bound = self._scale_bound(abs(factor))
            self._guard(bound, self._need(1))
            with _native_errors("homomorphic product"):
                chunks = tuple(c.mul_plain(factor) for c in self._chunks)
            return HeVector._create(
                self._keys,
                chunks,
                self._length,
                bound=bound,
                pad=self._reduce(self._pad * factor),
                replicated=self._replicated,
                depth_used=self._depth_used + 1,
            )
        w = self._plain(other, "factors")
        bound = self._scale_bound(
            float(np.max(np.abs(w))) if self._keys.ckks else int(np.max(np.abs(w.astype(object))))
        )
        self._guard(bound, self._need(1))
        with _native_errors("homomorphic product"):
            chunks = tuple(
                c.mul_plain(p) for c, p in zip(self._chunks, self._plain_chunks(w), strict=True)
            )
        zero: float | int = 0.0 if self._keys.ckks else 0
        return HeVector._create(
            self._keys,
            chunks,
            self._length,
            bound=bound,
            pad=zero,
            replicated=False,
            depth_used=self._depth_used + 1,
        )

    def add(self, other: HeVector | float | _Values) -> HeVector:
        """Element-wise sum with another encrypted vector, a plaintext vector or a constant (depth 0)."""
        if isinstance(other, HeVector):
            self._same_layout(other)
            bound = None
            if self._bound is not None and other._bound is not None:
                bound = self._bound + other._bound
            self._guard(bound, self._need(0, other))
            with _native_errors("homomorphic addition"):
                chunks = tuple(a.add(b) for a, b in zip(self._chunks, other._chunks, strict=True))
            return HeVector._create(
                self._keys,
                chunks,
                self._length,
                bound=bound,
                pad=self._reduce(self._pad + other._pad),
                replicated=self._replicated and other._replicated,
                depth_used=max(self._depth_used, other._depth_used),
            )
        if isinstance(other, int | float | np.integer | np.floating):
            term = self._scalar_operand(other, "term")
            bound = None if self._bound is None else self._bound + abs(term)
            self._guard(bound, self._need(0))
            with _native_errors("homomorphic addition"):
                chunks = tuple(c.add_plain(term) for c in self._chunks)
            return HeVector._create(
                self._keys,
                chunks,
                self._length,
                bound=bound,
                pad=self._reduce(self._pad + term),
                replicated=self._replicated,
                depth_used=self._depth_used,
            )
        w = self._plain(other, "terms")
        bound = None
        if self._bound is not None:
            peak = (
                float(np.max(np.abs(w)))
                if self._keys.ckks
                else int(np.max(np.abs(w.astype(object))))
            )
            bound = self._bound + peak
        self._guard(bound, self._need(0))
        with _native_errors("homomorphic addition"):
            chunks = tuple(
                c.add_plain(p) for c, p in zip(self._chunks, self._plain_chunks(w), strict=True)
            )
        return HeVector._create(
            self._keys,
            chunks,
            self._length,
            bound=bound,
            pad=self._pad,
            replicated=False,
            depth_used=self._depth_used,
        )

    # -- linear algebra and polynomials (CKKS) -----------------------------------------------------

    def _ckks_only(self, what: str) -> CkksParameters:
        params = self._keys.params
        if not isinstance(params, CkksParameters):
            raise UnsupportedParameter(f"{what} is offered for CKKS only")
        return params

    def matvec(self, matrix: npt.ArrayLike) -> HeVector:
        """Encrypted ``W·x`` for a plaintext ``k x d`` matrix ``W`` (row-major) and this ``x``.

        ``x`` (length ``d``) must fit one ciphertext, as encrypted (replicated across the slots:
        not the output of a plaintext-vector product or of another ``matvec``), and
        ``d + k - 1 ≤ slots`` unless ``d`` divides ``slots``. Depth 1, ``d`` rotations (TenSEAL's
        diagonal method): meant for small models, e.g. a ``k``-class linear layer. Returns an
        encrypted vector of length ``k``.
        """
        params = self._ckks_only("matvec")
        try:
            w = np.asarray(matrix, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise InvalidInput("matrix must be a two-dimensional array of numbers") from exc
        if w.ndim != 2 or w.shape[0] == 0 or w.shape[1] != self._length:
            raise InvalidInput(f"matrix must have shape (k, {self._length})")
        if not np.all(np.isfinite(w)):
            raise InvalidInput("matrix entries must be finite")
        k, d = int(w.shape[0]), self._length
        slots = params.slots
        if len(self._chunks) != 1 or not self._replicated:
            raise UnsupportedParameter(
                "matvec needs a freshly encrypted vector that fits one ciphertext"
            )
        if k > slots or (slots % d and d + k - 1 > slots):
            raise UnsupportedParameter(f"matvec needs d + k - 1 ≤ {slots} (or d dividing {slots})")
        bound = self._scale_bound(float(np.max(np.sum(np.abs(w), axis=1))))
        self._guard(bound, self._need(1))
        transposed = np.ascontiguousarray(w.T)
        with _native_errors("homomorphic matrix-vector product"):
            plain = ts._ts_cpp.PlainTensorDouble(transposed.ravel().tolist(), [d, k])
            out = self._chunks[0].mm(plain)
        return HeVector._create(
            self._keys,
            (out,),
            k,
            bound=bound,
            pad=0.0,
            replicated=False,
            depth_used=self._depth_used + 1,
        )

    def polyval(self, coefficients: Sequence[float]) -> HeVector:
        """Encrypted ``c₀ + c₁x + … + c_d x^d`` element-wise (CKKS; depth ``floor(log2 d) + 1``).

        For logistic-regression scoring use :func:`sigmoid_poly3` (valid on
        :data:`SIGMOID_POLY3_INTERVAL` only: scale the inputs into it).
        """
        self._ckks_only("polyval")
        coeffs = _check_coefficients(coefficients)
        degree = _poly_degree(coeffs)
        bound = None
        if self._bound is not None:
            bound = sum(abs(c) * float(self._bound) ** i for i, c in enumerate(coeffs))
        levels = _poly_levels(degree)
        self._guard(bound, self._need(levels))
        with _native_errors("homomorphic polynomial evaluation"):
            chunks = tuple(c.polyval(list(coeffs)) for c in self._chunks)
        pad = float(np.polyval(coeffs[::-1], float(self._pad)))
        return HeVector._create(
            self._keys,
            chunks,
            self._length,
            bound=bound,
            pad=pad,
            replicated=self._replicated,
            depth_used=self._depth_used + levels,
        )

    # -- serialisation -----------------------------------------------------------------------------

    def to_bytes(self) -> bytes:
        """Versioned envelope: scheme, key id, length, bound, layout flags, the ciphertexts.

        A SHA-256 digest over the ciphertexts detects corruption (not an adversary: see the module's
        threat model).
        """
        with _native_errors("serialising a vector"):
            blobs = [c.serialize() for c in self._chunks]
        header = {
            "scheme": self.scheme.value,
            "key_id": self.key_id,
            "length": self._length,
            "bound": self._bound,
            "pad": self._pad,
            "replicated": self._replicated,
            "depth_used": self._depth_used,
        }
        return _encode_envelope(_KIND_VECTOR, header, blobs)

    @classmethod
    def from_bytes(cls, context: HeEvaluationContext | HeSecretKeyring, data: bytes) -> HeVector:
        """Load and validate :meth:`to_bytes` output against ``context``.

        Raises
        ------
        InvalidInput
            On malformed, truncated or tampered bytes (TenSEAL/SEAL errors are mapped), a
            ciphertext under another key (both key ids are named), or an inconsistent layout.
        """
        keys = _keys_of(context)
        header, blobs = _decode_envelope(data, _KIND_VECTOR)
        _expect_header(
            header,
            {"scheme", "key_id", "length", "bound", "pad", "replicated", "depth_used", "digest"},
        )
        _check_scheme_header(header, keys)
        length = _require_int(header["length"], "length")
        if not 1 <= length <= _MAX_LENGTH:
            raise InvalidInput("vector length out of range")
        bound = _header_number(header, "bound", keys.ckks, optional=keys.ckks)
        pad = _header_number(header, "pad", keys.ckks, optional=False)
        replicated = header["replicated"]
        if not isinstance(replicated, bool):
            raise InvalidInput("replicated must be a boolean")
        depth_used = _require_int(header["depth_used"], "depth_used")
        if not 0 <= depth_used <= max(keys.params.depth, 0):
            raise InvalidInput("depth_used out of range")
        slots = keys.params.slots
        expected = 1 if length <= slots else -(-length // slots)
        if len(blobs) != expected:
            raise InvalidInput(f"a vector of length {length} holds {expected} ciphertext(s)")
        size = length if expected == 1 else slots
        chunks = tuple(_load_chunk(keys, blob, size) for blob in blobs)
        return cls._create(
            keys,
            chunks,
            length,
            bound=bound,
            pad=pad,
            replicated=replicated,
            depth_used=depth_used,
        )

    def __repr__(self) -> str:
        return (
            f"HeVector(scheme={self.scheme.value}, len={self._length}, "
            f"ciphertexts={len(self._chunks)}, key_id={self.key_id})"
        )


# --- recipes -------------------------------------------------------------------------------------


def linear_scores(
    columns: Sequence[HeVector], weights: Sequence[float], bias: float = 0.0
) -> HeVector:
    """Encrypted ``X·w + b`` for column-packed records: ``columns[j]`` encrypts feature ``j``.

    Each record's score lands in its own slot, with no rotations: ``Σⱼ wⱼ·columnⱼ + b`` costs one
    plaintext multiplication per feature and ciphertext (depth 1). Follow with
    ``.polyval(sigmoid_poly3())`` for logistic-regression probabilities (depth 2 more). Zero
    weights are skipped. Encrypt columns with :meth:`HeSecretKeyring.encrypt_columns`.

    Raises
    ------
    InvalidInput
        If the columns differ in key or length, or ``weights`` has the wrong length.
    """
    cols = list(columns)
    if not cols or not all(isinstance(c, HeVector) for c in cols):
        raise InvalidInput("columns must be a non-empty sequence of HeVector")
    first = cols[0]
    for col in cols[1:]:
        first._same_layout(col)
    if len(weights) != len(cols):
        raise InvalidInput(f"weights must have one entry per column ({len(cols)})")
    ws = [first._scalar_operand(w, "weight") for w in weights]
    b = first._scalar_operand(bias, "bias")
    bounds = [c._bound for c in cols]
    bound: float | int | None = None
    if all(x is not None for x in bounds):
        bound = sum(abs(w) * x for w, x in zip(ws, bounds, strict=True) if x is not None) + abs(b)
    first._guard(bound, first._need(1, *cols[1:]))
    active = [(c, w) for c, w in zip(cols, ws, strict=True) if w != 0] or [(first, ws[0])]
    chunks: list[_Native] = []
    with _native_errors("homomorphic linear scores"):
        for i in range(len(first._chunks)):
            acc = active[0][0]._chunks[i].mul_plain(active[0][1])
            for col, w in active[1:]:
                acc.add_(col._chunks[i].mul_plain(w))
            if b:
                acc = acc.add_plain(b)
            chunks.append(acc)
    pad = first._reduce(sum(w * c._pad for c, w in active) + b)
    return HeVector._create(
        first._keys,
        tuple(chunks),
        first._length,
        bound=bound,
        pad=pad,
        replicated=all(c._replicated for c, _ in active),
        depth_used=max(c._depth_used for c in cols) + 1,
    )


def sigmoid_poly3() -> tuple[float, float, float, float]:
    """Coefficients ``(c₀, c₁, c₂, c₃)`` of a cubic approximation of the logistic function.

    ``σ(x) ≈ 0.5 + 0.197·x - 0.004·x³`` on :data:`SIGMOID_POLY3_INTERVAL` ``= [-5, 5]`` with
    maximum absolute error :data:`SIGMOID_POLY3_MAX_ERROR` (0.052, measured; RMS 0.032) — the
    cubic of TenSEAL's encrypted logistic-regression tutorial, after Chen et al., *Logistic
    regression over encrypted data from fully homomorphic encryption*, BMC Med. Genomics 2018.
    Outside the interval the cubic diverges: standardise features and weights so scores stay
    within it. Depth 2 (``floor(log2 3) + 1``).
    """
    return _SIGMOID_POLY3


def round_output(values: npt.ArrayLike, decimals: int) -> _FloatArray:
    """Round decrypted CKKS results before release (Li–Micciancio mitigation).

    Choose ``decimals`` so that ``10^-decimals`` is well above
    :meth:`HeSecretKeyring.expected_error`: the rounded value then no longer carries the noise
    bits that leak the secret key. Rounding is a mitigation; adding noise of that size before
    rounding (noise flooding) is the proven defence.
    """
    places = _require_int(decimals, "decimals")
    if not -15 <= places <= 15:
        raise InvalidInput("decimals must lie in [-15, 15]")
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidInput("values must be numbers") from exc
    return np.round(arr, places)
