"""Connectors: one actor per external system and account."""

__all__: list[str] = []
