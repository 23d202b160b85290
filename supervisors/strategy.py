"""Restart strategies: which children a supervisor stops and starts again when one fails.

Each strategy is a small value with one pure method, so it is tested on plain
lists. Children start in list order and stop in reverse (OTP), so the ids a
strategy returns are in start order and the supervisor stops them backwards.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["OneForAllStrategy", "OneForOneStrategy", "RestForOneStrategy", "RestartStrategy"]


class RestartStrategy:
    """Base of the restart strategies."""

    name = "strategy"

    def affected(self, failed: str, ids: Iterable[str]) -> list[str]:
        """The children to restart after ``failed`` ended, in start order.

        ``ids`` iterates every child id in start order; ``failed`` is among them.
        """
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self)

    def __hash__(self) -> int:
        return hash(type(self))


class OneForOneStrategy(RestartStrategy):
    """Restart only the child that ended (O(1): the others are never looked at)."""

    name = "one_for_one"

    def affected(self, failed: str, ids: Iterable[str]) -> list[str]:
        return [failed]


class OneForAllStrategy(RestartStrategy):
    """Stop every other child, then restart all of them: for children that need each other."""

    name = "one_for_all"

    def affected(self, failed: str, ids: Iterable[str]) -> list[str]:
        return list(ids)


class RestForOneStrategy(RestartStrategy):
    """Restart the child that ended and every child started after it: a dependency chain."""

    name = "rest_for_one"

    def affected(self, failed: str, ids: Iterable[str]) -> list[str]:
        rest: list[str] = []
        for child_id in ids:
            if rest or child_id == failed:
                rest.append(child_id)
        return rest
