"""The bounds check of the statistics recipes: hostile owners on both engines, chunking, cost.

A hostile owner announces 0 out-of-range values and then inputs whatever it likes; the range
proof (bits of ``x - lower`` and ``upper - x``, checked by random subset sums) must name it on
every compute party and release nothing. The hostility is a test-only engine subclass (Shamir,
an owner that is a compute party) or a client that plays altered steps (SPDZ2k).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pytest

from petsuite.core.errors import InvalidInput
from petsuite.mpc import circuits, stats
from petsuite.mpc.engine import IntArray, Shared
from petsuite.mpc.field import P
from petsuite.mpc.memory import memory_networks
from petsuite.mpc.network import PartyNetwork
from petsuite.mpc.shamir import ShamirEngine
from petsuite.mpc.spdz2k import Spdz2kEngine, provide_input, provide_public
from petsuite.mpc.stats import PartyInput, Statistic, StatisticResult, StatisticSpec
from tests.mpc.helpers import engines, names, ok, rng, run_all
from tests.mpc.test_spdz2k import DEALER, TWO, ClientProg, run, run_parties

SPEC = StatisticSpec(Statistic.MEAN, 0, 100, frac_bits=0)  # W = 100, k = 7
K = 7
HONEST = [10.0, 20.0, 90.0]  # the other owner's data (mean with the cheater's is irrelevant)
Tamper = Callable[[int, IntArray], IntArray]


def _bits(values: Sequence[int], k: int = K) -> list[int]:
    """Bit-major bits of non-negative integers, least significant first."""
    return [(v >> i) & 1 for i in range(k) for v in values]


def _payload(x: Sequence[int], s_bits: Sequence[int], c_bits: Sequence[int]) -> IntArray:
    """The phase-one input of a one-column owner: its values, bits of x - lower, bits of W - s."""
    return np.array([*x, *s_bits, *c_bits], dtype=np.int64)


def _non_binary() -> IntArray:
    # x = 103 > upper: exact bits of s = 103 (< 2**7), and "bits" of W - s = -3 with c_0 = -3:
    # both decompositions hold; only b * (b - 1) = 12 != 0 gives it away
    c = _bits([60, 0])
    c[1] = -3  # bit 0 of the second value
    return _payload([40, 103], _bits([40, 103]), c)


#: name -> (claimed data of the cheater, its altered first input); the head is always
#: [rows = 2, count = 0, W = 100].
CHEATS: dict[str, IntArray] = {
    # (a) a value above upper, with the bits of something in range (clamped to upper)
    "above_upper_clamped_bits": _payload([40, 103], _bits([40, 100]), _bits([60, 0])),
    # (a') exact bits of s = 103, and the bits of W - s taken mod 2**k
    "above_upper_wrapped_bits": _payload([40, 103], _bits([40, 103]), _bits([60, 125])),
    # (b) non-binary "bits" that make both sums come out right
    "non_binary_bits": _non_binary(),
    # (c) correct bits of the in-range values 40 and 50, but x = 150 is shared instead
    "correct_bits_other_x": _payload([40, 150], _bits([40, 50]), _bits([60, 50])),
}
HEAD = np.array([2, 0, 100], dtype=np.int64)


def _assert_named(results: Sequence[Any], cheater: str, honest: str) -> None:
    """Every compute party raised InvalidInput naming only the cheater: nothing released."""
    assert results
    for r in results:
        assert isinstance(r, InvalidInput), r
        assert cheater in str(r) and honest not in str(r)
        assert "range proof failed" in str(r)


# ----------------------------------------------------------------------------- Shamir


class _HostileOwner(ShamirEngine):
    """An owner that replaces its own data steps (announcement, inputs) by ``tamper``'s output.

    Steps are numbered in order: 0 the public ``[rows, count, W]``, 1 the columns and first
    proof chunk, 2.. later proof chunks (coin-toss inputs, 5 words, are left alone).
    """

    tamper: Tamper = staticmethod(lambda step, values: values)
    steps = 0

    def _alter(self, owner: str, values: IntArray | None, size: int) -> IntArray | None:
        if owner != self.me or values is None or size == 5:
            return values
        self.steps += 1
        return self.tamper(self.steps - 1, values)

    async def public_input(self, owner: str, values: IntArray | None, size: int) -> IntArray:
        return await super().public_input(owner, self._alter(owner, values, size), size)

    async def input(self, owner: str, values: IntArray | None, size: int) -> Shared:
        return await super().input(owner, self._alter(owner, values, size), size)


def _shamir_run(
    spec: StatisticSpec, data: dict[str, list[float]], tamper: Tamper | None = None
) -> list[StatisticResult | BaseException | None]:
    parties = names(3)
    nets = memory_networks(parties)
    engs: list[ShamirEngine] = []
    for i, p in enumerate(parties):
        if p == "P0" and tamper is not None:
            eng: ShamirEngine = _HostileOwner(nets[p], parties=parties, threshold=1, rng=rng(i))
            eng.tamper = tamper  # type: ignore[attr-defined]
        else:
            eng = ShamirEngine(nets[p], parties=parties, threshold=1, rng=rng(i))
        engs.append(eng)

    async def party(e: ShamirEngine) -> StatisticResult | None:
        mine = PartyInput((data[e.me],)) if e.me in data else None
        return await stats.run_statistic(e, spec, input_parties=list(data), my_input=mine)

    return run_all(engs, party)


def _first_steps(payload: IntArray) -> Tamper:
    def tamper(step: int, values: IntArray) -> IntArray:
        return HEAD if step == 0 else payload if step == 1 else values

    return tamper


@pytest.mark.parametrize("cheat", sorted(CHEATS))
def test_hostile_owner_caught_on_shamir(cheat: str) -> None:
    claimed = [float(v) for v in CHEATS[cheat][:2]]
    data = {"P0": claimed, "P1": HONEST}
    _assert_named(_shamir_run(SPEC, data, _first_steps(CHEATS[cheat])), "P0", "P1")


def test_honest_owners_pass_and_the_check_is_what_rejects() -> None:
    data = {"P0": [40.0, 50.0], "P1": HONEST}
    results = _shamir_run(SPEC, data)
    for r in results:
        assert isinstance(r, StatisticResult) and r.value == pytest.approx(42.0)
    # an honest owner with an out-of-range value announces it: named, no proof run
    for r in _shamir_run(SPEC, {"P0": [40.0, 103.0], "P1": HONEST}):
        assert isinstance(r, InvalidInput) and "P0" in str(r) and "P1" not in str(r)
        assert "range proof" not in str(r) and "103" not in str(r)


def test_hostile_owner_with_zero_width_range() -> None:
    """lower == upper: W = 0, no bits at all; x - lower itself must be 0."""
    spec = StatisticSpec(Statistic.SUM, 5, 5, frac_bits=0)
    ok_run = _shamir_run(spec, {"P0": [5.0, 5.0], "P1": [5.0]})
    for r in ok_run:
        assert isinstance(r, StatisticResult) and r.value == 15.0

    def tamper(step: int, values: IntArray) -> IntArray:
        if step == 0:
            return np.array([2, 0, 0], dtype=np.int64)
        return np.array([5, 6], dtype=np.int64) if step == 1 else values

    _assert_named(_shamir_run(spec, {"P0": [5.0, 5.0], "P1": [5.0]}, tamper), "P0", "P1")


def test_chunked_proof_honest_and_cheating_in_a_later_chunk(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """4 rows per chunk: owners with 10 and 3 rows take 3 and 1 rounds; a cheat in the last
    chunk (bits of 61 for x = 60, still in range) is caught."""
    monkeypatch.setattr(stats, "PROOF_CHUNK", 4 * 2 * K)
    p0 = [float(v) for v in range(0, 100, 10)]
    data = {"P0": p0, "P1": [5.0, 6.0, 7.0]}
    for r in _shamir_run(SPEC, data):
        assert isinstance(r, StatisticResult)
        assert r.value == pytest.approx((sum(p0) + 18) / 13)

    def tamper(step: int, values: IntArray) -> IntArray:
        if step != 3:  # the third chunk: rows 8 and 9 (x = 80, 90)
            return values
        assert values.tolist() == _bits([80, 90]) + _bits([20, 10])
        return np.array(_bits([81, 90]) + _bits([19, 10]), dtype=np.int64)

    _assert_named(_shamir_run(SPEC, data, tamper), "P0", "P1")


def test_subset_sums_match_the_clear_computation() -> None:
    z = np.array([3, 0, -7, 2**40, 5, -1, 0, 9, 11], dtype=np.int64)
    pats = np.array([[1, 2, 3, 0, 15, 8, 4, 4, 7], [0, 15, 15, 1, 2, 3, 9, 10, 11]], np.uint8)

    async def party(e: ShamirEngine) -> IntArray | None:
        shared = await e.input("P0", z if e.me == "P0" else None, z.size)
        return await e.open(circuits.subset_sums(e, shared, pats, bits=4))

    got = ok(run_all(engines(3, 1)[1], party))[0]
    assert got is not None
    want = [
        int(sum(int(v) for v, p in zip(z, row, strict=True) if (p >> b) & 1))
        for row in pats
        for b in range(4)
    ]
    assert got.tolist() == want
    with pytest.raises(InvalidInput):
        circuits.subset_sums(engines(3, 1)[1][0], _shared_dummy(), pats)


def _shared_dummy() -> Shared:
    return Shared(2, (np.zeros(2, dtype=np.uint64),))


def test_range_proof_width_limit_and_cost_shape() -> None:
    """The widest range the proof allows on the Shamir engine is 2**59 - 1 encoded units
    (k + 1 <= value_bits = 60); anything wider is refused before any message."""
    assert P + 1 >= 1 << 61
    wide = StatisticSpec(Statistic.SUM, -(2.0**58), 2.0**58, frac_bits=0)  # W = 2**59: k = 60
    for r in _shamir_run(wide, {"P0": [1.0]}):
        assert isinstance(r, InvalidInput) and "too wide" in str(r)
    # proof input per chunk stays within PROOF_CHUNK elements however many rows there are
    rows = 100_000
    steps = stats.client_steps(SPEC, PartyInput(([50.0] * rows,)))
    per_chunk = stats.PROOF_CHUNK // (2 * K)
    assert len(steps) == 2 + -(-rows // per_chunk) - 1
    assert steps[1][1].size == rows + 2 * K * per_chunk
    assert all(a.size <= stats.PROOF_CHUNK for _, a in steps[2:])


# ----------------------------------------------------------------------------- SPDZ2k


def _spdz_run(
    spec: StatisticSpec, clients: dict[str, Callable[[], Sequence[tuple[str, IntArray]]]]
) -> dict[str, Any]:
    async def prog(e: Spdz2kEngine) -> Any:
        return await stats.run_statistic(e, spec, input_parties=list(clients), my_input=None)

    def client(make: Callable[[], Sequence[tuple[str, IntArray]]]) -> ClientProg:
        async def play(net: PartyNetwork) -> None:
            for kind, arr in make():
                if kind == "public":
                    await provide_public(net, servers=TWO, values=arr)
                else:
                    await provide_input(net, servers=TWO, dealer=DEALER, values=arr)

        return play

    return run(run_parties(TWO, prog, {c: client(m) for c, m in clients.items()}))


def _honest(
    values: Sequence[float] | Sequence[str], spec: StatisticSpec = SPEC
) -> Callable[[], Any]:
    return lambda: stats.client_steps(spec, PartyInput((values,)))


def _ring_bit() -> IntArray:
    # honest values 40, 50 and honest bits, except that bit 1 of W - s for the first value gets
    # 2**63 added: sum 2**i c_i changes by 2**64 = 0 in Z_2^64, but b * (b - 1) = 2**63 != 0,
    # which one random subset sum misses with probability 1/2 (hence 40 of them)
    c = _bits([60, 50])
    c[2] = int(np.int64(-(2**63)) + np.int64(c[2]))
    return _payload([40, 50], _bits([40, 50]), c)


@pytest.mark.parametrize("cheat", [*sorted(CHEATS), "ring_bit_2_63"])
def test_hostile_client_caught_on_spdz2k(cheat: str) -> None:
    payload = _ring_bit() if cheat == "ring_bit_2_63" else CHEATS[cheat]
    results = _spdz_run(
        SPEC,
        {"c1": lambda: [("public", HEAD), ("input", payload)], "c2": _honest(HONEST)},
    )
    _assert_named([results[s] for s in TWO], "c1", "c2")


def test_spdz2k_chunked_honest_and_cheating_in_a_later_chunk(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(stats, "PROOF_CHUNK", 4 * 2 * K)
    c1 = [float(v) for v in range(0, 100, 10)]
    results = _spdz_run(SPEC, {"c1": _honest(c1), "c2": _honest([5.0, 6.0, 7.0])})
    for s in TWO:
        res = results[s]
        assert isinstance(res, StatisticResult), res
        assert res.value == pytest.approx((sum(c1) + 18) / 13)

    def cheat() -> list[tuple[str, IntArray]]:
        steps: list[tuple[str, IntArray]] = list(stats.client_steps(SPEC, PartyInput((c1,))))
        assert len(steps) == 4 and steps[3][1].tolist() == _bits([80, 90]) + _bits([20, 10])
        steps[3] = ("input", np.array(_bits([81, 90]) + _bits([19, 10]), dtype=np.int64))
        return steps

    results = _spdz_run(SPEC, {"c1": cheat, "c2": _honest([5.0, 6.0, 7.0])})
    _assert_named([results[s] for s in TWO], "c1", "c2")


def test_spdz2k_histogram_counts_checked() -> None:
    spec = StatisticSpec(Statistic.HISTOGRAM, 0, 0, categories=("a", "b", "c"))
    ok_res = _spdz_run(
        spec,
        {"c1": _honest(["a", "b", "a"], spec), "c2": _honest([], spec)},
    )
    for s in TWO:
        res = ok_res[s]
        assert isinstance(res, StatisticResult) and res.value == {"a": 2, "b": 1, "c": 0}

    # counts [2, 2, 0] (each in [0, rows = 3], bits honest) that add up to 4, not 3
    k = 2
    cheat = np.array([2, 2, 0, *_bits([2, 2, 0], k), *_bits([1, 1, 3], k)], dtype=np.int64)
    results = _spdz_run(
        spec,
        {
            "c1": lambda: [("public", np.array([3, 0, 3], dtype=np.int64)), ("input", cheat)],
            "c2": _honest([], spec),
        },
    )
    _assert_named([results[s] for s in TWO], "c1", "c2")


def test_coin_is_joint_and_fresh() -> None:
    """Every party gets the same 40-byte seed (5 opened words); two tosses differ."""
    seeds: list[bytes] = []

    async def party(e: ShamirEngine) -> bytes:
        return await stats._coin(e, e.parties, None)

    for _ in range(2):
        got = ok(run_all(engines(3, 1)[1], party))
        assert len(set(got)) == 1 and len(got[0]) == 40
        seeds.append(got[0])
    assert seeds[0] != seeds[1]
