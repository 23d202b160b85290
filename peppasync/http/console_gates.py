"""The console's gates page: build-to-order orders by gate, overdue first, with their due times,
and the approve / reject / hold / release / note forms for the gates the signed-in person owns.

Who may act on a gate is its owner role (``[gates.<gate>] owner``) or the role it escalates
to; anyone signed in whose roles own some gate sees the page. A signal goes through
``actors.gate_board.send_signal`` like the CLI's and the API's: checked against the gate as
it stands, then stored for the gate actor, which applies it once. The person is the
signed-in user; the audit log records ``console:<user>``. The page waits a moment for the
gate to take the signal, so the next page shows the order where it moved.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import gevent

from peppasync.http.request import HttpError
from peppasync.store import Store

from actors.gate_board import GateRow, gate_rows, send_signal
from actors.gate_model import ACTIONS
from actors.gate_workflows import GATE_KIND, GateSettings, gate_key

__all__ = ["gate_roles", "gates_page", "gates_signal"]

_LABELS = {"approve": "Approve", "reject": "Reject", "hold": "Hold", "release": "Release", "note": "Add note"}
_DONE = {"approve": "approved", "reject": "rejected", "hold": "held", "release": "released", "note": "noted"}


def gate_roles(settings: GateSettings) -> dict[str, set[str]]:
    """Per gate, the roles that may act on it: its owner and whom it escalates to."""
    roles: dict[str, set[str]] = {}
    for workflow in settings.workflows:
        for rule in workflow.gates:
            roles.setdefault(rule.name, set()).update(r for r in (rule.owner, rule.escalate_to) if r)
    return roles


def gates_page(store: Store, settings: GateSettings, now: float, session: Mapping[str, Any], csrf: str,
               done: str = "") -> str:
    """The page's body: one table per gate the person may act on, overdue first."""
    mine = {gate for gate, roles in gate_roles(settings).items() if roles & session["roles"]}
    if not mine:
        raise HttpError(403, f"no gate is owned by {', '.join(sorted(session['roles']))}: this page is for the "
                             "owners of build-to-order gates")
    rows = [r for r in gate_rows(store, settings, now) if r.gate in mine]
    notice = f'<p class="ok" role="status">{html.escape(done)}</p>' if done else ""
    overdue = sum(1 for r in rows if r.overdue)
    parts = [f"<h1>Build-to-order gates</h1>{notice}",
             f"<p>{_waiting(len(rows))}{f', {overdue} of them overdue' if overdue else ''}.</p>"]
    for gate in sorted(mine):
        waiting = [r for r in rows if r.gate == gate]
        parts.append(f'<h2>{html.escape(gate.capitalize())}</h2>')
        parts.append(_table(gate, waiting, csrf) if waiting else "<p>Nothing waits here.</p>")
    return "".join(parts)


def _waiting(n: int) -> str:
    return "No gate waits for you" if n == 0 else "1 gate waits for you" if n == 1 else f"{n} gates wait for you"


def _table(gate: str, rows: list[GateRow], csrf: str) -> str:
    body = []
    for r in rows:
        due = _when(r.due_at) + (' <strong class="bad">overdue</strong>' if r.overdue else "") + (
            ' <strong class="bad">escalated</strong>' if r.escalated else "")
        last = f"{r.last_action} by {r.last_who}" + (f": {r.last_why}" if r.last_why else "") if r.last_action else ""
        body.append(f"<tr><td>{html.escape(r.order_id)}</td><td>{html.escape(r.status)}</td><td>{due}</td>"
                    f"<td>{html.escape(last)}</td><td>{_form(r, csrf)}</td></tr>")
    return (f'<table aria-label="{html.escape(gate)} gates"><thead><tr><th>order</th><th>status</th><th>due</th>'
            f'<th>last</th><th>decide</th></tr></thead><tbody>{"".join(body)}</tbody></table>')


def _form(row: GateRow, csrf: str) -> str:
    actions = ["hold", "reject", "note"] if row.status == "open" else ["release", "reject", "note"]
    if row.status == "open":
        actions.insert(0, "approve")
    buttons = " ".join(f'<button type="submit" name="action" value="{a}">{_LABELS[a]}</button>' for a in actions)
    return (f'<form method="post" action="/console/gates/signal">'
            f'<input type="hidden" name="csrf" value="{csrf}">'
            f'<input type="hidden" name="order" value="{html.escape(row.order_id)}">'
            f'<input type="hidden" name="gate" value="{html.escape(row.gate)}">'
            f'<input name="note" placeholder="why" aria-label="note for {html.escape(row.order_id)}" maxlength="500"> '
            f"{buttons}</form>")


def gates_signal(store: Store, settings: GateSettings, now: Callable[[], float], session: Mapping[str, Any],
                 form: Mapping[str, str]) -> str:
    """Send the form's signal as the signed-in person; returns what to tell them."""
    order, gate, action = form.get("order", ""), form.get("gate", ""), form.get("action", "")
    if action not in ACTIONS:
        raise HttpError(400, f"unknown action {action!r}")
    if not order.isdigit():
        raise HttpError(400, f"order must be a Shopify order id, got {order!r}")
    allowed = gate_roles(settings).get(gate, set())
    if not allowed & session["roles"]:
        raise HttpError(403, f"the {gate} gate is for {' or '.join(sorted(allowed)) or 'nobody'}; "
                             f"{session['u']} is {', '.join(sorted(session['roles']))}")
    user = str(session["u"])
    before = _trail(store, order, gate)
    send_signal(store, settings, order, gate, action, who=user, why=form.get("note", "")[:500],
                via=f"console:{user}", now=now())
    # The gate takes it within a moment: wait for that (at most 2 s), so the page shows it done.
    for _ in range(40):
        if _trail(store, order, gate) > before:
            break
        gevent.sleep(0.05)
    return f"{gate} of order {order} {_DONE[action]}"


def _trail(store: Store, order: str, gate: str) -> int:
    found = store.get_state(GATE_KIND, gate_key(order, gate))
    return len((found[0].get("gate") or {}).get("history") or []) if found else 0


def _when(moment: float | None) -> str:
    return "-" if moment is None else datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%d %H:%M UTC")
