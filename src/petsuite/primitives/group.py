"""The ristretto255 prime-order group (RFC 9496): thin typed wrappers over libsodium via ``rbcl``.

Hazardous primitive layer: no curve arithmetic is implemented here, every group and scalar
operation is one libsodium call. What this module adds is validation at the boundary and types.

Threat model and what leaks
---------------------------
* :class:`Scalar` values are secrets by default: libsodium's scalar and point arithmetic is constant
  time, equality uses :func:`hmac.compare_digest`, and ``repr`` hides the value. Python itself
  (object allocation, ``int`` conversion in :meth:`Scalar.from_int`) is not constant time, so keep
  secret scalars out of :meth:`Scalar.from_int` on untrusted-timing paths.
* :class:`Point` values are treated as public: decoding rejects non-canonical encodings, and the
  identity unless asked for. Timing may reveal whether a result is the identity element.
* The ``raw_batch_*`` functions work on 32-byte encodings to avoid object overhead. They validate
  every input encoding (an invalid one raises :class:`~petsuite.core.errors.InvalidInput` naming its
  index) but they return the identity as 32 zero bytes when a product is the identity (zero scalar,
  or identity input where allowed): callers that must refuse the identity check for it. Above
  :data:`PARALLEL_THRESHOLD` elements they spread the work over a process pool; the scalar travels
  to the workers as bytes over a local pipe (same host, same user).

:func:`multiscalar_mul` computes ``sum s_i * P_i`` (the verification equation of a proof system) as
libsodium products and sums; from :data:`MSM_PARALLEL_THRESHOLD` terms on, this process computes
one chunk while the pool computes the others, and the partial sums are added.

The process pool is the one piece of global state: it is created lazily on the first large batch,
reused (its start-up costs ~0.15 s, measured in ``benchmarks/bench_group.py``), and shut down at
interpreter exit or by :func:`shutdown_pool`. It uses the ``spawn`` context, so a script that calls
a batch function at top level needs the usual ``if __name__ == "__main__":`` guard.

Note: the libsodium bundled with ``rbcl`` ignores bit 255 of a point encoding, so it would accept
two encodings of one point; this module rejects such encodings itself (RFC 9496 §4.3.1).
"""

from __future__ import annotations

import functools
import hmac
import multiprocessing
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Final, NoReturn, cast

import rbcl

from petsuite.core import parallel
from petsuite.core.errors import InvalidInput
from petsuite.core.parallel import Backend
from petsuite.core.rng import RandomSource, resolve
from petsuite.primitives.hash_to_field import _Sha512Xmd64, expand_message_xmd

__all__ = [
    "GROUP_ORDER",
    "HASH_TO_GROUP_SUITE",
    "MSM_PARALLEL_THRESHOLD",
    "PARALLEL_THRESHOLD",
    "POINT_BYTES",
    "SCALAR_BYTES",
    "UNIFORM_BYTES",
    "Backend",
    "Point",
    "Scalar",
    "batch_invert",
    "expand_message_xmd",
    "multiscalar_mul",
    "raw_batch_hash_and_mult",
    "raw_batch_hash_and_mult_each",
    "raw_batch_hash_to_group",
    "raw_batch_scalar_mult",
    "raw_batch_scalar_mult_each",
    "shutdown_pool",
]

#: Order L of the ristretto255 group: 2**252 + 27742317777372353535851937790883648493.
GROUP_ORDER: Final = 2**252 + 27742317777372353535851937790883648493
#: Length of a scalar encoding (little-endian, canonical: < L).
SCALAR_BYTES: Final = 32
#: Length of a point encoding (RFC 9496 §4.3.2).
POINT_BYTES: Final = 32
#: Input length of the one-way map (RFC 9496 §4.3.4) and of wide scalar reduction.
UNIFORM_BYTES: Final = 64
#: The RFC 9380 suite implemented by :meth:`Point.hash_to_group`.
HASH_TO_GROUP_SUITE: Final = "ristretto255_XMD:SHA-512_R255MAP_RO_"
#: Batches with at least this many elements go to the worker pool; smaller ones run inline.
#: Chosen from ``benchmarks/bench_group.py`` on 2 cores (hash-and-multiply, warm pool vs inline):
#: n=64 4.7 vs 5.9 ms, n=256 13 vs 17 ms, n=1024 38 vs 66 ms (1.8-1.95x from here on), n=4096
#: 138 vs 265 ms. Below ~1000 the gain is a few ms, and the first pooled call also pays the pool's
#: ~0.15 s start-up, so 1024 keeps small interactive calls inline and single-process.
PARALLEL_THRESHOLD: Final = 1024

