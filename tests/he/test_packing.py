"""Paillier packing (slot sums, overflow detection, parameter refusal) and the parallel vector APIs."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from petsuite.core.errors import InvalidInput, UnsupportedParameter
from petsuite.core.rng import DeterministicRandom
from petsuite.he.packing import (
    PackedVector,
    PackingScheme,
    decrypt_packed,
    decrypt_vector,
    encrypt_packed,
    encrypt_vector,
    packed_sum,
    shutdown_pool,
)
from petsuite.primitives.paillier import PaillierPrivateKey, PaillierPublicKey, sum_ciphertexts

BITS = 1024
BACKENDS = ("inline", "thread", "process")


class Replay:
    """Serves pre-drawn bytes in order."""

    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def random_bytes(self, n: int) -> bytes:
        out = self.data[self.pos : self.pos + n]
        assert len(out) == n
        self.pos += n
        return out


def drng(tag: bytes) -> DeterministicRandom:
    return DeterministicRandom(hashlib.sha256(b"packing" + tag).digest(), insecure_for_testing=True)


@pytest.fixture(scope="module", autouse=True)
def _pool() -> Iterator[None]:
    yield
    shutdown_pool()


@pytest.fixture(scope="module")
def sk() -> PaillierPrivateKey:
    return PaillierPrivateKey.generate(BITS, drng(b"key-a"), insecure_for_testing=True)


@pytest.fixture(scope="module")
def other_sk() -> PaillierPrivateKey:
    return PaillierPrivateKey.generate(BITS, drng(b"key-b"), insecure_for_testing=True)


@pytest.fixture(scope="module")
def pk(sk: PaillierPrivateKey) -> PaillierPublicKey:
    return sk.public_key


# --- scheme parameters ----------------------------------------------------------------------------


def test_minimum_slot_bits() -> None:
    assert PackingScheme.minimum_slot_bits(16, 1) == 17
    assert PackingScheme.minimum_slot_bits(16, 2) == 18
    assert PackingScheme.minimum_slot_bits(16, 1000) == 16 + 10 + 1
    assert PackingScheme.minimum_slot_bits(16, 1024) == 16 + 10 + 1
    assert PackingScheme.minimum_slot_bits(16, 1025) == 16 + 11 + 1


def test_for_key(pk: PaillierPublicKey) -> None:
    scheme = PackingScheme.for_key(pk, value_bits=16, max_terms=50)
    assert scheme.slot_bits == 16 + 6 + 1
    assert scheme.slots == (BITS - 1) // scheme.slot_bits == 44
    assert scheme.slots * scheme.slot_bits < BITS
    wide = PackingScheme.for_key(pk, value_bits=16, max_terms=50, slot_bits=32)
    assert wide.slots == (BITS - 1) // 32


def test_unsafe_parameters_refused(pk: PaillierPublicKey) -> None:
    with pytest.raises(UnsupportedParameter, match="carry"):
        PackingScheme.for_key(pk, value_bits=16, max_terms=50, slot_bits=22)
    with pytest.raises(UnsupportedParameter, match="does not fit"):
        PackingScheme.for_key(pk, value_bits=16, max_terms=1, slot_bits=BITS)
    with pytest.raises(UnsupportedParameter):
        PackingScheme.for_key(pk, value_bits=0, max_terms=4)
    with pytest.raises(UnsupportedParameter):
        PackingScheme.for_key(pk, value_bits=16, max_terms=0)
    with pytest.raises(UnsupportedParameter, match="overflow the plaintext"):
        PackingScheme(key_bits=BITS, value_bits=8, max_terms=2, slot_bits=10, slots=103)
    with pytest.raises(UnsupportedParameter, match="does not fit"):
        PackingScheme.for_key(pk, value_bits=1000, max_terms=2**30)
    with pytest.raises(InvalidInput):
        PackingScheme.for_key(pk, value_bits=True, max_terms=4)


def test_pack_rejects_out_of_range_values(pk: PaillierPublicKey) -> None:
    scheme = PackingScheme.for_key(pk, value_bits=8, max_terms=4)
    for bad in (-1, 256, True, 1.0):
        with pytest.raises(InvalidInput):
            scheme.pack([1, bad])  # type: ignore[list-item]


@settings(max_examples=50, deadline=None)
@given(
    value_bits=st.integers(1, 40),
    max_terms=st.integers(1, 5000),
    data=st.data(),
)
def test_pack_unpack_round_trip(value_bits: int, max_terms: int, data: st.DataObject) -> None:
    need = PackingScheme.minimum_slot_bits(value_bits, max_terms)
    slots = (BITS - 1) // need
    scheme = PackingScheme(BITS, value_bits, max_terms, need, slots)
    values = data.draw(st.lists(st.integers(0, (1 << value_bits) - 1), max_size=3 * slots))
    packed = scheme.pack(values)
    assert len(packed) == scheme.ciphertexts_for(len(values))
    assert all(0 <= m < 1 << (BITS - 1) for m in packed)
    assert scheme.unpack(packed, len(values)) == values
    # the plaintext sum of max_terms copies never carries
    summed = [m * max_terms for m in packed]
    assert scheme.unpack(summed, len(values), terms=max_terms) == [v * max_terms for v in values]


# --- encrypted sums and overflow ------------------------------------------------------------------


def test_packed_sums_equal_plaintext_sums(sk: PaillierPrivateKey, pk: PaillierPublicKey) -> None:
    scheme = PackingScheme.for_key(pk, value_bits=16, max_terms=40)
    count = 100  # three ciphertexts of 44, 44 and 12 slots
    rows = [
        [
            int.from_bytes(hashlib.sha256(b"%d/%d" % (r, i)).digest()[:2], "big")
            for i in range(count)
        ]
        for r in range(40)
    ]
    rows[0] = [scheme.max_value] * count  # the extremes are in there
    vectors = [encrypt_packed(pk, row, scheme, rng=drng(b"%d" % r)) for r, row in enumerate(rows)]
    assert all(len(v.ciphertexts) == 3 for v in vectors)
    total = packed_sum(vectors)
    assert total.terms == 40
    assert decrypt_packed(sk, total) == [sum(col) for col in zip(*rows, strict=True)]
    pair = vectors[0] + vectors[1]
    assert pair.terms == 2
    assert decrypt_packed(sk, pair) == [a + b for a, b in zip(rows[0], rows[1], strict=True)]
    assert decrypt_packed(sk, vectors[5]) == rows[5]


def test_all_max_values_at_max_terms(sk: PaillierPrivateKey, pk: PaillierPublicKey) -> None:
    scheme = PackingScheme.for_key(pk, value_bits=4, max_terms=3)  # 4 + 2 + 1 = 7-bit slots
    row = [15] * scheme.slots
    v = encrypt_packed(pk, row, scheme)
    assert decrypt_packed(sk, packed_sum([v, v, v])) == [45] * scheme.slots


def test_too_many_terms_refused(pk: PaillierPublicKey) -> None:
    scheme = PackingScheme.for_key(pk, value_bits=4, max_terms=2)
    v = encrypt_packed(pk, [1, 2, 3], scheme)
    assert (v + v).terms == 2
    with pytest.raises(InvalidInput, match="overflow"):
        packed_sum([v, v, v])
    with pytest.raises(InvalidInput, match="overflow"):
        (v + v) + v


def test_unpack_detects_carried_slots(sk: PaillierPrivateKey, pk: PaillierPublicKey) -> None:
    """Sums made around the term count (raw ciphertext sums) are caught when they unpack."""
    scheme = PackingScheme.for_key(pk, value_bits=4, max_terms=2)  # 6-bit slots, guard bit 32
    count = scheme.slots
    v = encrypt_packed(pk, [15] * count, scheme)

    def raw_sum(k: int, claimed_terms: int) -> PackedVector:
        cts = tuple(sum_ciphertexts([c] * k) for c in v.ciphertexts)
        return PackedVector(scheme, count, claimed_terms, cts)

    with pytest.raises(InvalidInput, match="overflow"):
        decrypt_packed(sk, raw_sum(2, 1))  # 30 > 1 term of 15
    with pytest.raises(InvalidInput, match="overflow"):
        decrypt_packed(sk, raw_sum(3, 2))  # 45: guard bit set, and above 2 terms
    with pytest.raises(InvalidInput, match="overflow"):
        decrypt_packed(sk, raw_sum(5, 2))  # 75 ≥ 64: every slot carries, the top one out of range
    short = encrypt_packed(pk, [15] * (count - 1), scheme)
    cts = tuple(sum_ciphertexts([c] * 5) for c in short.ciphertexts)
    with pytest.raises(InvalidInput, match="unused slot"):
        decrypt_packed(sk, PackedVector(scheme, count - 1, 2, cts))
    assert decrypt_packed(sk, raw_sum(2, 2)) == [30] * count


def test_unpack_rejects_crafted_plaintexts(pk: PaillierPublicKey) -> None:
    scheme = PackingScheme.for_key(pk, value_bits=4, max_terms=2)
    top = scheme.slots * scheme.slot_bits
    with pytest.raises(InvalidInput, match="above the top slot"):
        scheme.unpack([1 << top], scheme.slots)
    with pytest.raises(InvalidInput, match="overflow"):
        scheme.unpack([1 << (scheme.slot_bits - 1)], 1)
    with pytest.raises(InvalidInput, match="cannot hold"):
        scheme.unpack([0, 0], 1)
    with pytest.raises(InvalidInput, match="terms"):
        scheme.unpack([0], 1, terms=3)


def test_packed_vectors_must_match(sk: PaillierPrivateKey, other_sk: PaillierPrivateKey) -> None:
    pk = sk.public_key
    scheme = PackingScheme.for_key(pk, value_bits=8, max_terms=4)
    wide = PackingScheme.for_key(pk, value_bits=8, max_terms=8)
    a = encrypt_packed(pk, [1, 2], scheme)
    with pytest.raises(InvalidInput, match="scheme or count"):
        packed_sum([a, encrypt_packed(pk, [1, 2], wide)])
    with pytest.raises(InvalidInput, match="scheme or count"):
        packed_sum([a, encrypt_packed(pk, [1, 2, 3], scheme)])
    with pytest.raises(InvalidInput, match="different Paillier key"):
        packed_sum([a, encrypt_packed(other_sk.public_key, [1, 2], scheme)])
    with pytest.raises(InvalidInput, match="different Paillier key"):
        decrypt_packed(other_sk, a)
    with pytest.raises(InvalidInput, match="empty"):
        packed_sum([])
    assert "ciphertexts=1" in repr(a)


# --- vector APIs ----------------------------------------------------------------------------------


@pytest.mark.parametrize("djn", [True, False])
def test_encrypt_vector_matches_across_backends(
    sk: PaillierPrivateKey, pk: PaillierPublicKey, djn: bool
) -> None:
    values = [0, 1, pk.n - 1, *range(2, 40)]
    results = {
        backend: encrypt_vector(
            pk,
            values,
            rng=drng(b"enc"),
            djn=djn,
            workers=2,
            backend=backend,  # type: ignore[arg-type]
            parallel_threshold=1,
        )
        for backend in BACKENDS
    }
    assert results["inline"] == results["thread"] == results["process"]
    assert [sk.decrypt(c) for c in results["inline"]] == values
    if djn:  # the primitive's own loop, fed the same DJN exponents, gives the same ciphertexts
        pooled = drng(b"enc").random_bytes(pk.djn_exponent_bits // 8 * len(values))
        assert pk.encrypt_many(values, Replay(pooled)) == results["inline"]
    fresh = encrypt_vector(pk, values[:5])
    assert fresh != results["inline"][:5]  # OS randomness: fresh ciphertexts
    assert [sk.decrypt(c) for c in fresh] == values[:5]


def test_decrypt_vector_matches_per_element(sk: PaillierPrivateKey, pk: PaillierPublicKey) -> None:
    cts = pk.encrypt_many(range(0, 3000, 97))
    cts.append(sum_ciphertexts(cts))
    expected = [sk.decrypt(c) for c in cts]
    for backend in BACKENDS:
        got = decrypt_vector(sk, cts, workers=2, backend=backend, parallel_threshold=1)  # type: ignore[arg-type]
        assert got == expected
    assert decrypt_vector(sk, cts) == expected  # defaults


def test_vector_apis_validate(sk: PaillierPrivateKey, other_sk: PaillierPrivateKey) -> None:
    pk = sk.public_key
    assert encrypt_vector(pk, []) == []
    assert decrypt_vector(sk, []) == []
    with pytest.raises(InvalidInput):
        encrypt_vector(pk, [pk.n])
    with pytest.raises(InvalidInput):
        encrypt_vector(pk, [-1])
    with pytest.raises(InvalidInput):
        encrypt_vector(pk, [1], backend="gpu")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        encrypt_vector(pk, [1], workers=0)
    with pytest.raises(InvalidInput):
        decrypt_vector(sk, [1], workers=2)  # type: ignore[list-item]
    with pytest.raises(InvalidInput, match="different Paillier key"):
        decrypt_vector(sk, other_sk.public_key.encrypt_many([1, 2]), backend="process")
    with pytest.raises(InvalidInput):
        decrypt_vector(sk, [], parallel_threshold=0)
