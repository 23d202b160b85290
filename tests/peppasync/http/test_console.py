"""The web console as its users meet it: sign-in, roles, forms that come from our own pages only."""

import re
import shutil
import time
from decimal import Decimal
from urllib.parse import urlsplit

import pytest
import requests

from peppasync.clock import SystemClock
from peppasync.config import parse_config
from peppasync.runtime import Runtime

from actors.costs import CostBook
from actors.margin import MarginActor, MarginSettings
from tests.actors.test_margin import ORDER, REFUND
from tests.peppasync.serving import free_port

ALICE = "alice-" + "a" * 30  # finance
BOB = "bob-" + "b" * 30  # design

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


class ErpCosts:
    sources = ("erp.average_cost",)

    def unit_costs(self, sku):
        return {"MUG": {"erp.average_cost": Decimal("6.00")}, "TEE": {"erp.average_cost": Decimal("11.00")}}.get(sku, {})


@pytest.fixture
def console(tmp_path):
    port = free_port()
    raw = {
        "server": {"listen": f"127.0.0.1:{port}"},
        "store": {"url": f"sqlite:///{tmp_path}/console.db"},
        "console": {"users": {"alice": "finance", "bob": "design"}, "tokens": {"alice": ALICE, "bob": BOB}},
    }
    runtime = Runtime(parse_config(raw, environ={}), clock=SystemClock(), kinds=[MarginActor],
                      services=lambda config, metrics, clock: {
                          "margin": MarginSettings.from_config(config.margin), "costs": CostBook([ErpCosts()], clock)})
    runtime.start()
    for payload in ({"type": "sale", "body": ORDER}, {"type": "refund", "body": REFUND}):
        runtime.store.enqueue("margin", "5001", {"received_at": time.time(), **payload})
    runtime.wake("margin", "5001")
    for _ in range(200):
        found = runtime.store.get_state("margin", "5001")
        if found and found[0].get("margin", {}).get("revenue", {}).get("amount") == "66.00":
            break
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    runtime.stop()


def _signed_in(base, user, token):
    session = requests.Session()
    answer = session.post(f"{base}/console/login", data={"user": user, "token": token}, allow_redirects=False,
                          timeout=5)
    assert answer.status_code == 303, answer.text
    return session, answer


def test_a_page_asks_who_you_are_and_a_wrong_token_is_refused(console):
    page = requests.get(f"{console}/console/margin", allow_redirects=False, timeout=5)
    wrong = requests.post(f"{console}/console/login", data={"user": "alice", "token": BOB}, timeout=5)
    nobody = requests.post(f"{console}/console/login", data={"user": "mallory", "token": ALICE}, timeout=5)

    assert (page.status_code, page.headers["Location"]) == (303, "/console/login")
    assert wrong.status_code == nobody.status_code == 401
    assert "That user and token do not match." in wrong.text and "peppasync_console" not in wrong.headers.get(
        "Set-Cookie", "")


def test_finance_reads_the_margin_page_with_its_chart_and_design_may_not(console):
    alice, signed_in = _signed_in(console, "alice", ALICE)
    bob, _ = _signed_in(console, "bob", BOB)

    page = alice.get(f"{console}/console/margin", timeout=5)
    refused = bob.get(f"{console}/console/margin", timeout=5)

    cookie = signed_in.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/console" in cookie
    assert page.status_code == 200 and "<svg" in page.text and "Margin percent per day" in page.text
    assert "66.00" in page.text and "#5001" in page.text  # the day's revenue, the worst order
    assert "script-src" not in page.headers["Content-Security-Policy"]  # no script at all: default-src 'none'
    assert refused.status_code == 403 and "this page is for finance; bob is design" in refused.text


def test_a_forged_or_foreign_form_is_refused_and_a_tampered_cookie_signs_you_out(console):
    alice, _ = _signed_in(console, "alice", ALICE)
    page = alice.get(f"{console}/console/margin", timeout=5)
    csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', page.text).group(1)

    no_token = alice.post(f"{console}/console/logout", data={"csrf": ""}, allow_redirects=False, timeout=5)
    foreign = alice.post(f"{console}/console/logout", data={"csrf": csrf}, headers={"Origin": "https://evil.example"},
                         allow_redirects=False, timeout=5)
    tampered = requests.get(f"{console}/console/margin", allow_redirects=False, timeout=5, cookies={
        "peppasync_console": alice.cookies["peppasync_console"][:-2] + "00"})
    out = alice.post(f"{console}/console/logout", data={"csrf": csrf}, allow_redirects=False, timeout=5)

    assert no_token.status_code == foreign.status_code == 403
    assert (tampered.status_code, tampered.headers["Location"]) == (303, "/console/login")
    assert out.status_code == 303 and "Max-Age=0" in out.headers["Set-Cookie"]


@pytest.mark.skipif(not CHROMIUM, reason="chromium is not installed (CI installs it: apt-get install chromium)")
def test_in_a_real_browser_finance_signs_in_and_sees_the_margin(console, tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (test extra)")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page()
            page.goto(f"{console}/console/margin")
            assert urlsplit(page.url).path == "/console/login"
            page.fill("input[name=user]", "alice")
            page.fill("input[name=token]", ALICE)
            page.click("button[type=submit]")
            page.wait_for_url("**/console/margin")

            assert page.locator("svg[aria-label='Margin percent per day'] rect").count() == 1
            assert page.locator("table[aria-label='Worst orders'] td").first.inner_text() == "#5001"
            page.screenshot(path=str(tmp_path / "margin.png"), full_page=True)
            page.click("text=Sign out")
            page.wait_for_url("**/console/login")
        finally:
            browser.close()
    assert (tmp_path / "margin.png").stat().st_size > 10_000
