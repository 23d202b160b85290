"""The web console: small server-rendered pages for people who do not use the CLI.

Who may sign in, and as what, is ``[console]``: users with roles, each with a sign-in
token of their own (no shared ops token). A sign-in sets a session cookie, signed with
a key of this process (so sessions end when the server restarts) and expiring after
``session_hours``; it is ``HttpOnly`` and ``SameSite=Strict``, ``Secure`` when
``secure_cookie`` says a TLS proxy serves the console. Every form that changes
something carries a token derived from the session (CSRF), and a request whose
``Origin`` is another site is refused. Pages are plain HTML with inline SVG charts: no
script, no build step, and a Content-Security-Policy that allows none.

Pages: ``/console/login``, ``/console/margin`` (the roles of ``margin_roles``), ``/console/gates``
(the owners of build-to-order gates: ``peppasync.http.console_gates``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import json
import secrets
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from peppasync.config import ConsoleConfig
from peppasync.http.console_gates import gate_roles, gates_page, gates_signal
from peppasync.http.request import HttpError, Request, Response
from peppasync.store import Store

from actors.gate_workflows import GateSettings

__all__ = ["COOKIE", "Console"]

COOKIE = "peppasync_console"
_HEADERS = [
    ("Content-Type", "text/html; charset=utf-8"),
    ("Cache-Control", "no-store"),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("Content-Security-Policy",
     "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"),
]
_STYLE = """
body{font:15px/1.4 system-ui,sans-serif;margin:0;color:#1d2733;background:#f6f7f9}
header{background:#1d2733;color:#fff;padding:.6em 1.2em;display:flex;justify-content:space-between}
header form{margin:0} main{padding:1em 1.2em;max-width:70em}
table{border-collapse:collapse;background:#fff;margin:.6em 0} th,td{padding:.3em .7em;border-bottom:1px solid #e3e6ea}
th{text-align:left} td.n{text-align:right;font-variant-numeric:tabular-nums}
.bad{color:#b42318} .ok{background:#e7f6ec;border:1px solid #a6d9b8;padding:.5em .8em}
.err{background:#fde8e7;border:1px solid #f4b4ae;padding:.5em .8em}
svg{background:#fff;border:1px solid #e3e6ea} button{cursor:pointer}
"""


class Console:
    """The console's handlers; ``routes`` lists them for the HTTP application."""

    def __init__(self, store: Store, config: ConsoleConfig, now: Callable[[], float],
                 key: bytes | None = None, gates: GateSettings | None = None) -> None:
        self._store = store
        self._config = config
        self._now = now
        self._key = key or secrets.token_bytes(32)
        self._gates = gates or GateSettings()

    @property
    def routes(self) -> list[tuple[str, str, Callable[[Request], Response]]]:
        return [
            ("GET", "/console", self.home),
            ("GET", "/console/login", self.login_form),
            ("POST", "/console/login", self.login),
            ("POST", "/console/logout", self.logout),
            ("GET", "/console/margin", self.margin),
            ("GET", "/console/gates", self.gates),
            ("POST", "/console/gates/signal", self.gate_signal),
        ]

    # -- signing in ------------------------------------------------------------

    def home(self, request: Request) -> Response:
        session = self._session(request)
        if session is None:
            return _redirect("/console/login")
        owners = {r for roles in gate_roles(self._gates).values() for r in roles}
        return _redirect("/console/gates" if owners & session["roles"] else "/console/margin")

    def login_form(self, request: Request, *, problem: str = "", status: int = 200) -> Response:
        error = f'<p class="err" role="alert">{html.escape(problem)}</p>' if problem else ""
        body = f"""<h1>Sign in</h1>{error}
<form method="post" action="/console/login">
<p><label>User <input name="user" autocomplete="username" required></label></p>
<p><label>Token <input name="token" type="password" autocomplete="current-password" required></label></p>
<p><button type="submit">Sign in</button></p></form>"""
        return _page("Sign in", body, status=status)

    def login(self, request: Request) -> Response:
        self._same_origin(request)
        form = _form(request)
        user, token = form.get("user", "").strip(), form.get("token", "")
        expected = self._config.tokens.get(user, "")
        # Compared even for an unknown user, so the time taken does not tell who exists.
        ok = hmac.compare_digest(token.encode(), (expected or secrets.token_hex(16)).encode())
        if not (ok and expected and user in self._config.users):
            return self.login_form(request, problem="That user and token do not match.", status=401)
        expires = int(self._now() + self._config.session_hours * 3600)
        payload = _b64(json.dumps({"u": user, "exp": expires, "n": secrets.token_hex(8)}).encode())
        cookie = f"{payload}.{self._sign(payload)}"
        flags = "; Path=/console; HttpOnly; SameSite=Strict" + ("; Secure" if self._config.secure_cookie else "")
        return _redirect("/console", [("Set-Cookie", f"{COOKIE}={cookie}{flags}")])

    def logout(self, request: Request) -> Response:
        session = self._require(request)
        self._check_csrf(request, session)
        return _redirect("/console/login", [("Set-Cookie", f"{COOKIE}=; Path=/console; Max-Age=0; HttpOnly")])

    # -- pages -----------------------------------------------------------------

    def margin(self, request: Request) -> Response:
        from actors.margin_report import margin_report, since_epoch

        session = self._require(request, roles=self._config.margin_roles)
        since_text = request.query.get("since", "").strip()
        try:
            since = since_epoch(since_text or None)
        except ValueError as exc:
            raise HttpError(400, f"since {exc}") from None
        by_day = margin_report(self._store, since=since, by="day", worst=10)
        body = f"""<h1>True margin</h1>
<form method="get" action="/console/margin"><label>Sold since <input name="since" type="date"
value="{html.escape(since_text)}"></label> <button type="submit">Show</button></form>
<p>{by_day['orders']} orders; {by_day['incomplete_orders']} with a cost missing (their margin looks better than
it is); {by_day['cancelled_orders']} cancelled, left out.</p>
{_chart(by_day['rows'])}
{_day_table(by_day['rows'])}
<h2>Worst orders</h2>{_worst_orders(by_day['worst_orders'])}
<h2>Worst SKUs</h2>{_worst_skus(by_day['worst_skus'])}"""
        return _page("True margin", body, session=session, csrf=self._csrf(session))

    def gates(self, request: Request) -> Response:
        session = self._require(request)
        body = gates_page(self._store, self._gates, self._now(), session, self._csrf(session),
                          done=request.query.get("done", "")[:200])
        return _page("Gates", body, session=session, csrf=self._csrf(session))

    def gate_signal(self, request: Request) -> Response:
        session = self._require(request)
        self._check_csrf(request, session)
        done = gates_signal(self._store, self._gates, self._now, session, _form(request))
        return _redirect("/console/gates?" + urlencode({"done": done}))

    # -- sessions ----------------------------------------------------------------

    def _sign(self, payload: str) -> str:
        return hmac.new(self._key, payload.encode(), hashlib.sha256).hexdigest()

    def _session(self, request: Request) -> dict[str, Any] | None:
        raw = _cookie(request, COOKIE)
        payload, _, signature = raw.partition(".")
        if not payload or not hmac.compare_digest(signature.encode(), self._sign(payload).encode()):
            return None
        try:
            session: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        except ValueError:
            return None
        user = session.get("u")
        # A user removed from the configuration is signed out at once, whatever the cookie says.
        if not isinstance(user, str) or session.get("exp", 0) < self._now() or user not in self._config.users:
            return None
        session["roles"] = {r.strip() for r in self._config.users[user].split(",")}
        session["raw"] = payload
        return session

    def _require(self, request: Request, roles: Sequence[str] = ()) -> dict[str, Any]:
        session = self._session(request)
        if session is None:
            raise _SignIn()
        if roles and not session["roles"] & set(roles):
            raise HttpError(403, f"this page is for {' or '.join(roles)}; {session['u']} is "
                                 f"{', '.join(sorted(session['roles']))}")
        return session

    def _csrf(self, session: Mapping[str, Any]) -> str:
        return self._sign("csrf:" + str(session["raw"]))

    def _check_csrf(self, request: Request, session: Mapping[str, Any]) -> None:
        self._same_origin(request)
        if not hmac.compare_digest(_form(request).get("csrf", "").encode(), self._csrf(session).encode()):
            raise HttpError(403, "the form is stale or came from elsewhere: reload the page and try again")

    @staticmethod
    def _same_origin(request: Request) -> None:
        origin = request.header("Origin")
        if origin and origin != "null" and urlsplit(origin).netloc != request.header("Host"):
            raise HttpError(403, "a form from another site is refused")


class _SignIn(Exception):
    """Not signed in: go to the sign-in page."""


def handle(console: Console, handler: Callable[[Request], Response], request: Request) -> Response:
    """Run a console handler; its errors are pages, not JSON."""
    try:
        return handler(request)
    except _SignIn:
        return _redirect("/console/login")
    except HttpError as exc:
        return _page("Refused", f'<h1>Refused</h1><p class="err" role="alert">{html.escape(exc.message)}</p>'
                                '<p><a href="/console">Back</a></p>', status=exc.status)


# -- HTML ------------------------------------------------------------------------


def _page(title: str, body: str, *, status: int = 200, session: Mapping[str, Any] | None = None,
          csrf: str = "") -> Response:
    who = ""
    if session is not None:
        who = (f'<form method="post" action="/console/logout">{html.escape(str(session["u"]))} '
               f'<input type="hidden" name="csrf" value="{csrf}"><button type="submit">Sign out</button></form>')
    document = (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)} · '
                f'Peppasync</title><meta name="viewport" content="width=device-width"><style>{_STYLE}</style>'
                f'</head><body><header><strong>Peppasync</strong>{who}</header><main>{body}</main></body></html>')
    return Response(status, document.encode(), list(_HEADERS))


def _redirect(location: str, headers: list[tuple[str, str]] | None = None) -> Response:
    return Response(303, b"", [("Location", location), *(headers or []), *_HEADERS[1:]])


def _chart(rows: Sequence[Mapping[str, Any]], width: int = 640, height: int = 180) -> str:
    """Margin % per day as bars: a trend reads faster than a table."""
    points = [r for r in rows if r["percent"] is not None]
    if not points:
        return "<p>No margins yet.</p>"
    values = [Decimal(r["percent"]) for r in points]
    top, bottom = max(max(values), Decimal(0)), min(min(values), Decimal(0))
    span = (top - bottom) or Decimal(1)
    step = min(width / len(points), 48.0)
    zero = height - 20 - float((0 - bottom) / span) * (height - 40)
    bars = []
    for i, (row, value) in enumerate(zip(points, values, strict=True)):
        y = height - 20 - float((value - bottom) / span) * (height - 40)
        top_y, bar = min(y, zero), abs(zero - y)
        label = html.escape(f"{row['group']} {row['currency']}: {row['percent']} %")
        color = "#b42318" if value < 0 else "#2e7d5b"
        bars.append(f'<rect x="{i * step + 4:.1f}" y="{top_y:.1f}" width="{max(step - 8, 2):.1f}" '
                    f'height="{max(bar, 1):.1f}" fill="{color}"><title>{label}</title></rect>'
                    f'<text x="{i * step + step / 2:.1f}" y="{height - 4}" font-size="10" text-anchor="middle">'
                    f'{html.escape(str(row["group"])[5:])}</text>')
    return (f'<svg role="img" aria-label="Margin percent per day" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}"><line x1="0" x2="{width}" y1="{zero:.1f}" y2="{zero:.1f}" '
            f'stroke="#8a94a0"/>{"".join(bars)}</svg>')


def _day_table(rows: Sequence[Mapping[str, Any]]) -> str:
    names = sorted({name for row in rows for name in row["costs"]})
    return _table("Margin per day", ["day", "currency", "orders", "revenue", *names, "margin", "%"],
                  [(r["group"], r["currency"], r["orders"], r["revenue"], *(r["costs"].get(n, "0") for n in names),
                    r["margin"], r["percent"] or "-") for r in rows], numeric_from=2)


def _table(label: str, head: Sequence[str], rows: Sequence[Sequence[Any]], *, numeric_from: int = 1) -> str:
    """A table of escaped cells; cells from ``numeric_from`` on are figures (a negative one in red)."""
    if not rows:
        return "<p>None.</p>"
    cells = []
    for row in rows:
        tds = []
        for i, value in enumerate(row):
            text = html.escape(str(value))
            kind = ("n bad" if text.startswith("-") and text != "-" else "n") if i >= numeric_from else ""
            tds.append(f'<td class="{kind}">{text}</td>' if kind else f"<td>{text}</td>")
        cells.append("<tr>" + "".join(tds) + "</tr>")
    header = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    return (f'<table aria-label="{html.escape(label)}"><thead><tr>{header}</tr></thead>'
            f'<tbody>{"".join(cells)}</tbody></table>')


def _worst_orders(orders: Sequence[Mapping[str, Any]]) -> str:
    return _table("Worst orders", ["order", "currency", "margin", "%", ""],
                  [(o["name"] or o["order_id"], o["currency"], o["margin"], o["percent"] or "-",
                    "" if o["complete"] else "a cost missing") for o in orders], numeric_from=2)


def _worst_skus(skus: Sequence[Mapping[str, Any]]) -> str:
    return _table("Worst SKUs", ["SKU", "currency", "units", "margin", "%"],
                  [(s["group"], s["currency"], s["units"], s["margin"], s["percent"] or "-") for s in skus],
                  numeric_from=2)


def _form(request: Request) -> dict[str, str]:
    if not request.header("Content-Type").startswith("application/x-www-form-urlencoded"):
        raise HttpError(415, "expected a form (application/x-www-form-urlencoded)")
    try:
        text = request.body().decode("utf-8")
    except UnicodeDecodeError:
        raise HttpError(400, "the form is not UTF-8") from None
    return {k: v[-1] for k, v in parse_qs(text, max_num_fields=20).items()}


def _cookie(request: Request, name: str) -> str:
    for part in request.header("Cookie").split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return value
    return ""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")
