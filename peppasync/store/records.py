"""Values read from the store: plain frozen dataclasses, never live database rows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from peppasync.store.ops import Insert

__all__ = [
    "Admission", "AuditEntry", "MailboxStats", "Message", "NewMessage", "QuarantineEntry", "QuarantinePage", "Requeued",
]

#: A message about to be written: the same value as ``ops.Insert``.
NewMessage = Insert


@dataclass(frozen=True)
class Admission:
    """What ``ops.InsertOnce`` did with an event.

    ``message_id`` is the message added, or None when the same event (id and
    body) was recorded before; ``reused`` says the id came before with another body.
    """

    message_id: int | None
    reused: bool = False
    also: tuple[int, ...] = ()  # the ids of ``InsertOnce.also``, in order


@dataclass(frozen=True)
class Requeued:
    """What ``ops.Requeue`` did: the id of the message put back, and that message as an Insert.

    ``message`` is what the commit listener hands to the actor (None if the
    stored payload could not be rebuilt as one; the actor then finds it on a read).
    """

    message_id: int
    message: Insert | None


@dataclass(frozen=True)
class Message:
    """A durable message in an actor's mailbox (state pending, running or quarantined)."""

    id: int
    kind: str
    key: str
    payload: dict[str, Any]
    state: str
    attempts: int
    available_at: float
    created_at: float
    updated_at: float
    last_error: str | None

    @classmethod
    def of(
        cls, id: int, kind: str, key: str, payload: dict[str, Any], state: str, attempts: int,
        available_at: float, created_at: float, updated_at: float, last_error: str | None,
    ) -> Message:
        """The same as ``Message(...)``, at a third of the cost: for the paths that build one per message.

        A frozen dataclass sets each field through ``object.__setattr__``; this
        fills the new instance's dict at once (the values are not checked either way).
        """
        made = object.__new__(cls)
        fields = made.__dict__
        fields["id"], fields["kind"], fields["key"], fields["payload"], fields["state"] = id, kind, key, payload, state
        fields["attempts"], fields["available_at"], fields["created_at"] = attempts, available_at, created_at
        fields["updated_at"], fields["last_error"] = updated_at, last_error
        return made

    def started(self, attempts: int) -> Message:
        """This message as a Start leaves it: running, with ``attempts`` counted (built as ``of`` builds one)."""
        return Message.of(self.id, self.kind, self.key, self.payload, "running", attempts, self.available_at,
                          self.created_at, self.updated_at, self.last_error)


@dataclass(frozen=True)
class QuarantineEntry:
    """A message set aside after a permanent failure or too many attempts."""

    id: int
    message_id: int
    kind: str
    key: str
    payload: dict[str, Any]
    reason: str
    error_class: str
    traceback: str
    attempts: int
    first_failure_at: float
    last_failure_at: float
    state: str
    resolved_at: float | None


@dataclass(frozen=True)
class QuarantinePage:
    """Quarantine entries in id order, one page of them, and how many match the same filters.

    ``next`` is the ``after`` that reads the following page: the id of the last
    entry here when more match, None when this page ends the list.
    """

    entries: tuple[QuarantineEntry, ...]
    total: int
    next: int | None


@dataclass(frozen=True)
class AuditEntry:
    """One line of the audit log: who did what to which target, and when."""

    id: int
    at: float
    who: str
    action: str
    target: str
    detail: dict[str, Any]


@dataclass(frozen=True)
class MailboxStats:
    """Backlog of one actor kind: messages waiting or running, and the oldest one's age."""

    depth: int
    oldest_age_seconds: float
