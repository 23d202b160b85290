"""The console's gates page as approvers meet it: their gates, overdue first, and forms that move an order on;
refused to strangers, to the wrong role and to forms from anywhere else."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from peppasync.clock import SystemClock
from peppasync.config import parse_config
from peppasync.runtime import Runtime

from actors.gate import GateActor, GateTimerActor
from actors.gate_workflows import GateSettings
from tests.peppasync.http.test_console import CHROMIUM
from tests.peppasync.serving import free_port

TOKENS = {"alice": "alice-" + "a" * 30, "bob": "bob-" + "b" * 30, "dave": "dave-" + "d" * 30,
          "erin": "erin-" + "e" * 30}
GATES = {
    "workflows": {"custom": {"order_tags": ["custom"], "gates": ["finance", "design", "production"]}},
    "finance": {"owner": "finance", "sla_hours": 24},
    "design": {"owner": "design", "sla_hours": 72},
    "production": {"owner": "factory", "sla_hours": 240},
}


@pytest.fixture
def console(tmp_path: Path) -> Iterator[tuple[str, Runtime]]:
    port = free_port()
    raw = {
        "server": {"listen": f"127.0.0.1:{port}"},
        "store": {"url": f"sqlite:///{tmp_path}/console.db"},
        "console": {"users": {"alice": "finance", "bob": "design", "dave": "factory", "erin": "marketing"},
                    "tokens": TOKENS},
        "gates": GATES,
    }
    runtime = Runtime(parse_config(raw, environ={}), clock=SystemClock(), kinds=[GateActor, GateTimerActor],
                      services=lambda config, metrics, clock: {"gates": GateSettings.from_config(config.gates)})
    runtime.start()
    for order in ("1001", "1002"):
        runtime.system.tell("gate", f"{order}:finance", {"type": "open", "workflow": "custom"})
    for _ in range(200):
        if all(runtime.store.get_state("gate", f"{o}:finance") for o in ("1001", "1002")):
            break
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", runtime
    runtime.stop()


def _signed_in(base: str, user: str) -> requests.Session:
    session = requests.Session()
    answer = session.post(f"{base}/console/login", data={"user": user, "token": TOKENS[user]}, timeout=5,
                          allow_redirects=False)
    assert answer.status_code == 303, answer.text
    return session


def _csrf(text: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', text)
    assert found is not None
    return found.group(1)


def test_strangers_the_wrong_role_and_foreign_forms_are_refused_and_nothing_is_sent(console) -> None:
    base, runtime = console
    bob, erin = _signed_in(base, "bob"), _signed_in(base, "erin")
    csrf = _csrf(bob.get(f"{base}/console/gates", timeout=5).text)
    approve = {"order": "1001", "gate": "finance", "action": "approve", "note": ""}

    anonymous = requests.get(f"{base}/console/gates", allow_redirects=False, timeout=5)
    anonymous_post = requests.post(f"{base}/console/gates/signal", data=approve, allow_redirects=False, timeout=5)
    wrong_role = bob.post(f"{base}/console/gates/signal", data={**approve, "csrf": csrf}, timeout=5)
    no_gate = erin.get(f"{base}/console/gates", timeout=5)
    no_csrf = bob.post(f"{base}/console/gates/signal", data={**approve, "gate": "design"}, timeout=5)
    foreign = bob.post(f"{base}/console/gates/signal", data={**approve, "gate": "design", "csrf": csrf},
                       headers={"Origin": "https://evil.example"}, timeout=5)

    assert (anonymous.status_code, anonymous.headers["Location"]) == (303, "/console/login")
    assert (anonymous_post.status_code, anonymous_post.headers["Location"]) == (303, "/console/login")
    assert wrong_role.status_code == 403 and "the finance gate is for finance; bob is design" in wrong_role.text
    assert no_gate.status_code == 403 and "no gate is owned by marketing" in no_gate.text
    assert no_csrf.status_code == 403 and foreign.status_code == 403
    finance = runtime.store.get_state("gate", "1001:finance")[0]["gate"]
    assert finance["status"] == "open" and len(finance["history"]) == 1


@pytest.mark.skipif(not CHROMIUM, reason="chromium is not installed (CI installs it: apt-get install chromium)")
def test_in_a_real_browser_finance_approves_a_gate_and_design_sees_the_order_move_on(console, tmp_path) -> None:
    base, runtime = console
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (test extra)")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page()
            page.goto(f"{base}/console")
            assert urlsplit(page.url).path == "/console/login"
            page.fill("input[name=user]", "alice")
            page.fill("input[name=token]", TOKENS["alice"])
            page.click("button[type=submit]")
            page.wait_for_url("**/console/gates")
            rows = page.locator("table[aria-label='finance gates'] tbody tr")
            assert [rows.nth(i).locator("td").first.inner_text() for i in range(rows.count())] == ["1001", "1002"]

            row = rows.filter(has_text="1001")
            row.locator("input[name=note]").fill("deposit received")
            row.locator("button[value=approve]").click()
            page.wait_for_url("**/console/gates?done=*")
            notice = page.locator("[role=status]").inner_text()
            left = [rows.nth(i).locator("td").first.inner_text() for i in range(rows.count())]
            page.screenshot(path=str(tmp_path / "gates.png"), full_page=True)

            designer = browser.new_context().new_page()
            designer.goto(f"{base}/console/login")
            designer.fill("input[name=user]", "bob")
            designer.fill("input[name=token]", TOKENS["bob"])
            designer.click("button[type=submit]")
            designer.wait_for_url("**/console/gates")
            design = designer.locator("table[aria-label='design gates'] tbody tr td").first.inner_text()
        finally:
            browser.close()

    assert notice == "finance of order 1001 approved"
    assert left == ["1002"]
    assert design == "1001"
    trail = runtime.store.get_state("gate", "1001:finance")[0]["gate"]["history"]
    assert (trail[-1]["who"], trail[-1]["action"], trail[-1]["why"]) == ("alice", "approve", "deposit received")
    assert (tmp_path / "gates.png").stat().st_size > 10_000
