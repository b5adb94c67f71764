"""What the CLI's command modules share: the consoles and the petsuite home folder."""

from __future__ import annotations

import os
from pathlib import Path

from rich.console import Console

__all__ = ["console", "err_console", "home"]

console = Console()
err_console = Console(stderr=True)


def home() -> Path:
    """``$PETSUITE_HOME``, or ``~/.petsuite``: default place for audit logs and rate limits."""
    return Path(os.environ.get("PETSUITE_HOME", Path.home() / ".petsuite"))