#: How a large batch is parallelised: ``"process"`` (default; isolates the GIL) or ``"thread"``
#: (libsodium calls release the GIL through ctypes, so threads also scale, with no start-up cost).

_IDENTITY: Final = bytes(POINT_BYTES)
_ZERO_SCALAR: Final = bytes(SCALAR_BYTES)
_ZERO_PAD: Final = bytes(SCALAR_BYTES)
_GENERATOR: Final = bytes.fromhex(
    "e2f2ae0a6abc4e71a884a961c500515f58e30b6aa582dd8db6a65945e08d2d76"
)
_CHUNKS_PER_WORKER: Final = 2


# --- typed wrappers around rbcl's untyped functions ---------------------------------------------


def _sc_reduce(wide: bytes) -> bytes:
    return cast(bytes, rbcl.crypto_core_ristretto255_scalar_reduce(wide))


def _sc_add(a: bytes, b: bytes) -> bytes:
    return cast(bytes, rbcl.crypto_core_ristretto255_scalar_add(a, b))


def _sc_sub(a: bytes, b: bytes) -> bytes:
    return cast(bytes, rbcl.crypto_core_ristretto255_scalar_sub(a, b))


def _sc_mul(a: bytes, b: bytes) -> bytes:
    return cast(bytes, rbcl.crypto_core_ristretto255_scalar_mul(a, b))


def _sc_neg(a: bytes) -> bytes:
    return cast(bytes, rbcl.crypto_core_ristretto255_scalar_negate(a))


def _sc_invert(a: bytes) -> bytes:
    return cast(bytes, rbcl.crypto_core_ristretto255_scalar_invert(a))


def _pt_is_valid(p: bytes) -> bool:
    return bool(rbcl.crypto_core_ristretto255_is_valid_point(p))


def _pt_add(p: bytes, q: bytes) -> bytes:
    return cast(bytes, rbcl.crypto_core_ristretto255_add(p, q))


def _pt_sub(p: bytes, q: bytes) -> bytes:
    return cast(bytes, rbcl.crypto_core_ristretto255_sub(p, q))


def _pt_from_hash(h: bytes) -> bytes:
    return cast(bytes, rbcl.crypto_core_ristretto255_from_hash(h))


def _pt_mul(s: bytes, p: bytes) -> bytes:
    """``s * p`` for a reduced scalar and a valid point; the identity when libsodium refuses.

    libsodium returns -1 when the point does not decode or the product is the identity; callers
    guarantee a valid point, so -1 here means the identity.
    """
    try:
        return cast(bytes, rbcl.crypto_scalarmult_ristretto255(s, p))
    except RuntimeError:
        return _IDENTITY


def _pt_base_mul(s: bytes) -> bytes:
    try:
        return cast(bytes, rbcl.crypto_scalarmult_ristretto255_base(s))
    except RuntimeError:
        return _IDENTITY


def _coerce_bytes(value: object, what: str) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, bytearray | memoryview):
        return bytes(value)
    raise InvalidInput(f"{what} must be bytes, got {type(value).__name__}")


def _is_zero(b: bytes) -> bool:
    return hmac.compare_digest(b, _ZERO_SCALAR)


# --- scalars ------------------------------------------------------------------------------------


