"""``call``: a connector call as an actor's step sees it, its failure in the poison policy's terms."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from peppasync.errors import ConnectorError, RejectedError, TransientError

__all__ = ["call"]


def call(connector: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call ``fn``; a transient ``ConnectorError`` becomes ``TransientError`` (keeping its
    retry-after), any other ``RejectedError`` naming ``connector`` and the vendor's code."""
    try:
        return fn(*args, **kwargs)
    except ConnectorError as exc:
        if exc.transient:
            raise TransientError(f"{connector}: {exc}", retry_after=exc.retry_after) from exc
        raise RejectedError(f"{connector} refused: {exc}", connector=connector, code=exc.code) from exc
