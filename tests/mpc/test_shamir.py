"""ShamirEngine: sharing, GRR multiplication, truncation, comparison, opening checks, losses."""

from __future__ import annotations

import numpy as np
import pytest

from petsuite.core.errors import AbortReason, InvalidInput, ProtocolAbort
from petsuite.mpc.engine import Engine, Shared
from petsuite.mpc.field import HALF, f_add
from petsuite.mpc.shamir import ShamirEngine
from tests.mpc.helpers import engines, names, ok, rng, run_all

I64 = np.int64


def _values(seed: int, size: int, bound: int) -> np.ndarray:
    raw = np.frombuffer(rng(seed).random_bytes(8 * size), dtype=np.uint64)
    return (raw % np.uint64(2 * bound + 1)).astype(np.int64) - bound


def test_is_an_engine_and_validates() -> None:
    nets, engs = engines(3, 1)
    assert isinstance(engs[0], Engine)
    assert engs[0].parties == ("P0", "P1", "P2")
    assert engs[0].value_bits == 60 and engs[0].compare_bits == 61
    with pytest.raises(InvalidInput):
        ShamirEngine(nets["P0"], parties=names(3), threshold=2)
    with pytest.raises(InvalidInput):
        ShamirEngine(nets["P0"], parties=["P1", "P2", "P3"], threshold=1)
    with pytest.raises(InvalidInput):
        ShamirEngine(nets["P0"], parties=names(3), threshold=0)
    with pytest.raises(InvalidInput):
        engs[0].public(np.array([1 << 59], dtype=I64))
    with pytest.raises(InvalidInput):
        engs[0].add(engs[0].public(np.zeros(2, dtype=I64)), engs[0].public(np.zeros(3, dtype=I64)))


def test_input_linear_ops_open() -> None:
    x = np.array([5, -7, 0, (1 << 58), -(1 << 58)], dtype=I64)
    y = np.array([1, 2, 3, -4, 5], dtype=I64)

    async def party(e: ShamirEngine) -> tuple[object, ...]:
        a = await e.input("P0", x if e.me == "P0" else None, 5)
        b = await e.input("P2", y if e.me == "P2" else None, 5)
        rows = await e.public_input(
            "P1", np.array([42, -1], dtype=I64) if e.me == "P1" else None, 2
        )
        c = e.add_public(e.mul_public(e.sub(a, e.neg(b)), 3), np.arange(5, dtype=I64))
        d = e.concat([e.sum(a), e.take(b, np.array([4, 0], dtype=np.intp)), e.public(y)])
        only = await e.open(a, to=["P1"])
        return await e.open(c), await e.open(d), rows, only

    for i, (c, d, rows, only) in enumerate(ok(run_all(engines(3, 1)[1], party))):
        assert c.tolist() == ((x + y) * 3 + np.arange(5)).tolist()
        assert d.tolist() == [int(x.sum()), 5, 1, *y.tolist()]
        assert rows.tolist() == [42, -1]
        assert (only is None) == (i != 1)
        if i == 1:
            assert only.tolist() == x.tolist()


@pytest.mark.parametrize(("n", "t"), [(3, 1), (5, 2)])
def test_mul_matches_numpy(n: int, t: int) -> None:
    x = _values(1, 300, 1 << 29)
    y = _values(2, 300, 1 << 29)
    x[:4] = [0, -1, 1, (1 << 29)]
    y[:4] = [123, -1, -(1 << 29), (1 << 29)]

    async def party(e: ShamirEngine) -> np.ndarray:
        a = await e.input("P0", x if e.me == "P0" else None, x.size)
        b = await e.input("P1", y if e.me == "P1" else None, y.size)
        ab = await e.mul(a, b)
        abb = await e.mul(ab, e.public(np.ones(x.size, dtype=I64)))
        out = await e.open(abb)
        assert out is not None
        return out

    for out in ok(run_all(engines(n, t)[1], party)):
        assert out.tolist() == (x * y).tolist()


@pytest.mark.parametrize("bits", [1, 8, 16, 30, 59])
def test_trunc_error_below_one(bits: int) -> None:
    x = _values(3, 400, (1 << 59) - 1)
    x[:6] = [0, -1, 1, (1 << 59) - 1, -(1 << 59) + 1, -(1 << min(bits, 58))]

    async def party(e: ShamirEngine) -> np.ndarray:
        a = await e.input("P0", x if e.me == "P0" else None, x.size)
        out = await e.open(await e.trunc(a, bits))
        assert out is not None
        return out

    out = ok(run_all(engines(3, 1)[1], party))[0]
    floor = [v >> bits for v in x.tolist()]
    assert all(o in (f, f + 1) for o, f in zip(out.tolist(), floor, strict=True))
    # |out - x / 2**bits| <= 1 (the interface bound), in exact integers
    assert all(
        abs(o * 2**bits - v) <= 2**bits for o, v in zip(out.tolist(), x.tolist(), strict=True)
    )


@pytest.mark.parametrize(("n", "t", "method"), [(3, 1, "xor"), (3, 1, "sqrt"), (5, 2, "auto")])
def test_ltz_including_edges(n: int, t: int, method: str) -> None:
    x = _values(4, 200, (1 << 59) - 1)
    x[:8] = [0, -1, 1, (1 << 59) - 1, -(1 << 59) + 1, -(1 << 40), (1 << 40), 2]

    async def party(e: ShamirEngine) -> np.ndarray:
        v = await e.input("P0", None if e.me != "P0" else x, x.size)
        out = await e.open(await e.ltz(v, bits=61))
        assert out is not None
        return out

    for out in ok(run_all(engines(n, t, bit_method=method)[1], party)):  # type: ignore[arg-type]
        assert out.tolist() == (x < 0).astype(np.int64).tolist()


