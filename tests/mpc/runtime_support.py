"""Helpers for the runtime tests: free loopback ports, collaboration configs, a PKI, processes."""

from __future__ import annotations

import socket
from collections.abc import Sequence
from pathlib import Path

from petsuite.net.pki import init_ca, issue


def free_ports(n: int) -> list[int]:
    """``n`` distinct ports that were free a moment ago on 127.0.0.1."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def make_pki(directory: Path, names: Sequence[str]) -> Path:
    init_ca(directory, force=True)
    for name in names:
        issue(directory, name, force=True)
    return directory


def peer_config(
    names: Sequence[str],
    *,
    threshold: int = 1,
    statistic: str = "mean",
    lower: float = 0,
    upper: float = 100_000,
    frac_bits: int = 0,
    extra: str = "",
    step_s: float = 5,
    connect_s: float = 8,
    total_s: float = 40,
    name: str = "test-collab",
    ports: Sequence[int] | None = None,
) -> str:
    ports = free_ports(len(names)) if ports is None else ports
    parties = "".join(
        f'[[parties]]\nname = "{n}"\naddress = "127.0.0.1:{p}"\nrole = "peer"\n\n'
        for n, p in zip(names, ports, strict=True)
    )
    return (
        f'[collaboration]\nname = "{name}"\nmodel = "peer"\nthreshold = {threshold}\n\n{parties}'
        f'[computation]\nstatistic = "{statistic}"\nlower = {lower}\nupper = {upper}\n'
        f"frac_bits = {frac_bits}\n{extra}\n"
        f"[deadlines]\nconnect_s = {connect_s}\nstep_s = {step_s}\ntotal_s = {total_s}\n"
    )


def delegated_config(
    servers: Sequence[str],
    clients: Sequence[str],
    *,
    model: str = "delegated",
    statistic: str = "mean",
    lower: float = 0,
    upper: float = 100_000,
    frac_bits: int = 0,
    extra: str = "",
    recipients: Sequence[str] | None = None,
    step_s: float = 5,
    connect_s: float = 8,
    total_s: float = 40,
) -> str:
    names = [*servers, "dealer", *clients]
    ports = free_ports(len(names))
    hosting = ['hosting = "in-house"\n', 'hosting = "external"\n']
    parties = ""
    for i, (n, p) in enumerate(zip(names, ports, strict=True)):
        role = "server" if n in servers else "dealer" if n == "dealer" else "client"
        host = hosting[i] if model == "hybrid" and role == "server" else ""
        parties += (
            f'[[parties]]\nname = "{n}"\naddress = "127.0.0.1:{p}"\nrole = "{role}"\n{host}\n'
        )
    output = ""
    if recipients is not None:
        output = "[output]\nrecipients = [" + ", ".join(f'"{r}"' for r in recipients) + "]\n"
    return (
        f'[collaboration]\nname = "test-delegated"\nmodel = "{model}"\n\n{parties}'
        f'[computation]\nstatistic = "{statistic}"\nlower = {lower}\nupper = {upper}\n'
        f"frac_bits = {frac_bits}\n{extra}\n{output}"
        f"[deadlines]\nconnect_s = {connect_s}\nstep_s = {step_s}\ntotal_s = {total_s}\n"
    )
