"""The peer-model engine: Shamir t-of-n sharing over F_p, p = 2**61 - 1, with no dealer.

Threat model: semi-honest (honest-but-curious) parties, honest majority: at most ``t`` of the
``n >= 2t + 1`` compute parties may pool their views and learn nothing beyond what ``open``
reveals to them. A party that deviates from the protocol can break correctness and privacy, with
one exception: ``open`` with more than ``t + 1`` shares checks that they lie on one degree-``t``
polynomial and aborts with ``ProtocolAbort(CHECK_FAILED)`` otherwise (detects a single altered
share when ``n >= t + 2``).

Protocols (all vectorised: one network round carries a whole vector):

* ``input``: the owner deals a degree-``t`` sharing, one share per party (points 1..n).
* ``mul``: GRR degree reduction (Gennaro–Rabin–Rabin 1998): the first ``2t + 1`` live parties
  multiply locally, reshare their product with degree ``t`` and everyone recombines with the
  Lagrange coefficients of those parties. One round.
* random bits, dealer-free: ``t + 1`` live parties each deal random values; either the XOR of
  their random bits (``t`` mults, ``ceil(log2(t+1))`` rounds, used for ``t <= 3``) or
  Damgård et al.'s square-root trick (r the sum of the dealt values, open r², b = (r/√r² + 1)/2,
  which works because p ≡ 3 mod 4; one mult and one opening).
* ``ltz(a)``: ``a < 0`` iff the integer ``2a mod p`` is odd (Nishide–Ohta). With ``r`` a random
  value of 61 shared bits, open ``c = 2a + r``; then ``2a = c - r + p·[c < r]`` and
  ``lsb(2a) = c_0 XOR r_0 XOR [c < r]``, where ``[c < r]`` is a bitwise comparison of public and
  shared bits (``circuits.bitwise_lt``, ``ceil(log2 61) = 6`` rounds).
* ``trunc(a, m)``: same masking, then ``floor((a + 2**59) / 2**m) ≈ c_hi - r_hi + 2**(61-m)[c<r]``
  (the dropped borrow makes the result ``floor(a / 2**m)`` or one more).

Statistical security: ``r`` is 61 uniform bits, so ``r mod p`` is uniform on F_p except that 0 has
weight 2/2**61; the opened ``c`` is within statistical distance 2**-61 per element of uniform
(sigma = 61 per element, no separate masking parameter is needed because every compare/trunc
masks with a full field element). Hence ``compare_bits = 61`` (any two values in range can be
compared) and ``value_bits = 60`` (``|x| < 2**59``, which keeps ``trunc``'s offset positive).

Threshold continuation: parties that fail during an exchange (closed or timed out) are marked lost
by the network. ``open`` needs ``t + 1`` live parties and tolerates losses during the opening;
``mul``, random sharings, ``ltz`` and ``trunc`` need ``2t + 1`` live parties (the first ``2t + 1``
/ ``t + 1`` live parties by name order act, and if one of them fails the round is retried once with
the new live set); ``input`` and ``public_input`` need the owner (a recipient that fails meanwhile
is marked lost; every party consumes the step's sequence number even when it raises because the
owner is lost, so the survivors stay in step); linear operations are local. With too few live
parties an operation raises ``ProtocolAbort(PEER_CLOSED, peer=<a lost party>)``. Engine operations
must be awaited one after the other (all parties run the same sequence; exchanges are tagged by a
sequence number, and a resharing round also by its attempt and dealer set, so that a party that
retries after a loss others did not see aborts with ``UNEXPECTED`` instead of mixing rounds).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Collection, Sequence
from typing import Literal

import numpy as np
import numpy.typing as npt

from petsuite.core.errors import AbortReason, InvalidInput, ProtocolAbort
from petsuite.core.rng import RandomSource, resolve
from petsuite.mpc import circuits
from petsuite.mpc.engine import IntArray, Shared, U64Array, as_int_array, decode_u64, encode_u64
from petsuite.mpc.field import (
    P,
    f_add,
    f_decode,
    f_encode,
    f_inv,
    f_mul,
    f_neg,
    f_pow,
    f_random,
    f_sub,
    f_sum,
)
from petsuite.mpc.network import PartyNetwork
from petsuite.mpc.sharing import lagrange_coefficients, shamir_share

__all__ = ["FIELD_BITS", "ShamirEngine"]

#: Bits of p = 2**61 - 1: the number of random bits behind every comparison and truncation.
FIELD_BITS = 61
_VALUE_BITS = 60
_COMPARE_BITS = 61
_OFFSET_BITS = _VALUE_BITS - 1  # trunc adds 2**59 so that the operand is non-negative
_INV2 = f_inv(2)
_RETRIES = 2
#: ltz and trunc work on at most this many elements at a time (61 random bits each).
_BATCH = 1 << 16
_SUM_WORDS = 1 << 30  # sum's fast path: 2**30 halves of < 2**32 fit in uint64
_LOW32 = np.uint64(0xFFFFFFFF)
_SHIFT32 = np.uint64(32)


def _encode_public(c: IntArray | int, size: int) -> U64Array:
    arr = np.asarray(c, dtype=np.int64)
    if arr.ndim == 0:
        arr = np.full(size, int(arr), dtype=np.int64)
    if arr.shape != (size,):
        raise InvalidInput(f"public operand must be a scalar or have {size} elements")
    if arr.size and int(arr.min()) >= 0 and int(arr.max()) < P:
        return arr.view(np.uint64)
    return np.mod(arr, np.int64(P)).view(np.uint64)


class ShamirEngine:
    """Shamir t-of-n engine for the peer model (see the module docstring for the protocols).

    Parameters
    ----------
    net:
        This party's network; ``net.me`` must be one of ``parties``.
    parties:
        All compute parties, in the order that fixes their evaluation points ``1..n``; the same
        order on every party.
    threshold:
        ``t``: privacy against any ``t`` parties; needs ``n >= 2t + 1`` and ``t >= 1``.
    rng:
        Randomness (default: the OS CSPRNG).
    bit_method:
        ``"xor"``, ``"sqrt"`` or ``"auto"`` (XOR of party bits for ``t <= 3``, else square roots).
    """

    def __init__(
        self,
        net: PartyNetwork,
        *,
        parties: Sequence[str],
        threshold: int,
        rng: RandomSource | None = None,
        bit_method: Literal["auto", "xor", "sqrt"] = "auto",
    ) -> None:
        names = tuple(parties)
        if len(set(names)) != len(names):
            raise InvalidInput("party names must be distinct")
        if net.me not in names:
            raise InvalidInput(f"this party ({net.me!r}) is not among the compute parties")
        if isinstance(threshold, bool) or not isinstance(threshold, int) or threshold < 1:
            raise InvalidInput("threshold must be an integer >= 1")
        if len(names) < 2 * threshold + 1:
            raise InvalidInput(
                f"honest majority needs n >= 2t + 1: {len(names)} parties, t = {threshold}"
            )
        if len(names) >= P:
            raise InvalidInput("too many parties")
        if bit_method not in ("auto", "xor", "sqrt"):
            raise InvalidInput("bit_method must be 'auto', 'xor' or 'sqrt'")
        self._net = net
        self._all = names
        self._point = {name: i + 1 for i, name in enumerate(names)}
        self._t = threshold
        self._rng = resolve(rng)
        self._bit_method = bit_method
        self._seq = 0
        self._lagrange: dict[tuple[tuple[int, ...], int], list[int]] = {}

    # ------------------------------------------------------------------ properties

    @property
    def parties(self) -> tuple[str, ...]:
        lost = self._net.lost
        return tuple(p for p in self._all if p not in lost)

    @property
    def all_parties(self) -> tuple[str, ...]:
        """Every compute party this engine started with, live or lost."""
        return self._all

    @property
    def me(self) -> str:
        return self._net.me

    @property
    def threshold(self) -> int:
        """``t``."""
        return self._t

    @property
    def value_bits(self) -> int:
        return _VALUE_BITS

    @property
    def compare_bits(self) -> int:
        return _COMPARE_BITS

    # ------------------------------------------------------------------ helpers

    def _tag(self, op: str) -> str:
        self._seq += 1
        return f"shamir/{op}/{self._seq}"

    def _lost_abort(self, needed: int, what: str) -> ProtocolAbort:
        lost = [p for p in self._all if p in self._net.lost]
        return ProtocolAbort(
            AbortReason.PEER_CLOSED,
            f"{what} needs {needed} live parties, {len(self._all) - len(lost)} left "
            f"(lost: {', '.join(lost)})",
            peer=lost[0] if lost else None,
        )

    def _coeffs(self, points: Sequence[int], at: int = 0) -> list[int]:
        key = (tuple(points), at)
        if key not in self._lagrange:
            self._lagrange[key] = lagrange_coefficients(points, at)
        return self._lagrange[key]

    def _share(self, a: Shared) -> U64Array:
        if not isinstance(a, Shared) or len(a.data) != 1 or a.data[0].shape != (a.size,):
            raise InvalidInput("not a sharing made by a ShamirEngine")
        return a.data[0]

    @staticmethod
    def _wrap(x: U64Array) -> Shared:
        return Shared(int(x.size), (x,))

    def _same_size(self, a: Shared, b: Shared) -> tuple[U64Array, U64Array]:
        x, y = self._share(a), self._share(b)
        if x.size != y.size:
            raise InvalidInput(f"size mismatch: {x.size} vs {y.size}")
        return x, y

    def _decode_elements(self, payload: bytes, size: int, peer: str, what: str) -> U64Array:
        arr = decode_u64(payload, size, peer=peer, what=what)
        if arr.size and int(arr.max()) >= P:
            raise ProtocolAbort(AbortReason.MALFORMED, f"{what}: not a field element", peer=peer)
        return arr

    def _check_party(self, name: str, role: str) -> None:
        if name not in self._all:
            raise InvalidInput(f"{role} {name!r} is not a compute party of this engine")

    async def _deal_round(
        self,
        op: str,
        dealers_needed: int,
        size: int,
        make: Callable[[tuple[str, ...], tuple[str, ...]], U64Array],
    ) -> tuple[tuple[str, ...], dict[str, U64Array]]:
        """One round in which the first ``dealers_needed`` live parties each send every live
        party a row of ``size`` elements (``make(dealers, live)`` returns the dealer's rows for
        ``live``, shape ``(len(live), size)``). Returns the dealers and the row each sent me."""
        for _attempt in range(_RETRIES):
            live = self.parties
            if len(live) < max(dealers_needed, 2 * self._t + 1):
                raise self._lost_abort(2 * self._t + 1, op)
            dealers = live[:dealers_needed]
            # the attempt and the dealer set are part of the tag: a party that retries (it lost a
            # dealer that others heard from) must not take a row of another round for its own
            group = hashlib.sha256("\x00".join(dealers).encode()).hexdigest()[:8]
            tag = f"{self._tag(op)}/{_attempt}/{group}"
            outgoing: dict[str, bytes] = {}
            mine: dict[str, U64Array] = {}
            if self.me in dealers:
                rows = make(dealers, live)
                for j, name in enumerate(live):
                    if name == self.me:
                        mine[name] = rows[j]
                    else:
                        outgoing[name] = encode_u64(rows[j])
            expect = [d for d in dealers if d != self.me]
            got = await self._net.exchange(
                outgoing, expect, tag, max_bytes=8 * size, tolerate_loss=True
            )
            if all(d in got for d in expect):
                for d in expect:
                    mine[d] = self._decode_elements(got[d], size, d, op)
                return dealers, mine
        raise self._lost_abort(2 * self._t + 1, op)

    # ------------------------------------------------------------------ linear, local

    def public(self, values: IntArray) -> Shared:
        arr = as_int_array(values)
        return self._wrap(self._encode_values(arr))

    def _encode_values(self, arr: IntArray) -> U64Array:
        limit = (1 << (_VALUE_BITS - 1)) - 1
        if arr.size and (int(arr.max()) > limit or int(arr.min()) < -limit):
            raise InvalidInput(f"values must satisfy |x| < 2**{_VALUE_BITS - 1}")
        return f_encode(arr)

    def add(self, a: Shared, b: Shared) -> Shared:
        x, y = self._same_size(a, b)
        return self._wrap(f_add(x, y))

    def sub(self, a: Shared, b: Shared) -> Shared:
        x, y = self._same_size(a, b)
        return self._wrap(f_sub(x, y))

    def neg(self, a: Shared) -> Shared:
        return self._wrap(f_neg(self._share(a)))

    def add_public(self, a: Shared, c: IntArray | int) -> Shared:
        x = self._share(a)
        return self._wrap(f_add(x, _encode_public(c, x.size)))

    def mul_public(self, a: Shared, c: IntArray | int) -> Shared:
        x = self._share(a)
        return self._wrap(f_mul(x, _encode_public(c, x.size)))

    def sum(self, a: Shared) -> Shared:
        x = self._share(a)
        if x.size > _SUM_WORDS:
            return self._wrap(f_sum(x).reshape(1))
        # reduced elements are < 2**61: their 32-bit halves sum exactly in uint64 (few calls:
        # this is on the hot path of the bounds check's many small bucket sums)
        low = int(np.sum(x & _LOW32, dtype=np.uint64))
        high = int(np.sum(x >> _SHIFT32, dtype=np.uint64))
        return self._wrap(np.array([(low + (high << 32)) % P], dtype=np.uint64))

    def take(self, a: Shared, index: npt.NDArray[np.intp] | slice) -> Shared:
        x = self._share(a)
        if isinstance(index, slice):
            return self._wrap(x[index].copy())
        idx = np.asarray(index, dtype=np.intp)
        if idx.ndim != 1 or (idx.size and (int(idx.min()) < -x.size or int(idx.max()) >= x.size)):
            raise InvalidInput("index out of range")
        return self._wrap(x[idx])

    def concat(self, parts: Sequence[Shared]) -> Shared:
        arrays = [self._share(p) for p in parts]
        if not arrays:
            return self._wrap(np.zeros(0, dtype=np.uint64))
        return self._wrap(np.concatenate(arrays))

    # ------------------------------------------------------------------ input / output

    async def input(self, owner: str, values: IntArray | None, size: int) -> Shared:
        """The owner deals a degree-``t`` sharing of its ``values`` to every live party.

        Leaks nothing to any ``t`` parties. Needs the owner to be live.
        """
        self._check_party(owner, "input owner")
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise InvalidInput("size must be a non-negative integer")
        tag = self._tag("input")  # before any check: every party consumes the same numbers
        live = self.parties
        if owner not in live:
            raise ProtocolAbort(AbortReason.PEER_CLOSED, "input owner is lost", peer=owner)
        if owner == self.me:
            if values is None:
                raise InvalidInput("the input owner must supply values")
            arr = self._encode_values(as_int_array(values, size))
            rows = shamir_share(
                arr, len(live), self._t, self._rng, points=[self._point[p] for p in live]
            )
            outgoing = {p: encode_u64(rows[j]) for j, p in enumerate(live) if p != self.me}
            # a recipient that fails is marked lost; the others still hold a valid sharing
            await self._net.exchange(outgoing, [], tag, max_bytes=0, tolerate_loss=True)
            return self._wrap(rows[live.index(self.me)])
        got = await self._net.exchange({}, [owner], tag, max_bytes=8 * size)
        if owner not in got:
            raise ProtocolAbort(AbortReason.PEER_CLOSED, "input owner is lost", peer=owner)
        return self._wrap(self._decode_elements(got[owner], size, owner, "input share"))

    async def public_input(self, owner: str, values: IntArray | None, size: int) -> IntArray:
        """The owner sends public ``values`` to every live party (e.g. its row count)."""
        self._check_party(owner, "public input owner")
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise InvalidInput("size must be a non-negative integer")
        tag = self._tag("public")
        live = self.parties
        if owner not in live:
            raise ProtocolAbort(AbortReason.PEER_CLOSED, "input owner is lost", peer=owner)
        if owner == self.me:
            if values is None:
                raise InvalidInput("the input owner must supply values")
            arr = as_int_array(values, size)
            payload = encode_u64(arr.view(np.uint64))
            await self._net.exchange(
                {p: payload for p in live if p != self.me},
                [],
                tag,
                max_bytes=0,
                tolerate_loss=True,
            )
            return arr.copy()
        got = await self._net.exchange({}, [owner], tag, max_bytes=8 * size)
        if owner not in got:
            raise ProtocolAbort(AbortReason.PEER_CLOSED, "input owner is lost", peer=owner)
        return decode_u64(got[owner], size, peer=owner, what="public input").view(np.int64)

    async def open(self, a: Shared, *, to: Collection[str] | None = None) -> IntArray | None:
        """Reveal ``a`` to ``to`` (default: all live parties); others get ``None``.

        Every live party sends its share to each recipient. A recipient needs ``t + 1`` shares
        (its own included); with more it checks that all lie on one degree-``t`` polynomial
        (``ProtocolAbort(CHECK_FAILED)`` otherwise). Losses during the opening are tolerated.
        """
        x = self._share(a)
        if to is not None:
            for name in to:
                self._check_party(name, "recipient")
        live = self.parties
        if len(live) < self._t + 1:
            raise self._lost_abort(self._t + 1, "open")
        wanted = set(live) if to is None else set(to)
        recipients = [p for p in live if p in wanted]
        tag = self._tag("open")
        payload = encode_u64(x)
        outgoing = {p: payload for p in recipients if p != self.me}
        receiving = self.me in recipients
        expect = [p for p in live if p != self.me] if receiving else []
        got = await self._net.exchange(
            outgoing, expect, tag, max_bytes=8 * x.size, tolerate_loss=True
        )
        if not receiving:
            return None
        shares = {self.me: x}
        for peer, data in got.items():
            shares[peer] = self._decode_elements(data, x.size, peer, "opened share")
        if len(shares) < self._t + 1:
            raise self._lost_abort(self._t + 1, "open")
        return f_decode(self._reconstruct_checked(shares))

    def _reconstruct_checked(self, shares: dict[str, U64Array]) -> U64Array:
        names = sorted(shares, key=lambda p: self._point[p])
        base = names[: self._t + 1]
        points = [self._point[p] for p in base]
        stack = [shares[p] for p in base]
        secret = self._combine(stack, self._coeffs(points, 0))
        for extra in names[self._t + 1 :]:
            expected = self._combine(stack, self._coeffs(points, self._point[extra]))
            if not np.array_equal(expected, shares[extra]):
                raise ProtocolAbort(
                    AbortReason.CHECK_FAILED,
                    "opened shares do not lie on one degree-t polynomial",
                )
        return secret

    @staticmethod
    def _combine(rows: Sequence[U64Array], coeffs: Sequence[int]) -> U64Array:
        acc = f_mul(rows[0], np.uint64(coeffs[0]))
        for row, lam in zip(rows[1:], coeffs[1:], strict=True):
            acc = f_add(acc, f_mul(row, np.uint64(lam)))
        return acc

    async def check(self) -> None:
        """No-op: the semi-honest engine has no MACs (see ``open``'s consistency check)."""

    # ------------------------------------------------------------------ multiplication

    async def mul(self, a: Shared, b: Shared) -> Shared:
        """Element-wise product by GRR degree reduction: one round, ``2t + 1`` live parties."""
        x, y = self._same_size(a, b)
        size = x.size
        if size == 0:
            return self._wrap(np.zeros(0, dtype=np.uint64))

        def make(dealers: tuple[str, ...], live: tuple[str, ...]) -> U64Array:
            product = f_mul(x, y)
            return shamir_share(
                product, len(live), self._t, self._rng, points=[self._point[p] for p in live]
            )

        dealers, rows = await self._deal_round("mul", 2 * self._t + 1, size, make)
        coeffs = self._coeffs([self._point[d] for d in dealers], 0)
        return self._wrap(self._combine([rows[d] for d in dealers], coeffs))

    # ------------------------------------------------------------------ randomness

    async def _joint_random(self, op: str, size: int, *, bits: bool) -> list[U64Array]:
        """Each of ``t + 1`` live parties deals a sharing of fresh random field elements (or of
        random bits); returns my share of each dealer's contribution."""

        def make(dealers: tuple[str, ...], live: tuple[str, ...]) -> U64Array:
            if bits:
                raw = np.frombuffer(self._rng.random_bytes((size + 7) // 8), dtype=np.uint8)
                values = np.unpackbits(raw)[:size].astype(np.uint64)
            else:
                values = f_random(size, self._rng)
            return shamir_share(
                values, len(live), self._t, self._rng, points=[self._point[p] for p in live]
            )

        dealers, rows = await self._deal_round(op, self._t + 1, size, make)
        return [rows[d] for d in dealers]

    async def random_value(self, size: int) -> Shared:
        """A sharing of uniform random field elements unknown to any ``t`` parties."""
        parts = await self._joint_random("rand", size, bits=False)
        acc = parts[0]
        for part in parts[1:]:
            acc = f_add(acc, part)
        return self._wrap(acc)

    async def random_bits(self, size: int) -> Shared:
        """A sharing of ``size`` uniform random bits unknown to any ``t`` parties (no dealer)."""
        if size == 0:
            return self._wrap(np.zeros(0, dtype=np.uint64))
        method = self._bit_method
        if method == "auto":
            method = "xor" if self._t <= 3 else "sqrt"
        if method == "xor":
            return await self._random_bits_xor(size)
        return await self._random_bits_sqrt(size)

    async def _random_bits_xor(self, size: int) -> Shared:
        parts = [self._wrap(p) for p in await self._joint_random("bits", size, bits=True)]
        while len(parts) > 1:
            half = len(parts) // 2
            left = self.concat(parts[:half])
            right = self.concat(parts[half : 2 * half])
            merged = await circuits.xor(self, left, right)
            rest = parts[2 * half :]
            parts = [self.take(merged, slice(i * size, (i + 1) * size)) for i in range(half)]
            parts.extend(rest)
        return parts[0]

    async def _random_bits_sqrt(self, size: int) -> Shared:
        out = np.zeros(size, dtype=np.uint64)
        todo = np.arange(size, dtype=np.intp)
        while todo.size:
            r = await self.random_value(int(todo.size))
            square = await self.open(await self.mul(r, r))
            if square is None:  # pragma: no cover - open to all returns a value
                raise InvalidInput("internal: square not opened")
            q = f_encode(square)
            good = q != 0  # r = 0 happens with probability 1/p; redraw those
            # r * q**((p-3)/4) = r**((p-1)/2) = Legendre(r) = ±1, so b = (that + 1) / 2.
            y = f_pow(q[good], (P - 3) // 4)
            sign = f_mul(self._share(r)[good], y)
            out[todo[good]] = f_mul(f_add(sign, np.ones_like(sign)), np.uint64(_INV2))
            todo = todo[~good]
        return self._wrap(out)

    # ------------------------------------------------------------------ comparison

    async def _masked_open(self, a: Shared) -> tuple[U64Array, Shared, IntArray]:
        """Open ``a + r`` for r with 61 shared random bits; returns (c, bits of r, c's bits)."""
        n = a.size
        bits = await self.random_bits(FIELD_BITS * n)
        r = circuits.bits_to_value(self, bits, FIELD_BITS)
        c_signed = await self.open(self.add(a, r))
        if c_signed is None:  # pragma: no cover - open to all returns a value
            raise InvalidInput("internal: masked value not opened")
        c = f_encode(c_signed)
        return c, bits, circuits.public_bits(c, FIELD_BITS)

    async def ltz(self, a: Shared, *, bits: int) -> Shared:
        """1 where ``a < 0`` else 0 (Nishide–Ohta LSB of ``2a``), for ``|a| < 2**(bits-1)``.

        Cost per element: 61 random bits, one opening, a 61-bit comparison (6 rounds, 119
        multiplications) and one more multiplication. Reveals nothing (statistical distance
        2**-61 per element).
        """
        if isinstance(bits, bool) or not isinstance(bits, int) or not 1 <= bits <= _COMPARE_BITS:
            raise InvalidInput(f"bits must be in [1, {_COMPARE_BITS}]")
        n = self._share(a).size
        if n == 0:
            return self._wrap(np.zeros(0, dtype=np.uint64))
        if n > _BATCH:  # bound memory: 61 words per element live at once
            parts = [
                await self.ltz(self.take(a, slice(i, i + _BATCH)), bits=bits)
                for i in range(0, n, _BATCH)
            ]
            return self.concat(parts)
        doubled = self.add(a, a)
        _c, rbits, cbits = await self._masked_open(doubled)
        w = await circuits.bitwise_lt(self, cbits, rbits)
        r0 = self.take(rbits, slice(0, n))
        r0_xor_w = await circuits.xor(self, r0, w)
        c0 = cbits[0]
        # lsb = c0 XOR (r0 XOR w): where c0 = 1 take 1 - y.
        flipped = self.add_public(self.mul_public(r0_xor_w, 1 - 2 * c0), c0)
        return flipped

    async def trunc(self, a: Shared, bits: int) -> Shared:
        """``a / 2**bits`` rounded down or up (error < 1), for ``|a| < 2**59``.

        Opens ``a + 2**59 + r`` (statistically hidden) and one 61-bit comparison; see the module
        docstring.
        """
        if isinstance(bits, bool) or not isinstance(bits, int) or not 0 <= bits <= _OFFSET_BITS:
            raise InvalidInput(f"truncation bits must be in [0, {_OFFSET_BITS}]")
        n = self._share(a).size
        if bits == 0 or n == 0:
            return a
        if n > _BATCH:
            parts = [
                await self.trunc(self.take(a, slice(i, i + _BATCH)), bits)
                for i in range(0, n, _BATCH)
            ]
            return self.concat(parts)
        shifted = self.add_public(a, 1 << _OFFSET_BITS)
        c, rbits, cbits = await self._masked_open(shifted)
        w = await circuits.bitwise_lt(self, cbits, rbits)
        high = self.take(rbits, slice(bits * n, FIELD_BITS * n))
        r_hi = circuits.bits_to_value(self, high, FIELD_BITS - bits)
        c_hi = (c >> np.uint64(bits)).astype(np.int64)
        q = self.add_public(self.sub(self.mul_public(w, 1 << (FIELD_BITS - bits)), r_hi), c_hi)
        return self.add_public(q, -(1 << (_OFFSET_BITS - bits)))
