"""The gate actors: one per build-to-order order and gate, and the timers that wake them.

``GateActor`` (kind ``gate``, key ``<order id>:<gate>``) is the durable shell of
``actors.gate_model``: it takes the gate's messages (``open``, a person's ``signal``, the
money ``paid``, a timer's ``tick``), lets the model decide, and commits the gate's state,
its audit entries and what it sends in one transaction with the message's completion. So an
approval acknowledged is never lost, and a signal sent twice (the same ``signal_id``) is
applied once.

Timers are messages too, durable like every message, so a restart or a SIGKILL loses none.
They go to their own kind, ``GateTimerActor`` (``gate_timer``), one key per gate and wake
time: a message not yet due holds its mailbox (``actors.delivery``), and a gate's approvals
must never wait behind its own SLA timer. When a timer is due it tells the gate ``tick``;
the model decides what is due at that moment (an SLA breach once, a reminder, an escalation,
an expiry), so an early, late or repeated tick is harmless.

The rule a gate follows is read from the configuration on every message: a changed workflow
applies to the gates not yet passed, and the gate says so in the log. The server tells every
open gate whose rule changed to look at the time when it starts (``changed_gates``), so an SLA
made shorter breaches at its new time, not at the one its timer was set for. A gate that passes opens
the next one; every gate passed or rejected is told to the order (``gate``), which lets the
ERP approve the order when its first gate passes and the warehouse ship it after the last.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict
from decimal import Decimal, InvalidOperation
from typing import Any

from peppasync.errors import ValidationError
from peppasync.store import Message

from actors.durable import DurableActor
from actors.gate_model import Gate, GateError, GateRule, next_wake, open_gate, paid, signal, tick
from actors.gate_workflows import GATE_KIND, GATE_TIMER_KIND, GateSettings, gate_key, split_gate_key

__all__ = ["GateActor", "GateTimerActor", "changed_gates", "rule_fingerprint"]

log = logging.getLogger("peppasync.gates")

_LOGGED = {"opened": logging.INFO, "passed": logging.INFO, "rejected": logging.WARNING, "held": logging.INFO,
           "released": logging.INFO, "breached": logging.WARNING, "reminded": logging.INFO,
           "escalated": logging.WARNING}


class GateActor(DurableActor):
    """One gate of one build-to-order order."""

    kind = GATE_KIND
    replaces_state = True  # the gate's trail is a copy (``Gate.from_json``); the rest are keys it sets

    def handle(self, message: Message) -> None:
        payload = message.payload
        kind = payload.get("type")
        try:
            order_id, name = split_gate_key(self.key)
        except ValueError as exc:
            raise ValidationError(str(exc), field="key") from None
        settings: GateSettings = self.service("gates")
        saved = self.state.get("gate")
        gate = Gate.from_json(saved) if saved else Gate(order_id, name)
        workflow = str(payload.get("workflow") or self.state.get("workflow") or "")
        if not workflow:
            raise ValidationError(f"gate {self.key} has no workflow: it is opened by an order that takes one",
                                  field="workflow")
        rule = settings.rule(workflow, name)
        if rule is None:
            raise ValidationError(f"workflow {workflow!r} has no gate {name!r} in [gates]: restore it in the "
                                  "configuration, or discard this message", field="workflow")
        now = self.clock.time()
        before = gate.status if saved else None
        self._follow(gate, rule)
        if kind == "open":
            due = payload.get("due") or {}
            events = open_gate(gate, rule, now, due_at=_float(due.get(name)))
            self.state["due"] = due
            self.state["due_from_order"] = _float(due.get(name)) is not None
            if events and self.state.get("paid_share") is not None:
                # Paid before this gate opened: its rule applies now.
                events += paid(gate, rule, _share(self.state["paid_share"]), now)
        elif kind == "signal":
            events = self._signal(gate, rule, payload, now)
        elif kind == "paid":
            share = _share(payload.get("share"))
            self.state["paid_share"] = str(share)
            events = paid(gate, rule, share, now)
        elif kind == "tick":
            events = tick(gate, rule, now)
        else:
            raise ValidationError(f"gate message of unknown type {kind!r}", field="type")
        self.state["workflow"] = workflow
        for event in events:
            self._tell(event, gate, rule, settings, workflow, order_id)
        self._schedule(gate, rule, now)
        self.state["gate"] = gate.to_json()
        self.state["status"] = gate.status
        self.save_state()
        self._count(before, gate, events, now)

    def _count(self, before: str | None, gate: Gate, events: list[str], now: float) -> None:
        """The metrics, once the message's work is committed."""
        hooks, name, after = self.hooks, gate.gate, gate.status
        if "breached" in events:
            self.on_success(lambda: hooks.on_gate_breach(name))
        if after != before and after != "waiting":
            seconds = now - gate.opened_at if gate.opened_at is not None and after in ("passed", "rejected") else None
            breached = gate.breached
            self.on_success(lambda: hooks.on_gate(name, before if before != "waiting" else None, after,
                                                  breached=breached, seconds=seconds))

    def _signal(self, gate: Gate, rule: GateRule, payload: dict[str, Any], now: float) -> list[str]:
        action, who = str(payload.get("action") or ""), str(payload.get("who") or "")
        why = str(payload.get("why") or "")
        try:
            return signal(gate, rule, action, who=who, why=why, signal_id=str(payload.get("signal_id") or ""),
                          now=now)
        except GateError as exc:
            # The signal is kept, refused, in the trail: whoever sent it can see why it did nothing.
            gate.history.append({"at": now, "who": who or "?", "action": "refused", "why": f"{action}: {exc}"})
            self.audit(who or "?", f"gate.{action}.refused", {"why": why, "error": str(exc)})
            log.info("gate signal refused: %s", exc, extra={"key": self.key, "action": action, "who": who})
            return []

    def _follow(self, gate: Gate, rule: GateRule) -> None:
        """Take the configured rule; when it changed and the gate is not decided, say so and apply it."""
        now_rule = rule_fingerprint(rule)
        before = self.state.get("rule")
        self.state["rule"] = now_rule
        if before is None or before == now_rule or gate.status in ("passed", "rejected"):
            return
        if gate.opened_at is not None and not gate.breached and not self.state.get("due_from_order"):
            gate.due_at = gate.opened_at + rule.sla if rule.sla is not None else None
        log.info("the workflow changed: this gate, not yet passed, follows the new rule", extra={
            "key": self.key, "rule": now_rule, "due_at": gate.due_at})

    def _tell(self, event: str, gate: Gate, rule: GateRule, settings: GateSettings, workflow: str,
              order_id: str) -> None:
        last = gate.history[-1] if gate.history and event not in ("reminded",) else {"who": "rule"}
        log.log(_LOGGED.get(event, logging.INFO), "gate %s", event, extra={
            "key": self.key, "owner": rule.owner, "who": last.get("who"), "why": last.get("why"),
            "due_at": gate.due_at, "escalate_to": rule.escalate_to if event == "escalated" else None})
        self.audit(str(last.get("who") or "rule"), f"gate.{event}", {"why": last.get("why") or "",
                                                                     "status": gate.status})
        if event == "passed":
            following = settings.workflow(workflow)
            after = following.after(gate.gate) if following is not None else None
            if after is not None:
                self.send(GATE_KIND, gate_key(order_id, after.name), {
                    "type": "open", "workflow": workflow, "due": self.state.get("due") or {}})
        if event in ("passed", "rejected"):
            self.send("order", order_id, {
                "type": "gate", "gate": gate.gate, "event": event, "workflow": workflow,
                "who": last.get("who") or "", "why": last.get("why") or "",
                # An expiry that rejects cancels the order, whatever a rejection by a person does.
                "cancel": event == "rejected" and (
                    settings.on_reject == "cancel"
                    or (last.get("who") == "rule" and settings.on_expiry.get(gate.gate) == "cancel"))})

    def _schedule(self, gate: Gate, rule: GateRule, now: float) -> None:
        """One durable timer for the next thing due; a timer already set for that moment is enough."""
        wake = next_wake(gate, rule)
        if wake is None or wake == self.state.get("timer_at"):
            return
        self.send(GATE_TIMER_KIND, f"{self.key}@{wake:.3f}", {"type": "wake", "gate": self.key},
                  delay=max(0.0, wake - now))
        self.state["timer_at"] = wake


