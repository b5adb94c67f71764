"""Tests of petsuite.he.seal: CKKS/BFV through TenSEAL, parameters, keys, envelopes, analytics."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import tenseal as ts  # type: ignore[import-untyped]
from hypothesis import given, settings
from hypothesis import strategies as st

from petsuite.core.encoding import decode_parts
from petsuite.core.errors import InvalidInput, UnsupportedParameter
from petsuite.he import seal
from petsuite.he.seal import (
    HE_STANDARD_MAX_LOG_Q,
    SIGMOID_POLY3_INTERVAL,
    SIGMOID_POLY3_MAX_ERROR,
    BfvParameters,
    CkksParameters,
    HeEvaluationContext,
    HeMoments,
    HeScalar,
    HeScheme,
    HeSecretKeyring,
    HeVector,
    linear_scores,
    round_output,
    sigmoid_poly3,
)

# --- fixtures (key generation stays out of hypothesis loops) -------------------------------------


@pytest.fixture(scope="module")
def ckks1() -> HeSecretKeyring:
    """Depth 1, N=8192: 4096 slots."""
    return HeSecretKeyring.generate(CkksParameters.choose(1))


@pytest.fixture(scope="module")
def ckks2() -> HeSecretKeyring:
    """Depth 2, N=8192: enough for a degree-3 polynomial."""
    return HeSecretKeyring.generate(CkksParameters.choose(2))


@pytest.fixture(scope="module")
def other_ckks1() -> HeSecretKeyring:
    """Same parameters as ``ckks1``, another key pair."""
    return HeSecretKeyring.generate(CkksParameters.choose(1))


@pytest.fixture(scope="module")
def bfv() -> HeSecretKeyring:
    return HeSecretKeyring.generate(BfvParameters.choose(1, plain_modulus_bits=30))


@pytest.fixture(scope="module")
def eval_bytes(ckks1: HeSecretKeyring) -> bytes:
    return ckks1.evaluation_context().to_bytes()


def _wave(n: int, scale: float = 1.0, phase: float = 0.0) -> np.ndarray:
    """Deterministic, irregular test data (no numpy generators in this project)."""
    i = np.arange(n, dtype=np.float64)
    return scale * np.sin(0.37 * i + phase) * np.cos(0.011 * i)


# --- parameters ----------------------------------------------------------------------------------


def test_standard_table_values() -> None:
    assert dict(HE_STANDARD_MAX_LOG_Q[128]) == {4096: 109, 8192: 218, 16384: 438, 32768: 881}
    assert dict(HE_STANDARD_MAX_LOG_Q[192]) == {4096: 75, 8192: 152, 16384: 305, 32768: 611}
    assert dict(HE_STANDARD_MAX_LOG_Q[256]) == {4096: 58, 8192: 118, 16384: 237, 32768: 476}


@pytest.mark.parametrize("depth", [1, 2, 3, 4, 5, 6])
def test_ckks_choose_depths(depth: int) -> None:
    p = CkksParameters.choose(depth)
    assert p.depth == depth
    assert p.precision_bits >= 25 and p.integer_bits >= 20
    assert p.total_bits <= HE_STANDARD_MAX_LOG_Q[128][p.poly_modulus_degree]
    assert all(b <= 60 for b in p.coeff_mod_bit_sizes)
    assert p.slots == p.poly_modulus_degree // 2 and p.security_bits == 128
    assert p.scheme is HeScheme.CKKS
    smaller = p.poly_modulus_degree // 2
    if smaller in HE_STANDARD_MAX_LOG_Q[128]:
        # the same request does not fit the next smaller ring
        scale = 25 + smaller.bit_length()
        assert 2 * (scale + 20) + depth * scale > HE_STANDARD_MAX_LOG_Q[128][smaller]
    assert CkksParameters.from_dict(p.to_dict()) == p


def test_ckks_choose_known_values() -> None:
    assert CkksParameters.choose(1).coeff_mod_bit_sizes == (59, 39, 59)
    assert CkksParameters.choose(3) == CkksParameters(16384, (60, 40, 40, 40, 60), 40)
    small = CkksParameters.choose(1, precision_bits=10, integer_bits=10)
    assert small.poly_modulus_degree == 4096 and small.total_bits <= 109


def test_ckks_choose_refuses() -> None:
    with pytest.raises(UnsupportedParameter):
        CkksParameters.choose(30)
    with pytest.raises(UnsupportedParameter):
        CkksParameters.choose(1, security_bits=100)
    with pytest.raises(UnsupportedParameter):
        CkksParameters.choose(1, precision_bits=40, integer_bits=20)  # primes over 60 bits


def test_ckks_other_security_levels() -> None:
    for sec in (192, 256):
        p = CkksParameters.choose(2, security_bits=sec)
        assert p.security_bits == sec
        assert p.total_bits <= HE_STANDARD_MAX_LOG_Q[sec][p.poly_modulus_degree]


def test_ckks_direct_construction_validated() -> None:
    with pytest.raises(UnsupportedParameter, match="insecure"):
        CkksParameters(4096, (60, 40, 40, 60), 40)  # 200 bits > 109
    with pytest.raises(UnsupportedParameter, match="insecure"):
        CkksParameters(8192, (60, 40, 40, 60), 40, security_bits=256)  # 200 > 118
    with pytest.raises(UnsupportedParameter):
        CkksParameters(8192, (60, 40, 30, 60), 40)  # middle prime differs from the scale
    with pytest.raises(UnsupportedParameter):
        CkksParameters(2048, (30, 20, 30), 20)  # N not in the table
    with pytest.raises(UnsupportedParameter):
        CkksParameters(8192, (60, 40, 50), 40)  # special prime smaller than the first
    with pytest.raises(InvalidInput):
        CkksParameters.from_dict({**CkksParameters.choose(1).to_dict(), "extra": 1})


def test_bfv_choose() -> None:
    for depth in (0, 1, 2, 3):
        p = BfvParameters.choose(depth)
        t, n = p.plain_modulus, p.poly_modulus_degree
        assert p.depth >= depth and t % (2 * n) == 1 and t.bit_length() == 20
        assert p.total_bits <= HE_STANDARD_MAX_LOG_Q[128][n]
        assert BfvParameters.from_dict(p.to_dict()) == p
    assert BfvParameters.choose(1, security_bits=192).security_bits == 192
    with pytest.raises(UnsupportedParameter):
        BfvParameters.choose(30)
    p = BfvParameters.choose(1)
    with pytest.raises(UnsupportedParameter):
        BfvParameters(p.poly_modulus_degree, p.plain_modulus + 2, p.coeff_mod_bit_sizes)
    with pytest.raises(UnsupportedParameter, match="insecure"):
        BfvParameters(4096, p.plain_modulus, (40, 40, 40))


# --- CKKS round trips and analytics --------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(-1000.0, 1000.0), min_size=1, max_size=40))
def test_ckks_round_trip_hypothesis(ckks1: HeSecretKeyring, values: list[float]) -> None:
    got = ckks1.decrypt(ckks1.encrypt(values))
    assert got.shape == (len(values),)
    assert np.max(np.abs(got - np.array(values))) <= ckks1.expected_error("encrypt")


def test_ckks_multi_ciphertext_sum_mean(ckks1: HeSecretKeyring) -> None:
    slots = ckks1.params.slots
    x = _wave(2 * slots + 123, 10.0)
    v = ckks1.encrypt(x)
    assert v.ciphertexts == 3 and len(v) == x.size
    assert np.max(np.abs(ckks1.decrypt(v) - x)) <= ckks1.expected_error("encrypt")
    n_slots = v.ciphertexts * slots
    assert abs(ckks1.decrypt_scalar(v.sum()) - x.sum()) <= ckks1.expected_error("sum", n_slots)
    mean_err = ckks1.expected_error("mean", n_slots)
    assert abs(ckks1.decrypt_scalar(v.mean()) - x.mean()) <= mean_err


def test_ckks_padding_never_counts(ckks2: HeSecretKeyring) -> None:
    slots = ckks2.params.slots
    x = _wave(slots + 7, 0.5)
    v = ckks2.encrypt(x)
    shifted = v.add(3.0)  # padding slots now hold 3.0
    assert abs(ckks2.decrypt_scalar(shifted.sum()) - (x + 3.0).sum()) < 1e-3
    poly = v.polyval([1.5, 0.0, 2.0])  # padding slots now hold 1.5
    assert abs(ckks2.decrypt_scalar(poly.sum()) - (1.5 + 2.0 * x * x).sum()) < 1e-2


def test_slot_sums_finished_by_owner(ckks1: HeSecretKeyring, bfv: HeSecretKeyring) -> None:
    slots = ckks1.params.slots
    x = _wave(2 * slots + 5, 3.0)
    v = ckks1.encrypt(x).add(1.0)  # padding holds 1.0, cancelled by slot_sums
    partial = ckks1.decrypt(v.slot_sums())
    assert partial.shape == (slots,)
    assert abs(float(partial.sum()) - (x + 1.0).sum()) <= ckks1.expected_error("sum", 3 * slots)
    squares = ckks1.decrypt(ckks1.encrypt(x).slot_sums_of_squares())
    err = ckks1.expected_error("sum_of_squares", 3 * slots, magnitude=3.0)
    assert abs(float(squares.sum()) - float(x @ x)) <= err
    short = ckks1.decrypt(ckks1.encrypt(x[:10]).slot_sums())
    assert short.shape == (10,)
    ints = np.arange(bfv.params.slots + 3) - 40
    exact = bfv.decrypt(bfv.encrypt(ints).add(2).slot_sums())
    assert int(exact.sum()) == int((ints + 2).sum())
    cols = [ckks1.encrypt(x[:100]), ckks1.encrypt(x[100:200])]
    combined = ckks1.decrypt(HeVector.linear_combination(cols, [2.0, -1.0], 0.5))
    assert np.max(np.abs(combined - (2 * x[:100] - x[100:200] + 0.5))) < 1e-4


def test_ckks_statistics_match_numpy(ckks1: HeSecretKeyring) -> None:
    x = _wave(5000, 4.0, 0.3) + 1.0
    w = _wave(5000, 2.0, 1.1)
    v = ckks1.encrypt(x, bound=5.0)
    n = v.ciphertexts * ckks1.params.slots
    m, wm = float(np.max(np.abs(x))), float(np.max(np.abs(w)))

    ssq = ckks1.decrypt_scalar(v.sum_of_squares())
    assert abs(ssq - float(x @ x)) <= ckks1.expected_error("sum_of_squares", n, magnitude=m)
    moments = v.variance()
    var_err = ckks1.expected_error("variance", n, magnitude=m)
    assert abs(ckks1.decrypt_variance(moments) - x.var()) <= var_err
    assert abs(ckks1.decrypt_variance(moments, ddof=1) - x.var(ddof=1)) <= 2 * var_err
    dot_err = ckks1.expected_error("dot", n, magnitude=m, weight=wm)
    assert abs(ckks1.decrypt_scalar(v.dot(w)) - float(x @ w)) <= dot_err
    enc_w = ckks1.encrypt(w)
    assert abs(ckks1.decrypt_scalar(v.dot_encrypted(enc_w)) - float(x @ w)) <= dot_err
    product = ckks1.decrypt(v.multiply(enc_w))
    assert np.max(np.abs(product - x * w)) <= ckks1.expected_error("dot", 1, magnitude=m, weight=wm)


def test_ckks_matvec(ckks1: HeSecretKeyring) -> None:
    d, k = 20, 6
    x = _wave(d, 2.0)
    w = _wave(k * d, 1.0, 0.5).reshape(k, d)
    got = ckks1.decrypt(ckks1.encrypt(x).matvec(w))
    assert got.shape == (k,)
    bound = ckks1.expected_error("matvec", d, magnitude=2.0, weight=1.0)
    assert np.max(np.abs(got - w @ x)) <= bound
    with pytest.raises(InvalidInput):
        ckks1.encrypt(x).matvec(w.T)  # wrong shape
    with pytest.raises(UnsupportedParameter):
        ckks1.encrypt(x).multiply(x).matvec(w)  # no longer replicated (and out of depth)
    with pytest.raises(UnsupportedParameter):
        ckks1.encrypt(_wave(ckks1.params.slots + 1)).matvec(np.ones((2, ckks1.params.slots + 1)))


def test_ckks_polyval_sigmoid(ckks2: HeSecretKeyring) -> None:
    coeffs = sigmoid_poly3()
    grid = np.linspace(*SIGMOID_POLY3_INTERVAL, 100_001)
    approx = np.polyval(coeffs[::-1], grid)
    assert np.max(np.abs(approx - 1 / (1 + np.exp(-grid)))) <= SIGMOID_POLY3_MAX_ERROR
    x = _wave(3000, 5.0)
    v = ckks2.encrypt(x)
    got = ckks2.decrypt(v.polyval(coeffs))
    bound = ckks2.expected_error("polyval", magnitude=5.0, coefficients=coeffs)
    assert np.max(np.abs(got - np.polyval(coeffs[::-1], x))) <= bound
    assert v.polyval(coeffs).levels_left == 0
    with pytest.raises(UnsupportedParameter):
        v.polyval([0.0, 0.0, 0.0, 0.0, 1.0])  # degree 4 needs depth 3


def test_linear_scores_then_sigmoid() -> None:
    keyring = HeSecretKeyring.generate(CkksParameters.choose(3))
    records = np.stack([_wave(500, 1.0, j) for j in range(4)], axis=1)
    weights, bias = [0.8, -1.2, 0.0, 0.5], 0.25
    cols = keyring.encrypt_columns(records, bound=1.0)
    scores = linear_scores(cols, weights, bias)
    expected = records @ np.array(weights) + bias
    assert np.max(np.abs(keyring.decrypt(scores) - expected)) < 1e-4
    probs = keyring.decrypt(scores.polyval(sigmoid_poly3()))
    assert np.max(np.abs(probs - np.polyval(sigmoid_poly3()[::-1], expected))) < 1e-3
    with pytest.raises(InvalidInput):
        linear_scores(cols, [1.0], 0.0)


def test_depth_exhaustion_refused(ckks1: HeSecretKeyring) -> None:
    v = ckks1.encrypt([1.0, 2.0, 3.0])
    assert v.levels_left == 1
    squared = v.multiply(v)
    assert squared.levels_left == 0
    with pytest.raises(UnsupportedParameter, match="level"):
        squared.multiply(v)
    with pytest.raises(UnsupportedParameter):
        squared.sum_of_squares()
    assert abs(ckks1.decrypt_scalar(squared.sum()) - 14.0) < 1e-3  # depth-0 ops still fine


def test_ckks_declared_bound_overflow(ckks1: HeSecretKeyring) -> None:
    v = ckks1.encrypt(np.full(100, 2.0**9), bound=2.0**9)  # integer part: |x| < 2^19 at level 0
    with pytest.raises(UnsupportedParameter):
        v.sum_of_squares()  # 100 · 2^18 > 2^19
    assert abs(ckks1.decrypt_scalar(v.sum()) - 100 * 2.0**9) < 1e-2  # the sum has headroom
    with pytest.raises(InvalidInput):
        ckks1.encrypt([1.0, 5.0], bound=2.0)


def test_ckks_bad_values(ckks1: HeSecretKeyring) -> None:
    for bad in ([], [float("nan")], [[1.0, 2.0]], "abc", [True], None):
        with pytest.raises(InvalidInput):
            ckks1.encrypt(bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        ckks1.encrypt([1.0, 2.0]).dot([1.0])


# --- keys, evaluation context, envelopes ---------------------------------------------------------


def test_evaluation_context_has_no_secret_key(ckks1: HeSecretKeyring) -> None:
    ev = ckks1.evaluation_context()
    assert ev.key_id == ckks1.key_id and ev.params == ckks1.params
    assert not ev._keys.ctx.has_secret_key() and not ev._keys.ctx.is_private()
    assert ckks1._keys.ctx.is_private()  # the keyring kept its own
    assert not hasattr(ev, "decrypt")
    v = ev.encrypt([1.0, 2.0])  # public-key encryption works
    with pytest.raises(ValueError, match="secret"):
        v._chunks[0].decrypt()  # TenSEAL itself cannot decrypt without the key
    assert abs(ckks1.decrypt_scalar(v.sum()) - 3.0) < 1e-4
    assert "hidden" in repr(ckks1) and ckks1.key_id in repr(ckks1)


def test_evaluation_context_round_trip(ckks1: HeSecretKeyring, eval_bytes: bytes) -> None:
    server = HeEvaluationContext.from_bytes(eval_bytes)
    assert server.key_id == ckks1.key_id and not server._keys.ctx.has_secret_key()
    x = _wave(1000, 3.0)
    received = HeVector.from_bytes(server, ckks1.encrypt(x).to_bytes())
    result = HeScalar.from_bytes(ckks1, received.sum().to_bytes())
    assert abs(ckks1.decrypt_scalar(result) - x.sum()) < 1e-3
    moments = HeMoments.from_bytes(ckks1, received.variance().to_bytes())
    assert abs(ckks1.decrypt_variance(moments) - x.var()) < 1e-3


def test_evaluation_context_refuses_secret_key(ckks1: HeSecretKeyring, eval_bytes: bytes) -> None:
    with pytest.raises(InvalidInput, match="secret keyring"):
        HeEvaluationContext.from_bytes(ckks1.secret_bytes())
    # an evaluation-context envelope smuggling a TenSEAL context with the secret key
    private = ckks1._keys.ctx.serialize(save_secret_key=True, save_galois_keys=False)
    header = {"params": ckks1.params.to_dict(), "key_id": ckks1.key_id}
    smuggled = seal._encode_envelope(seal._KIND_EVAL, header, [private])
    with pytest.raises(InvalidInput, match="contains a secret key"):
        HeEvaluationContext.from_bytes(smuggled)
    # an envelope whose key id is not its public key's
    parts = decode_parts(eval_bytes[6:])
    lying = {"params": ckks1.params.to_dict(), "key_id": "0" * 32}
    with pytest.raises(InvalidInput, match="claims key"):
        HeEvaluationContext.from_bytes(seal._encode_envelope(seal._KIND_EVAL, lying, parts[1:]))


def test_secret_bytes_round_trip(ckks1: HeSecretKeyring) -> None:
    x = _wave(100)
    blob = ckks1.encrypt(x).to_bytes()
    secret = ckks1.secret_bytes()
    restored = HeSecretKeyring.from_secret_bytes(secret)
    assert restored.key_id == ckks1.key_id and restored.params == ckks1.params
    assert np.max(np.abs(restored.decrypt(HeVector.from_bytes(restored, blob)) - x)) < 1e-5
    assert abs(restored.decrypt_scalar(restored.encrypt(x).sum()) - x.sum()) < 1e-4  # new Galois
    for bad in (secret[:-1], secret[:40], b"PSHE" + secret[4:5] + b"\x07" + secret[6:]):
        with pytest.raises(InvalidInput):
            HeSecretKeyring.from_secret_bytes(bad)
    with pytest.raises(TypeError):
        HeSecretKeyring()


def test_bfv_secret_bytes_round_trip(bfv: HeSecretKeyring) -> None:
    bfv.encrypt([1, 2, 3])  # TenSEAL flips context flags on BFV use: the key id must not move
    assert seal._key_id(bfv._keys.ctx) == bfv.key_id
    restored = HeSecretKeyring.from_secret_bytes(bfv.secret_bytes())
    assert restored.key_id == bfv.key_id and isinstance(restored.params, BfvParameters)
    server = HeEvaluationContext.from_bytes(bfv.evaluation_context().to_bytes())
    result = HeVector.from_bytes(server, bfv.encrypt([5, -7, 9]).to_bytes()).sum()
    assert restored.decrypt_scalar(HeScalar.from_bytes(restored, result.to_bytes())) == 7


def test_key_mismatch_named(ckks1: HeSecretKeyring, other_ckks1: HeSecretKeyring) -> None:
    v = ckks1.encrypt([1.0, 2.0])
    w = other_ckks1.encrypt([1.0, 2.0])
    with pytest.raises(InvalidInput) as info:
        HeVector.from_bytes(other_ckks1.evaluation_context(), v.to_bytes())
    assert ckks1.key_id in str(info.value) and other_ckks1.key_id in str(info.value)
    with pytest.raises(InvalidInput, match=other_ckks1.key_id):
        ckks1.decrypt(w)
    with pytest.raises(InvalidInput, match="different keys"):
        v.dot_encrypted(w)
    with pytest.raises(InvalidInput):
        HeScalar.from_bytes(ckks1, w.sum().to_bytes())


def test_tampered_and_garbage_bytes(ckks1: HeSecretKeyring) -> None:
    blob = ckks1.encrypt(_wave(50)).to_bytes()
    flipped = bytearray(blob)
    flipped[len(blob) // 2] ^= 1
    cases = [blob[:-1], blob[: len(blob) // 2], bytes(flipped), b"garbage", b"", blob + b"x"]
    for bad in cases:
        with pytest.raises(InvalidInput):
            HeVector.from_bytes(ckks1, bad)
    with pytest.raises(InvalidInput, match="expected an encrypted vector"):
        HeVector.from_bytes(ckks1, ckks1.encrypt([1.0]).sum().to_bytes())
    with pytest.raises(InvalidInput, match="version"):
        HeVector.from_bytes(ckks1, blob[:4] + b"\x02" + blob[5:])
    # a consistent envelope (digest rewritten) around a truncated TenSEAL ciphertext: SEAL's error
    # is mapped to InvalidInput with the original as __cause__
    parts = decode_parts(blob[6:])
    header = json.loads(parts[0])
    del header["digest"]
    forged = seal._encode_envelope(seal._KIND_VECTOR, header, [parts[1][:-100]])
    with pytest.raises(InvalidInput) as info:
        HeVector.from_bytes(ckks1, forged)
    assert info.value.__cause__ is not None
    header["length"] = 51  # layout inconsistent with the ciphertext's size
    with pytest.raises(InvalidInput):
        HeVector.from_bytes(ckks1, seal._encode_envelope(seal._KIND_VECTOR, header, parts[1:]))


def test_ciphertext_from_other_parameters_refused(ckks1: HeSecretKeyring) -> None:
    ctx = ts.context(ts.SCHEME_TYPE.CKKS, 8192, coeff_mod_bit_sizes=[60, 40, 40, 60])
    ctx.global_scale = 2.0**40
    alien = ts._ts_cpp.CKKSVector(ctx.data, [1.0, 2.0]).serialize()
    header = {
        "scheme": "ckks",
        "key_id": ckks1.key_id,
        "length": 2,
        "bound": None,
        "pad": 0.0,
        "replicated": True,
        "depth_used": 0,
    }
    with pytest.raises(InvalidInput, match="loading a ciphertext"):
        HeVector.from_bytes(ckks1, seal._encode_envelope(seal._KIND_VECTOR, header, [alien]))


# --- BFV ----------------------------------------------------------------------------------------


def test_bfv_exact_integers(bfv: HeSecretKeyring) -> None:
    slots = bfv.params.slots
    x = np.arange(-slots, 2 * slots + 17, dtype=np.int64)
    v = bfv.encrypt(x, bound=2 * slots + 17)
    assert v.ciphertexts == 4
    assert np.array_equal(bfv.decrypt(v), x)
    total = bfv.decrypt_scalar(v.sum())
    assert isinstance(total, int) and total == int(x.sum())
    assert bfv.decrypt_scalar(v.mean()) == pytest.approx(float(x.mean()))
    small = bfv.encrypt(np.arange(-50, 50), bound=50)
    w = np.arange(100) % 7 - 3
    assert bfv.decrypt_scalar(small.dot(w)) == int(np.arange(-50, 50) @ w)
    assert np.array_equal(bfv.decrypt(small.multiply(small)), np.arange(-50, 50) ** 2)
    assert bfv.decrypt_scalar(small.sum_of_squares()) == int((np.arange(-50, 50) ** 2).sum())
    assert bfv.expected_error("sum", 10) == 0.0


def test_bfv_overflow_refused(bfv: HeSecretKeyring) -> None:
    params = bfv.params
    assert isinstance(params, BfvParameters)
    half = params.max_abs
    with pytest.raises(UnsupportedParameter, match="t/2"):
        bfv.encrypt([1, 2, 3], bound=half // 2)  # 3 · bound > t/2
    default = half // 1000
    v = bfv.encrypt(np.full(1000, default))  # default bound: exactly what a sum allows
    assert bfv.decrypt_scalar(v.sum()) == 1000 * default
    with pytest.raises(InvalidInput, match="bound"):
        bfv.encrypt(np.full(1000, default + 1))
    with pytest.raises(UnsupportedParameter):
        v.dot(np.full(1000, 2))  # could reach 2 · 1000 · bound > t/2
    with pytest.raises(UnsupportedParameter):
        v.multiply(v)
    with pytest.raises(InvalidInput):
        bfv.encrypt([1.5, 2.0])
    with pytest.raises(UnsupportedParameter):
        bfv.encrypt([1, 2]).polyval([1.0, 2.0])


# --- helpers ------------------------------------------------------------------------------------


def test_round_output_and_error_model(ckks1: HeSecretKeyring) -> None:
    assert np.array_equal(round_output([1.23456, -2.5e-9], 3), np.array([1.235, -0.0]))
    with pytest.raises(InvalidInput):
        round_output([1.0], 99)
    with pytest.raises(InvalidInput):
        ckks1.expected_error("nonsense")
    with pytest.raises(InvalidInput):
        ckks1.expected_error("polyval")
    params = ckks1.params
    assert isinstance(params, CkksParameters)
    e = ckks1.expected_error("encrypt")
    assert e == 2.0**-params.precision_bits
    assert ckks1.expected_error("sum", 4096) > ckks1.expected_error("sum", 16) > e
    assert math.isclose(ckks1.expected_error("mean", 64) * 64, ckks1.expected_error("sum", 64))
