"""Party processes for ``bench_psi.py``: petsuite's PSI over mutual TLS and openmined-psi over TCP.

Each ``*_server`` / ``*_client`` function is the target of a separate ``spawn`` process. Servers
put their port on ``ports`` once they listen; every party puts one result dict on ``results``.
Timers start when the client opens its connection (after data generation, key loading and
worker-pool warm-up, which are start-up costs) and stop when the client holds the result.
"""

from __future__ import annotations

import asyncio
import contextlib
import cProfile
import io
import os
import pstats
import queue
import socket
import struct
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

SERVER_NAME = "psi-server"
CLIENT_NAME = "psi-client"
SESSION_TIMEOUT_S = 3600.0
_LEN = struct.Struct(">Q")


# --------------------------------------------------------------------------- data


def client_ids(n: int) -> list[str]:
    """The client's identifiers: ``id-0`` .. ``id-(n-1)``."""
    return [f"id-{i}" for i in range(n)]


def server_ids(n: int, overlap: int) -> list[str]:
    """The server's ``n`` identifiers, of which the first ``overlap`` are also the client's."""
    start = n - overlap
    return [f"id-{i}" for i in range(start, start + n)]


def _petsuite_dataset(ids: list[str]) -> Any:
    """A ``PsiDataset`` whose keys are built as ``build_keys`` builds them for ``id:exact``."""
    from petsuite.core.encoding import encode_parts
    from petsuite.psi.api import MatchReport, PsiDataset
    from petsuite.psi.matching import KeySpec

    keys = tuple(encode_parts([b"petsuite/psi/key/v1", i.encode()]) for i in ids)
    return PsiDataset(
        keys=keys,
        row_index=tuple(range(len(ids))),
        key_spec=KeySpec.parse("id:exact"),
        report=MatchReport(len(ids), len(ids), 0, {}, 0),
        source="bench",
    )


def _warm_pool() -> float:
    """Start the group module's worker pool (a process start-up cost); returns the seconds taken."""
    from petsuite.primitives.group import PARALLEL_THRESHOLD, raw_batch_hash_to_group

    t0 = time.perf_counter()
    raw_batch_hash_to_group([b"warm-%d" % i for i in range(PARALLEL_THRESHOLD)], b"bench-warm")
    return time.perf_counter() - t0


def tree_cpu_s() -> float:
    """CPU seconds used so far by this process and its live children (the group module's pool
    workers), read from /proc; 0 where /proc is missing."""
    tick = os.sysconf("SC_CLK_TCK")
    me = os.getpid()
    pids = {me}
    try:
        for tid in os.listdir(f"/proc/{me}/task"):
            with open(f"/proc/{me}/task/{tid}/children") as fh:
                pids.update(int(p) for p in fh.read().split())
    except OSError:  # pragma: no cover - not Linux
        return time.process_time()
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / tick


def _stop_pool() -> None:
    """Stop the worker pool explicitly: ``multiprocessing`` children skip :mod:`atexit`, so the
    module's own clean-up never runs there, and the child would wait for its workers at exit."""
    from petsuite.primitives.group import shutdown_pool

    shutdown_pool()


class _Profiler:
    """cProfile around the timed section when asked; the top functions as text."""

    def __init__(self, enabled: bool, top: int = 30) -> None:
        self._prof = cProfile.Profile() if enabled else None
        self._top = top

    def __enter__(self) -> _Profiler:
        if self._prof is not None:
            self._prof.enable()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._prof is not None:
            self._prof.disable()

    def report(self) -> str | None:
        if self._prof is None:
            return None
        out = io.StringIO()
        stats = pstats.Stats(self._prof, stream=out)
        stats.sort_stats("cumulative").print_stats(self._top)
        stats.sort_stats("tottime").print_stats(self._top)
        return out.getvalue()


def _count_frames(channel: Any) -> list[int]:
    """Count the bytes of every frame ``channel`` sends (payload + 4-byte length header).

    Wraps the channel's frame writer on this one instance (benchmark instrumentation), so nothing
    is encoded twice; the TLS handshake and the transport's hello exchange are not included.
    """
    from petsuite.net.framing import HEADER_BYTES

    counter = [0, 0]  # bytes, frames
    inner: Callable[[bytes, float], Awaitable[None]] = channel._send_frame

    async def counting(payload: bytes, deadline_s: float) -> None:
        counter[0] += len(payload) + HEADER_BYTES
        counter[1] += 1
        await inner(payload, deadline_s)

    channel._send_frame = counting
    return counter


# --------------------------------------------------------------------------- petsuite parties


