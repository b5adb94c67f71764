"""``expand_message_xmd`` of RFC 9380 §5.3.1, the byte expander under hash-to-curve and RFC 9497.

Hazardous primitive: it turns ``(msg, DST)`` into ``len_in_bytes`` pseudorandom bytes, nothing
more. The output is a public function, not a key: anyone who knows ``msg`` and ``DST`` can
recompute it. Running time depends on the length of ``msg`` (lengths leak, contents do not).
"""

from __future__ import annotations

import hashlib
from typing import Final

from petsuite.core.encoding import i2osp
from petsuite.core.errors import InvalidInput, UnsupportedParameter

__all__ = [
    "MAX_DST_BYTES",
    "MAX_LEN_IN_BYTES",
    "OVERSIZE_DST_PREFIX",
    "SUPPORTED_HASHES",
    "dst_prime",
    "expand_message_xmd",
]

#: Longest DST used as-is; longer tags are hashed first (RFC 9380 §5.3.3).
MAX_DST_BYTES: Final = 255
#: Largest output ``expand_message_xmd`` may produce (RFC 9380 §5.3.1: ``len_in_bytes <= 65535``).
MAX_LEN_IN_BYTES: Final = 65535
#: Prefix hashed in front of an oversize DST (RFC 9380 §5.3.3).
OVERSIZE_DST_PREFIX: Final = b"H2C-OVERSIZE-DST-"
#: Merkle-Damgard hashes that ``expand_message_xmd`` accepts (SHA-3 and SHAKE belong to XOF/XMD
#: variants this module does not implement).
SUPPORTED_HASHES: Final = frozenset({"sha256", "sha384", "sha512"})


def _check_hash(hash_name: str) -> str:
    name = hash_name.lower().replace("-", "")
    if name not in SUPPORTED_HASHES:
        raise UnsupportedParameter(
            f"expand_message_xmd supports {sorted(SUPPORTED_HASHES)}, not {hash_name!r}"
        )
    return name


def _as_bytes(value: object, what: str) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, bytearray | memoryview):
        return bytes(value)
    raise InvalidInput(f"{what} must be bytes, got {type(value).__name__}")


def dst_prime(dst: bytes, hash_name: str = "sha512") -> bytes:
    """``DST_prime = DST || I2OSP(len(DST), 1)``, hashing an oversize DST first (RFC 9380 §5.3.3).

    Raises
    ------
    InvalidInput
        If ``dst`` is empty (RFC 9380 §3.1: tags MUST have nonzero length) or not bytes.
    UnsupportedParameter
        If ``hash_name`` is not in :data:`SUPPORTED_HASHES`.
    """
    name = _check_hash(hash_name)
    tag = _as_bytes(dst, "DST")
    if not tag:
        raise InvalidInput("DST must not be empty (RFC 9380 §3.1)")
    if len(tag) > MAX_DST_BYTES:
        tag = hashlib.new(name, OVERSIZE_DST_PREFIX + tag).digest()
    return tag + i2osp(len(tag), 1)


def expand_message_xmd(
    msg: bytes, dst: bytes, len_in_bytes: int, hash_name: str = "sha512"
) -> bytes:
    """Expand ``msg`` into ``len_in_bytes`` uniform bytes under tag ``dst`` (RFC 9380 §5.3.1).

    Parameters
    ----------
    msg:
        The message; any length.
    dst:
        Domain separation tag, at least one byte; tags over 255 bytes are hashed (§5.3.3).
    len_in_bytes:
        Output length, ``1 <= len_in_bytes <= 65535`` and at most 255 hash blocks.
    hash_name:
        ``"sha256"``, ``"sha384"`` or ``"sha512"`` (the default, used by ristretto255 suites).

    Returns
    -------
    bytes
        ``len_in_bytes`` bytes, a deterministic public function of ``(msg, dst)``.

    Raises
    ------
    InvalidInput
        On a length outside the limits above, an empty DST, or inputs that are not bytes.
    UnsupportedParameter
        On a hash outside :data:`SUPPORTED_HASHES`.
    """
    name = _check_hash(hash_name)
    message = _as_bytes(msg, "msg")
    if isinstance(len_in_bytes, bool) or not isinstance(len_in_bytes, int):
        raise InvalidInput("len_in_bytes must be an int")
    proto = hashlib.new(name)
    b_in_bytes = proto.digest_size
    s_in_bytes = proto.block_size
    ell = -(-len_in_bytes // b_in_bytes)
    if len_in_bytes < 1 or len_in_bytes > MAX_LEN_IN_BYTES or ell > 255:
        raise InvalidInput(
            f"len_in_bytes must be in [1, {min(MAX_LEN_IN_BYTES, 255 * b_in_bytes)}] for {name}"
        )
    tag = dst_prime(dst, name)
    z_pad = bytes(s_in_bytes)
    l_i_b_str = i2osp(len_in_bytes, 2)
    b_0 = hashlib.new(name, z_pad + message + l_i_b_str + b"\x00" + tag).digest()
    b_i = hashlib.new(name, b_0 + b"\x01" + tag).digest()
    blocks = [b_i]
    for i in range(2, ell + 1):
        mixed = bytes(x ^ y for x, y in zip(b_0, b_i, strict=True))
        b_i = hashlib.new(name, mixed + i2osp(i, 1) + tag).digest()
        blocks.append(b_i)
    return b"".join(blocks)[:len_in_bytes]


class _Sha512Xmd64:
    """Fast path for the hot loop: ``expand_message_xmd(msg, DST, 64, "sha512")`` for one fixed DST.

    Precomputes ``DST_prime`` and the SHA-512 state after the zero pad, so each message costs two
    SHA-512 calls and no re-validation of the DST. Output equals :func:`expand_message_xmd`.
    """

    __slots__ = ("_prefix", "_suffix", "_tag")

    def __init__(self, dst: bytes) -> None:
        self._tag = dst_prime(dst, "sha512")
        self._prefix = hashlib.sha512(bytes(128))
        self._suffix = i2osp(64, 2) + b"\x00" + self._tag

    def __call__(self, msg: bytes) -> bytes:
        h = self._prefix.copy()
        h.update(msg)
        h.update(self._suffix)
        return hashlib.sha512(h.digest() + b"\x01" + self._tag).digest()
