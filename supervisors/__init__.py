"""Supervision: supervisor actor, restart strategies, backoff, intensity, quarantine policy."""

__all__: list[str] = []
