"""The shared core against loopback servers: classification, retries, adaptation, controls, metrics."""

from __future__ import annotations

import time
from collections.abc import Callable
from email.utils import formatdate
from typing import Any

import gevent
import gevent.event
import pytest
import requests

from peppasync.errors import ConnectorError
from peppasync.metrics import Metrics

from actors.connectors import AimdLimit, Connector, MetricsConnectorHooks, Priority
from actors.connectors.failure import classify_status, parse_retry_after

from .conftest import FakeTime, ResettingServer, StubServer, json_body


def _json(response: requests.Response) -> Any:
    classify_status(response)
    return response.json()


def _statuses(*answers: tuple[int, dict[str, str]]) -> Callable[[dict[str, Any]], tuple[int, dict[str, str], bytes]]:
    """Answer with each (status, headers) in turn, then 200 ``{"ok": true}``."""
    queue = list(answers)

    def handler(request: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
        if queue:
            status, headers = queue.pop(0)
            return status, headers, json_body({"error": status})
        return 200, {}, json_body({"ok": True})

    return handler


def test_a_429_with_retry_after_is_waited_out_and_then_succeeds(stub: Callable[..., StubServer],
                                                                fake_time: FakeTime) -> None:
    server = stub(_statuses((429, {"Retry-After": "7"})))
    connector = Connector("stub", retry=fake_time.policy())

    result = connector.exchange("GET", server.url + "/x", _json)

    assert result == {"ok": True}
    assert len(server.requests) == 2
    assert fake_time.slept == [7.0]
    assert connector.stats()["throttled"] == 1


def test_a_permanent_refusal_is_not_retried_and_says_what_was_wrong(stub: Callable[..., StubServer],
                                                                   fake_time: FakeTime) -> None:
    server = stub(_statuses((422, {})))
    connector = Connector("stub", retry=fake_time.policy())

    with pytest.raises(ConnectorError) as caught:
        connector.exchange("POST", server.url + "/orders", _json)

    assert len(server.requests) == 1
    assert fake_time.slept == []
    error = caught.value
    assert (error.transient, error.status, error.connector) == (False, 422, "stub")
    assert "POST" in str(error) and "/orders" in str(error) and "422" in str(error)


def test_server_errors_are_retried_until_the_budget_is_spent_then_raised_as_transient(
        stub: Callable[..., StubServer], fake_time: FakeTime) -> None:
    server = stub(_statuses(*[(503, {"Retry-After": "2"})] * 10))
    connector = Connector("stub", retry=fake_time.policy(max_attempts=4))

    with pytest.raises(ConnectorError) as caught:
        connector.exchange("GET", server.url, _json)

    assert len(server.requests) == 4
    assert len(fake_time.slept) == 3 and min(fake_time.slept) >= 2.0
    assert (caught.value.transient, caught.value.status, caught.value.retry_after) == (True, 503, 2.0)


def test_a_reset_connection_is_retried(fake_time: FakeTime) -> None:
    server = ResettingServer(resets=2)
    connector = Connector("stub", retry=fake_time.policy())
    try:
        result = connector.exchange("GET", server.url, _json)
    finally:
        server.stop()

    assert result == {}
    assert server.connections == 3


def test_a_slow_response_times_out_is_retried_and_cuts_the_limit(stub: Callable[..., StubServer],
                                                                 fake_time: FakeTime) -> None:
    release = gevent.event.Event()
    calls = []

    def slow_once(request: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
        calls.append(request)
        if len(calls) == 1:
            release.wait(5)
        return 200, {}, json_body({"ok": True})

    server = stub(slow_once)
    connector = Connector("stub", limit=AimdLimit(10, backoff_ratio=0.5), retry=fake_time.policy(),
                          timeout=(1.0, 0.2))

    result = connector.exchange("GET", server.url, _json)
    release.set()

    assert result == {"ok": True}
    assert connector.stats()["limit"] == 5


def test_a_lone_503_is_retried_and_keeps_the_limit_but_two_in_a_row_cut_it(stub: Callable[..., StubServer],
                                                                             fake_time: FakeTime) -> None:
    lone = stub(_statuses((503, {})))
    twice = stub(_statuses((503, {}), (503, {})))
    kept = Connector("lone", limit=AimdLimit(10, maximum=10, backoff_ratio=0.5), retry=fake_time.policy())
    cut = Connector("twice", limit=AimdLimit(10, maximum=10, backoff_ratio=0.5), retry=fake_time.policy())

    results = (kept.exchange("GET", lone.url, _json), cut.exchange("GET", twice.url, _json))

    assert results == ({"ok": True}, {"ok": True})
    assert (len(lone.requests), len(twice.requests)) == (2, 3)
    assert (kept.stats()["limit"], cut.stats()["limit"]) == (10, 5)


def test_throttling_cuts_the_limit_and_successes_under_load_bring_it_back(stub: Callable[..., StubServer],
                                                                          fake_time: FakeTime) -> None:
    server = stub(_statuses((429, {})))
    connector = Connector("stub", limit=AimdLimit(4, maximum=4, backoff_ratio=0.5), retry=fake_time.policy())

    connector.exchange("GET", server.url, _json)
    after_throttle = connector.stats()["limit"]
    gevent.joinall([gevent.spawn(connector.exchange, "GET", server.url, _json) for _ in range(40)],
                   raise_error=True)

    assert after_throttle == 2
    assert connector.stats()["limit"] == 4


def test_pause_holds_calls_and_resume_sends_every_one_of_them(stub: Callable[..., StubServer]) -> None:
    server = stub(_statuses())
    connector = Connector("stub")
    connector.pause()

    calls = [gevent.spawn(connector.exchange, "GET", f"{server.url}/{n}", _json) for n in range(30)]
    gevent.sleep(0)
    held = (len(server.requests), connector.stats()["waiting"])
    connector.resume()
    gevent.joinall(calls, raise_error=True)

    assert held == (0, 30)
    assert sorted(r["path"] for r in server.requests) == sorted(f"/{n}" for n in range(30))


def test_set_limit_takes_effect_at_once_for_calls_already_waiting(stub: Callable[..., StubServer]) -> None:
    release = gevent.event.Event()

    def held(request: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
        release.wait(5)
        return 200, {}, b"{}"

    server = stub(held)
    connector = Connector("stub", limit=AimdLimit(2, maximum=50))
    calls = [gevent.spawn(connector.exchange, "GET", server.url, _json) for _ in range(12)]
    gevent.sleep(0)  # every caller runs up to its slot or its request
    before = connector.stats()

    connector.set_limit(9)
    after = connector.stats()
    release.set()
    gevent.joinall(calls, raise_error=True)

    assert (before["in_flight"], before["waiting"]) == (2, 10)
    assert (after["limit"], after["in_flight"], after["waiting"], after["ceiling"]) == (9, 9, 3, 9)
    assert server.peak <= 9


def test_metrics_hooks_count_outcomes_throttles_and_the_limit(stub: Callable[..., StubServer],
                                                              fake_time: FakeTime) -> None:
    server = stub(_statuses((429, {}), (500, {}), (400, {})))
    metrics = Metrics(process=False)
    connector = Connector("stub", retry=fake_time.policy(), hooks=MetricsConnectorHooks(metrics),
                          limit=AimdLimit(6))

    with pytest.raises(ConnectorError):
        connector.exchange("GET", server.url, _json)
    connector.exchange("GET", server.url, _json)

    def sample(name: str, **labels: str) -> float | None:
        return metrics.registry.get_sample_value("peppasync_" + name, {"connector": "stub", **labels})

    assert sample("connector_requests_total", outcome="throttled") == 1
    assert sample("connector_requests_total", outcome="transient_error") == 1
    assert sample("connector_requests_total", outcome="permanent_error") == 1
    assert sample("connector_requests_total", outcome="ok") == 1
    assert sample("connector_throttled_total") == 1
    assert sample("connector_request_duration_seconds_count") == 4
    assert sample("connector_inflight") == 0
    assert sample("connector_concurrency_limit") == connector.stats()["limit"] < 6


def test_200_concurrent_callers_never_put_more_than_the_limit_in_flight(stub: Callable[..., StubServer]) -> None:
    def working(request: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
        gevent.sleep(0.001)  # the far side doing some work, so that calls overlap
        return 200, {}, b"{}"

    server = stub(working)
    connector = Connector("stub", limit=AimdLimit(6, maximum=6))

    calls = [gevent.spawn(connector.exchange, "GET", server.url, _json) for _ in range(200)]
    gevent.joinall(calls, raise_error=True)

    assert len(server.requests) == 200
    assert server.peak == 6


def test_every_call_in_flight_the_reconcilers_reserved_one_too_keeps_its_connection_for_the_next(
        stub: Callable[..., StubServer], caplog: pytest.LogCaptureFixture) -> None:
    answer = gevent.event.Event()

    def held(request: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
        answer.wait()
        return 200, {}, b"{}"

    server = stub(held)
    connector = Connector("stub", limit=AimdLimit(12, maximum=12))
    for _ in range(2):
        answer.clear()
        calls = [gevent.spawn(connector.exchange, "GET", server.url, _json) for _ in range(12)]
        calls.append(gevent.spawn(connector.exchange, "GET", server.url, _json, priority=Priority.RECONCILE))
        with gevent.Timeout(5):
            while server.in_flight < 13:
                gevent.sleep(0.01)
        answer.set()
        gevent.joinall(calls, raise_error=True)

    assert server.peak == 13  # the limit and the reserved slot
    assert len(set(server.client_ports)) == 13  # the second round reused every one
    assert "Connection pool is full" not in caplog.text


def test_retry_after_is_read_as_seconds_or_as_an_http_date() -> None:
    in_a_minute = parse_retry_after(formatdate(time.time() + 60, usegmt=True))

    assert parse_retry_after("2.5") == 2.5
    assert in_a_minute is not None and 55 <= in_a_minute <= 60
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None


def test_calls_go_through_the_proxy_the_environment_names_every_time(stub: Callable[..., StubServer],
                                                                     fake_time: FakeTime,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    # The "proxy" is a stub that answers what it is asked: a proxied request names the whole URL.
    proxy = stub(_statuses())
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    connector = Connector("stub", retry=fake_time.policy())

    results = [connector.exchange("GET", "http://erp.example.invalid:8080/record/1", _json) for _ in range(3)]

    assert results == [{"ok": True}] * 3
    assert [r["headers"]["host"] for r in proxy.requests] == ["erp.example.invalid:8080"] * 3


@pytest.mark.parametrize("kwargs", [
    {"json": {"a": [1, "é"]}, "headers": {"X-Shopify-Access-Token": "shpat_1", "Accept": None}},
    {"params": {"limit": 5, "q": "a b+c", "none": None}, "auth": ("key", "secret")},
    {"data": {"grant_type": "client_credentials", "scope": "x y"}, "headers": {"user-agent": "peppasync"}},
])
def test_a_request_reaches_the_server_as_requests_own_session_would_send_it(
        stub: Callable[..., StubServer], fake_time: FakeTime, kwargs: dict[str, Any]) -> None:
    server = stub(_statuses())
    connector = Connector("stub", retry=fake_time.policy())
    connector.session.headers["X-Session"] = "kept"
    seen: list[requests.Response] = []
    connector.session.hooks["response"].append(lambda response, *a, **k: seen.append(response))

    connector.exchange("POST", server.url + "/x?fixed=1", _json, **kwargs)
    plain = requests.Session()
    plain.headers["X-Session"] = "kept"
    plain.post(server.url + "/x?fixed=1", timeout=5, **kwargs)

    ours, theirs = server.requests
    assert ours == theirs
    assert ours["headers"]["x-session"] == "kept" and len(seen) == 1


def test_a_cookie_the_server_set_goes_back_with_the_next_call(stub: Callable[..., StubServer],
                                                               fake_time: FakeTime) -> None:
    server = stub(lambda request: (200, {"Set-Cookie": "NS_ROUTING=abc; Path=/"}, json_body({"ok": True})))
    connector = Connector("stub", retry=fake_time.policy())

    connector.exchange("GET", server.url + "/x", _json)
    connector.exchange("GET", server.url + "/x", _json, headers={"Accept": "application/json"})

    first, second = server.requests
    assert "cookie" not in first["headers"] and second["headers"]["cookie"] == "NS_ROUTING=abc"


def test_metrics_show_the_calls_waiting_for_a_slot_while_the_limit_holds_them(
        stub: Callable[..., StubServer]) -> None:
    release = gevent.event.Event()

    def held(request: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
        release.wait(5)
        return 200, {}, b"{}"

    server = stub(held)
    metrics = Metrics(process=False)
    connector = Connector("stub", hooks=MetricsConnectorHooks(metrics), limit=AimdLimit(2, maximum=2))

    def sample(name: str) -> float | None:
        return metrics.registry.get_sample_value("peppasync_" + name, {"connector": "stub"})

    assert sample("connector_waiting") == 0
    calls = [gevent.spawn(connector.exchange, "GET", server.url, _json) for _ in range(5)]
    with gevent.Timeout(5):
        while len(server.requests) < 2:
            gevent.sleep(0.01)
    assert (sample("connector_inflight"), sample("connector_waiting")) == (2, 3)
    release.set()
    gevent.joinall(calls, raise_error=True)
    assert (sample("connector_inflight"), sample("connector_waiting")) == (0, 0)
