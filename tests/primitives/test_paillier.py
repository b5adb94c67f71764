"""Paillier over gmpy2: round trips, homomorphisms, signed encoding, encodings and rejections."""

from __future__ import annotations

import copy
import hashlib
import pickle

import gmpy2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from petsuite.core.encoding import decode_parts, encode_parts
from petsuite.core.errors import InvalidInput, UnsupportedParameter
from petsuite.core.rng import DeterministicRandom
from petsuite.primitives.paillier import (
    DJN_EXPONENT_BITS,
    PaillierCiphertext,
    PaillierEncoder,
    PaillierPrivateKey,
    PaillierPublicKey,
    sum_ciphertexts,
)

BITS = 1024
PROPERTY = settings(max_examples=30, deadline=None)


def drng(tag: bytes = b"") -> DeterministicRandom:
    return DeterministicRandom(
        hashlib.sha256(b"paillier" + tag).digest(), insecure_for_testing=True
    )


@pytest.fixture(scope="module")
def sk() -> PaillierPrivateKey:
    return PaillierPrivateKey.generate(BITS, drng(b"key-a"), insecure_for_testing=True)


@pytest.fixture(scope="module")
def other_sk() -> PaillierPrivateKey:
    return PaillierPrivateKey.generate(BITS, drng(b"key-b"), insecure_for_testing=True)


@pytest.fixture(scope="module")
def pk(sk: PaillierPrivateKey) -> PaillierPublicKey:
    return sk.public_key


def primes_of(key: PaillierPrivateKey) -> tuple[int, int]:
    """Reach into the key for tests that build malformed encodings around real primes."""
    parts = decode_parts(key.to_bytes())
    return int.from_bytes(parts[2], "big"), int.from_bytes(parts[3], "big")


def table_built(pub: PaillierPublicKey) -> bool:
    return pub.precomputed


def public_bytes(n: int, h: int, nbytes: int) -> bytes:
    return encode_parts(
        [
            b"petsuite/paillier/public-key/v1",
            n.to_bytes(nbytes, "big"),
            h.to_bytes(2 * nbytes, "big"),
        ]
    )


# --- key generation ------------------------------------------------------------------------------


def test_generate_2048() -> None:
    key = PaillierPrivateKey.generate(2048, drng(b"2048"))
    pub = key.public_key
    assert pub.bits == 2048 and pub.n.bit_length() == 2048
    assert pub.ciphertext_bytes == 512
    assert pub.djn_exponent_bits == DJN_EXPONENT_BITS == 256
    p, q = primes_of(key)
    assert p * q == pub.n and p != q
    assert gmpy2.is_prime(p) and gmpy2.is_prime(q)
    assert p.bit_length() == q.bit_length() == 1024
    assert p >> 1022 == 3 and q >> 1022 == 3  # top two bits set
    assert abs(p - q).bit_length() > 1024 - 100
    assert key.decrypt(pub.encrypt(123456789)) == 123456789


def test_keygen_is_reproducible_from_rng(sk: PaillierPrivateKey) -> None:
    again = PaillierPrivateKey.generate(BITS, drng(b"key-a"), insecure_for_testing=True)
    assert again == sk
    assert again.public_key == sk.public_key
    assert again.public_key.fingerprint() == sk.public_key.fingerprint()


@pytest.mark.parametrize("bits", [1024, 1536, 2047, 512])
def test_small_keys_need_the_testing_flag(bits: int) -> None:
    with pytest.raises(UnsupportedParameter):
        PaillierPrivateKey.generate(bits)


@pytest.mark.parametrize("bits", [256, 511, 1023, 2560, 8192, 4095])
def test_unsupported_sizes_rejected_even_for_tests(bits: int) -> None:
    with pytest.raises(UnsupportedParameter):
        PaillierPrivateKey.generate(bits, insecure_for_testing=True)


def test_key_size_must_be_an_int() -> None:
    with pytest.raises(InvalidInput):
        PaillierPrivateKey.generate(True)
    with pytest.raises(InvalidInput):
        PaillierPrivateKey.generate(3072.0)  # type: ignore[arg-type]


def test_private_key_needs_a_constructor() -> None:
    with pytest.raises(TypeError):
        PaillierPrivateKey()


