"""Build-to-order stage gates: one gate of one order, as a pure state machine.

A workflow is an ordered list of gates (finance -> design -> production -> QC); each
gate is waiting until the one before it passes, then open until it passes or is
rejected. People act on a gate with signals (approve, reject, hold, release, note),
each with who and why, each applied once (a signal's id is remembered); rules act
on it too ("logic holds"): finance passes by itself when the money taken reaches a
share of the total, a design approval expires into an approval or a rejection.
Time is given, never read: an SLA breach, a reminder and an expiry are decided by
``tick(now)``, and ``next_wake`` says when the next one is due, so the actor that
keeps a gate sets one durable timer and a restart loses none.

Every change is in the gate's history (who, what, why, when): the audit trail.
Sources for the shape of these rules: ../shared/reference/money-and-gates.md, section 4.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any, Literal

__all__ = [
    "ACTIONS",
    "Gate",
    "GateError",
    "GateRule",
    "Workflow",
    "next_wake",
    "open_gate",
    "paid",
    "signal",
    "tick",
]

Action = Literal["approve", "reject", "hold", "release", "note"]
Status = Literal["waiting", "open", "held", "passed", "rejected"]
ACTIONS: tuple[Action, ...] = ("approve", "reject", "hold", "release", "note")
#: Signal ids remembered per gate, to apply a repeated signal once.
_SEEN_KEPT = 100


class GateError(ValueError):
    """A signal the gate cannot take where it stands (approving a rejected gate, say)."""


@dataclass(frozen=True)
class GateRule:
    """How one gate behaves, from the ``[gates]`` configuration; durations in seconds."""

    name: str
    owner: str  # the role whose people act on it
    sla: float | None = None  # due this long after it opens
    remind_every: float | None = None  # remind the owner this often while it is open
    expire_after: float | None = None  # then ``on_expiry`` is applied...
    on_expiry: Literal["approve", "reject"] | None = None
    pass_at_paid_share: Decimal | None = None  # passes by itself once this share of the total is paid
    escalate_after: float | None = None  # still open this long after it opened: tell ``escalate_to``
    escalate_to: str = ""


@dataclass(frozen=True)
class Workflow:
    """Which orders are built to order, and the gates they pass, in order."""

    name: str
    gates: tuple[GateRule, ...]
    tags: frozenset[str] = frozenset()  # an order with one of these tags...
    sku_prefixes: tuple[str, ...] = ()  # ...or a line whose SKU starts so...
    line_properties: frozenset[str] = frozenset()  # ...or a line carrying one of these properties...
    product_tags: frozenset[str] = frozenset()  # ...or a line of a product with one of these tags

    def matches(self, tags: Iterable[str], skus: Iterable[str], properties: Iterable[str] = (),
                product_tags: Iterable[str] = ()) -> bool:
        return bool(self.tags & {t.strip().lower() for t in tags}) or any(
            sku.startswith(self.sku_prefixes) for sku in skus if self.sku_prefixes) or bool(
            self.line_properties & {p.strip() for p in properties}) or bool(
            self.product_tags & {t.strip().lower() for t in product_tags})

    def rule(self, gate: str) -> GateRule | None:
        return next((g for g in self.gates if g.name == gate), None)

    def after(self, gate: str) -> GateRule | None:
        """The gate that opens when ``gate`` passes (None after the last)."""
        names = [g.name for g in self.gates]
        at = names.index(gate)
        return self.gates[at + 1] if at + 1 < len(self.gates) else None


@dataclass
class Gate:
    """One gate of one order; ``to_json``/``from_json`` for the actor's saved state."""

    order_id: str
    gate: str
    status: Status = "waiting"
    opened_at: float | None = None
    due_at: float | None = None
    breached: bool = False
    escalated: bool = False
    reminded_at: float | None = None
    closed_at: float | None = None
    history: list[dict[str, Any]] = field(default_factory=list)
    seen: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, saved: Mapping[str, Any]) -> Gate:
        gate = cls(**{k: saved[k] for k in cls.__dataclass_fields__ if k in saved})
        # The trail grows in place: a copy of it, so the saved state stays as it was.
        gate.history, gate.seen = list(gate.history), list(gate.seen)
        return gate

    def _log(self, now: float, who: str, action: str, why: str = "") -> None:
        self.history.append({"at": now, "who": who, "action": action, "why": why})


