"""The Paillier cryptosystem on GMP (``gmpy2``), with the Damgård-Jurik-Nielsen fast encryption.

Hazardous primitive layer: keys, raw plaintexts in ``[0, n)`` and ciphertexts. All big-number
arithmetic and primality testing is one ``gmpy2`` call (``powmod``, ``invert``, ``next_prime``,
``is_prime``, ``gcd``); this module adds key generation policy, validation at every boundary,
encodings and types. Use the recipes in :mod:`petsuite.he` unless you need the raw scheme.

Scheme
------
``n = p·q`` with ``p``, ``q`` random primes of ``bits/2`` bits, generator ``g = n + 1``, plaintexts
``Z_n``, ciphertexts ``Z*_{n²}``: ``Enc(m) = (1 + m·n) · s mod n²`` where ``s`` is a random n-th
residue, chosen one of two ways:

* classic (``djn=False``): ``s = rⁿ mod n²`` for a uniform ``r`` in ``Z*_n`` — one exponentiation
  with an ``|n|``-bit exponent modulo ``n²``. Byte-for-byte the scheme of ``phe`` and the paper.
* DJN (default): ``s = h^alpha`` where ``h = (-x²)ⁿ mod n²`` for a random ``x``, made with the key and
  stored in the public key (Damgård, Jurik, Nielsen, *A generalization of Paillier's public-key
  system*, IJIS 2010; Google's Private Join and Compute uses the same ``h`` with a fixed-base table).
  ``alpha`` is uniform of :data:`DJN_EXPONENT_BITS` ``= 2λ = 256`` bits (λ = 128; 304 bits for 4096-bit
  keys, twice their 152-bit strength), and ``h^alpha`` comes from a fixed-base table of 8-bit windows
  built once per key (:meth:`PaillierPublicKey.precompute`): 31 multiplications modulo ``n²``
  instead of an exponentiation. DJN ciphertexts are ordinary Paillier ciphertexts: any Paillier
  implementation with the same ``n`` decrypts them.

Decryption uses the Chinese remainder theorem: ``m_p = L_p(c^{p-1} mod p²) · h_p mod p`` with
``L_p(u) = (u - 1)/p`` and ``h_p = L_p(g^{p-1} mod p²)⁻¹ mod p`` precomputed, the same modulo ``q``,
then recombination.

Threat model and what leaks
---------------------------
* Semantic security (IND-CPA) under the decisional composite residuosity (DCR) assumption. The
  classic path rests on DCR alone. The DJN path also assumes that ``h^alpha`` with a 2λ-bit ``alpha`` is
  indistinguishable from a random element of the group ``h`` generates (a short-exponent
  assumption; the best known attack, Pollard's kangaroo, costs about ``2^λ`` operations). DJN's
  paper draws ``alpha`` of ``⌈|n|/2⌉`` bits and Private Join and Compute of ``|n|`` bits; the 2λ-bit
  exponent is the common short-exponent trade-off. Choose ``djn=False`` to rely on DCR alone.
* Not CCA secure: ciphertexts are malleable by design. Anyone with the public key can add to an
  encrypted value or multiply it by a known constant. Authenticate ciphertexts (a signature, a MAC,
  an authenticated channel) wherever their integrity matters.
* A ciphertext's length reveals the key size only (:meth:`PaillierCiphertext.to_bytes` is fixed
  length). Results of homomorphic operations are deterministic functions of their inputs (``c * 0``
  is the constant ciphertext 1): :meth:`PaillierCiphertext.rerandomise` before handing a computed
  ciphertext to anyone who must not link it to its inputs.
* The public key's ``h`` is trusted: only the private key can check that it is an n-th residue
  (:meth:`PaillierPrivateKey.from_bytes` does), and whoever chose a malformed ``h`` could read or
  corrupt DJN ciphertexts. :meth:`PaillierPublicKey.fingerprint` covers ``n`` and ``h``:
  authenticate public keys by it, or rebuild ``h`` yourself with
  :meth:`PaillierPublicKey.from_modulus` when only ``n`` is authenticated.
* Timing: GMP is not constant time. Decryption timing depends on the primes and the ciphertext;
  encryption timing and memory access depend on ``alpha`` (which, with the ciphertext, reveals the
  plaintext). Keep untrusted code off the CPU that holds private keys or encrypts secrets.
* Private keys never appear in ``repr``/``str``; :meth:`PaillierPrivateKey.to_bytes` is plaintext
  key material that the caller must encrypt at rest.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import math
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Final, NoReturn, TypeAlias

import gmpy2

from petsuite.core.encoding import decode_parts, encode_parts, i2osp
from petsuite.core.errors import InvalidInput, UnsupportedParameter
from petsuite.core.rng import RandomSource, random_below, random_bits, resolve

__all__ = [
    "ALLOWED_KEY_BITS",
    "DEFAULT_KEY_BITS",
    "DJN_EXPONENT_BITS",
    "MIN_TESTING_KEY_BITS",
    "TABLE_WINDOW_BITS",
    "PaillierCiphertext",
    "PaillierEncoder",
    "PaillierPrivateKey",
    "PaillierPublicKey",
    "sum_ciphertexts",
]

#: Key sizes (bits of ``n``) accepted without ``insecure_for_testing``: 3072 is the default and the
#: choice for long-lived data (NIST SP 800-57: 128-bit strength beyond 2030).
ALLOWED_KEY_BITS: Final = (2048, 3072, 4096)
#: The default key size.
DEFAULT_KEY_BITS: Final = 3072
#: Smallest key accepted with ``insecure_for_testing=True`` (fast tests only; factorable).
MIN_TESTING_KEY_BITS: Final = 512
#: Bits of the DJN exponent ``alpha``: 2λ with λ = 128, the floor for every key size.
DJN_EXPONENT_BITS: Final = 256
#: Window of the fixed-base table for ``h``: one table row per 8 bits of ``alpha``, 256 entries a row.
#: Measured with gmpy2 at 3072 bits: 4-bit windows 0.58 ms per ``h^alpha``, 6-bit 0.39 ms, 8-bit 0.35 ms
#: (table 6.3 MB, built in ~75 ms), 10-bit 0.25 ms (20 MB, ~255 ms); a plain ``powmod`` is 2.6 ms.
TABLE_WINDOW_BITS: Final = 8

_PK_LABEL: Final = b"petsuite/paillier/public-key/v1"
_SK_LABEL: Final = b"petsuite/paillier/private-key/v1"
_FINGERPRINT_LABEL: Final = b"petsuite/paillier/fingerprint/v1"
#: NIST SP 800-57 strength of each modulus size; alpha has twice as many bits (at least 256).
_STRENGTH: Final = {2048: 112, 3072: 128, 4096: 152}
#: A public ``h`` must not have order dividing lcm(1..256) (catches ±1 and every small-order unit).
_SMOOTH_EXPONENT: Final = math.lcm(*range(1, 257))
#: Trial division bound for moduli read from outside: no prime factor below 2**16.
_TRIAL_BOUND: Final = 1 << 16
#: |p - q| > 2^(bits/2 - 100) (FIPS 186-4 §B.3.1): Fermat's method cannot split n.
_PRIME_DISTANCE_SLACK: Final = 100
_PRIME_REPS: Final = 40
_MAX_THREADS: Final = 64
#: :meth:`PaillierEncoder.decrypt` works modulo ``p`` alone when ``max_abs < p / 2^129``.
_HALF_DECRYPT_MARGIN_BITS: Final = 129

#: A ``gmpy2.mpz`` (gmpy2 ships no type stubs); never crosses the public API, which speaks ``int``.
_Mpz: TypeAlias = Any
_Table: TypeAlias = list[list[Any]]


# --- typed wrappers around gmpy2 -----------------------------------------------------------------


def _mpz(x: int) -> _Mpz:
    return gmpy2.mpz(x)


def _powmod(base: _Mpz, exp: _Mpz, mod: _Mpz) -> _Mpz:
    return gmpy2.powmod(base, exp, mod)


def _powmod_list(bases: list[_Mpz], exp: _Mpz, mod: _Mpz) -> list[_Mpz]:
    """``[powmod(b, exp, mod) for b in bases]`` in C; gmpy2 releases the GIL while it runs."""
    return list(gmpy2.powmod_base_list(bases, exp, mod))


def _invert(a: _Mpz, mod: _Mpz) -> _Mpz:
    try:
        return gmpy2.invert(a, mod)
    except ZeroDivisionError as exc:
        raise InvalidInput("value is not invertible") from exc


def _gcd(a: _Mpz, b: _Mpz) -> _Mpz:
    return gmpy2.gcd(a, b)


def _is_prime(x: _Mpz) -> bool:
    return bool(gmpy2.is_prime(x, _PRIME_REPS))


def _next_prime(x: _Mpz) -> _Mpz:
    return gmpy2.next_prime(x)


def _is_power(x: _Mpz) -> bool:
    return bool(gmpy2.is_square(x)) or bool(gmpy2.is_power(x))


@functools.cache
def _small_primorial() -> _Mpz:
    """The product of the primes below :data:`_TRIAL_BOUND` (built on first use)."""
    return gmpy2.primorial(_TRIAL_BOUND)


# --- validation helpers --------------------------------------------------------------------------


def _require_int(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(f"{what} must be an int, got {type(value).__name__}")
    return value


def _coerce_bytes(value: object, what: str) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, bytearray | memoryview):
        return bytes(value)
    raise InvalidInput(f"{what} must be bytes, got {type(value).__name__}")


def _check_key_bits(bits: object, insecure_for_testing: bool) -> int:
    """The key size if allowed; :class:`UnsupportedParameter` otherwise."""
    size = _require_int(bits, "key size")
    if size in ALLOWED_KEY_BITS:
        return size
    if insecure_for_testing and MIN_TESTING_KEY_BITS <= size < ALLOWED_KEY_BITS[0]:
        if size % 2:
            raise UnsupportedParameter("test key sizes must be even")
        return size
    if size < ALLOWED_KEY_BITS[0] and not insecure_for_testing:
        raise UnsupportedParameter(
            f"{size}-bit Paillier keys are insecure; use one of {ALLOWED_KEY_BITS} "
            f"(insecure_for_testing=True allows {MIN_TESTING_KEY_BITS}+ bits in tests)"
        )
    raise UnsupportedParameter(
        f"unsupported Paillier key size {size}; use one of {ALLOWED_KEY_BITS}"
    )


def _exponent_bytes(bits: int) -> int:
    strength = _STRENGTH.get(bits, 0)
    exponent_bits = max(DJN_EXPONENT_BITS, 2 * strength)
    return (exponent_bits + TABLE_WINDOW_BITS - 1) // TABLE_WINDOW_BITS


def _validate_modulus(n: object, insecure_for_testing: bool) -> _Mpz:
    value = _require_int(n, "modulus n")
    if value <= 0 or value % 2 == 0:
        raise InvalidInput("modulus n must be a positive odd integer")
    _check_key_bits(value.bit_length(), insecure_for_testing)
    big = _mpz(value)
    if _gcd(big, _small_primorial()) != 1:
        raise InvalidInput("modulus n has a small prime factor")
    if _is_power(big):
        raise InvalidInput("modulus n is a perfect power")
    if _is_prime(big):
        raise InvalidInput("modulus n is prime")
    return big


def _validate_h(h: object, n: _Mpz, nsq: _Mpz) -> _Mpz:
    value = _require_int(h, "DJN base h")
    if not 1 < value < nsq - 1:
        raise InvalidInput("DJN base h must lie in (1, n² - 1)")
    big = _mpz(value)
    if _gcd(big, n) != 1:
        raise InvalidInput("DJN base h is not coprime to n")
    if _powmod(big, _SMOOTH_EXPONENT, nsq) == 1:
        raise InvalidInput("DJN base h has small order")
    return big


def _random_prime(bits: int, rng: RandomSource) -> _Mpz:
    """The prime after a random odd ``bits``-bit start with its top two bits set."""
    top = 3 << (bits - 2)
    while True:
        start = random_bits(bits, rng) | top | 1
        p = _next_prime(_mpz(start))
        if p.bit_length() == bits:
            return p


def _random_unit(n: _Mpz, rng: RandomSource) -> _Mpz:
    """A uniform element of ``Z*_n``."""
    bound = int(n)
    while True:
        r = random_below(bound, rng)
        if r > 0 and _gcd(r, n) == 1:
            return _mpz(r)


def _make_h(n: _Mpz, nsq: _Mpz, rng: RandomSource) -> _Mpz:
    """``(-x²)ⁿ mod n²`` for a uniform unit ``x`` (DJN's generator of the n-th residues)."""
    x = _random_unit(n, rng)
    return _powmod(n - x * x % n, n, nsq)


def _build_table(h: _Mpz, nsq: _Mpz, windows: int) -> _Table:
    """Rows ``i = 0..windows-1`` holding ``h^(d · 256^i) mod n²`` for ``d = 0..255``."""
    table: _Table = []
    base = h
    size = 1 << TABLE_WINDOW_BITS
    for _ in range(windows):
        row = [_mpz(1), base]
        last = base
        for _ in range(2, size):
            last = last * base % nsq
            row.append(last)
        table.append(row)
        base = last * base % nsq  # base^256
    return table


# --- public key ----------------------------------------------------------------------------------


class PaillierPublicKey:
    """A Paillier public key: the modulus ``n`` and the DJN base ``h``. Immutable.

    Obtain one from :attr:`PaillierPrivateKey.public_key`, :meth:`from_bytes` or
    :meth:`from_modulus`. Encryption is semantically secure under DCR (plus the short-exponent
    assumption on the default DJN path, see the module docstring); ciphertexts are malleable.
    Holds a lazily built fixed-base table for ``h`` (6.3 MB at 3072 bits) once it has encrypted.
    """

    __slots__ = ("_alpha_bytes", "_bits", "_h", "_n", "_nbytes", "_nsq", "_table")
    _n: _Mpz
    _nsq: _Mpz
    _h: _Mpz
    _bits: int
    _nbytes: int
    _alpha_bytes: int
    _table: _Table | None

    def __init__(self, n: int, h: int, *, insecure_for_testing: bool = False) -> None:
        """Validate ``n`` and ``h``; same as :meth:`from_bytes` on their encoding.

        Raises
        ------
        InvalidInput
            If ``n`` is even, of an unsupported size, a perfect power, prime or has a small factor,
            or ``h`` is out of range, not a unit or of small order.
        """
        big_n = _validate_modulus(n, insecure_for_testing)
        nsq = big_n * big_n
        self._init(big_n, _validate_h(h, big_n, nsq))

    def _init(self, n: _Mpz, h: _Mpz) -> None:
        bits = int(n.bit_length())
        object.__setattr__(self, "_n", n)
        object.__setattr__(self, "_nsq", n * n)
        object.__setattr__(self, "_h", h)
        object.__setattr__(self, "_bits", bits)
        object.__setattr__(self, "_nbytes", (bits + 7) // 8)
        object.__setattr__(self, "_alpha_bytes", _exponent_bytes(bits))
        object.__setattr__(self, "_table", None)

    @classmethod
    def _unchecked(cls, n: _Mpz, h: _Mpz) -> PaillierPublicKey:
        obj = object.__new__(cls)
        obj._init(n, h)
        return obj

    def __setattr__(self, name: str, value: object) -> NoReturn:
        raise AttributeError("PaillierPublicKey is immutable")

    def __delattr__(self, name: str) -> NoReturn:
        raise AttributeError("PaillierPublicKey is immutable")

    def __reduce__(self) -> tuple[Callable[[bytes], PaillierPublicKey], tuple[bytes]]:
        return (_public_key_from_pickle, (self.to_bytes(),))

    @classmethod
    def from_modulus(
        cls, n: int, rng: RandomSource | None = None, *, insecure_for_testing: bool = False
    ) -> PaillierPublicKey:
        """A public key for modulus ``n`` with a fresh DJN base ``h`` of your own.

        For keys known only by ``n`` (another Paillier implementation, a certificate that covers
        ``n`` alone): ``h`` needs no secret, and one you made yourself needs no trust.
        """
        big_n = _validate_modulus(n, insecure_for_testing)
        return cls._unchecked(big_n, _make_h(big_n, big_n * big_n, resolve(rng)))

    @property
    def n(self) -> int:
        """The modulus ``n = p·q``."""
        return int(self._n)

    @property
    def n_squared(self) -> int:
        """``n²``, the ciphertext modulus."""
        return int(self._nsq)

    @property
    def h(self) -> int:
        """The DJN base ``h = (-x²)ⁿ mod n²``."""
        return int(self._h)

    @property
    def bits(self) -> int:
        """Bit length of ``n``."""
        return self._bits

    @property
    def ciphertext_bytes(self) -> int:
        """Length of :meth:`PaillierCiphertext.to_bytes` under this key."""
        return 2 * self._nbytes

    @property
    def djn_exponent_bits(self) -> int:
        """Bits of the DJN exponent ``alpha`` (2λ: 256, or 304 for 4096-bit keys)."""
        return self._alpha_bytes * TABLE_WINDOW_BITS

    @property
    def precomputed(self) -> bool:
        """Whether the fixed-base table for ``h`` has been built."""
        return self._table is not None

    def precompute(self) -> None:
        """Build the fixed-base table for ``h`` now (otherwise the first DJN encryption does).

        Costs ``(|alpha|/8)·255`` multiplications modulo ``n²`` (~75 ms at 3072 bits) and holds
        ``(|alpha|/8)·256`` residues (~6.3 MB at 3072 bits). Idempotent.
        """
        if self._table is None:
            object.__setattr__(self, "_table", _build_table(self._h, self._nsq, self._alpha_bytes))

    # -- encryption --------------------------------------------------------------------------------

    def _check_plaintext(self, m: object) -> int:
        value = _require_int(m, "plaintext")
        if not 0 <= value < self._n:
            raise InvalidInput("plaintext must lie in [0, n)")
        return value

    def _djn_mask(self, rng: RandomSource) -> _Mpz:
        """``h^alpha mod n²`` for a uniform ``alpha`` of :attr:`djn_exponent_bits` bits, via the table."""
        table = self._table
        if table is None:
            self.precompute()
            table = self._table
            if table is None:  # pragma: no cover - precompute always sets it
                raise InvalidInput("fixed-base table missing")
        digits = rng.random_bytes(self._alpha_bytes)
        if not isinstance(digits, bytes) or len(digits) != self._alpha_bytes:
            raise InvalidInput("random source returned the wrong number of bytes")
        nsq = self._nsq
        acc = table[0][digits[0]]
        for row, d in zip(table[1:], digits[1:], strict=True):
            acc = acc * row[d] % nsq
        return acc

    def _classic_mask(self, rng: RandomSource) -> _Mpz:
        """``rⁿ mod n²`` for a uniform ``r`` in ``Z*_n``."""
        return _powmod(_random_unit(self._n, rng), self._n, self._nsq)

    def _mask(self, rng: RandomSource, djn: bool) -> _Mpz:
        return self._djn_mask(rng) if djn else self._classic_mask(rng)

    def raw_encrypt(self, m: int, rng: RandomSource | None = None, *, djn: bool = True) -> int:
        """The ciphertext of ``m`` in ``[0, n)`` as an integer in ``[1, n²)``.

        ``djn=False`` takes the classic ``rⁿ``: DCR alone, but about 100x slower than the default
        DJN path with its table at 3072 bits (``benchmarks/bench_paillier.py``).
        """
        value = self._check_plaintext(m)
        return int((value * self._n + 1) * self._mask(resolve(rng), djn) % self._nsq)

    def raw_encrypt_with_randomness(self, m: int, r: int) -> int:
        """``(1 + m·n) · rⁿ mod n²`` with the caller's ``r`` in ``Z*_n``: known answers, interop.

        Hazardous: reusing or revealing ``r`` reveals ``m``. Matches ``phe``'s
        ``raw_encrypt(m, r_value=r)``.
        """
        value = self._check_plaintext(m)
        r_value = _require_int(r, "randomness r")
        if not 0 < r_value < self._n or _gcd(r_value, self._n) != 1:
            raise InvalidInput("randomness r must be a unit modulo n")
        mask = _powmod(_mpz(r_value), self._n, self._nsq)
        return int((value * self._n + 1) * mask % self._nsq)

    def encrypt(
        self, m: int, rng: RandomSource | None = None, *, djn: bool = True
    ) -> PaillierCiphertext:
        """Encrypt ``m`` in ``[0, n)`` (use :class:`PaillierEncoder` for signed values).

        Raises
        ------
        InvalidInput
            If ``m`` is not an int in ``[0, n)``.
        """
        value = self._check_plaintext(m)
        mask = self._mask(resolve(rng), djn)
        return PaillierCiphertext._unchecked(self, (value * self._n + 1) * mask % self._nsq)

    def encrypt_many(
        self, ms: Iterable[int], rng: RandomSource | None = None, *, djn: bool = True
    ) -> list[PaillierCiphertext]:
        """Encrypt each of ``ms``; same as a loop of :meth:`encrypt`, with less overhead."""
        source = resolve(rng)
        values = [self._check_plaintext(m) for m in ms]
        n, nsq = self._n, self._nsq
        mask = self._djn_mask if djn else self._classic_mask
        make = PaillierCiphertext._unchecked
        return [make(self, (v * n + 1) * mask(source) % nsq) for v in values]

    # -- identity and encoding ---------------------------------------------------------------------

    def to_bytes(self) -> bytes:
        """Versioned, length-prefixed encoding of ``n`` and ``h`` (fixed length for a key size)."""
        return encode_parts(
            [_PK_LABEL, i2osp(int(self._n), self._nbytes), i2osp(int(self._h), 2 * self._nbytes)]
        )

    @classmethod
    def from_bytes(cls, data: bytes, *, insecure_for_testing: bool = False) -> PaillierPublicKey:
        """Decode and validate :meth:`to_bytes` output.

        Raises
        ------
        InvalidInput
            On a malformed or unknown-version encoding, or an invalid ``n`` or ``h`` (see the
            constructor). :class:`UnsupportedParameter` for a key size under 2048 bits unless
            ``insecure_for_testing``.
        """
        parts = decode_parts(_coerce_bytes(data, "public key encoding"))
        if len(parts) != 3 or not hmac.compare_digest(parts[0], _PK_LABEL):
            raise InvalidInput("not a petsuite Paillier public key (v1)")
        n_part, h_part = parts[1], parts[2]
        if not n_part or n_part[0] == 0:
            raise InvalidInput("non-canonical modulus encoding")
        if len(h_part) != 2 * len(n_part):
            raise InvalidInput("DJN base h has the wrong length")
        return cls(
            int.from_bytes(n_part, "big"),
            int.from_bytes(h_part, "big"),
            insecure_for_testing=insecure_for_testing,
        )

    def fingerprint(self) -> str:
        """Hex SHA-256 of :meth:`to_bytes` (covers ``n`` and ``h``): compare it out of band."""
        return hashlib.sha256(_FINGERPRINT_LABEL + self.to_bytes()).hexdigest()

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PaillierPublicKey):
            return NotImplemented
        return bool(self._n == other._n and self._h == other._h)

    def __hash__(self) -> int:
        return hash((PaillierPublicKey, int(self._n), int(self._h)))

    def __repr__(self) -> str:
        return f"PaillierPublicKey(bits={self._bits}, fingerprint={self.fingerprint()[:16]})"


def _public_key_from_pickle(data: bytes) -> PaillierPublicKey:
    return PaillierPublicKey.from_bytes(data, insecure_for_testing=True)


# --- ciphertexts ---------------------------------------------------------------------------------


class PaillierCiphertext:
    """A Paillier ciphertext under one public key. Immutable; public (not secret).

    Supports ``c1 + c2``, ``c + k`` and ``k + c`` (int plaintext ``k``, reduced mod ``n``),
    ``c * k`` and ``k * c`` (negative ``k`` allowed: it acts as ``n - |k|``), ``-c`` and ``c1 - c2``.
    Results are not rerandomised. Mixing ciphertexts of different keys raises
    :class:`~petsuite.core.errors.InvalidInput`.
    """

    __slots__ = ("_pk", "_v")
    _pk: PaillierPublicKey
    _v: _Mpz

    def __init__(self, public_key: PaillierPublicKey, value: int) -> None:
        """Validate ``value`` as a ciphertext under ``public_key``: in ``[1, n²)``, coprime to ``n``."""
        if not isinstance(public_key, PaillierPublicKey):
            raise InvalidInput("expected a PaillierPublicKey")
        big = _mpz(_require_int(value, "ciphertext"))
        if not 0 < big < public_key._nsq:
            raise InvalidInput("ciphertext out of range [1, n²)")
        if _gcd(big, public_key._n) != 1:
            raise InvalidInput("ciphertext is not coprime to n")
        object.__setattr__(self, "_pk", public_key)
        object.__setattr__(self, "_v", big)

    @classmethod
    def _unchecked(cls, public_key: PaillierPublicKey, value: _Mpz) -> PaillierCiphertext:
        obj = object.__new__(cls)
        object.__setattr__(obj, "_pk", public_key)
        object.__setattr__(obj, "_v", value)
        return obj

    def __setattr__(self, name: str, value: object) -> NoReturn:
        raise AttributeError("PaillierCiphertext is immutable")

    def __delattr__(self, name: str) -> NoReturn:
        raise AttributeError("PaillierCiphertext is immutable")

    def __reduce__(
        self,
    ) -> tuple[
        Callable[[PaillierPublicKey, bytes], PaillierCiphertext], tuple[PaillierPublicKey, bytes]
    ]:
        return (PaillierCiphertext.from_bytes, (self._pk, self.to_bytes()))

    @property
    def public_key(self) -> PaillierPublicKey:
        """The key this ciphertext is under."""
        return self._pk

    @property
    def value(self) -> int:
        """The ciphertext as an integer in ``[1, n²)``."""
        return int(self._v)

    def _same_key(self, other: PaillierCiphertext) -> None:
        if other._pk is not self._pk and other._pk._n != self._pk._n:
            raise InvalidInput("ciphertexts are under different Paillier keys")

    def __add__(self, other: PaillierCiphertext | int) -> PaillierCiphertext:
        pk = self._pk
        if isinstance(other, PaillierCiphertext):
            self._same_key(other)
            return PaillierCiphertext._unchecked(pk, self._v * other._v % pk._nsq)
        if isinstance(other, int) and not isinstance(other, bool):
            shift = other % pk._n * pk._n + 1
            return PaillierCiphertext._unchecked(pk, self._v * shift % pk._nsq)
        return NotImplemented

    def __radd__(self, other: int) -> PaillierCiphertext:
        return self.__add__(other)

    def __neg__(self) -> PaillierCiphertext:
        return PaillierCiphertext._unchecked(self._pk, _invert(self._v, self._pk._nsq))

    def __sub__(self, other: PaillierCiphertext | int) -> PaillierCiphertext:
        if isinstance(other, PaillierCiphertext):
            self._same_key(other)
            return self + (-other)
        if isinstance(other, int) and not isinstance(other, bool):
            return self + (-other)
        return NotImplemented

    def __mul__(self, k: int) -> PaillierCiphertext:
        if isinstance(k, bool) or not isinstance(k, int):
            return NotImplemented
        pk = self._pk
        exponent = k % pk._n
        if exponent > pk._n // 2:  # a small negative k: invert once, then a short exponent
            exponent -= pk._n
        return PaillierCiphertext._unchecked(pk, _powmod(self._v, exponent, pk._nsq))

    def __rmul__(self, k: int) -> PaillierCiphertext:
        return self.__mul__(k)

    def rerandomise(
        self, rng: RandomSource | None = None, *, djn: bool = True
    ) -> PaillierCiphertext:
        """A fresh-looking ciphertext of the same plaintext (multiplies in a new random mask)."""
        pk = self._pk
        return PaillierCiphertext._unchecked(pk, self._v * pk._mask(resolve(rng), djn) % pk._nsq)

    def to_bytes(self) -> bytes:
        """Fixed-length big-endian encoding (:attr:`PaillierPublicKey.ciphertext_bytes`)."""
        return i2osp(int(self._v), self._pk.ciphertext_bytes)

    @classmethod
    def from_bytes(cls, public_key: PaillierPublicKey, data: bytes) -> PaillierCiphertext:
        """Decode :meth:`to_bytes` output under ``public_key``.

        Raises
        ------
        InvalidInput
            If the length is not :attr:`PaillierPublicKey.ciphertext_bytes`, or the value is not in
            ``[1, n²)`` or not coprime to ``n``.
        """
        if not isinstance(public_key, PaillierPublicKey):
            raise InvalidInput("expected a PaillierPublicKey")
        raw = _coerce_bytes(data, "ciphertext encoding")
        if len(raw) != public_key.ciphertext_bytes:
            raise InvalidInput(
                f"a ciphertext is {public_key.ciphertext_bytes} bytes under this key, got {len(raw)}"
            )
        return cls(public_key, int.from_bytes(raw, "big"))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PaillierCiphertext):
            return NotImplemented
        return bool(self._pk._n == other._pk._n) and hmac.compare_digest(
            self.to_bytes(), other.to_bytes()
        )

    def __hash__(self) -> int:
        return hash((PaillierCiphertext, int(self._pk._n), int(self._v)))

    def __repr__(self) -> str:
        return f"PaillierCiphertext(<{self._pk.bits}-bit key {self._pk.fingerprint()[:16]}>)"


