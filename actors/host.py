"""The actor system as a supervised child: it starts the system and fails when the store is gone.

Durable actors do not crash on handler errors (the poison policy handles
those); what they cannot survive is losing the store. The sweep notices that,
and a kind whose actors crash more often than its restart intensity allows
escalates; this actor turns either into a failure its supervisor acts on:
restart with backoff, and past the restart intensity, escalate until the
process exits and systemd starts it afresh (the durable mailboxes make that
safe).
"""

from __future__ import annotations

from typing import Any

import pykka

from peppasync.exits import Exit, ExitListener

from actors.system import ActorSystem

__all__ = ["ActorSystemHost"]


class _Fault:
    def __init__(self, exit: Exit) -> None:
        self.exit = exit


class ActorSystemHost(pykka.ThreadingActor):
    """Owns an ``ActorSystem``'s lifetime under a supervisor."""

    def __init__(self, system: ActorSystem, on_exit: ExitListener, stop_timeout: float = 10.0) -> None:
        super().__init__()
        self._system = system
        self._on_exit = on_exit
        self._stop_timeout = stop_timeout
        self._failed = False

    @classmethod
    def spec_start(cls, system: ActorSystem, stop_timeout: float = 10.0) -> Any:
        """A ``start(on_exit)`` function for a supervisor's child spec."""

        def start(on_exit: ExitListener) -> pykka.ActorRef[Any]:
            return cls.start(system, on_exit, stop_timeout)

        return start

    def on_start(self) -> None:
        try:
            self._system.on_fault = self._fault
            self._system.start()
        except Exception as exc:
            self._failed = True
            self._on_exit(Exit.failure(exc, "actor system failed to start"))
            self.stop()

    def _fault(self, exit: Exit) -> None:
        try:
            self.actor_ref.tell(_Fault(exit))
        except pykka.ActorDeadError:
            pass

    def on_receive(self, message: Any) -> Any:
        if isinstance(message, _Fault) and not self._failed:
            self._failed = True
            self._system.stop(timeout=self._stop_timeout)
            self._on_exit(message.exit)
            self.stop()
        return None

    def on_stop(self) -> None:
        if not self._failed:
            self._system.stop(timeout=self._stop_timeout)
            self._on_exit(Exit.shutdown())