def open_gate(gate: Gate, rule: GateRule, now: float, *, due_at: float | None = None) -> list[str]:
    """The gate before it passed: this one opens, due after its SLA (or at ``due_at``, an order's own date)."""
    if gate.status != "waiting":
        return []
    gate.status = "open"
    gate.opened_at = now
    gate.due_at = due_at if due_at is not None else (now + rule.sla if rule.sla is not None else None)
    gate._log(now, "workflow", "open")
    return ["opened"]


def signal(gate: Gate, rule: GateRule, action: str, *, who: str, why: str = "", signal_id: str = "",
           now: float) -> list[str]:
    """A person's signal; applied once per ``signal_id``. Raises ``GateError`` when it cannot apply."""
    if action not in ACTIONS:
        raise GateError(f"unknown action {action!r}; one of {', '.join(ACTIONS)}")
    if not who.strip():
        raise GateError("a signal needs who sent it")
    if signal_id and signal_id in gate.seen:
        return []
    if action == "note":
        events = ["noted"]
    elif gate.status in ("passed", "rejected"):
        raise GateError(f"{rule.name} of order {gate.order_id} is {gate.status} already")
    elif gate.status == "waiting":
        raise GateError(f"{rule.name} of order {gate.order_id} is not open yet: an earlier gate has not passed")
    elif action == "approve":
        if gate.status == "held":
            raise GateError(f"{rule.name} of order {gate.order_id} is held: release it first")
        events = _close(gate, "passed", now)
    elif action == "reject":
        events = _close(gate, "rejected", now)
    elif action == "hold":
        if gate.status == "held":
            raise GateError(f"{rule.name} of order {gate.order_id} is held already")
        gate.status, events = "held", ["held"]
    else:  # release
        if gate.status != "held":
            raise GateError(f"{rule.name} of order {gate.order_id} is not held")
        gate.status, events = "open", ["released"]
    gate._log(now, who, action, why)
    if signal_id:
        gate.seen = [*gate.seen[-(_SEEN_KEPT - 1):], signal_id]
    return events


def paid(gate: Gate, rule: GateRule, share: Decimal, now: float) -> list[str]:
    """The money taken is now ``share`` of the order's total: a gate that passes at that share passes."""
    if gate.status != "open" or rule.pass_at_paid_share is None or share < rule.pass_at_paid_share:
        return []
    gate._log(now, "rule", "approve", f"{share:.0%} of the total paid, {rule.pass_at_paid_share:.0%} needed")
    return _close(gate, "passed", now)


def tick(gate: Gate, rule: GateRule, now: float) -> list[str]:
    """What is due by ``now``: an SLA breach (once), a reminder, an expiry."""
    if gate.status not in ("open", "held") or gate.opened_at is None:
        return []
    events: list[str] = []
    if gate.due_at is not None and now >= gate.due_at and not gate.breached:
        gate.breached = True
        gate._log(now, "rule", "breach", f"due {gate.due_at:.0f}")
        events.append("breached")
    if rule.escalate_after is not None and now >= gate.opened_at + rule.escalate_after and not gate.escalated:
        gate.escalated = True
        gate._log(now, "rule", "escalate", f"to {rule.escalate_to}")
        events.append("escalated")
    if gate.status == "open" and rule.expire_after is not None and rule.on_expiry is not None \
            and now >= gate.opened_at + rule.expire_after:
        gate._log(now, "rule", rule.on_expiry, f"no answer in {rule.expire_after / 86400:g} days")
        return events + _close(gate, "passed" if rule.on_expiry == "approve" else "rejected", now)
    reminder = _next_reminder(gate, rule)
    if gate.status == "open" and reminder is not None and now >= reminder:
        gate.reminded_at = now
        events.append("reminded")
    return events


def next_wake(gate: Gate, rule: GateRule) -> float | None:
    """When ``tick`` next has something to do (None: nothing until someone acts)."""
    if gate.status not in ("open", "held") or gate.opened_at is None:
        return None
    due = [gate.due_at if gate.due_at is not None and not gate.breached else None]
    if rule.escalate_after is not None and not gate.escalated:
        due.append(gate.opened_at + rule.escalate_after)
    if gate.status == "open":
        due.append(_next_reminder(gate, rule))
        if rule.expire_after is not None and rule.on_expiry is not None:
            due.append(gate.opened_at + rule.expire_after)
    times = [t for t in due if t is not None]
    return min(times) if times else None


def _next_reminder(gate: Gate, rule: GateRule) -> float | None:
    if rule.remind_every is None or gate.opened_at is None:
        return None
    return (gate.reminded_at or gate.opened_at) + rule.remind_every


def _close(gate: Gate, status: Status, now: float) -> list[str]:
    gate.status = status
    gate.closed_at = now
    return [status]