class Scalar:
    """An integer modulo :data:`GROUP_ORDER`, immutable, held as its canonical 32-byte encoding.

    Treated as secret: equality is constant time, ``repr`` hides the value, arithmetic is
    libsodium's constant-time code. Build one with :meth:`random`, :meth:`from_bytes`,
    :meth:`from_uniform_bytes` or :meth:`from_int`.
    """

    __slots__ = ("_b",)
    _b: bytes

    def __init__(self, encoding: bytes) -> None:
        """Decode a canonical encoding; same as :meth:`from_bytes`."""
        object.__setattr__(self, "_b", _canonical_scalar(encoding))

    @classmethod
    def _unchecked(cls, encoding: bytes) -> Scalar:
        obj = object.__new__(cls)
        object.__setattr__(obj, "_b", encoding)
        return obj

    def __setattr__(self, name: str, value: object) -> NoReturn:
        raise AttributeError("Scalar is immutable")

    def __delattr__(self, name: str) -> NoReturn:
        raise AttributeError("Scalar is immutable")

    def __reduce__(self) -> tuple[Callable[[bytes], Scalar], tuple[bytes]]:
        return (Scalar.from_bytes, (self._b,))

    @classmethod
    def random(cls, rng: RandomSource | None = None) -> Scalar:
        """A uniform nonzero scalar: 64 random bytes reduced modulo L (bias < 2**-250)."""
        source = resolve(rng)
        while True:
            wide = source.random_bytes(UNIFORM_BYTES)
            if not isinstance(wide, bytes) or len(wide) != UNIFORM_BYTES:
                raise InvalidInput("random source returned the wrong number of bytes")
            reduced = _sc_reduce(wide)
            if not _is_zero(reduced):
                return cls._unchecked(reduced)

    @classmethod
    def from_bytes(cls, encoding: bytes) -> Scalar:
        """Decode a 32-byte little-endian scalar; non-canonical values (``>= L``) are rejected.

        Raises
        ------
        InvalidInput
            If ``encoding`` is not 32 bytes or encodes an integer ``>= L``.
        """
        return cls._unchecked(_canonical_scalar(encoding))

    @classmethod
    def from_uniform_bytes(cls, wide: bytes) -> Scalar:
        """Reduce 64 bytes modulo L (may be zero); for hash-to-scalar and key derivation."""
        data = _coerce_bytes(wide, "uniform bytes")
        if len(data) != UNIFORM_BYTES:
            raise InvalidInput(f"expected {UNIFORM_BYTES} bytes, got {len(data)}")
        return cls._unchecked(_sc_reduce(data))

    @classmethod
    def from_int(cls, n: int) -> Scalar:
        """``n mod L`` for any integer (negative ones included). Not constant time in ``n``."""
        if isinstance(n, bool) or not isinstance(n, int):
            raise InvalidInput(f"expected an int, got {type(n).__name__}")
        return cls._unchecked((n % GROUP_ORDER).to_bytes(SCALAR_BYTES, "little"))

    def to_bytes(self) -> bytes:
        """The canonical 32-byte little-endian encoding."""
        return self._b

    def is_zero(self) -> bool:
        """Whether this is the zero scalar (constant-time comparison)."""
        return _is_zero(self._b)

    def invert(self) -> Scalar:
        """The multiplicative inverse modulo L. Raises InvalidInput for zero."""
        if _is_zero(self._b):
            raise InvalidInput("zero has no inverse")
        return Scalar._unchecked(_sc_invert(self._b))

    def __add__(self, other: Scalar) -> Scalar:
        if not isinstance(other, Scalar):
            return NotImplemented
        return Scalar._unchecked(_sc_add(self._b, other._b))

    def __sub__(self, other: Scalar) -> Scalar:
        if not isinstance(other, Scalar):
            return NotImplemented
        return Scalar._unchecked(_sc_sub(self._b, other._b))

    def __mul__(self, other: Scalar) -> Scalar:
        if not isinstance(other, Scalar):
            return NotImplemented
        return Scalar._unchecked(_sc_mul(self._b, other._b))

    def __neg__(self) -> Scalar:
        return Scalar._unchecked(_sc_neg(self._b))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Scalar):
            return NotImplemented
        return hmac.compare_digest(self._b, other._b)

    def __hash__(self) -> int:
        return hash((Scalar, self._b))

    def __repr__(self) -> str:
        return "Scalar(<hidden>)"


def _canonical_scalar(encoding: object) -> bytes:
    data = _coerce_bytes(encoding, "scalar encoding")
    if len(data) != SCALAR_BYTES:
        raise InvalidInput(f"a scalar encoding is {SCALAR_BYTES} bytes, got {len(data)}")
    # Canonical iff reducing it (as a 64-byte value) gives it back: no branch on the secret value.
    if not hmac.compare_digest(_sc_reduce(data + _ZERO_PAD), data):
        raise InvalidInput("non-canonical scalar encoding (value >= group order)")
    return data