def petsuite_server(cfg: dict[str, Any], ports: Any, results: Any) -> None:
    """One ``serve_psi`` session over mutual TLS, cardinality allowed, no threshold."""
    pki_dir, n, overlap, profile = cfg["pki_dir"], cfg["n"], cfg["overlap"], cfg["profile"]
    from petsuite.net import pki
    from petsuite.net.transport import Limits, serve
    from petsuite.psi.api import serve_psi
    from petsuite.psi.policy import PsiPolicy
    from petsuite.psi.protocol import PsiMode

    dataset = _petsuite_dataset(server_ids(n, overlap))
    policy = PsiPolicy(
        min_intersection=0,
        max_set_size=max(n, 1),
        allowed_modes=frozenset({PsiMode.CARDINALITY, PsiMode.INTERSECTION}),
        rate_limit=None,
    )
    warm_s = _warm_pool()
    identity = pki.load_identity(Path(pki_dir), SERVER_NAME)
    out: dict[str, Any] = {"party": "petsuite-server", "pool_warmup_s": warm_s}
    profiler = _Profiler(profile)

    async def main() -> None:
        done = asyncio.Event()

        async def handler(channel: Any) -> None:
            counter = _count_frames(channel)
            t0, c0, tree0 = time.perf_counter(), time.process_time(), tree_cpu_s()
            try:
                with profiler:
                    summary = await serve_psi(channel, dataset, policy)
                out["client_set_size"] = summary.client_set_size
            except Exception as exc:
                out["error"] = f"{type(exc).__name__}: {exc}"
            finally:
                out["session_s"] = time.perf_counter() - t0
                out["main_cpu_s"] = time.process_time() - c0
                out["cpu_s"] = tree_cpu_s() - tree0
                out["bytes_sent"], out["frames_sent"] = counter
                done.set()

        limits = Limits(recv_timeout_s=600)
        async with await serve("127.0.0.1", 0, handler, identity=identity, limits=limits) as srv:
            ports.put(srv.port)
            await asyncio.wait_for(done.wait(), SESSION_TIMEOUT_S)

    try:
        asyncio.run(main())
    except Exception as exc:
        out.setdefault("error", f"{type(exc).__name__}: {exc}")
    finally:
        _stop_pool()
    out["profile"] = profiler.report()
    results.put(out)


def petsuite_client(cfg: dict[str, Any], ports: Any, results: Any) -> None:
    """``query_psi`` in cardinality mode; times connect (TCP + TLS 1.3 + hello) to result."""
    pki_dir, n, profile = cfg["pki_dir"], cfg["n"], cfg["profile"]
    from petsuite.net import pki
    from petsuite.net.transport import Limits, connect
    from petsuite.psi.api import query_psi
    from petsuite.psi.protocol import PsiMode

    dataset = _petsuite_dataset(client_ids(n))
    warm_s = _warm_pool()
    identity = pki.load_identity(Path(pki_dir), CLIENT_NAME)
    port = ports.get(timeout=600)
    out: dict[str, Any] = {"party": "petsuite-client", "pool_warmup_s": warm_s}
    profiler = _Profiler(profile)

    async def main() -> None:
        t0, c0, tree0 = time.perf_counter(), time.process_time(), tree_cpu_s()
        channel = await connect(
            "127.0.0.1", port, identity=identity, peer_name=SERVER_NAME,
            limits=Limits(recv_timeout_s=600),
        )
        out["connect_s"] = time.perf_counter() - t0
        counter = _count_frames(channel)
        async with channel:
            with profiler:
                result = await query_psi(
                    channel, dataset, mode=PsiMode.CARDINALITY, min_intersection=0
                )
            out["total_s"] = time.perf_counter() - t0
            out["main_cpu_s"] = time.process_time() - c0
            out["cpu_s"] = tree_cpu_s() - tree0
        out["size"] = result.size
        out["bytes_sent"], out["frames_sent"] = counter

    try:
        asyncio.run(main())
    except Exception as exc:
        out["error"] = f"{type(exc).__name__}: {exc}"
    finally:
        _stop_pool()
    out["profile"] = profiler.report()
    results.put(out)


async def petsuite_in_memory(n: int, overlap: int) -> dict[str, Any]:
    """Both parties in this process over ``memory_pair`` (same encoding and checks as TLS)."""
    from petsuite.net.transport import Limits, memory_pair
    from petsuite.psi.api import query_psi, serve_psi
    from petsuite.psi.policy import PsiPolicy
    from petsuite.psi.protocol import PsiMode

    client_ds = _petsuite_dataset(client_ids(n))
    server_ds = _petsuite_dataset(server_ids(n, overlap))
    policy = PsiPolicy(
        min_intersection=0,
        max_set_size=max(n, 1),
        allowed_modes=frozenset({PsiMode.CARDINALITY}),
        rate_limit=None,
    )
    _warm_pool()
    limits = Limits(recv_timeout_s=600)
    a, b = memory_pair(CLIENT_NAME, SERVER_NAME, limits)
    counters = _count_frames(a), _count_frames(b)
    t0 = time.perf_counter()
    result, _ = await asyncio.gather(
        query_psi(a, client_ds, mode=PsiMode.CARDINALITY, min_intersection=0),
        serve_psi(b, server_ds, policy),
    )
    total = time.perf_counter() - t0
    return {"total_s": total, "size": result.size, "bytes": counters[0][0] + counters[1][0]}