# --- encryption and decryption -------------------------------------------------------------------


@PROPERTY
@given(m=st.integers(min_value=0, max_value=(1 << BITS) - 1), djn=st.booleans())
def test_round_trip(sk: PaillierPrivateKey, m: int, djn: bool) -> None:
    pub = sk.public_key
    m %= pub.n
    c = pub.encrypt(m, djn=djn)
    assert sk.decrypt(c) == m
    assert sk.raw_decrypt(pub.raw_encrypt(m, djn=djn)) == m


def test_edge_plaintexts(sk: PaillierPrivateKey, pk: PaillierPublicKey) -> None:
    for m in (0, 1, pk.n - 1, pk.n // 2):
        assert sk.decrypt(pk.encrypt(m)) == m
        assert sk.decrypt(pk.encrypt(m, djn=False)) == m


def test_encryption_is_probabilistic(pk: PaillierPublicKey) -> None:
    for djn in (True, False):
        a, b = pk.encrypt(7, djn=djn), pk.encrypt(7, djn=djn)
        assert a != b and a.value != b.value


def test_encrypt_many_matches_encrypt(sk: PaillierPrivateKey, pk: PaillierPublicKey) -> None:
    ms = [0, 1, 2, 99, pk.n - 1]
    for djn in (True, False):
        cs = pk.encrypt_many(ms, djn=djn)
        assert [sk.decrypt(c) for c in cs] == ms
        assert len({c.value for c in cs}) == len(ms)
    assert pk.encrypt_many([]) == []


def test_decrypt_many_threads(sk: PaillierPrivateKey, pk: PaillierPublicKey) -> None:
    ms = list(range(0, 50, 3))
    cs = pk.encrypt_many(ms)
    assert sk.decrypt_many(cs) == ms
    assert sk.decrypt_many(cs, threads=2) == ms
    assert sk.decrypt_many(cs, threads=4) == ms
    assert sk.decrypt_many([], threads=2) == []
    for bad in (0, -1, 65):
        with pytest.raises(InvalidInput):
            sk.decrypt_many(cs, threads=bad)


@pytest.mark.parametrize("m", [-1, "1", 1.0, True, None])
def test_bad_plaintexts_rejected(pk: PaillierPublicKey, m: object) -> None:
    with pytest.raises(InvalidInput):
        pk.encrypt(m)  # type: ignore[arg-type]


def test_plaintext_n_rejected(pk: PaillierPublicKey) -> None:
    with pytest.raises(InvalidInput):
        pk.encrypt(pk.n)
    with pytest.raises(InvalidInput):
        pk.raw_encrypt(pk.n, djn=False)


def test_precompute_is_lazy_and_idempotent(sk: PaillierPrivateKey) -> None:
    pub = PaillierPublicKey.from_bytes(sk.public_key.to_bytes(), insecure_for_testing=True)
    assert not table_built(pub)
    pub.encrypt(1, djn=False)
    assert not table_built(pub)
    pub.precompute()
    assert table_built(pub)
    pub.precompute()
    assert sk.decrypt(pub.encrypt(5)) == 5


def test_deterministic_rng_gives_deterministic_ciphertexts(pk: PaillierPublicKey) -> None:
    for djn in (True, False):
        assert pk.encrypt(3, drng(b"x"), djn=djn) == pk.encrypt(3, drng(b"x"), djn=djn)


def test_short_random_source_rejected(pk: PaillierPublicKey) -> None:
    class Short:
        def random_bytes(self, n: int) -> bytes:
            return bytes(max(0, n - 1))

    with pytest.raises(InvalidInput):
        pk.encrypt(1, Short())


def test_djn_mask_is_an_nth_residue(sk: PaillierPrivateKey, pk: PaillierPublicKey) -> None:
    # The DJN base h and every mask h^alpha lie in the n-th residues: an encryption of 0 has
    # c^(p-1) = 1 mod p^2.
    p, _ = primes_of(sk)
    c = pk.encrypt(0)
    assert pow(c.value, p - 1, p * p) == 1
    assert pow(pk.h, p - 1, p * p) == 1


# --- homomorphic operations ----------------------------------------------------------------------


@PROPERTY
@given(a=st.integers(min_value=0, max_value=2**80), b=st.integers(min_value=0, max_value=2**80))
def test_addition(sk: PaillierPrivateKey, a: int, b: int) -> None:
    pub = sk.public_key
    ca, cb = pub.encrypt(a), pub.encrypt(b)
    assert sk.decrypt(ca + cb) == a + b
    assert sk.decrypt(ca + b) == a + b
    assert sk.decrypt(b + ca) == a + b
    assert sk.decrypt(ca - cb) == (a - b) % pub.n
    assert sk.decrypt(ca - b) == (a - b) % pub.n


@PROPERTY
@given(
    a=st.integers(min_value=0, max_value=2**64), k=st.integers(min_value=-(2**64), max_value=2**64)
)
def test_plaintext_multiplication(sk: PaillierPrivateKey, a: int, k: int) -> None:
    pub = sk.public_key
    c = pub.encrypt(a)
    assert sk.decrypt(c * k) == (a * k) % pub.n
    assert sk.decrypt(k * c) == (a * k) % pub.n


def test_negation_and_large_scalars(sk: PaillierPrivateKey, pk: PaillierPublicKey) -> None:
    c = pk.encrypt(10)
    assert sk.decrypt(-c) == pk.n - 10
    assert sk.decrypt(c * (pk.n - 3)) == pk.n - 30
    assert sk.decrypt(c * (pk.n + 2)) == 20
    assert sk.decrypt(c * 0) == 0
    assert sk.decrypt(c + (-4)) == 6


def test_unsupported_operands(pk: PaillierPublicKey) -> None:
    c = pk.encrypt(1)
    with pytest.raises(TypeError):
        c + 1.5  # type: ignore[operator]
    with pytest.raises(TypeError):
        c * c  # type: ignore[operator]
    with pytest.raises(TypeError):
        c * True


def test_sum_ciphertexts(sk: PaillierPrivateKey, pk: PaillierPublicKey) -> None:
    values = list(range(1, 101))
    cs = pk.encrypt_many(values)
    assert sk.decrypt(sum_ciphertexts(cs)) == sum(values)
    assert sk.decrypt(sum_ciphertexts(iter(cs))) == sum(values)
    assert sk.decrypt(sum(cs[1:], cs[0])) == sum(values)
    assert sk.decrypt(sum_ciphertexts(cs[:1])) == 1
    with pytest.raises(InvalidInput):
        sum_ciphertexts([])
    with pytest.raises(InvalidInput):
        sum_ciphertexts([cs[0], 5])  # type: ignore[list-item]
    with pytest.raises(InvalidInput):
        sum_ciphertexts([5])  # type: ignore[list-item]


def test_rerandomisation(sk: PaillierPrivateKey, pk: PaillierPublicKey) -> None:
    c = pk.encrypt(77)
    for djn in (True, False):
        r = c.rerandomise(djn=djn)
        assert r != c and r.value != c.value
        assert sk.decrypt(r) == 77
    derived = c * 0
    assert derived.value == 1  # deterministic: why computed results must be rerandomised
    assert sk.decrypt(derived.rerandomise()) == 0
    assert derived.rerandomise().value != 1


def test_mixing_keys_rejected(
    sk: PaillierPrivateKey, other_sk: PaillierPrivateKey, pk: PaillierPublicKey
) -> None:
    a, b = pk.encrypt(1), other_sk.public_key.encrypt(2)
    with pytest.raises(InvalidInput):
        a + b
    with pytest.raises(InvalidInput):
        a - b
    with pytest.raises(InvalidInput):
        sum_ciphertexts([a, b])
    with pytest.raises(InvalidInput):
        sk.decrypt(b)
    with pytest.raises(InvalidInput):
        other_sk.decrypt(a)
    with pytest.raises(InvalidInput):
        PaillierEncoder(pk, 100).decrypt(other_sk, a)
    with pytest.raises(InvalidInput):
        sk.decrypt(a.value)  # type: ignore[arg-type]


def test_same_modulus_different_h_is_compatible(
    sk: PaillierPrivateKey, pk: PaillierPublicKey
) -> None:
    mine = PaillierPublicKey.from_modulus(pk.n, drng(b"h"), insecure_for_testing=True)
    assert mine.n == pk.n and mine.h != pk.h
    assert mine != pk and mine.fingerprint() != pk.fingerprint()
    total = mine.encrypt(5) + pk.encrypt(6)
    assert sk.decrypt(total) == 11


# --- signed encoding -----------------------------------------------------------------------------


@PROPERTY
@given(values=st.lists(st.integers(min_value=-(2**40), max_value=2**40), min_size=1, max_size=8))
def test_signed_sums(sk: PaillierPrivateKey, values: list[int]) -> None:
    enc = PaillierEncoder(sk.public_key, 2**48)
    for v in values:
        assert enc.decode(enc.encode(v)) == v
    total = sum_ciphertexts([enc.encrypt(v) for v in values])
    assert enc.decrypt(sk, total) == sum(values)
    assert enc.decode(sk.decrypt(total)) == sum(values)


def test_negative_encoding(pk: PaillierPublicKey) -> None:
    enc = PaillierEncoder(pk, 1000)
    assert enc.encode(-1) == pk.n - 1
    assert enc.encode(-1000) == pk.n - 1000
    assert enc.encode(1000) == 1000
    assert enc.decode(pk.n - 1000) == -1000
    assert enc.public_key is pk and enc.max_abs == 1000


def test_signed_scalar_multiplication(sk: PaillierPrivateKey, pk: PaillierPublicKey) -> None:
    enc = PaillierEncoder(pk, 2**32)
    c = enc.encrypt(-12)
    assert enc.decrypt(sk, c * 3) == -36
    assert enc.decrypt(sk, c * -3) == 36
    assert enc.decrypt(sk, c + enc.encrypt(20)) == 8


@pytest.mark.parametrize("max_abs", [1000, None])  # None: a bound too large for the mod-p path
def test_overflow_detected(
    sk: PaillierPrivateKey, pk: PaillierPublicKey, max_abs: int | None
) -> None:
    bound = pk.n // 4 if max_abs is None else max_abs
    enc = PaillierEncoder(pk, bound)
    top = enc.encrypt(bound)
    assert enc.decrypt(sk, top) == bound
    with pytest.raises(InvalidInput, match="overflow"):
        enc.decrypt(sk, top + enc.encrypt(1))
    bottom = enc.encrypt(-bound)
    assert enc.decrypt(sk, bottom) == -bound
    with pytest.raises(InvalidInput, match="overflow"):
        enc.decrypt(sk, bottom + enc.encrypt(-1))
    with pytest.raises(InvalidInput, match="overflow"):
        enc.decrypt(sk, top * 3)


def test_overflow_from_many_values(sk: PaillierPrivateKey, pk: PaillierPublicKey) -> None:
    enc = PaillierEncoder(pk, 100)
    cs = [enc.encrypt(30) for _ in range(4)]  # 120 > 100: the bound was chosen too small
    assert enc.decrypt(sk, sum_ciphertexts(cs[:3])) == 90
    with pytest.raises(InvalidInput, match="overflow"):
        enc.decrypt(sk, sum_ciphertexts(cs))
    with pytest.raises(InvalidInput, match="overflow"):
        enc.decode(sk.decrypt(sum_ciphertexts(cs)))


def test_encoder_rejections(pk: PaillierPublicKey) -> None:
    for bad in (0, -5, pk.n // 2 + 1, pk.n):
        with pytest.raises(InvalidInput):
            PaillierEncoder(pk, bad)
    with pytest.raises(InvalidInput):
        PaillierEncoder("pk", 5)  # type: ignore[arg-type]
    enc = PaillierEncoder(pk, 10)
    for value in (11, -11):
        with pytest.raises(InvalidInput):
            enc.encode(value)
    for plaintext in (-1, pk.n, 11, pk.n - 11):
        with pytest.raises(InvalidInput):
            enc.decode(plaintext)
    with pytest.raises(InvalidInput):
        enc.decrypt("sk", pk.encrypt(1))  # type: ignore[arg-type]


# --- serialisation -------------------------------------------------------------------------------


def test_ciphertext_bytes_round_trip(sk: PaillierPrivateKey, pk: PaillierPublicKey) -> None:
    c = pk.encrypt(31337)
    data = c.to_bytes()
    assert len(data) == pk.ciphertext_bytes == 2 * BITS // 8
    back = PaillierCiphertext.from_bytes(pk, data)
    assert back == c and hash(back) == hash(c) and back.public_key is pk
    assert sk.decrypt(back) == 31337
    assert PaillierCiphertext(pk, c.value) == c
    assert sk.decrypt(pickle.loads(pickle.dumps(c))) == 31337  # noqa: S301 - our own bytes
    assert "31337" not in repr(c) and str(c.value) not in repr(c)


def test_ciphertext_bytes_rejections(pk: PaillierPublicKey, other_sk: PaillierPrivateKey) -> None:
    size = pk.ciphertext_bytes
    good = pk.encrypt(1).to_bytes()
    nsq = pk.n_squared
    bad_inputs = [
        good[:-1],  # wrong length
        good + b"\x00",
        b"",
        bytes(size),  # zero
        nsq.to_bytes(size, "big"),  # = n^2, out of range
        (2 ** (8 * size) - 1).to_bytes(size, "big"),  # > n^2
        pk.n.to_bytes(size, "big"),  # not coprime to n
        (pk.n * 12345).to_bytes(size, "big"),
        (nsq - pk.n).to_bytes(size, "big"),
    ]
    for data in bad_inputs:
        with pytest.raises(InvalidInput):
            PaillierCiphertext.from_bytes(pk, data)
    with pytest.raises(InvalidInput):
        PaillierCiphertext.from_bytes(pk, "text")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        PaillierCiphertext.from_bytes("pk", good)  # type: ignore[arg-type]
    for value in (0, -1, nsq, pk.n):
        with pytest.raises(InvalidInput):
            PaillierCiphertext(pk, value)


def test_ciphertext_not_coprime_to_n_via_a_prime(
    sk: PaillierPrivateKey, pk: PaillierPublicKey
) -> None:
    p, q = primes_of(sk)
    for value in (p, q * q, p * 7):
        with pytest.raises(InvalidInput, match="coprime"):
            PaillierCiphertext.from_bytes(pk, value.to_bytes(pk.ciphertext_bytes, "big"))
        with pytest.raises(InvalidInput):
            sk.raw_decrypt(value)


def test_ciphertext_from_another_key_size(pk: PaillierPublicKey) -> None:
    small = PaillierPrivateKey.generate(768, drng(b"768"), insecure_for_testing=True).public_key
    with pytest.raises(InvalidInput):
        PaillierCiphertext.from_bytes(pk, small.encrypt(1).to_bytes())


def test_public_key_round_trip(pk: PaillierPublicKey) -> None:
    data = pk.to_bytes()
    back = PaillierPublicKey.from_bytes(data, insecure_for_testing=True)
    assert back == pk and hash(back) == hash(pk)
    assert back.fingerprint() == pk.fingerprint()
    assert len(pk.fingerprint()) == 64
    assert PaillierPublicKey(pk.n, pk.h, insecure_for_testing=True) == pk
    assert pickle.loads(pickle.dumps(pk)) == pk  # noqa: S301
    assert copy.deepcopy(pk) == pk
    assert str(pk.n) not in repr(pk)


def test_private_key_round_trip(sk: PaillierPrivateKey) -> None:
    back = PaillierPrivateKey.from_bytes(sk.to_bytes(), insecure_for_testing=True)
    assert back == sk and hash(back) == hash(sk)
    assert back.public_key == sk.public_key
    assert back.decrypt(sk.public_key.encrypt(4242)) == 4242
    assert pickle.loads(pickle.dumps(sk)) == sk  # noqa: S301


def test_private_key_hides_primes(sk: PaillierPrivateKey) -> None:
    p, q = primes_of(sk)
    for text in (repr(sk), str(sk), f"{sk}"):
        assert str(p) not in text and str(q) not in text
        assert hex(p)[2:12] not in text
        assert "hidden" in text


def test_immutability(sk: PaillierPrivateKey, pk: PaillierPublicKey) -> None:
    c = pk.encrypt(1)
    enc = PaillierEncoder(pk, 5)
    for obj, name in ((sk, "_p"), (pk, "_n"), (c, "_v"), (enc, "_max_abs")):
        with pytest.raises(AttributeError):
            setattr(obj, name, 3)
    for obj, name in ((sk, "_p"), (pk, "_n"), (c, "_v"), (enc, "_max_abs")):
        with pytest.raises(AttributeError):
            delattr(obj, name)


def test_small_key_bytes_need_the_testing_flag(
    sk: PaillierPrivateKey, pk: PaillierPublicKey
) -> None:
    with pytest.raises(UnsupportedParameter):
        PaillierPublicKey.from_bytes(pk.to_bytes())
    with pytest.raises(UnsupportedParameter):
        PaillierPrivateKey.from_bytes(sk.to_bytes())
    with pytest.raises(UnsupportedParameter):
        PaillierPublicKey(pk.n, pk.h)
    with pytest.raises(UnsupportedParameter):
        PaillierPublicKey.from_modulus(pk.n)


def test_malformed_public_key_bytes(sk: PaillierPrivateKey, pk: PaillierPublicKey) -> None:
    nbytes = BITS // 8
    n, h = pk.n, pk.h
    p, q = primes_of(sk)
    nsq = n * n
    square = gmpy2.next_prime(3 << 510) ** 2
    prime_n = int(gmpy2.next_prime((1 << 1023) + 12345))
    cases = [
        b"",
        b"garbage",
        pk.to_bytes()[:-1],
        pk.to_bytes() + b"\x00",
        encode_parts(
            [b"petsuite/paillier/public-key/v2", n.to_bytes(nbytes, "big"), h.to_bytes(256, "big")]
        ),
        encode_parts([b"petsuite/paillier/public-key/v1", n.to_bytes(nbytes, "big")]),
        encode_parts(
            [
                b"petsuite/paillier/public-key/v1",
                b"\x00" + n.to_bytes(nbytes, "big"),
                h.to_bytes(258, "big"),
            ]
        ),
        encode_parts(
            [
                b"petsuite/paillier/public-key/v1",
                n.to_bytes(nbytes, "big"),
                h.to_bytes(256, "big")[1:],
            ]
        ),
        public_bytes(n + 1, h, nbytes),  # even n
        public_bytes(int(square), 4, nbytes),  # perfect square
        public_bytes(prime_n, 4, nbytes),  # prime n
        public_bytes(3 * (n // 3 | 1), h, nbytes),  # divisible by 3
        public_bytes(n, 1, nbytes),  # h = 1
        public_bytes(n, 0, nbytes),
        public_bytes(n, nsq - 1, nbytes),  # h = -1
        public_bytes(n, p, nbytes),  # h not a unit
    ]
    for data in cases:
        with pytest.raises(InvalidInput):
            PaillierPublicKey.from_bytes(data, insecure_for_testing=True)
    with pytest.raises(InvalidInput):
        PaillierPublicKey.from_bytes("text", insecure_for_testing=True)  # type: ignore[arg-type]
    # A unit of small order (a square root of 1 other than +-1) is refused too.
    root = int(gmpy2.mpz(p * p) * gmpy2.invert(p * p, q * q) * 2 - 1) % nsq
    assert pow(root, 2, nsq) == 1 and root not in (1, nsq - 1)
    with pytest.raises(InvalidInput, match="small order"):
        PaillierPublicKey(n, root, insecure_for_testing=True)


def test_even_modulus_rejected() -> None:
    n = (1 << 2047) + 2  # an even 2048-bit "modulus"
    with pytest.raises(InvalidInput, match="odd"):
        PaillierPublicKey(n, 4)
    with pytest.raises(InvalidInput, match="odd"):
        PaillierPublicKey.from_modulus(n)


def test_malformed_private_key_bytes(sk: PaillierPrivateKey, other_sk: PaillierPrivateKey) -> None:
    pk_bytes = sk.public_key.to_bytes()
    p, q = primes_of(sk)
    op, oq = primes_of(other_sk)

    def blob(
        public: bytes, a: int, b: int, label: bytes = b"petsuite/paillier/private-key/v1"
    ) -> bytes:
        return encode_parts(
            [
                label,
                public,
                a.to_bytes((a.bit_length() + 7) // 8 or 1, "big"),
                b.to_bytes((b.bit_length() + 7) // 8 or 1, "big"),
            ]
        )

    assert PaillierPrivateKey.from_bytes(blob(pk_bytes, q, p), insecure_for_testing=True) == sk
    nsq = sk.public_key.n_squared
    tampered_h = sk.public_key.h * (1 + sk.public_key.n) % nsq  # still a unit, not an n-th residue
    tampered_pk = public_bytes(sk.public_key.n, tampered_h, BITS // 8)
    PaillierPublicKey.from_bytes(tampered_pk, insecure_for_testing=True)  # passes public checks
    cases = [
        b"",
        sk.to_bytes()[:-1],
        blob(pk_bytes, p, q, label=b"petsuite/paillier/private-key/v0"),
        encode_parts([b"petsuite/paillier/private-key/v1", pk_bytes, p.to_bytes(64, "big")]),
        encode_parts(
            [
                b"petsuite/paillier/private-key/v1",
                pk_bytes,
                b"\x00" + p.to_bytes(64, "big"),
                q.to_bytes(64, "big"),
            ]
        ),
        blob(pk_bytes, p, p),  # p = q
        blob(pk_bytes, p + 2, q),  # not prime (p + 2 is even-adjacent; p+2 composite or wrong n)
        blob(pk_bytes, op, oq),  # primes of another key: n != p*q
        blob(pk_bytes, p * 3, q),  # composite
        blob(tampered_pk, p, q),  # h fails the residuosity check
        blob(other_sk.public_key.to_bytes(), p, q),
    ]
    for data in cases:
        with pytest.raises(InvalidInput):
            PaillierPrivateKey.from_bytes(data, insecure_for_testing=True)


def test_from_primes_validation(sk: PaillierPrivateKey) -> None:
    p, q = primes_of(sk)
    built = PaillierPrivateKey.from_primes(q, p, drng(b"fp"), insecure_for_testing=True)
    assert built.public_key.n == sk.public_key.n
    assert built.decrypt(sk.public_key.encrypt(9)) == 9
    assert sk.decrypt(built.public_key.encrypt(10)) == 10
    close = int(gmpy2.next_prime(p))
    bad = [(p, p), (p, q * 3), (p * 5, q), (4, q), (p, close), (True, q), (p, 1.5)]
    for a, b in bad:
        with pytest.raises(InvalidInput):
            PaillierPrivateKey.from_primes(a, b, insecure_for_testing=True)  # type: ignore[arg-type]
    with pytest.raises(UnsupportedParameter):
        PaillierPrivateKey.from_primes(p, q)


# --- interoperability with phe (python-paillier) -------------------------------------------------


def test_raw_encrypt_with_randomness_is_textbook(
    sk: PaillierPrivateKey, pk: PaillierPublicKey
) -> None:
    r = 1234567
    c = pk.raw_encrypt_with_randomness(42, r)
    assert c == (1 + 42 * pk.n) * pow(r, pk.n, pk.n_squared) % pk.n_squared
    assert sk.raw_decrypt(c) == 42
    for bad_r in (0, pk.n, primes_of(sk)[0], -3):
        with pytest.raises(InvalidInput):
            pk.raw_encrypt_with_randomness(1, bad_r)


def test_phe_interoperability() -> None:
    phe_paillier = pytest.importorskip("phe.paillier")
    phe_pk, phe_sk = phe_paillier.generate_paillier_keypair(n_length=BITS)
    ours = PaillierPrivateKey.from_primes(phe_sk.p, phe_sk.q, insecure_for_testing=True)
    pub = ours.public_key
    assert pub.n == phe_pk.n
    for m in (0, 1, 123456789, phe_pk.n - 1):
        assert ours.raw_decrypt(phe_pk.raw_encrypt(m)) == m  # phe -> ours
        assert phe_sk.raw_decrypt(pub.encrypt(m, djn=False).value) == m  # ours (classic) -> phe
        assert phe_sk.raw_decrypt(pub.encrypt(m).value) == m  # ours (DJN) -> phe
    r = 987654321
    assert pub.raw_encrypt_with_randomness(77, r) == phe_pk.raw_encrypt(77, r_value=r)
    # Homomorphic results agree across the libraries.
    total = pub.encrypt(5) + PaillierCiphertext(pub, phe_pk.raw_encrypt(6))
    assert phe_sk.raw_decrypt(total.value) == 11