def batch_invert(scalars: Sequence[Scalar]) -> list[Scalar]:
    """Invert many scalars with one inversion and ``3(n-1)`` multiplications (Montgomery's trick).

    Raises
    ------
    InvalidInput
        If an element is zero (its index is named) or not a :class:`Scalar`.
    """
    values: list[bytes] = []
    for i, s in enumerate(scalars):
        if not isinstance(s, Scalar):
            raise InvalidInput(f"scalars[{i}] is not a Scalar")
        if s.is_zero():
            raise InvalidInput(f"scalars[{i}] is zero and has no inverse")
        values.append(s.to_bytes())
    if not values:
        return []
    prefix = [values[0]]
    for v in values[1:]:
        prefix.append(_sc_mul(prefix[-1], v))
    acc = _sc_invert(prefix[-1])
    out = [b""] * len(values)
    for i in range(len(values) - 1, 0, -1):
        out[i] = _sc_mul(acc, prefix[i - 1])
        acc = _sc_mul(acc, values[i])
    out[0] = acc
    return [Scalar._unchecked(v) for v in out]


# --- points -------------------------------------------------------------------------------------


class Point:
    """An element of the ristretto255 group, immutable, held as its canonical 32-byte encoding.

    Points are treated as public values; equality is nevertheless constant time. Every ``Point``
    holds a valid encoding (the constructor and :meth:`from_bytes` validate).
    """

    __slots__ = ("_b",)
    _b: bytes

    def __init__(self, encoding: bytes, *, allow_identity: bool = False) -> None:
        """Decode and validate; same as :meth:`from_bytes`."""
        object.__setattr__(self, "_b", _valid_point(encoding, allow_identity=allow_identity))

    @classmethod
    def _unchecked(cls, encoding: bytes) -> Point:
        obj = object.__new__(cls)
        object.__setattr__(obj, "_b", encoding)
        return obj

    def __setattr__(self, name: str, value: object) -> NoReturn:
        raise AttributeError("Point is immutable")

    def __delattr__(self, name: str) -> NoReturn:
        raise AttributeError("Point is immutable")

    def __reduce__(self) -> tuple[Callable[[bytes, bool], Point], tuple[bytes, bool]]:
        return (_point_from_pickle, (self._b, True))

    @classmethod
    def from_bytes(cls, encoding: bytes, *, allow_identity: bool = False) -> Point:
        """Decode a 32-byte encoding (RFC 9496 §4.3.1).

        Raises
        ------
        InvalidInput
            If the encoding is not 32 bytes, not canonical or not a group element, or is the
            identity and ``allow_identity`` is false.
        """
        return cls._unchecked(_valid_point(encoding, allow_identity=allow_identity))

    @classmethod
    def generator(cls) -> Point:
        """The standard generator B (RFC 9496 §4.4)."""
        return cls._unchecked(_GENERATOR)

    @classmethod
    def identity(cls) -> Point:
        """The identity element (encoded as 32 zero bytes)."""
        return cls._unchecked(_IDENTITY)

    @classmethod
    def from_uniform_bytes(cls, wide: bytes) -> Point:
        """The RFC 9496 §4.3.4 one-way map from 64 uniform bytes to a group element."""
        data = _coerce_bytes(wide, "uniform bytes")
        if len(data) != UNIFORM_BYTES:
            raise InvalidInput(f"expected {UNIFORM_BYTES} bytes, got {len(data)}")
        return cls._unchecked(_pt_from_hash(data))

    @classmethod
    def hash_to_group(cls, msg: bytes, dst: bytes) -> Point:
        """RFC 9380 ``hash_to_ristretto255`` (suite ``ristretto255_XMD:SHA-512_R255MAP_RO_``).

        ``expand_message_xmd(msg, dst, 64)`` with SHA-512, then the one-way map. The result is a
        public function of ``(msg, dst)``; it is the identity only with negligible probability.
        """
        uniform = expand_message_xmd(_coerce_bytes(msg, "msg"), dst, UNIFORM_BYTES, "sha512")
        return cls._unchecked(_pt_from_hash(uniform))

    @classmethod
    def base_mul(cls, scalar: Scalar) -> Point:
        """``scalar * B`` with libsodium's fixed-base multiplication (identity for zero)."""
        if not isinstance(scalar, Scalar):
            raise InvalidInput("base_mul expects a Scalar")
        return cls._unchecked(_pt_base_mul(scalar.to_bytes()))

    def to_bytes(self) -> bytes:
        """The canonical 32-byte encoding."""
        return self._b

    def is_identity(self) -> bool:
        """Whether this is the identity element."""
        return hmac.compare_digest(self._b, _IDENTITY)

    def __add__(self, other: Point) -> Point:
        if not isinstance(other, Point):
            return NotImplemented
        return Point._unchecked(_pt_add(self._b, other._b))

    def __sub__(self, other: Point) -> Point:
        if not isinstance(other, Point):
            return NotImplemented
        return Point._unchecked(_pt_sub(self._b, other._b))

    def __neg__(self) -> Point:
        return Point._unchecked(_pt_sub(_IDENTITY, self._b))

    def __mul__(self, scalar: Scalar) -> Point:
        """``scalar * self`` in constant time; the identity if either factor is trivial."""
        if not isinstance(scalar, Scalar):
            return NotImplemented
        return Point._unchecked(_pt_mul(scalar.to_bytes(), self._b))

    def __rmul__(self, scalar: Scalar) -> Point:
        if not isinstance(scalar, Scalar):
            return NotImplemented
        return Point._unchecked(_pt_mul(scalar.to_bytes(), self._b))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Point):
            return NotImplemented
        return hmac.compare_digest(self._b, other._b)

    def __hash__(self) -> int:
        return hash((Point, self._b))

    def __repr__(self) -> str:
        return f"Point({self._b.hex()})"


