"""Fixtures for the primitives tests: the official test vectors shipped in ``../shared/vectors``."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from petsuite.primitives.group import shutdown_pool

VECTORS_DIR = Path(__file__).resolve().parents[3] / "shared" / "vectors"


@pytest.fixture(scope="session")
def vectors_dir() -> Path:
    """The shared vectors folder; tests that need it skip when it is absent."""
    if not VECTORS_DIR.is_dir():
        pytest.skip(
            f"test vectors not found at {VECTORS_DIR} (expected the repo's ../shared/vectors)"
        )
    return VECTORS_DIR


@pytest.fixture(scope="session")
def load_vectors(vectors_dir: Path) -> Callable[[str], Any]:
    """Read one JSON vector file by its path relative to the vectors folder."""

    def load(relative: str) -> Any:
        path = vectors_dir / relative
        if not path.is_file():
            pytest.skip(f"vector file {path} is missing")
        return json.loads(path.read_text(encoding="utf-8"))

    return load


@pytest.fixture(scope="module")
def worker_pool() -> Iterator[None]:
    """Stop the shared process pool when a module that used it finishes."""
    yield
    shutdown_pool()
