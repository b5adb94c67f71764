"""expand_message_xmd (RFC 9380 §5.3.1) against Appendix K.3 vectors, limits and the fast path."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from petsuite.core.errors import InvalidInput, UnsupportedParameter
from petsuite.primitives.hash_to_field import (
    _Sha512Xmd64,
    dst_prime,
    expand_message_xmd,
)

XMD_FILE = "hash-to-curve/expand_message_xmd_SHA512_38.json"


def test_all_vectors(load_vectors: Callable[[str], Any]) -> None:
    data = load_vectors(XMD_FILE)
    assert data["hash"] == "SHA512"
    dst = data["DST"].encode()
    assert len(data["tests"]) == 10
    for case in data["tests"]:
        msg = case["msg"].encode()
        n = int(case["len_in_bytes"], 16)
        assert dst_prime(dst).hex() == case["DST_prime"]
        assert expand_message_xmd(msg, dst, n, "sha512").hex() == case["uniform_bytes"]
        # msg_prime = Z_pad || msg || I2OSP(len, 2) || 0x00 || DST_prime
        expected_prime = bytes(128) + msg + n.to_bytes(2, "big") + b"\x00" + dst_prime(dst)
        assert expected_prime.hex() == case["msg_prime"]


def test_fast_path_matches_vectors(load_vectors: Callable[[str], Any]) -> None:
    data = load_vectors(XMD_FILE)
    dst = data["DST"].encode()
    expand = _Sha512Xmd64(dst)
    for case in data["tests"]:
        msg = case["msg"].encode()
        assert expand(msg) == expand_message_xmd(msg, dst, 64)


@given(st.binary(max_size=300), st.binary(min_size=1, max_size=300))
def test_fast_path_equals_general(msg: bytes, dst: bytes) -> None:
    assert _Sha512Xmd64(dst)(msg) == expand_message_xmd(msg, dst, 64, "sha512")


def test_oversize_dst_is_hashed() -> None:
    long_dst = b"x" * 256
    hashed = hashlib.sha512(b"H2C-OVERSIZE-DST-" + long_dst).digest()
    assert dst_prime(long_dst) == hashed + bytes([64])
    assert expand_message_xmd(b"m", long_dst, 48) == expand_message_xmd(b"m", hashed, 48)
    # 255 bytes is still used as-is
    assert dst_prime(b"y" * 255) == b"y" * 255 + b"\xff"
    sha256_hashed = hashlib.sha256(b"H2C-OVERSIZE-DST-" + long_dst).digest()
    assert dst_prime(long_dst, "sha256") == sha256_hashed + bytes([32])


@pytest.mark.parametrize(
    ("n", "hash_name"),
    [
        (0, "sha512"),
        (-1, "sha512"),
        (65536, "sha512"),
        (255 * 64 + 1, "sha512"),
        (255 * 32 + 1, "sha256"),
    ],
)
def test_length_limits(n: int, hash_name: str) -> None:
    with pytest.raises(InvalidInput):
        expand_message_xmd(b"msg", b"DST", n, hash_name)


def test_longest_outputs() -> None:
    assert len(expand_message_xmd(b"msg", b"DST", 255 * 64)) == 255 * 64
    assert len(expand_message_xmd(b"msg", b"DST", 255 * 32, "sha256")) == 255 * 32
    # the output is a prefix-consistent stream only within one length (length is bound in)
    assert expand_message_xmd(b"m", b"D", 32) != expand_message_xmd(b"m", b"D", 64)[:32]


def test_bad_arguments() -> None:
    with pytest.raises(InvalidInput):
        expand_message_xmd(b"msg", b"", 32)
    with pytest.raises(InvalidInput):
        expand_message_xmd("msg", b"DST", 32)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        expand_message_xmd(b"msg", "DST", 32)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        expand_message_xmd(b"msg", b"DST", True)
    with pytest.raises(UnsupportedParameter):
        expand_message_xmd(b"msg", b"DST", 32, "sha3_256")
    with pytest.raises(UnsupportedParameter):
        expand_message_xmd(b"msg", b"DST", 32, "md5")


def test_accepts_bytes_like_and_hash_spelling() -> None:
    ref = expand_message_xmd(b"msg", b"DST", 32, "sha256")
    same = expand_message_xmd(bytearray(b"msg"), memoryview(b"DST"), 32, "SHA-256")  # type: ignore[arg-type]
    assert same == ref