def test_ltz_outside_value_range_via_field() -> None:
    """ltz works for every field element (signed in [-HALF, HALF]): what bounds checks rely on."""

    async def party(e: ShamirEngine) -> np.ndarray:
        big = e.public(np.array([(1 << 59) - 1], dtype=I64))
        top = e.add_public(e.add(big, big), 1)  # 2**60 - 1 = HALF, beyond value_bits
        v = e.concat([top, e.neg(top), e.add_public(top, -5), e.add_public(e.neg(top), 5)])
        out = await e.open(await e.ltz(v, bits=61))
        assert out is not None
        return out

    assert HALF == (1 << 60) - 1
    assert ok(run_all(engines(3, 1)[1], party))[0].tolist() == [0, 1, 0, 1]


@pytest.mark.parametrize("method", ["xor", "sqrt"])
def test_random_bits_are_bits(method: str) -> None:
    async def party(e: ShamirEngine) -> np.ndarray:
        out = await e.open(await e.random_bits(4000))
        assert out is not None
        return out

    outs = ok(run_all(engines(3, 1, bit_method=method)[1], party))  # type: ignore[arg-type]
    assert set(outs[0].tolist()) == {0, 1}
    assert 1800 < int(outs[0].sum()) < 2200  # mean 2000, sd 32
    assert all(np.array_equal(o, outs[0]) for o in outs)


def test_tampered_share_detected_on_open() -> None:
    async def party(e: ShamirEngine) -> object:
        a = await e.input("P0", np.arange(10, dtype=I64) if e.me == "P0" else None, 10)
        if e.me == "P2":
            x = a.data[0].copy()
            x[3] = f_add(x[3:4], np.ones(1, dtype=np.uint64))[0]
            a = Shared(a.size, (x,))
        return await e.open(a)

    results = run_all(engines(3, 1)[1], party)
    for r in results:
        assert isinstance(r, ProtocolAbort) and r.reason is AbortReason.CHECK_FAILED


def test_malformed_payloads_abort() -> None:
    nets, engs = engines(3, 1)

    async def receiver(e: ShamirEngine) -> object:
        return await e.input("P0", None, 3)

    import asyncio

    async def main() -> list[object]:
        nets["P0"].send_raw("P1", "shamir/input/1", b"\x00" * 23)  # wrong length
        nets["P0"].send_raw("P2", "shamir/input/1", b"\xff" * 24)  # not field elements
        return list(
            await asyncio.gather(receiver(engs[1]), receiver(engs[2]), return_exceptions=True)
        )

    for r in asyncio.run(main()):
        assert isinstance(r, ProtocolAbort) and r.reason is AbortReason.MALFORMED
        assert r.peer == "P0"


def _die_after_input(victim: str, n: int, t: int) -> list[object]:
    nets, engs = engines(n, t, timeout_s=1.0)
    x = np.array([3, -4, 5], dtype=I64)

    async def party(e: ShamirEngine) -> object:
        a = await e.input("P0", x if e.me == "P0" else None, 3)
        if e.me == victim:
            nets[victim].disconnect()
            return "dead"
        total = await e.open(e.sum(a))
        try:
            product = await e.open(await e.mul(a, a))
        except ProtocolAbort as exc:
            return (total, exc)
        return (total, product)

    return run_all(engs, party)


def test_loss_after_input_open_continues_mul_with_2t_plus_1() -> None:
    results = _die_after_input("P3", 4, 1)
    assert results[3] == "dead"
    for total, product in results[:3]:  # type: ignore[misc]
        assert total.tolist() == [4]
        assert product.tolist() == [9, 16, 25]


def test_loss_after_input_mul_aborts_below_2t_plus_1() -> None:
    results = _die_after_input("P1", 5, 2)
    for i, r in enumerate(results):
        if i == 1:
            continue
        total, exc = r  # type: ignore[misc]
        assert total.tolist() == [4]
        assert isinstance(exc, ProtocolAbort)
        assert exc.reason in (AbortReason.PEER_CLOSED, AbortReason.TIMEOUT)
        assert exc.peer == "P1"


def test_loss_of_a_resharing_party_during_mul_is_retried() -> None:
    nets, engs = engines(4, 1, timeout_s=1.0)
    x = np.array([3, -4, 5], dtype=I64)

    async def party(e: ShamirEngine) -> object:
        a = await e.input("P0", x if e.me == "P0" else None, 3)
        if e.me == "P1":  # one of the first 2t + 1 parties, which reshare in mul
            nets["P1"].disconnect()
            return "dead"
        return await e.open(await e.mul(a, a))

    results = run_all(engs, party)
    assert results[1] == "dead"
    for i in (0, 2, 3):
        assert results[i].tolist() == [9, 16, 25]  # type: ignore[union-attr]
        assert engs[i].parties == ("P0", "P2", "P3")


def test_batched_ltz_and_trunc(monkeypatch: pytest.MonkeyPatch) -> None:
    import petsuite.mpc.shamir as shamir_module

    monkeypatch.setattr(shamir_module, "_BATCH", 7)
    x = _values(9, 23, 1 << 40)

    async def party(e: ShamirEngine) -> tuple[np.ndarray, np.ndarray]:
        v = await e.input("P1", x if e.me == "P1" else None, x.size)
        lt = await e.open(await e.ltz(v, bits=42))
        tr = await e.open(await e.trunc(v, 10))
        assert lt is not None and tr is not None
        return lt, tr

    lt, tr = ok(run_all(engines(3, 1)[1], party))[0]
    assert lt.tolist() == (x < 0).astype(I64).tolist()
    assert all(o in (v >> 10, (v >> 10) + 1) for o, v in zip(tr.tolist(), x.tolist(), strict=True))
