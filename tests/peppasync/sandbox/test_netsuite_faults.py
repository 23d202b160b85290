"""The NetSuite simulator's injected fault windows: bursts of 5xx and connections dropped unanswered."""

from __future__ import annotations

import pytest
import requests

from peppasync.clock import ManualClock

from .helpers import netsuite

CUSTOMER = {"companyName": "Acme Corp", "email": "a@example.com", "subsidiary": {"id": "1"}}


def test_during_a_5xx_burst_every_call_fails_and_afterwards_they_succeed_again(make_sandbox):
    clock = ManualClock()
    sb = make_sandbox(clock=clock)
    sb.netsuite.inject("5xx", 30)

    during = [netsuite(sb, "PUT", f"customer/eid:c{n}", CUSTOMER).status_code for n in range(3)]
    clock.advance(30)
    after = netsuite(sb, "PUT", "customer/eid:c9", CUSTOMER).status_code

    assert all(status in (500, 503) for status in during)
    assert after == 204
    assert sb.netsuite.ledger.events() == {"injected_5xx": 1}


def test_a_reset_drops_the_connection_and_some_writes_land_although_unanswered(make_sandbox):
    sb = make_sandbox()
    sb.netsuite.inject("reset", 30)

    failures = 0
    for n in range(12):
        with pytest.raises(requests.ConnectionError):
            netsuite(sb, "PUT", f"customer/eid:c{n}", CUSTOMER)
        failures += 1

    assert failures == 12
    assert sb.netsuite.ledger.outcomes() == {"reset": 12}
    landed = len(sb.ledger()["netsuite"]["state"]["customers"])
    assert 0 < landed < 12, "half the resets come after the write, as when only the answer is lost"


def test_an_unknown_fault_or_a_window_of_no_time_is_refused(make_sandbox):
    sb = make_sandbox()

    with pytest.raises(ValueError, match="unknown ERP fault 'timeout'"):
        sb.netsuite.inject("timeout", 1.0)
    with pytest.raises(ValueError, match="positive number of seconds"):
        sb.netsuite.inject("5xx", 0)