def _point_from_pickle(encoding: bytes, allow_identity: bool) -> Point:
    return Point.from_bytes(encoding, allow_identity=allow_identity)


def _valid_point(encoding: object, *, allow_identity: bool) -> bytes:
    data = _coerce_bytes(encoding, "point encoding")
    if len(data) != POINT_BYTES:
        raise InvalidInput(f"a point encoding is {POINT_BYTES} bytes, got {len(data)}")
    # rbcl's bundled libsodium ignores bit 255 when decoding; RFC 9496 §4.3.1 requires rejecting it.
    if data[31] & 0x80 or not _pt_is_valid(data):
        raise InvalidInput("not a canonical ristretto255 encoding")
    if not allow_identity and data == _IDENTITY:
        raise InvalidInput("the identity element is not allowed here")
    return data


# --- batch operations on raw encodings ----------------------------------------------------------

_OP_MULT: Final = 0
_OP_HASH: Final = 1
_OP_HASH_MULT: Final = 2


def _run_chunk(
    op: int,
    items: Sequence[bytes],
    dst: bytes,
    scalars: Sequence[bytes],
    *,
    offset: int,
    allow_identity: bool,
) -> list[bytes]:
    """Process one chunk, inline or in a worker; ``scalars``: one shared entry or one per item.

    Module-level so that worker processes can unpickle a reference to it.
    """
    shared = len(scalars) == 1
    scalar = scalars[0]
    mult = rbcl.crypto_scalarmult_ristretto255
    out: list[bytes] = []
    append = out.append
    if op == _OP_MULT:
        for i, enc in enumerate(items):
            s = scalar if shared else scalars[i]
            if not enc[31] & 0x80:  # libsodium would silently ignore a set bit 255
                try:
                    append(mult(s, enc))
                    continue
                except RuntimeError:
                    pass
            # Bit 255 set, or libsodium refused: invalid encoding, identity input or product.
            if enc[31] & 0x80 or not _pt_is_valid(enc):
                raise InvalidInput(f"element {offset + i} is not a canonical ristretto255 encoding")
            if enc == _IDENTITY and not allow_identity:
                raise InvalidInput(f"element {offset + i} is the identity, which is not allowed")
            append(_IDENTITY)
        return out
    expand = _Sha512Xmd64(dst)
    from_hash = rbcl.crypto_core_ristretto255_from_hash
    if op == _OP_HASH:
        return [from_hash(expand(m)) for m in items]
    if op == _OP_HASH_MULT:
        for i, m in enumerate(items):
            s = scalar if shared else scalars[i]
            try:
                append(mult(s, from_hash(expand(m))))
            except RuntimeError:  # identity hash (negligible) or zero scalar
                append(_IDENTITY)
        return out
    raise InvalidInput(f"unknown batch operation {op}")


