"""Shared builders for the PSI tests: datasets from plain identifiers, protocol drivers."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from petsuite.psi.api import MatchReport, PsiDataset
from petsuite.psi.matching import KeySpec

SPEC = KeySpec.parse("id:exact")


def dataset(ids: Sequence[str], values: Sequence[float] | None = None) -> PsiDataset:
    """A dataset whose keys are built exactly as ``build_keys`` builds them for column ``id``."""
    from petsuite.core.encoding import encode_parts

    keys = tuple(encode_parts([b"petsuite/psi/key/v1", i.encode()]) for i in ids)
    return PsiDataset(
        keys=keys,
        row_index=tuple(range(len(ids))),
        key_spec=SPEC,
        report=MatchReport(len(ids), len(ids), 0, {}, 0),
        source="test",
        values=None if values is None else tuple(values),
    )


def ids(start: int, stop: int) -> list[str]:
    return [f"person-{i:06d}" for i in range(start, stop)]


def run(coro: Any, timeout: float = 60) -> Any:
    return asyncio.run(asyncio.wait_for(coro, timeout))
