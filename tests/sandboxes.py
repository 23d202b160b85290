"""Sandboxes started for a test and stopped after it, whatever the test did."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from peppasync.sandbox import Sandbox


@contextmanager
def sandbox_factory(default_profile: Any) -> Iterator[Callable[..., Sandbox]]:
    """``make(profile=default_profile, **kwargs)`` starts a sandbox; every one is stopped on exit."""
    started: list[Sandbox] = []

    def make(profile: Any = default_profile, **kwargs: Any) -> Sandbox:
        sb = Sandbox(profile, **kwargs)
        sb.start()
        started.append(sb)
        return sb

    try:
        yield make
    finally:
        for sb in started:
            sb.stop()