def rule_fingerprint(rule: GateRule) -> str:
    """The rule as a gate keeps it: a gate whose saved fingerprint differs follows a changed rule."""
    return json.dumps(asdict(rule), default=str, sort_keys=True)


class GateTimerActor(DurableActor):
    """A gate's timer: when its message is due, it tells the gate to look at the time."""

    kind = GATE_TIMER_KIND
    replaces_state = True  # it keeps none

    def handle(self, message: Message) -> None:
        target = message.payload.get("gate")
        if message.payload.get("type") != "wake" or not isinstance(target, str):
            raise ValidationError("a gate timer message is {type: wake, gate: <order id>:<gate>}", field="gate")
        self.send(GATE_KIND, target, {"type": "tick"})


def changed_gates(states: list[tuple[str, dict[str, Any]]], settings: GateSettings) -> list[str]:
    """The keys of the open or held gates, among saved ``states``, whose configured rule is not the one they follow."""
    keys = []
    for key, state in states:
        gate = state.get("gate") or {}
        rule = settings.rule(str(state.get("workflow") or ""), str(gate.get("gate") or ""))
        if gate.get("status") in ("open", "held") and rule is not None and state.get("rule") != rule_fingerprint(rule):
            keys.append(key)
    return keys


def _float(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _share(value: Any) -> Decimal:
    try:
        share = Decimal(str(value))
    except InvalidOperation:
        raise ValidationError(f"a paid share is a number from 0 to 1, got {value!r}", field="share") from None
    if not share.is_finite() or share < 0:
        raise ValidationError(f"a paid share is a number from 0 to 1, got {value!r}", field="share")
    return share
