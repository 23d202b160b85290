"""The product's actor kinds, in one list the runtime registers."""

from __future__ import annotations

from actors.durable import DurableActor

__all__ = ["engine_kinds"]


def engine_kinds() -> list[type[DurableActor]]:
    """Every durable actor kind the server hosts."""
    return []
