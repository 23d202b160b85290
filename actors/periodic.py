"""The periodic actor: one round of work on a schedule of durable messages it sends itself."""

from __future__ import annotations

from typing import ClassVar

from peppasync.errors import ValidationError
from peppasync.store import Message

from actors.durable import DurableActor

__all__ = ["PeriodicActor"]


class PeriodicActor(DurableActor):
    """Runs ``tick`` whenever its schedule says, one actor per node at ``boot_key``.

    The runtime sends each boot a first tick that starts a fresh chain; a tick
    of an earlier process's chain is dropped, so a restart never runs two
    schedules side by side. The schedule is durable: a crash resumes it.
    """

    boot_key: ClassVar[str] = "main"

    def handle(self, message: Message) -> None:
        payload = message.payload
        if payload.get("type") != "tick":
            raise ValidationError(f"{self.kind} message of unknown type {payload.get('type')!r}", field="type")
        chain = payload.get("chain")
        if payload.get("boot"):
            self.state["chain"] = chain  # a new process takes the schedule over
        elif chain != self.state.get("chain"):
            return  # a tick of an earlier process's schedule
        delay = self.tick()
        self.save_state()
        if delay is not None:
            self.send(self.kind, self.key, {"type": "tick", "chain": chain}, delay=delay)

    def tick(self) -> float | None:
        """Do one round; return the seconds until the next one, or None to end the schedule."""
        raise NotImplementedError
