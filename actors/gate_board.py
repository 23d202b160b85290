"""The gates as the people who act on them see them, and their signals: for the CLI, the ops API and the console.

``gate_rows`` reads every gate's saved state from the store: open and held gates, overdue
ones first, then by due time. ``send_signal`` checks a person's signal against the gate as it
stands (so a mistake is refused at once, with what to do), then stores it in the gate's
mailbox with an id of its own: the gate actor applies it once, and the store's writer (or,
from another process, the sweep) delivers it. Approvals are never applied here, only there.
"""

from __future__ import annotations

import copy
import uuid
from dataclasses import dataclass
from typing import Any

from peppasync.errors import NotFoundError, ValidationError
from peppasync.store import Store, ops

from actors.gate_model import ACTIONS, Gate, GateError, signal
from actors.gate_workflows import GATE_KIND, GateSettings, gate_key, split_gate_key

__all__ = ["GateNotFoundError", "GateRow", "GateSignalError", "gate_rows", "send_signal"]

_OPEN = ("open", "held")


class GateSignalError(ValidationError):
    """A signal the gate cannot take as it stands (passed already, held...)."""


class GateNotFoundError(NotFoundError):
    """No such gate has opened for the order (yet)."""

    def __init__(self, order_id: str, gate: str) -> None:
        super().__init__("gate", gate_key(order_id, gate))
        self.args = (f"order {order_id} has no gate {gate!r} open or passed yet: `peppasync gates list` shows the "
                     "gates waiting for someone",)


@dataclass(frozen=True)
class GateRow:
    """One gate of one order, as a list shows it; times are epoch seconds."""

    order_id: str
    gate: str
    workflow: str
    status: str
    owner: str
    opened_at: float | None
    due_at: float | None
    overdue: bool
    breached: bool
    escalated: bool
    last_who: str
    last_action: str
    last_why: str


def gate_rows(store: Store, settings: GateSettings, now: float, *, gate: str | None = None,
              overdue: bool = False, closed: bool = False) -> list[GateRow]:
    """The gates, open and held ones (``closed``: every one), overdue first, then by due time."""
    rows = []
    for _key, state in store.states(GATE_KIND):
        saved = state.get("gate")
        if not saved:
            continue
        g = Gate.from_json(saved)
        if gate is not None and g.gate != gate:
            continue
        if not closed and g.status not in _OPEN:
            continue
        late = g.status in _OPEN and g.due_at is not None and now >= g.due_at
        if overdue and not late:
            continue
        rule = settings.rule(str(state.get("workflow") or ""), g.gate)
        last: dict[str, Any] = next((h for h in reversed(g.history) if h.get("action") != "open"), {})
        rows.append(GateRow(g.order_id, g.gate, str(state.get("workflow") or ""), g.status,
                            rule.owner if rule is not None else "", g.opened_at, g.due_at, late, g.breached,
                            g.escalated, str(last.get("who") or ""), str(last.get("action") or ""),
                            str(last.get("why") or "")))
    rows.sort(key=lambda r: (not r.overdue, r.due_at if r.due_at is not None else float("inf"), r.order_id, r.gate))
    return rows


def send_signal(store: Store, settings: GateSettings, order_id: str, gate: str, action: str, *, who: str,
                why: str = "", via: str, now: float) -> str:
    """Check the signal against the gate as it stands, then store it for the gate actor; returns its id.

    ``who`` is the person who decided (the approver's name), ``via`` the credential that
    sent it (``cli:<account>``, ``api:ops_token``, ``console:<user>``): both are kept.
    """
    if action not in ACTIONS:
        raise GateSignalError(f"unknown action {action!r}; one of {', '.join(ACTIONS)}", field="action")
    if not who.strip():
        raise GateSignalError("say who decided: --by NAME (the approver's name)", field="who")
    key = gate_key(order_id, gate)
    try:
        split_gate_key(key)
    except ValueError as exc:
        raise GateSignalError(str(exc), field="gate") from None
    found = store.get_state(GATE_KIND, key)
    if found is None or not found[0].get("gate"):
        raise GateNotFoundError(order_id, gate)
    state = found[0]
    rule = settings.rule(str(state.get("workflow") or ""), gate)
    if rule is None:
        raise GateSignalError(f"gate {gate!r} is not in the configured workflow {state.get('workflow')!r} any more",
                              field="gate")
    trial = Gate.from_json(copy.deepcopy(state["gate"]))
    try:
        signal(trial, rule, action, who=who, why=why, now=now)
    except GateError as exc:
        raise GateSignalError(str(exc), field="action") from None
    signal_id = uuid.uuid4().hex
    payload: dict[str, Any] = {"type": "signal", "action": action, "who": who.strip(), "why": why,
                               "signal_id": signal_id, "via": via}
    store.write([ops.Insert(GATE_KIND, key, payload),
                 ops.Audit(via, f"gate.signal.{action}", f"{GATE_KIND}:{key}", {"who": who, "why": why,
                                                                                "signal_id": signal_id})])
    return signal_id