def shutdown_pool() -> None:
    """Stop the shared worker processes (also registered at exit; safe to call any time)."""
    parallel.shutdown_pools()


def _dispatch(
    op: int,
    items: list[bytes],
    dst: bytes,
    scalars: list[bytes],
    *,
    allow_identity: bool,
    workers: int | None,
    parallel_threshold: int | None,
    backend: Backend,
) -> list[bytes]:
    n_workers = parallel.cpu_workers(workers)
    threshold = PARALLEL_THRESHOLD if parallel_threshold is None else parallel_threshold
    if isinstance(threshold, bool) or not isinstance(threshold, int) or threshold < 1:
        raise InvalidInput("parallel_threshold must be a positive int")
    if backend not in ("process", "thread"):
        raise InvalidInput(f"backend must be 'process' or 'thread', not {backend!r}")
    n = len(items)
    if n == 0:
        return []
    if n < threshold or n_workers == 1:
        return _run_chunk(op, items, dst, scalars, offset=0, allow_identity=allow_identity)
    n_chunks = min(n, n_workers * _CHUNKS_PER_WORKER)
    step = -(-n // n_chunks)
    shared = len(scalars) == 1
    bounds = [(lo, min(lo + step, n)) for lo in range(0, n, step)]

    jobs = [
        functools.partial(
            _run_chunk,
            op,
            items[lo:hi],
            dst,
            scalars if shared else scalars[lo:hi],
            offset=lo,
            allow_identity=allow_identity,
        )
        for lo, hi in bounds
    ]
    # Threads in daemonic processes (see core.parallel): libsodium runs without the GIL.
    return parallel.run_jobs(jobs, backend=backend, workers=n_workers)


def _encodings(encodings: Sequence[bytes]) -> list[bytes]:
    out: list[bytes] = []
    for i, e in enumerate(encodings):
        data = _coerce_bytes(e, f"encodings[{i}]")
        if len(data) != POINT_BYTES:
            raise InvalidInput(f"element {i} is {len(data)} bytes, expected {POINT_BYTES}")
        out.append(data)
    return out


def _messages(msgs: Sequence[bytes]) -> list[bytes]:
    if isinstance(msgs, bytes | bytearray | memoryview | str):
        raise InvalidInput("msgs must be a sequence of byte strings, not one string")
    return [_coerce_bytes(m, f"msgs[{i}]") for i, m in enumerate(msgs)]


def _scalar_bytes(scalar: Scalar) -> bytes:
    if not isinstance(scalar, Scalar):
        raise InvalidInput(f"expected a Scalar, got {type(scalar).__name__}")
    return scalar.to_bytes()


def _scalar_list(scalars: Sequence[Scalar], n: int) -> list[bytes]:
    if len(scalars) != n:
        raise InvalidInput(f"{len(scalars)} scalars for {n} elements")
    return [_scalar_bytes(s) for s in scalars]


def _check_dst(dst: bytes) -> bytes:
    data = _coerce_bytes(dst, "DST")
    _Sha512Xmd64(data)  # validates the DST once, in the caller's process
    return data


def raw_batch_scalar_mult(
    encodings: Sequence[bytes],
    scalar: Scalar,
    *,
    allow_identity: bool = False,
    workers: int | None = None,
    parallel_threshold: int | None = None,
    backend: Backend = "process",
) -> list[bytes]:
    """``[scalar * P for P in encodings]`` on 32-byte encodings, identical to the per-element loop.

    Parameters
    ----------
    encodings:
        Point encodings; each is validated (canonical, in the group; identity refused unless
        ``allow_identity``).
    scalar:
        The multiplier, usually a secret key; libsodium multiplies in constant time.
    workers:
        Processes (or threads) for large batches; default: the CPUs this process may use.
    parallel_threshold:
        Batches smaller than this run inline; default :data:`PARALLEL_THRESHOLD`.
    backend:
        ``"process"`` (shared spawn-context process pool) or ``"thread"``.

    Returns
    -------
    list[bytes]
        The product encodings; the identity comes back as 32 zero bytes (zero scalar, or identity
        input when allowed).

    Raises
    ------
    InvalidInput
        Naming the index of the first element that is malformed, invalid or a refused identity.
    """
    return _dispatch(
        _OP_MULT,
        _encodings(encodings),
        b"",
        [_scalar_bytes(scalar)],
        allow_identity=allow_identity,
        workers=workers,
        parallel_threshold=parallel_threshold,
        backend=backend,
    )


def raw_batch_scalar_mult_each(
    encodings: Sequence[bytes],
    scalars: Sequence[Scalar],
    *,
    allow_identity: bool = False,
    workers: int | None = None,
    parallel_threshold: int | None = None,
    backend: Backend = "process",
) -> list[bytes]:
    """``[s_i * P_i]``: like :func:`raw_batch_scalar_mult` with one scalar per element."""
    items = _encodings(encodings)
    return _dispatch(
        _OP_MULT,
        items,
        b"",
        _scalar_list(scalars, len(items)),
        allow_identity=allow_identity,
        workers=workers,
        parallel_threshold=parallel_threshold,
        backend=backend,
    )


def raw_batch_hash_to_group(
    msgs: Sequence[bytes],
    dst: bytes,
    *,
    workers: int | None = None,
    parallel_threshold: int | None = None,
    backend: Backend = "process",
) -> list[bytes]:
    """``[Point.hash_to_group(m, dst).to_bytes() for m in msgs]``, batched.

    The outputs are public functions of the messages: hashing hides nothing by itself.
    """
    dst_bytes = _check_dst(dst)
    return _dispatch(
        _OP_HASH,
        _messages(msgs),
        dst_bytes,
        [_ZERO_SCALAR],
        allow_identity=True,
        workers=workers,
        parallel_threshold=parallel_threshold,
        backend=backend,
    )


def raw_batch_hash_and_mult(
    msgs: Sequence[bytes],
    dst: bytes,
    scalar: Scalar,
    *,
    workers: int | None = None,
    parallel_threshold: int | None = None,
    backend: Backend = "process",
) -> list[bytes]:
    """``[scalar * hash_to_group(m, dst)]``: the OPRF-evaluation and PSI-server hot path.

    Returns 32 zero bytes where the product is the identity (zero scalar, or a message hashing to
    the identity, which happens with negligible probability); callers that must refuse it check.
    """
    dst_bytes = _check_dst(dst)
    return _dispatch(
        _OP_HASH_MULT,
        _messages(msgs),
        dst_bytes,
        [_scalar_bytes(scalar)],
        allow_identity=True,
        workers=workers,
        parallel_threshold=parallel_threshold,
        backend=backend,
    )


def raw_batch_hash_and_mult_each(
    msgs: Sequence[bytes],
    dst: bytes,
    scalars: Sequence[Scalar],
    *,
    workers: int | None = None,
    parallel_threshold: int | None = None,
    backend: Backend = "process",
) -> list[bytes]:
    """``[s_i * hash_to_group(m_i, dst)]`` with one scalar per message (OPRF blinding)."""
    dst_bytes = _check_dst(dst)
    items = _messages(msgs)
    return _dispatch(
        _OP_HASH_MULT,
        items,
        dst_bytes,
        _scalar_list(scalars, len(items)),
        allow_identity=True,
        workers=workers,
        parallel_threshold=parallel_threshold,
        backend=backend,
    )


# --- multi-scalar multiplication ----------------------------------------------------------------

#: Multi-scalar multiplications with at least this many terms are split between this process and
#: the worker pool; smaller ones run inline. Measured on 2 idle cores with a warm pool, median of 15
#: (inline vs split): 8 terms 0.50 vs 0.64 ms, 16: 1.00 vs 0.97, 24: 1.52 vs 1.21, 32: 2.05 vs
#: 1.62, 64: 4.0 vs 3.1, 148: 9.4 vs 6.4, 300: 19.0 vs 11.0 ms. The crossover is ~16 terms; 20
#: leaves a margin for the pipe round trip on a loaded machine.
MSM_PARALLEL_THRESHOLD: Final = 20


def _msm_chunk(scalars: Sequence[bytes], points: Sequence[bytes]) -> list[bytes]:
    """``[sum s_i * P_i]`` for reduced scalars and valid encodings (a one-element list for
    :func:`~petsuite.core.parallel.run_jobs`). Module-level so that workers can unpickle it."""
    mult = rbcl.crypto_scalarmult_ristretto255
    add = rbcl.crypto_core_ristretto255_add
    acc: bytes | None = None
    for s, p in zip(scalars, points, strict=True):
        try:
            term = cast(bytes, mult(s, p))
        except RuntimeError:  # zero scalar, identity point or identity product: adds nothing
            continue
        acc = term if acc is None else cast(bytes, add(acc, term))
    return [_IDENTITY if acc is None else acc]


def multiscalar_mul(
    scalars: Sequence[Scalar],
    points: Sequence[Point],
    *,
    workers: int | None = None,
    parallel_threshold: int | None = None,
    backend: Backend = "process",
) -> Point:
    """``sum(s_i * P_i)``: one multi-scalar multiplication (the identity for empty input).

    Computed as libsodium products and sums (each product is constant time; timing reveals which
    terms are zero or the identity, as for :meth:`Point.__mul__`). With at least
    ``parallel_threshold`` terms (default :data:`MSM_PARALLEL_THRESHOLD`) the terms are split into
    one chunk per worker: this process computes the first chunk while the shared pool computes the
    others (the scalars travel to the workers over a local pipe, as for the ``raw_batch_*``
    functions), then the partial sums are added.

    Raises
    ------
    InvalidInput
        If the lengths differ or an element is not a :class:`Scalar` / :class:`Point`.
    """
    if len(scalars) != len(points):
        raise InvalidInput(f"{len(scalars)} scalars for {len(points)} points")
    s_bytes = [_scalar_bytes(s) for s in scalars]
    p_bytes: list[bytes] = []
    for i, p in enumerate(points):
        if not isinstance(p, Point):
            raise InvalidInput(f"points[{i}] is not a Point")
        p_bytes.append(p.to_bytes())
    threshold = MSM_PARALLEL_THRESHOLD if parallel_threshold is None else parallel_threshold
    if isinstance(threshold, bool) or not isinstance(threshold, int) or threshold < 1:
        raise InvalidInput("parallel_threshold must be a positive int")
    if backend not in ("process", "thread"):
        raise InvalidInput(f"backend must be 'process' or 'thread', not {backend!r}")
    n_workers = parallel.cpu_workers(workers)
    n = len(s_bytes)
    if n < threshold or n_workers == 1:
        return Point._unchecked(_msm_chunk(s_bytes, p_bytes)[0])
    n_chunks = min(n, n_workers)
    step = -(-n // n_chunks)
    bounds = [(lo, min(lo + step, n)) for lo in range(0, n, step)]
    jobs = [
        functools.partial(_msm_chunk, s_bytes[lo:hi], p_bytes[lo:hi]) for lo, hi in bounds[1:]
    ]
    partials = _run_with_local(jobs, backend, n_workers, s_bytes[: bounds[0][1]], p_bytes)
    acc = partials[0]
    for part in partials[1:]:
        acc = _pt_add(acc, part)
    return Point._unchecked(acc)


def _run_with_local(
    jobs: Sequence[Callable[[], list[bytes]]],
    backend: Backend,
    n_workers: int,
    local_scalars: list[bytes],
    points: list[bytes],
) -> list[bytes]:
    """Submit ``jobs`` to the pool, compute the local chunk meanwhile, return all partial sums."""
    if backend == "thread" or multiprocessing.current_process().daemon:
        with ThreadPoolExecutor(max_workers=n_workers) as threads:
            futures = [threads.submit(job) for job in jobs]
            local = _msm_chunk(local_scalars, points[: len(local_scalars)])
            return local + [f.result()[0] for f in futures]
    pool = parallel.process_pool(n_workers)
    try:
        futures = [pool.submit(job) for job in jobs]
    except BrokenProcessPool:
        # A dead pool: run_jobs replaces it and retries once.
        local = _msm_chunk(local_scalars, points[: len(local_scalars)])
        return local + parallel.run_jobs(jobs, backend="process", workers=n_workers)
    try:
        local = _msm_chunk(local_scalars, points[: len(local_scalars)])
        try:
            remote = [f.result()[0] for f in futures]
        except BrokenProcessPool:
            remote = parallel.run_jobs(jobs, backend="process", workers=n_workers)
    finally:
        for f in futures:
            f.cancel()
    return local + remote