def sum_ciphertexts(cs: Iterable[PaillierCiphertext]) -> PaillierCiphertext:
    """The homomorphic sum of ``cs``: one running product modulo ``n²``.

    Raises
    ------
    InvalidInput
        If ``cs`` is empty, holds something that is not a ciphertext, or mixes keys.
    """
    it = iter(cs)
    first = next(it, None)
    if first is None:
        raise InvalidInput("cannot sum an empty collection of ciphertexts")
    if not isinstance(first, PaillierCiphertext):
        raise InvalidInput("sum_ciphertexts expects PaillierCiphertext values")
    pk = first._pk
    n, nsq = pk._n, pk._nsq
    acc = first._v
    for i, c in enumerate(it, start=1):
        if not isinstance(c, PaillierCiphertext):
            raise InvalidInput(f"cs[{i}] is not a PaillierCiphertext")
        if c._pk is not pk and c._pk._n != n:
            raise InvalidInput(f"cs[{i}] is under a different Paillier key")
        acc = acc * c._v % nsq
    return PaillierCiphertext._unchecked(pk, acc)


# --- private key ---------------------------------------------------------------------------------


class PaillierPrivateKey:
    """A Paillier private key: the primes ``p < q`` and CRT constants. Immutable; secret.

    ``repr`` and ``str`` never show the primes; equality is constant time over the encoding.
    Decryption timing is not constant time (GMP): see the module docstring.
    """

    __slots__ = ("_hp", "_hq", "_p", "_p_inv_q", "_pk", "_pm1", "_psq", "_q", "_qm1", "_qsq")
    _pk: PaillierPublicKey
    _p: _Mpz
    _q: _Mpz
    _psq: _Mpz
    _qsq: _Mpz
    _pm1: _Mpz
    _qm1: _Mpz
    _hp: _Mpz
    _hq: _Mpz
    _p_inv_q: _Mpz

    def __init__(self) -> None:
        raise TypeError(
            "use PaillierPrivateKey.generate(), .from_primes() or .from_bytes() to build a key"
        )

    @classmethod
    def _build(cls, public_key: PaillierPublicKey, p: _Mpz, q: _Mpz) -> PaillierPrivateKey:
        """Precompute the CRT constants; ``p``, ``q`` already validated, ``n = p·q``."""
        if p > q:
            p, q = q, p
        obj = object.__new__(cls)
        n = public_key._n
        psq, qsq = p * p, q * q
        g = n + 1
        hp = _invert((_powmod(g, p - 1, psq) - 1) // p, p)
        hq = _invert((_powmod(g, q - 1, qsq) - 1) // q, q)
        for name, value in (
            ("_pk", public_key),
            ("_p", p),
            ("_q", q),
            ("_psq", psq),
            ("_qsq", qsq),
            ("_pm1", p - 1),
            ("_qm1", q - 1),
            ("_hp", hp),
            ("_hq", hq),
            ("_p_inv_q", _invert(p, q)),
        ):
            object.__setattr__(obj, name, value)
        return obj

    def __setattr__(self, name: str, value: object) -> NoReturn:
        raise AttributeError("PaillierPrivateKey is immutable")

    def __delattr__(self, name: str) -> NoReturn:
        raise AttributeError("PaillierPrivateKey is immutable")

    def __reduce__(self) -> tuple[Callable[[bytes], PaillierPrivateKey], tuple[bytes]]:
        return (_private_key_from_pickle, (self.to_bytes(),))

    # -- construction ------------------------------------------------------------------------------

    @classmethod
    def generate(
        cls,
        bits: int = DEFAULT_KEY_BITS,
        rng: RandomSource | None = None,
        *,
        insecure_for_testing: bool = False,
    ) -> PaillierPrivateKey:
        """A fresh key pair with an ``n`` of exactly ``bits`` bits.

        ``bits`` is 2048, 3072 (default, for long-lived data) or 4096. Primes: random odd
        ``bits/2``-bit starts with the top two bits set, then ``gmpy2.next_prime``; ``p ≠ q``,
        ``|p - q| > 2^(bits/2 - 100)``, ``gcd(n, (p-1)(q-1)) = 1``. The DJN base ``h`` is drawn too.

        Raises
        ------
        UnsupportedParameter
            For any other size, except even sizes from 512 bits with ``insecure_for_testing``.
        """
        size = _check_key_bits(bits, insecure_for_testing)
        source = resolve(rng)
        half = size // 2
        while True:
            p = _random_prime(half, source)
            q = _random_prime(half, source)
            if p == q or abs(p - q).bit_length() <= half - _PRIME_DISTANCE_SLACK:
                continue
            n = p * q
            if n.bit_length() != size or _gcd(n, (p - 1) * (q - 1)) != 1:
                continue
            public_key = PaillierPublicKey._unchecked(n, _make_h(n, n * n, source))
            return cls._build(public_key, p, q)

    @classmethod
    def from_primes(
        cls,
        p: int,
        q: int,
        rng: RandomSource | None = None,
        *,
        insecure_for_testing: bool = False,
    ) -> PaillierPrivateKey:
        """The key pair for existing primes (for example another library's key), with a fresh ``h``.

        Raises
        ------
        InvalidInput
            If ``p`` or ``q`` is not prime, ``p = q``, they are too close, ``gcd(n, φ(n)) ≠ 1`` or
            ``n`` fails public-key validation; :class:`UnsupportedParameter` for a small ``n``.
        """
        big_p, big_q = cls._validate_primes(p, q)
        n = _validate_modulus(int(big_p * big_q), insecure_for_testing)
        public_key = PaillierPublicKey._unchecked(n, _make_h(n, n * n, resolve(rng)))
        return cls._build(public_key, big_p, big_q)

    @staticmethod
    def _validate_primes(p: object, q: object) -> tuple[_Mpz, _Mpz]:
        big_p = _mpz(_require_int(p, "prime p"))
        big_q = _mpz(_require_int(q, "prime q"))
        if big_p < 3 or big_q < 3 or not _is_prime(big_p) or not _is_prime(big_q):
            raise InvalidInput("p and q must be odd primes")
        if big_p == big_q:
            raise InvalidInput("p and q must differ")
        n = big_p * big_q
        if abs(big_p - big_q).bit_length() <= n.bit_length() // 2 - _PRIME_DISTANCE_SLACK:
            raise InvalidInput("p and q are too close (n falls to Fermat's method)")
        if _gcd(n, (big_p - 1) * (big_q - 1)) != 1:
            raise InvalidInput("gcd(n, (p-1)(q-1)) must be 1")
        return big_p, big_q

    # -- properties --------------------------------------------------------------------------------

    @property
    def public_key(self) -> PaillierPublicKey:
        """The matching public key."""
        return self._pk

    @property
    def bits(self) -> int:
        """Bit length of ``n``."""
        return self._pk.bits

    # -- decryption --------------------------------------------------------------------------------

    def _check_ciphertext(self, c: object) -> _Mpz:
        if not isinstance(c, PaillierCiphertext):
            raise InvalidInput(f"expected a PaillierCiphertext, got {type(c).__name__}")
        if c._pk is not self._pk and c._pk._n != self._pk._n:
            raise InvalidInput("ciphertext is under a different Paillier key")
        return c._v

    def _crt(self, up: _Mpz, uq: _Mpz) -> int:
        """Recombine ``c^(p-1) mod p²`` and ``c^(q-1) mod q²`` into the plaintext."""
        p, q = self._p, self._q
        mp = (up - 1) // p * self._hp % p
        mq = (uq - 1) // q * self._hq % q
        return int(mp + (mq - mp) * self._p_inv_q % q * p)

    def _decrypt_mod_p(self, c: _Mpz) -> int:
        """``m mod p`` alone: half of a CRT decryption (for plaintexts known to be small)."""
        p = self._p
        return int((_powmod(c, self._pm1, self._psq) - 1) // p * self._hp % p)

    def _decrypt_value(self, c: _Mpz) -> int:
        return self._crt(_powmod(c, self._pm1, self._psq), _powmod(c, self._qm1, self._qsq))

    def decrypt(self, c: PaillierCiphertext) -> int:
        """The plaintext in ``[0, n)`` (CRT decryption; use :class:`PaillierEncoder` for signs).

        Raises
        ------
        InvalidInput
            If ``c`` is not a ciphertext under this key.
        """
        return self._decrypt_value(self._check_ciphertext(c))

    def raw_decrypt(self, c: int) -> int:
        """Decrypt a ciphertext given as an integer; validated as in :class:`PaillierCiphertext`."""
        return self.decrypt(PaillierCiphertext(self._pk, c))

    def decrypt_many(self, cs: Sequence[PaillierCiphertext], *, threads: int = 1) -> list[int]:
        """Decrypt each of ``cs``, optionally over ``threads`` threads.

        ``threads > 1`` spreads the modulo-p² and modulo-q² halves of the batch over that many
        threads; gmpy2 releases the GIL in ``powmod_base_list``, so this scales only with idle
        physical cores (no gain on a host whose vCPUs share one core). Same results as a loop.
        """
        count = _require_int(threads, "threads")
        if not 1 <= count <= _MAX_THREADS:
            raise InvalidInput(f"threads must lie in [1, {_MAX_THREADS}]")
        values = [self._check_ciphertext(c) for c in cs]
        if count == 1 or len(values) == 0:
            return [self._decrypt_value(v) for v in values]
        chunk = -(-len(values) // max(1, count // 2))
        chunks = [values[i : i + chunk] for i in range(0, len(values), chunk)]
        with ThreadPoolExecutor(max_workers=count) as pool:
            p_jobs = [pool.submit(_powmod_list, ch, self._pm1, self._psq) for ch in chunks]
            q_jobs = [pool.submit(_powmod_list, ch, self._qm1, self._qsq) for ch in chunks]
            ups = [u for job in p_jobs for u in job.result()]
            uqs = [u for job in q_jobs for u in job.result()]
        return [self._crt(up, uq) for up, uq in zip(ups, uqs, strict=True)]

    # -- encoding ----------------------------------------------------------------------------------

    def to_bytes(self) -> bytes:
        """Versioned encoding of the public key and both primes. Secret: encrypt it at rest."""
        p, q = int(self._p), int(self._q)
        return encode_parts(
            [
                _SK_LABEL,
                self._pk.to_bytes(),
                p.to_bytes((p.bit_length() + 7) // 8, "big"),
                q.to_bytes((q.bit_length() + 7) // 8, "big"),
            ]
        )

    @classmethod
    def from_bytes(cls, data: bytes, *, insecure_for_testing: bool = False) -> PaillierPrivateKey:
        """Decode and validate :meth:`to_bytes` output.

        Checks that ``p`` and ``q`` are primes with ``n = p·q`` and that ``h`` is an n-th residue
        (``h^(p-1) ≡ 1 mod p²`` and ``h^(q-1) ≡ 1 mod q²``).

        Raises
        ------
        InvalidInput
            On any malformed field or failed check; :class:`UnsupportedParameter` for a small key
            without ``insecure_for_testing``.
        """
        parts = decode_parts(_coerce_bytes(data, "private key encoding"))
        if len(parts) != 4 or not hmac.compare_digest(parts[0], _SK_LABEL):
            raise InvalidInput("not a petsuite Paillier private key (v1)")
        public_key = PaillierPublicKey.from_bytes(
            parts[1], insecure_for_testing=insecure_for_testing
        )
        for part in parts[2:]:
            if not part or part[0] == 0:
                raise InvalidInput("non-canonical prime encoding")
        p, q = cls._validate_primes(
            int.from_bytes(parts[2], "big"), int.from_bytes(parts[3], "big")
        )
        if p * q != public_key._n:
            raise InvalidInput("n is not p·q")
        h = public_key._h
        if _powmod(h, p - 1, p * p) != 1 or _powmod(h, q - 1, q * q) != 1:
            raise InvalidInput("DJN base h is not an n-th residue")
        return cls._build(public_key, p, q)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PaillierPrivateKey):
            return NotImplemented
        return hmac.compare_digest(self.to_bytes(), other.to_bytes())

    def __hash__(self) -> int:
        return hash((PaillierPrivateKey, int(self._pk._n)))

    def __repr__(self) -> str:
        return (
            f"PaillierPrivateKey(bits={self.bits}, "
            f"fingerprint={self._pk.fingerprint()[:16]}, <primes hidden>)"
        )

    __str__ = __repr__


def _private_key_from_pickle(data: bytes) -> PaillierPrivateKey:
    return PaillierPrivateKey.from_bytes(data, insecure_for_testing=True)


# --- signed encoding -----------------------------------------------------------------------------


class PaillierEncoder:
    """Signed integers in ``[-max_abs, max_abs]`` as plaintexts in ``[0, n)``, with overflow checks.

    Non-negative ``m`` maps to ``m``, negative ``m`` to ``n - |m|``. :meth:`decode` maps back and
    raises ``InvalidInput("overflow ...")`` for a value in the wrapped-around region
    ``(max_abs, n - max_abs)``, so a result that left the range is an error, never a wrong number.

    The caller must choose ``max_abs`` so that every sum or product it computes stays within it
    (for ``count`` values bounded by ``bound``: ``max_abs ≥ count x bound``). Detection is
    guaranteed for true results with ``max_abs < |x| < n - max_abs``; keep ``max_abs`` far below
    ``n/2`` (e.g. 2^64 against a 3072-bit ``n``) so that no realistic overflow lands back in range.
    Requires ``0 < max_abs`` and ``2·max_abs < n``.
    """

    __slots__ = ("_max_abs", "_n", "_pk")
    _pk: PaillierPublicKey
    _n: int
    _max_abs: int

    def __init__(self, public_key: PaillierPublicKey, max_abs: int) -> None:
        if not isinstance(public_key, PaillierPublicKey):
            raise InvalidInput("expected a PaillierPublicKey")
        bound = _require_int(max_abs, "max_abs")
        n = public_key.n
        if bound <= 0 or 2 * bound >= n:
            raise InvalidInput("max_abs must satisfy 0 < max_abs and 2·max_abs < n")
        object.__setattr__(self, "_pk", public_key)
        object.__setattr__(self, "_n", n)
        object.__setattr__(self, "_max_abs", bound)

    def __setattr__(self, name: str, value: object) -> NoReturn:
        raise AttributeError("PaillierEncoder is immutable")

    def __delattr__(self, name: str) -> NoReturn:
        raise AttributeError("PaillierEncoder is immutable")

    @property
    def public_key(self) -> PaillierPublicKey:
        """The key whose plaintext space this encoder maps into."""
        return self._pk

    @property
    def max_abs(self) -> int:
        """The largest absolute value encoded or decoded."""
        return self._max_abs

    def encode(self, m: int) -> int:
        """``m`` (``|m| ≤ max_abs``) as a plaintext in ``[0, n)``."""
        value = _require_int(m, "value")
        if abs(value) > self._max_abs:
            raise InvalidInput(f"value out of the encoder's range ±{self._max_abs}")
        return value if value >= 0 else self._n + value

    def decode(self, m: int) -> int:
        """The signed integer for plaintext ``m`` in ``[0, n)``; overflow raises InvalidInput."""
        value = _require_int(m, "plaintext")
        if not 0 <= value < self._n:
            raise InvalidInput("plaintext must lie in [0, n)")
        if value <= self._max_abs:
            return value
        if value >= self._n - self._max_abs:
            return value - self._n
        raise InvalidInput(
            f"overflow: the decrypted value left the encoder's range ±{self._max_abs} "
            "(a sum or product wrapped around)"
        )

    def encrypt(
        self, m: int, rng: RandomSource | None = None, *, djn: bool = True
    ) -> PaillierCiphertext:
        """Encode then encrypt ``m``."""
        return self._pk.encrypt(self.encode(m), rng, djn=djn)

    def decrypt(self, private_key: PaillierPrivateKey, c: PaillierCiphertext) -> int:
        """Decrypt then decode; raises InvalidInput on overflow or a key mismatch.

        When ``max_abs < p / 2^129`` (any realistic bound: 2^1400 at 3072 bits) only ``m mod p``
        is computed, half the work of a full decryption. A result outside ``±max_abs`` is still
        an overflow error, except with probability ``2·max_abs/p < 2^-128`` per value; landing
        back in range on purpose takes a multiple of ``p``, i.e. the factorisation of ``n``.
        """
        if not isinstance(private_key, PaillierPrivateKey):
            raise InvalidInput("expected a PaillierPrivateKey")
        if private_key._pk._n != self._n:
            raise InvalidInput("private key does not match the encoder's public key")
        value = private_key._check_ciphertext(c)
        p = private_key._p
        if self._max_abs.bit_length() + _HALF_DECRYPT_MARGIN_BITS >= p.bit_length():
            return self.decode(private_key._decrypt_value(value))
        residue = private_key._decrypt_mod_p(value)
        if residue <= self._max_abs:
            return residue
        if residue >= p - self._max_abs:
            return residue - int(p)
        raise InvalidInput(
            f"overflow: the decrypted value left the encoder's range ±{self._max_abs} "
            "(a sum or product wrapped around)"
        )

    def __repr__(self) -> str:
        return f"PaillierEncoder(bits={self._pk.bits}, max_abs={self._max_abs})"