# --------------------------------------------------------------------------- openmined-psi


class _Peer:
    """Length-prefixed messages over a TCP socket; a reader thread drains the socket at all times,
    so that neither side can block the other's writes while it computes."""

    def __init__(self, sock: socket.socket) -> None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._sock = sock
        self._inbox: queue.Queue[bytes | BaseException] = queue.Queue()
        self._thread = threading.Thread(target=self._read_all, daemon=True)
        self._thread.start()

    def _read_exactly(self, n: int) -> bytes:
        buf = bytearray()
        while len(buf) < n:
            chunk = self._sock.recv(min(n - len(buf), 1 << 20))
            if not chunk:
                raise ConnectionError("peer closed the connection")
            buf += chunk
        return bytes(buf)

    def _read_all(self) -> None:
        try:
            while True:
                (length,) = _LEN.unpack(self._read_exactly(_LEN.size))
                self._inbox.put(self._read_exactly(length))
        except BaseException as exc:
            self._inbox.put(exc)

    def send(self, payload: bytes) -> int:
        self._sock.sendall(_LEN.pack(len(payload)) + payload)
        return len(payload)

    def recv(self, timeout_s: float = SESSION_TIMEOUT_S) -> bytes:
        item = self._inbox.get(timeout=timeout_s)
        if isinstance(item, BaseException):
            raise ConnectionError(f"receive failed: {item}") from item
        return item

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        self._sock.close()


def _openmined() -> Any:
    """The openmined-psi Python API (imported in the party processes only)."""
    import private_set_intersection.python as psi  # type: ignore[import-untyped]

    return psi


def _data_structure(name: str) -> Any:
    psi = _openmined()
    return {"raw": psi.DataStructure.RAW, "gcs": psi.DataStructure.GCS}[name]


def openmined_server(cfg: dict[str, Any], ports: Any, results: Any) -> None:
    """openmined-psi server (cardinality: ``reveal_intersection=False``): on the client's hello
    (its set size) it sends its setup message, then answers the client's request."""
    psi = _openmined()
    n, fpr = cfg["n"], cfg["fpr"]
    items = server_ids(n, cfg["overlap"])
    ds = _data_structure(cfg["structure"])
    out: dict[str, Any] = {"party": "openmined-server"}
    listener = socket.create_server(("127.0.0.1", 0))
    try:
        ports.put(listener.getsockname()[1])
        conn, _ = listener.accept()
        peer = _Peer(conn)
        try:
            (n_client,) = _LEN.unpack(peer.recv())
            t0, c0 = time.perf_counter(), time.process_time()
            server = psi.server.CreateWithNewKey(False)
            setup = server.CreateSetupMessage(fpr, n_client, items, ds).SerializeToString()
            out["setup_s"] = time.perf_counter() - t0
            out["setup_bytes"] = peer.send(setup)
            request = psi.Request()
            request.ParseFromString(peer.recv())
            t1 = time.perf_counter()
            response = server.ProcessRequest(request).SerializeToString()
            out["process_s"] = time.perf_counter() - t1
            out["response_bytes"] = peer.send(response)
            out["cpu_s"] = time.process_time() - c0
            peer.recv()  # the client's "done": keep the socket open until it has everything
        finally:
            peer.close()
    except Exception as exc:
        out["error"] = f"{type(exc).__name__}: {exc}"
    finally:
        listener.close()
    results.put(out)


def openmined_client(cfg: dict[str, Any], ports: Any, results: Any) -> None:
    """openmined-psi client: hello, request (computed while the server builds its setup), then the
    intersection size from the setup and the response."""
    psi = _openmined()
    items = client_ids(cfg["n"])
    port = ports.get(timeout=600)
    out: dict[str, Any] = {"party": "openmined-client"}
    try:
        t0, c0 = time.perf_counter(), time.process_time()
        peer = _Peer(socket.create_connection(("127.0.0.1", port)))
        try:
            peer.send(_LEN.pack(len(items)))
            client = psi.client.CreateWithNewKey(False)
            request = client.CreateRequest(items).SerializeToString()
            out["request_s"] = time.perf_counter() - t0
            out["request_bytes"] = peer.send(request)
            setup = psi.ServerSetup()
            setup.ParseFromString(peer.recv())
            response = psi.Response()
            response.ParseFromString(peer.recv())
            t1 = time.perf_counter()
            out["size"] = client.GetIntersectionSize(setup, response)
            out["finish_s"] = time.perf_counter() - t1
            out["total_s"] = time.perf_counter() - t0
            out["cpu_s"] = time.process_time() - c0
            peer.send(b"done")
        finally:
            peer.close()
    except Exception as exc:
        out["error"] = f"{type(exc).__name__}: {exc}"
    results.put(out)
